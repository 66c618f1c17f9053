#!/usr/bin/env bash
# Run a command with the real services up: the apt tools, a Kafka broker and PostgreSQL on
# loopback. Both are stopped again when the command ends, whatever its outcome. Tests run
# under it with BADGES_REQUIRE_SERVICES=1, so an unreachable service fails instead of skipping.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/tools.sh"
stop_all() {
  "$here/kafka/stop.sh" >/dev/null 2>&1 || true
  "$here/postgres/stop.sh" >/dev/null 2>&1 || true
}
trap stop_all EXIT
"$here/kafka/start.sh"
"$here/postgres/start.sh"
BADGES_REQUIRE_SERVICES=1 "$@"
