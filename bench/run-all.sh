#!/usr/bin/env bash
# Every benchmark scenario in sequence (each prints its machine, a same-run baseline and the ratio, and
# appends a dated row to bench/RESULTS.md). `--quick`: small scales to check the scripts work (no rows
# from the scenario scripts that can skip them). Each scenario is bounded by a timeout; a failure does not stop the rest.
set -u
cd "$(dirname "$0")/.."
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
LIMIT=${BENCH_TIMEOUT:-1500}   # seconds per scenario
failed=()

run() {
  echo
  echo "=== $(date -u +%H:%M:%S) node $*"
  if ! timeout --kill-after=30 "$LIMIT" node "$@"; then
    echo "=== FAILED: $*"
    failed+=("$1")
  fi
}

npm run build --silent || exit 1

if [ "$QUICK" = 1 ]; then
  run bench/pipeline.mjs --events 100000 --users 20000 --no-record
  run bench/ingest.mjs --events 20000 --rounds 1 --no-record
  run bench/queries.mjs --users 20000 --seconds 3 --no-record
  run bench/memory.mjs --users 20000 --no-record
  run bench/recovery.mjs --users 20000 --events 100000 --tail 10000 --no-record
  run bench/analytics.mjs --events 20000 --no-record
  [ -f bench/fanout/run.mjs ] && run bench/fanout/run.mjs --sockets 1000 --probes 50 --hold 10 --no-append
else
  run bench/pipeline.mjs --events "${PIPELINE_EVENTS:-1000000}" --users 100000 --cpu-prof --chart
  run bench/ingest.mjs
  run bench/queries.mjs
  run bench/memory.mjs --users "${MEMORY_USERS:-1000000}"
  run bench/recovery.mjs ${RECOVERY_ARGS:-}
  run bench/analytics.mjs
  [ -f bench/fanout/run.mjs ] && run bench/fanout/run.mjs ${FANOUT_ARGS:-}
fi

echo
if [ ${#failed[@]} -eq 0 ]; then echo "=== all scenarios finished"; else echo "=== failed: ${failed[*]}"; exit 1; fi
