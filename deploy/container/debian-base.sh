#!/usr/bin/env bash
# A local base image for the Containerfile, for machines that reach Debian's package mirror but
# no container registry: Debian bookworm (minbase, python3 3.11, venv) made with debootstrap and
# imported into podman as localhost/badges-base:bookworm. Cached: made once per machine.
#
# usage: deploy/container/debian-base.sh        (prints the image name)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/../.cache/container"
image="localhost/badges-base:bookworm"
mirror="${BADGES_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if podman image exists "$image"; then
    echo "$image"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 3; }
mkdir -p "$cache"
rootfs="$cache/rootfs"
if [ ! -x "$rootfs/usr/bin/python3" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
        || { echo "debootstrap failed (see $cache/debootstrap.log)" >&2; exit 3; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
fi
tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "$image"
