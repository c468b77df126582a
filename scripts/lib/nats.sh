# shellcheck shell=bash
# NATS with JetStream at $NATS_URL: reused when it already answers there, otherwise
# nats-server (Debian's package, installed when missing) is started with its store under
# .local/nats, log .local/log/nats.log, pid .local/run/nats.pid. Sourced after common.sh.

NATS_STARTED=0

ensure_nats() {
  local host port kind
  host="$(url_host "$NATS_URL")"
  port="$(url_port "$NATS_URL" 4222)"
  log "NATS at $NATS_URL"
  kind="$(port_ident "$host" "$port")"
  case "$kind" in
    nats)
      node "$PROBE" nats-js "$NATS_URL" ||
        die "NATS at $NATS_URL answers but JetStream is not enabled. Restart it with -js, or point NATS_URL at another server (e.g. NATS_URL=nats://127.0.0.1:14222 to let this script start its own)."
      info "reusing it"
      return 0
      ;;
    closed) ;;
    *)
      is_local_host "$host" || die "$host:$port answers, but not as NATS: check NATS_URL"
      die "$host:$port is taken by something that is not NATS$(port_owner "$port"). Free the port or set NATS_URL to another one."
      ;;
  esac

  is_local_host "$host" || die "nothing answers at $NATS_URL and $host is not this machine: start NATS there or change NATS_URL"
  if pid_alive nats nats-server; then
    die "nats-server started earlier (pid $(pid_of nats)) is running but not answering on $host:$port; see $ARENA_LOG_DIR/nats.log or run scripts/down.sh"
  fi

  local bin
  bin="$(command -v nats-server || true)"
  [[ -z "$bin" && -x /usr/sbin/nats-server ]] && bin=/usr/sbin/nats-server
  if [[ -z "$bin" ]]; then
    apt_install nats-server
    bin="$(command -v nats-server || echo /usr/sbin/nats-server)"
  fi
  [[ -x "$bin" ]] || die "nats-server not found after installing it"

  mkdir -p "$ARENA_LOCAL/nats"
  local bind="$host"
  [[ "$bind" == localhost ]] && bind=127.0.0.1
  info "starting $("$bin" --version 2>/dev/null) on $bind:$port (store .local/nats, log .local/log/nats.log)"
  start_bg nats "$ARENA_LOG_DIR/nats.log" "$bin" -a "$bind" -p "$port" -js -sd "$ARENA_LOCAL/nats"
  NATS_STARTED=1
  if ! wait_until 30 "NATS JetStream on $bind:$port" node "$PROBE" nats-js "$NATS_URL"; then
    tail_log "$ARENA_LOG_DIR/nats.log"
    die "nats-server did not come up on $bind:$port"
  fi
}

stop_nats() {
  pid_alive nats nats-server || {
    rm -f "$ARENA_RUN_DIR/nats.pid"
    return 0
  }
  stop_pid nats nats-server 30
}
