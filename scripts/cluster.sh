#!/usr/bin/env bash
# A local 3-node NATS JetStream cluster on loopback for Arena's partitioned mode (ARCHITECTURE §9):
# three nats-server processes (Debian's 2.9.10 is enough) with the account subject mapping
#   arena.xp.events.*  ->  arena.xp.p.{{partition(P,1)}}.{{wildcard(1)}}
# so an event published on arena.xp.events.<user_token> lands on its partition's subject.
# It never touches the single-process NATS on 4222.
#
#   scripts/cluster.sh start    start the nodes that do not run (all, or one killed by hand), wait for a
#                               JetStream meta leader and healthy nodes
#   scripts/cluster.sh status   one line per node; exit 0 only when all three answer and JetStream is healthy
#   scripts/cluster.sh stop     TERM each node this script started (KILL after 20 s); data is kept
#   scripts/cluster.sh clean    down and stop, then delete the state directory (JetStream stores, configs,
#                               logs) and the processors' database (ARENA_CLUSTER_DATABASE_URL): partition
#                               snapshots describe the event stream that is deleted with the stores, so a
#                               new cluster's processors would refuse them (docs/scaling.md)
#   scripts/cluster.sh up       the whole local topology for a newcomer: start the nodes, then Arena
#                               processors (`arena serve --role processor`) and gateways (`--role gateway`)
#                               on the cluster, each waited for; prints the gateways' addresses
#                               with analytics: unless CLICKHOUSE_URL is set, `up` first starts the
#                               ClickHouse STAND-IN (dist/adapters/clickhouse/StandInMain.js: ClickHouse's
#                               HTTP interface over one embedded chDB in $DIR/clickhouse — NOT a ClickHouse
#                               server; this machine has none) that every processor writes and the gateways read
#   scripts/cluster.sh down     TERM the gateways and processors `up` started, then the stand-in, then stop the nodes
#
# Settings (environment):
#   ARENA_PARTITIONS          P in the mapping, default 8. Fixed for the life of a deployment's data:
#                             start refuses a state directory written with another P.
#   ARENA_CLUSTER_DIR         state directory, default .local/cluster (n<i>.conf, n<i>/ store, n<i>.log, n<i>.pid)
#   ARENA_CLUSTER_CLIENT_PORT first client port, default 4301 (nodes use 4301, 4302, 4303)
#   ARENA_CLUSTER_ROUTE_PORT  first cluster (route) port, default 6301
#   ARENA_CLUSTER_HTTP_PORT   first monitoring port, default 8301
#   ARENA_CLUSTER_TIMEOUT     seconds to wait for the cluster on start, default 60
#   ARENA_CLUSTER_PROCESSORS  processors `up` starts, default 3 (members p1..pN)
#   ARENA_CLUSTER_GATEWAYS    gateways `up` starts, default 2
#   ARENA_CLUSTER_GATEWAY_PORT first gateway port, default 8181 (a single-process start uses PORT 8080)
#   ARENA_CLUSTER_DATABASE_URL Postgres for the processors, default DATABASE_URL's server with database
#                             arena_cluster (created if missing; kept apart from a single-process start's)
#   CLICKHOUSE_URL            a ClickHouse server (http(s)://…) the processors share; unset: `up` runs the
#                             stand-in on 127.0.0.1:ARENA_CLUSTER_CLICKHOUSE_PORT (default 8124); `off`: none
# Then: export NATS_URL=nats://127.0.0.1:4301,nats://127.0.0.1:4302,nats://127.0.0.1:4303
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

P="${ARENA_PARTITIONS:-8}"
DIR="${ARENA_CLUSTER_DIR:-$ARENA_LOCAL/cluster}"
CPORT="${ARENA_CLUSTER_CLIENT_PORT:-4301}"
RPORT="${ARENA_CLUSTER_ROUTE_PORT:-6301}"
HPORT="${ARENA_CLUSTER_HTTP_PORT:-8301}"
TIMEOUT="${ARENA_CLUSTER_TIMEOUT:-60}"
NODES=(1 2 3)

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_uint "$P" && ((P >= 1 && P <= 1024)) || die "ARENA_PARTITIONS must be an integer 1..1024, got '$P'"
for v in CPORT RPORT HPORT; do
  is_uint "${!v}" && ((${!v} >= 1024 && ${!v} <= 65533)) || die "port setting $v must be an integer 1024..65533, got '${!v}'"
