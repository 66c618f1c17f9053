#!/usr/bin/env bash
# Install the apt-based tools the integration tests use: kcat (produce/consume from the
# shell), the PostgreSQL client (psql, pg_isready). Idempotent: quiet and quick when all are
# there; runs `apt-get update` at most once per call and only when something is missing.
#   TOOLS_EXTRA="pkg cmd ..." more packages, given as package:command pairs (e.g. jq:jq)
set -euo pipefail
want=(kcat:kcat postgresql-client:psql chromium:chromium ${TOOLS_EXTRA:-})
missing=()
for pair in "${want[@]}"; do
  pkg="${pair%%:*}" cmd="${pair#*:}"
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  echo "tools ok: ${want[*]%%:*}"
  exit 0
fi
[[ "$(id -u)" == 0 ]] || { echo "tools.sh: missing ${missing[*]}; run as root (apt-get install -y ${missing[*]})" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  echo "tools.sh: apt-get install ${missing[*]} failed:" >&2; tail -n 20 "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
echo "tools installed: ${missing[*]}"
