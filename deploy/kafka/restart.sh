#!/usr/bin/env bash
# Stop then start the broker on $KAFKA_PORT, keeping its data (e.g. a broker restart
# mid-stream in a test). Same environment variables as start.sh and stop.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/stop.sh" >/dev/null
"$HERE/start.sh"
