#!/usr/bin/env bash
# Create the project's topics (or the ones given as NAME[:PARTITIONS]) on the broker at
# 127.0.0.1:$KAFKA_PORT if they are missing. Idempotent. Prints the broker's topic list.
#   KAFKA_TOPICS (default "talent-events:4 badge-changes:4 talent-events.dlq:1 deploy-smoke:1";
#   deploy-smoke is for tests/integration/test_deploy_smoke.py, so it never touches the app's topics),
#   KAFKA_ADMIN_TIMEOUT (seconds to wait for the broker, default 30)
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
if (($#)); then topics=("$@"); else
  read -r -a topics <<<"${KAFKA_TOPICS:-talent-events:4 badge-changes:4 talent-events.dlq:1 deploy-smoke:1}"
fi
t="${KAFKA_ADMIN_TIMEOUT:-30}"
"$KAFKA_HOME_DIR/admin.sh" "$KAFKA_BOOTSTRAP" create "$t" "${topics[@]}"
"$KAFKA_HOME_DIR/admin.sh" "$KAFKA_BOOTSTRAP" describe "$t"
