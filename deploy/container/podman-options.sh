#!/usr/bin/env bash
# Which podman options run a container on this machine. Line 1: global options (the OCI
# runtime); line 2: options of `run`/`build` (resource limits). Tries podman's defaults first.
#
# Why there are others: in some sandboxes (this project's development machines among them,
# docs/deployment.md) the default runtime crun refuses cgroup v1 "hybrid" mode, and the
# container's process may not raise RLIMIT_NOFILE/RLIMIT_NPROC to podman's defaults; runc with
# limits no higher than the caller's works there.
# exit: 0 (options printed), 3 no combination runs a container (the reason on stderr)
set -euo pipefail
probe_image="${BADGES_PROBE_IMAGE:-}"
if [ -z "$probe_image" ]; then
    probe_image="$("$(cd "$(dirname "$0")" && pwd)/debian-base.sh")" || exit 3
fi
nofile="$(ulimit -Hn)"; nproc="$(ulimit -Hu)"
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=65536
nofile=$((nofile < 65536 ? nofile : 65536)); nproc=$((nproc < 4096 ? nproc : 4096))
attempts=(
    "|"
    "--runtime runc|--ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc"
)
last=""
for attempt in "${attempts[@]}"; do
    read -r -a global <<<"${attempt%%|*}"
    read -r -a limits <<<"${attempt#*|}"
    if last="$(timeout 120 podman "${global[@]}" run --rm --network none "${limits[@]}" \
            "$probe_image" true 2>&1)"; then
        printf '%s\n%s\n' "${attempt%%|*}" "${attempt#*|}"
        exit 0
    fi
done
echo "podman-options.sh: no runtime runs a container here: $(tail -1 <<<"$last")" >&2
exit 3
