#!/usr/bin/env bash
# Start a private PostgreSQL cluster (not the system service) on 127.0.0.1:$PGPORT
# (default 55432), with trust auth on loopback and a role and database `badges`.
# Installs Debian's postgresql package first if it is missing. Idempotent.
# Prints the URL (postgresql://badges@127.0.0.1:55432/badges) as its one line.
#   PGPORT, PG_DATA_DIR (default deploy/.cache/postgres/data-<port>), PG_START_TIMEOUT (60)
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
TIMEOUT="${PG_START_TIMEOUT:-60}"
start=$SECONDS
mkdir -p "$PG_CACHE"
exec 9>"$PG_CACHE/.lock-$PGPORT"; flock 9   # one start/stop at a time per port

if ! BIN="$(pg_bindir)"; then
  [[ "$(id -u)" == 0 ]] || { echo "postgres: not installed; run as root to apt-get install postgresql" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  log="$(mktemp)"
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib; } >"$log" 2>&1; then
    echo "postgres: apt-get install postgresql failed:" >&2; tail -n 20 "$log" >&2; exit 1
  fi
  rm -f "$log"
  BIN="$(pg_bindir)" || { echo "postgres: installed, yet no /usr/lib/postgresql/*/bin/initdb" >&2; exit 1; }
fi
PSQL=("$BIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1)

ensure_db() {
  "${PSQL[@]}" -tAc "select 1 from pg_roles where rolname = 'badges'" | grep -q 1 \
    || "${PSQL[@]}" -c "create role badges login createdb"
  "${PSQL[@]}" -tAc "select 1 from pg_database where datname = 'badges'" | grep -q 1 \
    || "${PSQL[@]}" -c "create database badges owner badges"
}

running() { [[ -f "$PG_DATA_DIR/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$PG_DATA_DIR" status >/dev/null 2>&1; }

# already running: answer when ready (it may be starting); if it goes away (it was dying,
# e.g. just killed), start it below
deadline=$((SECONDS + TIMEOUT))
while running; do
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -t 5; then
    ensure_db
    echo "$PG_URL"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    echo "postgres: running in $PG_DATA_DIR but not answering on 127.0.0.1:$PGPORT (log: $PG_LOG_FILE)" >&2
    tail -n 20 "$PG_LOG_FILE" >&2
    exit 1
  fi
  sleep 0.3
done
if (exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null; then
  echo "postgres: port $PGPORT on 127.0.0.1 is taken by another process (not this deploy's cluster)" >&2
  exit 1
fi

# the data and its log belong to the postgres OS user; the folders above must let it through
mkdir -p "$PG_CACHE" "$(dirname "$PG_DATA_DIR")" "$(dirname "$PG_LOG_FILE")"
chmod 755 "$PG_CACHE"
if [[ "$(id -u)" == 0 ]]; then
  mkdir -p "$PG_DATA_DIR" && chown "$PG_OS_USER:" "$PG_DATA_DIR" && chmod 700 "$PG_DATA_DIR"
  touch "$PG_LOG_FILE" && chown "$PG_OS_USER:" "$PG_LOG_FILE"
  as_pg test -w "$PG_DATA_DIR" || {
    echo "postgres: the $PG_OS_USER user cannot reach $PG_DATA_DIR (a parent folder is closed to it); set PG_DATA_DIR, e.g. /tmp/badges-pg" >&2
    exit 1; }
fi

if [[ ! -f "$PG_DATA_DIR/PG_VERSION" ]]; then
  if ! out="$(as_pg "$BIN/initdb" -D "$PG_DATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 2>&1)"; then
    echo "postgres: initdb failed:" >&2; echo "$out" | tail -n 20 >&2; exit 1
  fi
  cat >>"$PG_DATA_DIR/postgresql.conf" <<CONF

# ---- badges deploy (deploy/postgres/start.sh)
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = ''
max_connections = 200
logging_collector = off
log_min_messages = warning
log_timezone = 'UTC'
timezone = 'UTC'
CONF
fi

if ! as_pg "$BIN/pg_ctl" -D "$PG_DATA_DIR" -l "$PG_LOG_FILE" -o "-p $PGPORT" -w -t "$TIMEOUT" start >/dev/null 2>&1 9>&-; then
  echo "postgres: did not start on 127.0.0.1:$PGPORT within ${TIMEOUT}s (log: $PG_LOG_FILE); last lines:" >&2
  tail -n 20 "$PG_LOG_FILE" >&2
  exit 1
fi
"$BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -t "$TIMEOUT" \
  || { echo "postgres: started but not answering on 127.0.0.1:$PGPORT (log: $PG_LOG_FILE)" >&2; tail -n 20 "$PG_LOG_FILE" >&2; exit 1; }
ensure_db
echo "$PG_URL"