done
is_uint "$TIMEOUT" || die "ARENA_CLUSTER_TIMEOUT must be a whole number of seconds, got '$TIMEOUT'"
[[ "$DIR" == /* ]] || DIR="$PWD/$DIR"

client_port() { echo $((CPORT + $1 - 1)); }
route_port() { echo $((RPORT + $1 - 1)); }
http_port() { echo $((HPORT + $1 - 1)); }
conf_of() { echo "$DIR/n$1.conf"; }
pidfile_of() { echo "$DIR/n$1.pid"; }

urls() {
  local i out=""
  for i in "${NODES[@]}"; do out+="${out:+,}nats://127.0.0.1:$(client_port "$i")"; done
  echo "$out"
}

# recorded_pid FILE PATTERN: the pid in FILE when that process is alive and its command line
# matches PATTERN (a recycled pid is never taken for ours).
recorded_pid() {
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
  echo "$pid"
}

# node_pid I: the recorded pid when that process is alive and is nats-server running our config.
node_pid() { recorded_pid "$(pidfile_of "$1")" "nats-server.*$(conf_of "$1")"; }

# http_ok URL: 200 from the node's monitoring endpoint (node's fetch: no curl needed).
http_ok() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
}

# meta_leader I: the JetStream meta leader as node I sees it (empty when there is none).
meta_leader() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => r.json()).then((j) => { process.stdout.write(j?.meta_cluster?.leader ?? ""); }, () => {})' \
    "http://127.0.0.1:$(http_port "$1")/jsz"
}

node_healthy() { http_ok "http://127.0.0.1:$(http_port "$1")/healthz"; }

cluster_ready() {
  local i
  for i in "${NODES[@]}"; do
    node_healthy "$i" || return 1
    [[ -n "$(meta_leader "$i")" ]] || return 1
  done
}

find_bin() {
  local bin
  bin="$(command -v nats-server || true)"
  [[ -z "$bin" && -x /usr/sbin/nats-server ]] && bin=/usr/sbin/nats-server
  [[ -n "$bin" ]] || die "nats-server not found: install Debian's package (apt-get install nats-server) or put a nats-server >= 2.8 on PATH"
  local ver
  ver="$("$bin" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9]*\)\.\([0-9][0-9]*\)\..*/\1 \2/p')"
  [[ -n "$ver" ]] || die "$bin --version did not print a version"
  read -r major minor <<<"$ver"
  ((major > 2 || (major == 2 && minor >= 8))) || die "$bin is $("$bin" --version): the partition() subject mapping needs nats-server >= 2.8"
  echo "$bin"
}

write_conf() {
  local i="$1" routes="" j
  for j in "${NODES[@]}"; do routes+="${routes:+, }nats-route://127.0.0.1:$(route_port "$j")"; done
  cat >"$(conf_of "$i")" <<EOF
# Written by scripts/cluster.sh: node n$i of a 3-node loopback cluster (P = $P).
server_name: n$i
listen: 127.0.0.1:$(client_port "$i")
http: 127.0.0.1:$(http_port "$i")
jetstream {
  store_dir: "$DIR/n$i"
  max_mem: 256MB
  max_file: 2GB
}
cluster {
  name: arena
  listen: 127.0.0.1:$(route_port "$i")
  routes: [$routes]
}
mappings = {
  "arena.xp.events.*": "arena.xp.p.{{partition($P,1)}}.{{wildcard(1)}}"
}
EOF
}

cmd_start() {
  local bin i missing=()
  bin="$(find_bin)"
  mkdir -p "$DIR"
  if [[ -s "$DIR/partitions" && "$(cat "$DIR/partitions")" != "$P" ]]; then
    die "the state in $DIR was written with ARENA_PARTITIONS=$(cat "$DIR/partitions"), not $P: P is fixed for the life of the data. Set ARENA_PARTITIONS=$(cat "$DIR/partitions") or run 'scripts/cluster.sh clean' to start over"
  fi
  for i in "${NODES[@]}"; do node_pid "$i" >/dev/null || missing+=("$i"); done
  if ((${#missing[@]} == 0)); then
    log "the cluster already runs (state $DIR)"
  else
    # Only the nodes that do not run are started (a node killed by hand rejoins with its store).
    for i in "${missing[@]}"; do
      local p kind
      for p in "$(client_port "$i")" "$(route_port "$i")" "$(http_port "$i")"; do
        kind="$(port_ident 127.0.0.1 "$p")"
        [[ "$kind" == closed ]] || die "port $p on 127.0.0.1 is taken$(port_owner "$p"): free it or choose other ports (ARENA_CLUSTER_CLIENT_PORT, ARENA_CLUSTER_ROUTE_PORT, ARENA_CLUSTER_HTTP_PORT)"
      done
    done
    echo "$P" >"$DIR/partitions"
    log "starting ${#missing[@]} of 3 nodes of $("$bin" --version) with P = $P (state $DIR)"
    for i in "${missing[@]}"; do
      write_conf "$i"
      mkdir -p "$DIR/n$i"
      printf '\n--- %s: start\n' "$(date -u +%FT%TZ)" >>"$DIR/n$i.log"
      setsid "$bin" -c "$(conf_of "$i")" </dev/null >>"$DIR/n$i.log" 2>&1 &
      echo $! >"$(pidfile_of "$i")"
      info "n$i: pid $! client 127.0.0.1:$(client_port "$i") route $(route_port "$i") monitor $(http_port "$i")"
    done
  fi
  if ! wait_until "$TIMEOUT" "JetStream meta leader and healthy nodes" cluster_ready; then
    for i in "${NODES[@]}"; do
      node_pid "$i" >/dev/null || warn "n$i is not running"
      tail_log "$DIR/n$i.log" 15
    done
    die "the cluster did not become ready within ${TIMEOUT}s (logs in $DIR); 'scripts/cluster.sh stop' stops what started"
  fi
  info "meta leader: $(meta_leader 1)"
  info "export NATS_URL=$(urls)"
}

# await_exit LABEL PID SECONDS: wait for PID to exit (after a TERM); KILL it after SECONDS.
await_exit() {
  local start=$SECONDS
  while kill -0 "$2" 2>/dev/null; do
    if ((SECONDS - start >= $3)); then
      warn "$1 (pid $2) did not stop within $3s; killing it"
      kill -KILL "$2" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
}

cmd_stop() {
  local i pid start any=0
  for i in "${NODES[@]}"; do
    if ! pid="$(node_pid "$i")"; then
      rm -f "$(pidfile_of "$i")"
      continue
    fi
    any=1
    info "stopping n$i (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for i in "${NODES[@]}"; do
    pid="$(node_pid "$i")" || continue
    await_exit "n$i" "$pid" 20
    rm -f "$(pidfile_of "$i")"
  done
  if ((any)); then log "cluster stopped (data kept in $DIR)"; else log "no cluster node running (state $DIR)"; fi
}

cmd_status() {
  local i pid up=0 state
  for i in "${NODES[@]}"; do
    if pid="$(node_pid "$i")"; then
      if node_healthy "$i"; then
        state="healthy, meta leader $(meta_leader "$i")"
        up=$((up + 1))
      else
        state="running, JetStream not healthy yet"
      fi
      printf 'n%s  pid %-8s 127.0.0.1:%s  %s\n' "$i" "$pid" "$(client_port "$i")" "$state"
    else
      printf 'n%s  %-12s 127.0.0.1:%s  not running\n' "$i" "-" "$(client_port "$i")"
    fi
  done
  if ((up == ${#NODES[@]})); then
    printf 'cluster up: P = %s, NATS_URL=%s\n' "$(cat "$DIR/partitions" 2>/dev/null || echo "$P")" "$(urls)"
    return 0
  fi
  printf 'cluster down: %s of %s nodes healthy\n' "$up" "${#NODES[@]}"
  return 1
}

cmd_clean() {
  cmd_stop
  [[ -d "$DIR" ]] || return 0
  rm -rf "$DIR"
  log "removed $DIR"
}

# ---- the Arena topology on the cluster (up/down) ----
PROCS="${ARENA_CLUSTER_PROCESSORS:-3}"
GWS="${ARENA_CLUSTER_GATEWAYS:-2}"
GPORT="${ARENA_CLUSTER_GATEWAY_PORT:-8181}"
is_uint "$PROCS" && ((PROCS >= 1 && PROCS <= 16)) || die "ARENA_CLUSTER_PROCESSORS must be 1..16, got '$PROCS'"
is_uint "$GWS" && ((GWS >= 1 && GWS <= 8)) || die "ARENA_CLUSTER_GATEWAYS must be 1..8, got '$GWS'"
is_uint "$GPORT" && ((GPORT >= 1024 && GPORT + GWS - 1 <= 65535)) || die "ARENA_CLUSTER_GATEWAY_PORT must be an integer 1024..65535, got '$GPORT'"
cluster_db_url() {
  if [[ -n "${ARENA_CLUSTER_DATABASE_URL:-}" ]]; then echo "$ARENA_CLUSTER_DATABASE_URL"; return; fi
  local base="${DATABASE_URL%%\?*}"
  echo "${base%/*}/arena_cluster"
}
# The pid files of what `up` started live in the state directory beside the nodes' (role<i>.pid).
member_pidfile() { echo "$DIR/$1.pid"; }
member_pid() { recorded_pid "$(member_pidfile "$1")" "bin/arena serve"; }

# ClickHouse for the members: CLICKHOUSE_URL when given, else the stand-in `up` starts (member "ch").
CHPORT="${ARENA_CLUSTER_CLICKHOUSE_PORT:-8124}"
is_uint "$CHPORT" && ((CHPORT >= 1024 && CHPORT <= 65535)) || die "ARENA_CLUSTER_CLICKHOUSE_PORT must be an integer 1024..65535, got '$CHPORT'"
members_clickhouse_url() {
  if [[ "${CLICKHOUSE_URL:-}" == off ]]; then echo ""; elif [[ -n "${CLICKHOUSE_URL:-}" ]]; then echo "$CLICKHOUSE_URL"; else echo "http://127.0.0.1:$CHPORT"; fi
}
stand_in_pid() { recorded_pid "$(member_pidfile ch)" "StandInMain.js"; }
stand_in_ok() { node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$CHPORT/ping"; }
# The ClickHouse STAND-IN (not a server: ClickHouse's HTTP interface over one embedded chDB), when no CLICKHOUSE_URL is given.
start_stand_in() {
  [[ -z "${CLICKHOUSE_URL:-}" ]] || return 0
  if stand_in_pid >/dev/null; then info "ch (ClickHouse stand-in) already runs"; return 0; fi
  [[ "$(port_ident 127.0.0.1 "$CHPORT")" == closed ]] || die "port $CHPORT on 127.0.0.1 is taken$(port_owner "$CHPORT"): free it, set ARENA_CLUSTER_CLICKHOUSE_PORT, or CLICKHOUSE_URL"
  printf '\n--- %s: start (ClickHouse stand-in)\n' "$(date -u +%FT%TZ)" >>"$DIR/ch.log"
  (cd "$ARENA_ROOT" && exec setsid node dist/adapters/clickhouse/StandInMain.js --path "$DIR/clickhouse" --port "$CHPORT" --database arena) </dev/null >>"$DIR/ch.log" 2>&1 &
  echo $! >"$(member_pidfile ch)"
  info "ch: ClickHouse STAND-IN (embedded chDB behind ClickHouse's HTTP interface; not a server) pid $(cat "$(member_pidfile ch)") on http://127.0.0.1:$CHPORT, log $DIR/ch.log"
  wait_member ch "an answer to /ping" stand_in_ok
}

# start_member NAME ROLE PORT: `arena serve --role ROLE` detached, log $DIR/NAME.log.
start_member() {
  local name="$1" role="$2" port="$3" ch
  ch="$(members_clickhouse_url)"
  printf '\n--- %s: start (%s)\n' "$(date -u +%FT%TZ)" "$role" >>"$DIR/$name.log"
  # exec all the way down: the recorded pid is node's, and no shell keeps the caller's output open.
  (cd "$ARENA_ROOT" && exec env NATS_URL="$(urls)" DATABASE_URL="$(cluster_db_url)" ARENA_PARTITIONS="$P" ARENA_MEMBER_ID="$name" \
    ARENA_DATA_DIR="$DIR/$name" PORT="$port" ${ch:+CLICKHOUSE_URL="$ch"} setsid node bin/arena serve --role "$role") </dev/null >>"$DIR/$name.log" 2>&1 &
  echo $! >"$(member_pidfile "$name")"
}

# wait_member NAME WHAT CHECK...: until CHECK succeeds; dies with the member's log when it exits or times out.
wait_member() {
  local name="$1" what="$2" start=$SECONDS
  shift 2
  until "$@"; do
    # Alive by pid alone: right after the start the process may still be the shell on its way to
    # exec node (its command line is not yet node's).
    if ! kill -0 "$(tr -dc '0-9' <"$(member_pidfile "$name")")" 2>/dev/null; then
      tail_log "$DIR/$name.log" 30
      die "$name exited before $what (log above, full log $DIR/$name.log); 'scripts/cluster.sh down' stops the rest"
    fi
    if ((SECONDS - start >= TIMEOUT)); then
      tail_log "$DIR/$name.log" 30
      die "$name: no $what within ${TIMEOUT}s (log above); 'scripts/cluster.sh down' stops the rest"
    fi
    sleep 0.5
  done
}
following() { grep -q "following the coordinator's assignment" "$DIR/$1.log"; }
gateway_ready() { node "$PROBE" readyz "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }

cmd_up() {
  cmd_start
  [[ -d "$ARENA_ROOT/dist" ]] || die "no build in $ARENA_ROOT/dist: run 'npm run build' (or scripts/up.sh once) first"
  local db i name port kind
  db="$(cluster_db_url)"
  node "$PROBE" pg-ensure-db "$db" || die "cannot use Postgres for $db (see above): set ARENA_CLUSTER_DATABASE_URL, or start Postgres (scripts/up.sh does)"
  if [[ -z "${ARENA_JWT_SECRET:-}" && -s "$ARENA_LOCAL/jwt-secret" ]]; then ARENA_JWT_SECRET="$(cat "$ARENA_LOCAL/jwt-secret")"; export ARENA_JWT_SECRET; fi
  start_stand_in
  for ((i = 1; i <= PROCS; i++)); do
    name="p$i"
    if member_pid "$name" >/dev/null; then info "$name already runs"; continue; fi
    start_member "$name" processor 0
    info "$name: processor pid $(cat "$(member_pidfile "$name")"), log $DIR/$name.log"
  done
  for ((i = 1; i <= PROCS; i++)); do wait_member "p$i" "following the coordinator" following "p$i"; done
  for ((i = 1; i <= GWS; i++)); do
    name="g$i"
    port=$((GPORT + i - 1))
    if member_pid "$name" >/dev/null; then info "$name already runs"; continue; fi
    kind="$(port_ident 127.0.0.1 "$port")"
    [[ "$kind" == closed ]] || die "port $port on 127.0.0.1 is taken$(port_owner "$port"): free it or set ARENA_CLUSTER_GATEWAY_PORT"
    start_member "$name" gateway "$port"
    info "$name: gateway pid $(cat "$(member_pidfile "$name")") on http://127.0.0.1:$port, log $DIR/$name.log"
  done
  for ((i = 1; i <= GWS; i++)); do wait_member "g$i" "ready gateway" gateway_ready $((GPORT + i - 1)); done
  log "Arena runs partitioned: P = $P, $PROCS processors, $GWS gateways"
  for ((i = 1; i <= GWS; i++)); do info "gateway g$i  http://127.0.0.1:$((GPORT + i - 1))/v1/leaderboards/global"; done
  info "NATS_URL=$(urls)  DATABASE_URL=$db${CLICKHOUSE_URL:+  CLICKHOUSE_URL=$CLICKHOUSE_URL}"
  [[ -n "${CLICKHOUSE_URL:-}" ]] || info "analytics: the ClickHouse stand-in on http://127.0.0.1:$CHPORT (arena sql: CLICKHOUSE_URL=http://127.0.0.1:$CHPORT node bin/arena sql \"SELECT count() FROM awards\")"
  info "produce: NATS_URL=$(urls) ARENA_PARTITIONS=$P node bin/arena produce --demo"
}

cmd_down() {
  local role name pid
  # Gateways first, then processors (each stops with a final snapshot); those of a role at once.
  for role in g p; do
    local stopping=()
    for name in $(ls "$DIR" 2>/dev/null | sed -n "s/^\\($role[0-9]*\\)\\.pid\$/\\1/p"); do
      pid="$(member_pid "$name")" || { rm -f "$(member_pidfile "$name")"; continue; }
      info "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      stopping+=("$name:$pid")
    done
    for name in "${stopping[@]}"; do
      await_exit "${name%%:*}" "${name##*:}" 30
      rm -f "$(member_pidfile "${name%%:*}")"
    done
  done
  # The ClickHouse stand-in last: the processors' final flushes go to it.
  if pid="$(stand_in_pid)"; then
    info "stopping ch, the ClickHouse stand-in (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    await_exit ch "$pid" 30
  fi
  rm -f "$(member_pidfile ch)"
  cmd_stop
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  clean) cmd_down; cmd_clean; node "$PROBE" pg-drop-db "$(cluster_db_url)" || warn "the processors' database $(cluster_db_url) was not dropped: drop it before the next 'up'" ;;
  up) cmd_up ;;
  down) cmd_down ;;
  *) die "usage: scripts/cluster.sh start|status|stop|clean|up|down (see the header of scripts/cluster.sh for settings)" ;;
esac
