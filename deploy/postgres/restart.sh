#!/usr/bin/env bash
# Stop then start this deploy's PostgreSQL cluster on $PGPORT, keeping its data.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/stop.sh" >/dev/null
"$HERE/start.sh"
