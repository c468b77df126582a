#!/usr/bin/env bash
# Runs the whole test suite (vitest: unit and integration projects) after the same set-up as
# up.sh — npm dependencies, NATS with JetStream, Postgres, the build — plus Debian's Chromium
# for the browser tests. Exit code = the suite's. Services this run had to start are stopped
# at the end (ARENA_KEEP_SERVICES=1 keeps them; scripts/down.sh stops them later).
# Settings: NATS_URL, DATABASE_URL, PORT, ARENA_TEST_TIMEOUT (seconds, default 4200).
# Extra arguments go to vitest (e.g. `bash scripts/test.sh --project unit`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

cleanup() {
  local rc=$?
  if [[ "${ARENA_KEEP_SERVICES:-0}" != 1 ]] && [[ "${NATS_STARTED:-0}${POSTGRES_STARTED:-0}" != 00 ]]; then
    log "stopping the services this run started"
    stop_started_this_run || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup_all
ensure_chromium

timeout_s="${ARENA_TEST_TIMEOUT:-4200}"
log "test suite: npx vitest run${*:+ $*} (time limit ${timeout_s}s)"
set +e
timeout --kill-after=30 "$timeout_s" npx --no-install vitest run "$@" </dev/null
rc=$?
set -e
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
  warn "the test suite did not finish within ${timeout_s}s and was stopped"
fi
log "test suite exit code: $rc"
exit "$rc"
