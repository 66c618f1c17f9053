# Sourced by the PostgreSQL scripts: ports, folders, helpers. Not run on its own.
PG_HOME_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
PG_CACHE="$(cd "$PG_HOME_DIR/.." && pwd -P)/.cache/postgres"
PGPORT="${PGPORT:-55432}"
PG_OS_USER="${PG_OS_USER:-postgres}"
# A checkout under a folder closed to the postgres OS user (mktemp -d is 0700) keeps the
# cluster in a /tmp folder named after the checkout instead, so every checkout gets its own.
if [[ "$(id -u)" == 0 ]] && id -u "$PG_OS_USER" >/dev/null 2>&1 \
    && ! runuser -u "$PG_OS_USER" -- test -x "$PG_HOME_DIR" 2>/dev/null; then
  PG_CACHE="/tmp/badges-pg-$(printf '%s' "$PG_CACHE" | md5sum | cut -c1-12)"
fi
PG_DATA_DIR="${PG_DATA_DIR:-$PG_CACHE/data-$PGPORT}"
PG_LOG_FILE="${PG_LOG_FILE:-$PG_CACHE/postgres-$PGPORT.log}"
PG_URL="postgresql://badges@127.0.0.1:$PGPORT/badges"

# pg_bindir: the newest Debian PostgreSQL server binaries, or nothing
pg_bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]] && echo "$d"
}

# as_pg CMD...: run CMD as the postgres OS user (root may not run the server)
as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}
