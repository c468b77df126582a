# shellcheck shell=bash
# Shared by scripts/*.sh: paths, configuration (NATS_URL, DATABASE_URL, PORT), logging,
# timeouts, and the pid files that record what these scripts started (.local/run).
# Sourced, never run. Callers use `set -euo pipefail`.

ARENA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARENA_LOCAL="$ARENA_ROOT/.local"
ARENA_LOG_DIR="$ARENA_LOCAL/log"
ARENA_RUN_DIR="$ARENA_LOCAL/run"
PROBE="$ARENA_ROOT/scripts/lib/probe.mjs"

export NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/arena}"
export PORT="${PORT:-8080}"
export DEBIAN_FRONTEND=noninteractive

# Colour only on a terminal; CI logs stay plain.
if [[ -t 1 ]]; then _b=$'\033[1;34m' _y=$'\033[1;33m' _r=$'\033[1;31m' _n=$'\033[0m'; else _b='' _y='' _r='' _n=''; fi
log() { printf '%s==>%s %s\n' "$_b" "$_n" "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf '%swarning:%s %s\n' "$_y" "$_n" "$*" >&2; }
die() {
  printf '%serror:%s %s\n' "$_r" "$_n" "$*" >&2
  exit 1
}

prepare_local_dirs() {
  mkdir -p "$ARENA_LOG_DIR" "$ARENA_RUN_DIR"
  # Postgres runs as its own user and must be able to walk into .local.
  chmod 755 "$ARENA_LOCAL" "$ARENA_LOG_DIR" 2>/dev/null || true
}

# url_host URL / url_port URL DEFAULT_PORT: the host and port of scheme://[user[:pw]@]host[:port][/...].
url_hostport() {
  local rest="${1#*://}"
  rest="${rest%%/*}"
  rest="${rest%%\?*}"
  rest="${rest##*@}"
  printf '%s' "$rest"
}
url_host() {
  local hp
  hp="$(url_hostport "$1")"
  if [[ "$hp" == \[* ]]; then hp="${hp#[}"; printf '%s' "${hp%%]*}"; else printf '%s' "${hp%%:*}"; fi
}
url_port() {
  local hp
  hp="$(url_hostport "$1")"
  hp="${hp##*]}"
  if [[ "$hp" == *:* ]]; then printf '%s' "${hp##*:}"; else printf '%s' "$2"; fi
}

# Only a service on this machine can be started by these scripts.
is_local_host() {
  case "$1" in
    127.* | localhost | ::1 | 0.0.0.0 | "") return 0 ;;
    *) return 1 ;;
  esac
}

# What answers on HOST PORT: nats | postgres | other | closed.
port_ident() { node "$PROBE" ident "$1" "$2"; }

# Who listens on a port of this machine, for error messages (best effort): " (by ...)".
port_owner() {
  local who=""
  if command -v ss >/dev/null 2>&1; then
    who="$(ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -1)"
  fi
  [[ -z "$who" ]] || printf ' (by %s)' "$who"
}

# wait_until SECONDS WHAT CMD...: run CMD every second until it succeeds; dots as progress.
wait_until() {
  local timeout="$1" what="$2" start=$SECONDS
  shift 2
  printf '    waiting for %s ' "$what"
  while ! "$@" >/dev/null 2>&1; do
    if ((SECONDS - start >= timeout)); then
      printf ' timed out after %ss\n' "$timeout"
      return 1
    fi
    printf '.'
    sleep 1
  done
  printf ' ok (%ss)\n' "$((SECONDS - start))"
}

# Run as root (apt-get): directly when root, else through sudo.
as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -E "$@"; else
    die "need root for: $* (run as root or install sudo)"
  fi
}

# pid_alive NAME [PATTERN]: the pid in .local/run/NAME.pid is running (and its command
# line contains PATTERN, so a recycled pid is never taken for ours).
pid_alive() {
  local file="$ARENA_RUN_DIR/$1.pid" pid
  [[ -s "$file" ]] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -n "${2:-}" && -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2" || return 1
  fi
}
pid_of() { tr -dc '0-9' <"$ARENA_RUN_DIR/$1.pid"; }

# stop_pid NAME PATTERN [SECONDS]: TERM the recorded process, KILL it after SECONDS.
stop_pid() {
  local name="$1" pattern="$2" timeout="${3:-20}" pid start=$SECONDS
  if ! pid_alive "$name" "$pattern"; then
    rm -f "$ARENA_RUN_DIR/$name.pid"
    return 0
  fi
  pid="$(pid_of "$name")"
  info "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - start >= timeout)); then
      warn "$name (pid $pid) did not stop within ${timeout}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$ARENA_RUN_DIR/$name.pid"
}

# start_bg NAME LOGFILE CMD...: run CMD detached (own session, no stdin, output to LOGFILE)
# and record its pid. Detached so no caller (CI) waits on its output.
start_bg() {
  local name="$1" logfile="$2"
  shift 2
  printf '\n--- %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$logfile"
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  echo $! >"$ARENA_RUN_DIR/$name.pid"
}

tail_log() {
  local file="$1"
  if [[ -f "$file" ]]; then
    printf -- '---- last lines of %s ----\n' "$file" >&2
    tail -n "${2:-40}" "$file" >&2
    printf -- '----\n' >&2
  fi
}
