# shellcheck shell=bash
# The Arena service and the demo producer, started in the background by up.sh:
# logs .local/log/{arena,producer}.log, pids .local/run/{arena,producer}.pid.
# Sourced after common.sh.

# A JWT secret that survives restarts (.local/jwt-secret) unless ARENA_JWT_SECRET is set,
# and .local/env so a shell can `source .local/env` to talk to what up.sh started.
ensure_secret_and_env() {
  if [[ -z "${ARENA_JWT_SECRET:-}" ]]; then
    local f="$ARENA_LOCAL/jwt-secret"
    if [[ ! -s "$f" ]]; then
      (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64url"))' >"$f")
    fi
    ARENA_JWT_SECRET="$(cat "$f")"
  fi
  export ARENA_JWT_SECRET
  (
    umask 077
    {
      echo "# Written by scripts/up.sh: source it to use the running Arena from a shell."
      printf 'export NATS_URL=%q\n' "$NATS_URL"
      printf 'export DATABASE_URL=%q\n' "$DATABASE_URL"
      printf 'export PORT=%q\n' "$PORT"
      printf 'export ARENA_JWT_SECRET=%q\n' "$ARENA_JWT_SECRET"
    } >"$ARENA_LOCAL/env"
  )
}

run_migrations() {
  log "migrations (node bin/arena migrate)"
  (cd "$ARENA_ROOT" && timeout 300 node bin/arena migrate </dev/null) || die "node bin/arena migrate failed (see above)"
}

stop_service() { stop_pid arena "bin/arena serve" 30; }
stop_producer() { stop_pid producer "bin/arena produce" 15; }

start_service() {
  local timeout="${ARENA_READY_TIMEOUT:-180}" url="http://127.0.0.1:$PORT/readyz" log_file="$ARENA_LOG_DIR/arena.log"
  log "Arena service on port $PORT"
  # Ours from an earlier up.sh: restart it so it runs the build just made.
  stop_producer
  stop_service
  local kind
  kind="$(port_ident 127.0.0.1 "$PORT")"
  [[ "$kind" == closed ]] ||
    die "port $PORT is already in use$(port_owner "$PORT"), by something these scripts did not start. Stop it or set PORT to another port."

  start_bg arena "$log_file" node bin/arena serve
  local pid
  pid="$(pid_of arena)"
  info "started node bin/arena serve (pid $pid, log .local/log/arena.log)"
  wait_ready "$pid" "$url" "$timeout" "$log_file"
}

# wait_ready PID URL TIMEOUT LOG_FILE: poll URL (/readyz) every second until it answers 200.
# Dies at once, with the service's own sentence, when the service reports a fatal condition
# (retrying cannot fix it), and when the process exits; dies after TIMEOUT seconds otherwise.
# The service is stopped (stop_service) before dying on fatal or timeout.
wait_ready() {
  local pid="$1" url="$2" timeout="$3" log_file="$4"
  local start=$SECONDS status="000" last_print=$SECONDS out rc
  printf '    waiting for %s (up to %ss) ' "$url" "$timeout"
  while true; do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf ' exited\n'
      tail_log "$log_file"
      rm -f "$ARENA_RUN_DIR/arena.pid"
      die "the service exited before it was ready (log above, full log in $log_file)"
    fi
    rc=0
    out="$(node "$PROBE" readyz "$url" 2>/dev/null)" || rc=$?
    status="${out%%$'\n'*}"
    if [[ $rc -eq 0 ]]; then
      printf ' ready (%ss)\n' "$((SECONDS - start))"
      return 0
    fi
    if [[ $rc -eq 3 ]]; then
      printf ' fatal\n'
      tail_log "$log_file"
      stop_service
      local reason="${out#*$'\n'}"
      die "the service reports a fatal condition that retrying cannot fix: ${reason%%$'\n'*} (full log in $log_file)"
    fi
    if ((SECONDS - start >= timeout)); then
      printf ' timed out\n'
      tail_log "$log_file"
      printf 'last answer from %s: ' "$url" >&2
      node "$PROBE" http "$url" >&2 || true
      stop_service
      die "$url did not answer 200 within ${timeout}s (last status: $status). Log above; full log in $log_file"
    fi
    if ((SECONDS - last_print >= 10)); then
      printf '[%ss: %s]' "$((SECONDS - start))" "$status"
      last_print=$SECONDS
    else
      printf '.'
    fi
    sleep 1
  done
}

start_producer() {
  log "demo producer (node bin/arena produce --demo)"
  stop_producer
  start_bg producer "$ARENA_LOG_DIR/producer.log" node bin/arena produce --demo
  local pid rc=0
  pid="$(pid_of producer)"
  sleep 2
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" || rc=$?
    rm -f "$ARENA_RUN_DIR/producer.pid"
    if [[ $rc -ne 0 ]]; then
      tail_log "$ARENA_LOG_DIR/producer.log"
      die "the demo producer exited with status $rc (the service is still running; scripts/down.sh stops it)"
    fi
    info "the demo producer ran and finished (log .local/log/producer.log)"
    return 0
  fi
  info "running (pid $pid, log .local/log/producer.log)"
}
