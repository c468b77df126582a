#!/usr/bin/env bash
# Brings up everything for a local Arena: npm dependencies, NATS with JetStream and Postgres
# (reused when they already answer, else installed from Debian's packages and started under
# .local/), the build, migrations, the service and the demo producer. Stop with scripts/down.sh.
# Settings: NATS_URL, DATABASE_URL, PORT (defaults in scripts/lib/common.sh), ARENA_READY_TIMEOUT.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

setup_all
ensure_secret_and_env
run_migrations
start_service
start_producer

base="http://127.0.0.1:$PORT"
token_cmd='node bin/arena token --sub demo --scope "events:write admin"'
token=""
if out="$(timeout 30 node bin/arena token --sub demo --scope "events:write admin" </dev/null 2>/dev/null)"; then
  token="$(printf '%s\n' "$out" | tail -1)"
fi

cat <<EOF2

Arena is up.
  live page     $base/
  dashboard     $base/dashboard
  API           $base/v1/leaderboards/global
  metrics       $base/metrics
  readiness     $base/readyz
  logs          .local/log/arena.log, .local/log/producer.log
  environment   source .local/env   (NATS_URL, DATABASE_URL, PORT, ARENA_JWT_SECRET)
EOF2
if [[ -n "$token" ]]; then
  printf '  demo token    %s\n' "$token"
  printf '                (a new one: source .local/env && %s)\n' "$token_cmd"
  printf '  try           curl -H "Authorization: Bearer %s" %s/v1/users/demo/ledger\n' "$token" "$base"
else
  printf '  demo token    source .local/env && %s\n' "$token_cmd"
fi
cat <<EOF2
  stop          bash scripts/down.sh
EOF2
