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
token="$(cd "$ARENA_ROOT" && timeout 30 node bin/arena token --sub demo --scope "events:write admin" </dev/null 2>/dev/null | tail -1 || true)"

cat <<EOF2

Arena is up.
  live page     $base/
  dashboard     $base/dashboard
  API           $base/v1/leaderboards/global
  metrics       $base/metrics
  readiness     $base/readyz
  logs          .local/log/arena.log, .local/log/producer.log
  environment   source .local/env   (NATS_URL, DATABASE_URL, PORT, ARENA_JWT_SECRET)
  demo token    source .local/env && $token_cmd
EOF2
if [[ -n "$token" ]]; then
  printf '                %s\n' "$token"
  printf '  try           curl -H "Authorization: Bearer $TOKEN" %s/v1/users/demo/ledger\n' "$base"
fi
cat <<EOF2
  stop          bash scripts/down.sh
EOF2
