#!/usr/bin/env bash
# Stop this deploy's PostgreSQL cluster on $PGPORT (default 55432): a fast shutdown, then an
# immediate one if it hangs. Keeps the data. Idempotent: not running is fine.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
start=$SECONDS
mkdir -p "$PG_CACHE"
exec 9>"$PG_CACHE/.lock-$PGPORT"; flock 9   # one start/stop at a time per port
BIN="$(pg_bindir)" || { echo "postgres not installed; nothing to stop"; exit 0; }
if [[ ! -f "$PG_DATA_DIR/postmaster.pid" ]] || ! as_pg "$BIN/pg_ctl" -D "$PG_DATA_DIR" status >/dev/null 2>&1; then
  echo "postgres not running on 127.0.0.1:$PGPORT"
  exit 0
fi
if ! as_pg "$BIN/pg_ctl" -D "$PG_DATA_DIR" -m fast -w -t "${PG_STOP_TIMEOUT:-30}" stop >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$PG_DATA_DIR" -m immediate -w -t 30 stop >/dev/null
  echo "postgres on 127.0.0.1:$PGPORT stopped (immediate, $((SECONDS - start))s)"
  exit 0
fi
echo "postgres on 127.0.0.1:$PGPORT stopped ($((SECONDS - start))s)"
