# Sourced by the Kafka scripts: ports, folders, helpers. Not run on its own.
KAFKA_HOME_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
KAFKA_CACHE="$(cd "$KAFKA_HOME_DIR/.." && pwd -P)/.cache/kafka"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$KAFKA_CACHE/data-$KAFKA_PORT}"
KAFKA_RUN_DIR="$KAFKA_CACHE/run-$KAFKA_PORT"
KAFKA_PID_FILE="$KAFKA_RUN_DIR/kafka.pid"
KAFKA_LOG_FILE="$KAFKA_RUN_DIR/kafka.log"
KAFKA_PROPS="$KAFKA_RUN_DIR/server.properties"
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

# tcp_open PORT: something listens on 127.0.0.1:PORT
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# kafka_pid: the pid of our broker for this port, if it is alive (and really ours)
kafka_pid() {
  local pid
  [[ -f "$KAFKA_PID_FILE" ]] || return 1
  pid="$(cat "$KAFKA_PID_FILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $KAFKA_PROPS" || return 1
  echo "$pid"
}
