# shellcheck shell=bash
# The set-up shared by up.sh and test.sh: npm dependencies, NATS with JetStream, Postgres
# with the database, the build. Sources the other libs.
# shellcheck source-path=SCRIPTDIR
_lib="$(dirname "${BASH_SOURCE[0]}")"
source "$_lib/common.sh"
source "$_lib/apt.sh"
source "$_lib/deps.sh"
source "$_lib/nats.sh"
source "$_lib/postgres.sh"
source "$_lib/chromium.sh"
source "$_lib/service.sh"
unset _lib

setup_all() {
  cd "$ARENA_ROOT" || die "cannot cd to $ARENA_ROOT"
  prepare_local_dirs
  info "NATS_URL=$NATS_URL DATABASE_URL=$DATABASE_URL PORT=$PORT"
  ensure_deps
  ensure_nats
  ensure_postgres
  build_project
}

# Stops only what this run started (test.sh uses it on exit).
stop_started_this_run() {
  [[ "${POSTGRES_STARTED:-0}" == 1 ]] && stop_postgres
  [[ "${NATS_STARTED:-0}" == 1 ]] && stop_nats
  return 0
}
