#!/usr/bin/env bash
# Stops what scripts/up.sh (or test.sh with ARENA_KEEP_SERVICES=1) started — the demo
# producer, the service, and the NATS and Postgres it started under .local/ — and only
# that: services it found already running are left alone. Data under .local/ is kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

log "stopping what scripts/up.sh started"
[[ -d "$ARENA_RUN_DIR" ]] || {
  info "nothing to stop (no .local/run)"
  exit 0
}
stop_producer
stop_service
stop_postgres
stop_nats
left="$(ls "$ARENA_RUN_DIR" 2>/dev/null || true)"
[[ -z "$left" ]] || warn "left in .local/run: $left"
info "done"
