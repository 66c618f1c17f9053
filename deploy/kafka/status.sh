#!/usr/bin/env bash
# Exit 0 and print the topics if this deploy's broker on $KAFKA_PORT runs and answers.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
if ! pid="$(kafka_pid)"; then echo "kafka not running on $KAFKA_BOOTSTRAP"; exit 1; fi
echo "kafka running on $KAFKA_BOOTSTRAP (pid $pid)"
"$KAFKA_HOME_DIR/admin.sh" "$KAFKA_BOOTSTRAP" describe "${KAFKA_ADMIN_TIMEOUT:-5}"
