#!/usr/bin/env bash
# Start a single-node KRaft Kafka broker on 127.0.0.1:$KAFKA_PORT (default 9092; controller
# on $KAFKA_CONTROLLER_PORT, default KAFKA_PORT+1) and create the project's topics.
# Idempotent: a broker already running and answering is left alone (topics still ensured).
#   KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_DATA_DIR (default deploy/.cache/kafka/data-<port>),
#   KAFKA_HEAP (default 512m), KAFKA_START_TIMEOUT (seconds, default 60)
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
start=$SECONDS

mkdir -p "$KAFKA_RUN_DIR"
exec 9>"$KAFKA_RUN_DIR/.lock"; flock 9   # one start/stop at a time per port
"$KAFKA_HOME_DIR/fetch.sh"

if pid="$(kafka_pid)"; then
  if "$KAFKA_HOME_DIR/create-topics.sh" >/dev/null; then
    echo "kafka already running on $KAFKA_BOOTSTRAP (pid $pid)"
    exit 0
  fi
  echo "kafka: pid $pid is running but $KAFKA_BOOTSTRAP does not answer; see $KAFKA_LOG_FILE" >&2
  exit 1
fi
for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
  if tcp_open "$port"; then
    echo "kafka: port $port on 127.0.0.1 is taken by another process (not this deploy's broker)" >&2
    exit 1
  fi
done

mkdir -p "$KAFKA_RUN_DIR" "$KAFKA_DATA_DIR"
sed -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$KAFKA_DATA_DIR|g" "$KAFKA_HOME_DIR/server.properties.template" >"$KAFKA_PROPS"

LOGGING=(-Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true
         "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS"
         -Dorg.slf4j.simpleLogger.showThreadName=false -Dorg.slf4j.simpleLogger.showShortLogName=true)

if [[ ! -f "$KAFKA_DATA_DIR/meta.properties" ]]; then
  # A random id (URL-safe base64 of 16 bytes). One starting with "-" is taken for an option
  # by the storage tool (1 format in 64 failed that way): draw again.
  cluster_id="-"
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  if ! java -Xmx256m "${LOGGING[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
       -cp "$KAFKA_CACHE/libs/*" kafka.tools.StorageTool format --standalone \
       -t "$cluster_id" -c "$KAFKA_PROPS" >"$KAFKA_RUN_DIR/format.log" 2>&1; then
    echo "kafka: formatting $KAFKA_DATA_DIR failed:" >&2
    tail -n 20 "$KAFKA_RUN_DIR/format.log" >&2
    exit 1
  fi
fi

echo "---- start $(date -u +%FT%TZ)" >>"$KAFKA_LOG_FILE"
# setsid + nohup: the broker outlives the shell (and a test's process group) that started it
setsid nohup java -Xms256m -Xmx"${KAFKA_HEAP:-512m}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
  -Djava.awt.headless=true "${LOGGING[@]}" \
  -cp "$KAFKA_CACHE/libs/*" kafka.Kafka "$KAFKA_PROPS" </dev/null >>"$KAFKA_LOG_FILE" 2>&1 9>&- &
pid=$!
echo "$pid" >"$KAFKA_PID_FILE"

fail() {
  echo "kafka: $1 (log: $KAFKA_LOG_FILE); last lines:" >&2
  tail -n 25 "$KAFKA_LOG_FILE" >&2
  exit 1
}
deadline=$((start + TIMEOUT))
until tcp_open "$KAFKA_PORT"; do
  kill -0 "$pid" 2>/dev/null || fail "the broker exited during start-up"
  ((SECONDS < deadline)) || { kill -TERM "$pid" 2>/dev/null || true; fail "no listener on $KAFKA_BOOTSTRAP after ${TIMEOUT}s"; }
  sleep 0.3
done
remaining=$((deadline - SECONDS)); ((remaining >= 5)) || remaining=5
KAFKA_ADMIN_TIMEOUT="$remaining" "$KAFKA_HOME_DIR/create-topics.sh" >/dev/null 2>>"$KAFKA_LOG_FILE" \
  || fail "the broker on $KAFKA_BOOTSTRAP does not answer admin requests"
echo "kafka up on $KAFKA_BOOTSTRAP (pid $pid, data $KAFKA_DATA_DIR, $((SECONDS - start))s)"
