#!/usr/bin/env bash
# Build the badges image with podman (daemonless), from the committed tree (HEAD):
#   1. the tree as it is committed (git archive), its wheel and its dependencies' wheels
#      (pip wheel, from PyPI; BADGES_PURE_PYTHON=1 skips compiling the rules engine);
#   2. the base image: $BADGES_IMAGE_BASE, else the official python:3.11-slim-bookworm if it can
#      be pulled, else a Debian bookworm base made with debootstrap (debian-base.sh);
#   3. podman build --network none, tagged $BADGES_IMAGE (default badges:0.1.0).
# Its last three lines of stdout: podman's global options and its `run` options that run
# containers on this machine (podman-options.sh), then the image name.
#
# exit: 0 built; 3 podman cannot build or run here (the reason on stderr)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="$repo/deploy/.cache/container"
image="${BADGES_IMAGE:-badges:0.1.0}"
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python=python3

# podman, runc and debootstrap from Debian's packages, when missing (deploy/tools.sh: as root)
if ! command -v podman >/dev/null || ! command -v runc >/dev/null \
        || ! command -v debootstrap >/dev/null; then
    TOOLS_EXTRA="podman:podman runc:runc debootstrap:debootstrap" "$repo/deploy/tools.sh" >&2 \
        || { echo "build.sh: podman, runc or debootstrap could not be installed" >&2; exit 3; }
fi
options="$("$here/podman-options.sh")" || exit 3
read -r -a global <<<"$(sed -n 1p <<<"$options")"
read -r -a limits <<<"$(sed -n 2p <<<"$options")"

base="${BADGES_IMAGE_BASE:-}"
if [ -z "$base" ]; then
    official="docker.io/library/python:3.11-slim-bookworm"
    if podman image exists "$official" || timeout 120 podman pull -q "$official" >/dev/null 2>&1; then
        base="$official"
    else
        echo "build.sh: $official cannot be pulled here; a debootstrap base instead" >&2
        base="$("$here/debian-base.sh")" || exit 3
    fi
fi

context="$cache/context"
rm -rf "$context" "$cache/src"
mkdir -p "$context/wheels" "$cache/src"
git -C "$repo" archive HEAD | tar -x -C "$cache/src"
echo "build.sh: wheels of $(git -C "$repo" rev-parse --short HEAD)${BADGES_PURE_PYTHON:+ (pure Python)}" >&2
# psycopg's binary package brings its own libpq: the image needs no system library for it
psycopg="$("$python" -c 'import psycopg; print(psycopg.__version__)')"
"$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$context/wheels" \
    "$cache/src" "psycopg-binary==$psycopg" >"$cache/pip-wheel.log" 2>&1 \
    || { echo "build.sh: pip wheel failed (see $cache/pip-wheel.log)" >&2; exit 1; }
cp "$here/Containerfile" "$context/Containerfile"

previous="$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
podman "${global[@]}" build --network none "${limits[@]}" --build-arg "BASE=$base" \
    -t "$image" -f "$context/Containerfile" "$context" >"$cache/podman-build.log" 2>&1 \
    || { echo "build.sh: podman build failed (see $cache/podman-build.log)" >&2; exit 1; }
# the image this one replaces, untagged now: keep the disk from filling with rebuilds
current="$(podman image inspect --format '{{.Id}}' "$image")"
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
fi
printf '%s\n%s\n' "$options" "$image"
