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
#   scripts/cluster.sh clean    stop, then delete the state directory (JetStream stores, configs, logs)
#
# Settings (environment):
#   ARENA_PARTITIONS          P in the mapping, default 8. Fixed for the life of a deployment's data:
#                             start refuses a state directory written with another P.
#   ARENA_CLUSTER_DIR         state directory, default .local/cluster (n<i>.conf, n<i>/ store, n<i>.log, n<i>.pid)
#   ARENA_CLUSTER_CLIENT_PORT first client port, default 4301 (nodes use 4301, 4302, 4303)
#   ARENA_CLUSTER_ROUTE_PORT  first cluster (route) port, default 6301
#   ARENA_CLUSTER_HTTP_PORT   first monitoring port, default 8301
#   ARENA_CLUSTER_TIMEOUT     seconds to wait for the cluster on start, default 60
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

# node_pid I: the recorded pid when that process is alive and is nats-server running our config.
node_pid() {
  local f pid
  f="$(pidfile_of "$1")"
  [[ -s "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "nats-server.*$(conf_of "$1")" || return 1
  echo "$pid"
}

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
    start=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS - start >= 20)); then
        warn "n$i (pid $pid) did not stop within 20s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
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

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  clean) cmd_clean ;;
  *) die "usage: scripts/cluster.sh start|status|stop|clean (see the header of scripts/cluster.sh for settings)" ;;
esac
