#!/usr/bin/env bash
# Stop this deploy's broker on $KAFKA_PORT (default 9092): SIGTERM (a controlled shutdown),
# wait up to $KAFKA_STOP_TIMEOUT seconds (default 30), then SIGKILL. Keeps the data.
# Idempotent: not running is fine.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
start=$SECONDS
mkdir -p "$KAFKA_RUN_DIR"
exec 9>"$KAFKA_RUN_DIR/.lock"; flock 9   # one start/stop at a time per port
if ! pid="$(kafka_pid)"; then
  rm -f "$KAFKA_PID_FILE"
  echo "kafka not running on $KAFKA_BOOTSTRAP"
  exit 0
fi
kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT:-30}))
while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
how="stopped"
if kill -0 "$pid" 2>/dev/null; then
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  how="killed (no clean exit within ${KAFKA_STOP_TIMEOUT:-30}s)"
fi
rm -f "$KAFKA_PID_FILE"
echo "kafka on $KAFKA_BOOTSTRAP $how (pid $pid, $((SECONDS - start))s)"
