# shellcheck shell=bash
# Postgres at $DATABASE_URL: reused when it already answers there, otherwise a cluster of
# Debian's PostgreSQL (installed when missing) is initialised under .local/postgres (trust
# auth, listening on the URL's host:port only) and started as the postgres user — Postgres
# refuses to run as root. Log .local/log/postgres.log. Then the URL's database is created
# when missing. Sourced after common.sh and apt.sh.

POSTGRES_STARTED=0

# Commands of the cluster run as the postgres user when we are root, else as ourselves.
as_pg() {
  # From /: the postgres user may not be allowed into the current directory.
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [[ -n "$d" && -x "$d/pg_ctl" ]] && printf '%s' "$d"
}

install_postgres() {
  # On a machine that never had Postgres, Debian's package would also create (and try to
  # start) a system cluster "main" on 5432 — the port we are about to use. We manage our
  # own cluster, so turn that off first, unless the machine already says otherwise.
  if [[ -z "$(ls /etc/postgresql 2>/dev/null)" ]]; then
    [[ -f /etc/postgresql-common/createcluster.conf ]] || apt_install postgresql-common
    if ! grep -Eq '^[[:space:]]*create_main_cluster' /etc/postgresql-common/createcluster.conf 2>/dev/null; then
      info "setting create_main_cluster = false in /etc/postgresql-common/createcluster.conf"
      echo "create_main_cluster = false" | as_root tee -a /etc/postgresql-common/createcluster.conf >/dev/null
    fi
  fi
  apt_install postgresql
}

# Where the cluster lives: .local/postgres, or — when the postgres user cannot reach the
# project folder (e.g. a clone under /root) — a folder of its own under /var/tmp.
pg_root_dir() {
  local dir="$ARENA_LOCAL/postgres"
  if [[ $EUID -eq 0 ]] && ! runuser -u postgres -- test -x "$ARENA_LOCAL"; then
    dir="/var/tmp/arena-postgres-$(printf '%s' "$ARENA_ROOT" | sha256sum | cut -c1-12)"
    info "the postgres user cannot enter $ARENA_LOCAL; the cluster lives in $dir" >&2
  fi
  printf '%s' "$dir"
}

ensure_postgres() {
  local host port kind
  host="$(url_host "$DATABASE_URL")"
  port="$(url_port "$DATABASE_URL" 5432)"
  log "Postgres at $host:$port"
  kind="$(port_ident "$host" "$port")"
  case "$kind" in
    postgres)
      info "reusing it"
      ensure_database
      return 0
      ;;
    closed) ;;
    *)
      is_local_host "$host" || die "$host:$port answers, but not as Postgres: check DATABASE_URL"
      die "$host:$port is taken by something that is not Postgres$(port_owner "$port"). Free the port or set DATABASE_URL to another one."
      ;;
  esac
  is_local_host "$host" || die "nothing answers at $host:$port and $host is not this machine: start Postgres there or change DATABASE_URL"

  local bindir
  bindir="$(pg_bindir || true)"
  if [[ -z "$bindir" ]]; then
    install_postgres
    bindir="$(pg_bindir || true)"
    [[ -n "$bindir" ]] || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin after installing postgresql"
  fi
  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    die "user 'postgres' does not exist (it comes with Debian's postgresql-common)"
  fi

  local root data sock logfile version
  root="$(pg_root_dir)"
  data="$root/data"
  sock="$root/sock"
  version="$(basename "$(dirname "$bindir")")"
  mkdir -p "$data" "$sock"
  [[ $EUID -eq 0 ]] && chown postgres: "$root" "$data" "$sock"
  chmod 700 "$data"
  if [[ "$root" == "$ARENA_LOCAL/postgres" ]]; then
    logfile="$ARENA_LOG_DIR/postgres.log"
  else
    logfile="$root/postgres.log"
    ln -sfn "$logfile" "$ARENA_LOG_DIR/postgres.log"
  fi
  touch "$logfile"
  [[ $EUID -eq 0 ]] && chown postgres: "$logfile"

  if [[ ! -f "$data/PG_VERSION" ]]; then
    info "initdb (PostgreSQL $version) in $data"
    as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >>"$logfile" 2>&1 ||
      {
        tail_log "$logfile"
        die "initdb failed"
      }
  elif [[ "$(cat "$data/PG_VERSION")" != "$version" ]]; then
    die "$data holds a PostgreSQL $(cat "$data/PG_VERSION") cluster but PostgreSQL $version is installed; remove $root to start afresh"
  fi

  local bind="$host"
  [[ "$bind" == localhost ]] && bind=127.0.0.1
  # Settings owned by these scripts; rewritten each start so a new port applies.
  as_pg tee "$data/arena.conf" >/dev/null <<EOF
# Written by scripts/lib/postgres.sh on each start.
listen_addresses = '$bind'
port = $port
unix_socket_directories = '$sock'
max_connections = 200
EOF
  grep -q "^include_if_exists = 'arena.conf'" "$data/postgresql.conf" ||
    echo "include_if_exists = 'arena.conf'" | as_pg tee -a "$data/postgresql.conf" >/dev/null

  if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    die "a Postgres cluster in $data is running but not answering on $bind:$port; run scripts/down.sh first"
  fi
  info "starting PostgreSQL $version on $bind:$port (data $data, log $logfile)"
  if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >/dev/null; then
    tail_log "$logfile"
    die "PostgreSQL did not start on $bind:$port"
  fi
  printf '%s\n' "$data" >"$ARENA_RUN_DIR/postgres.data"
  printf '%s\n' "$bindir" >"$ARENA_RUN_DIR/postgres.bindir"
  head -1 "$data/postmaster.pid" >"$ARENA_RUN_DIR/postgres.pid"
  POSTGRES_STARTED=1
  wait_until 30 "Postgres on $bind:$port" bash -c '[[ "$(node "$1" ident "$2" "$3")" == postgres ]]' _ "$PROBE" "$bind" "$port" ||
    die "Postgres started but does not answer on $bind:$port"
  ensure_role "$bindir" "$sock" "$port"
  ensure_database
}

# In a cluster we started, the URL's user (when not postgres) is created as a superuser,
# so any DATABASE_URL works against it.
ensure_role() {
  local bindir="$1" sock="$2" port="$3" user
  user="${DATABASE_URL#*://}"
  if [[ "$user" == *@* ]]; then user="${user%%@*}"; user="${user%%:*}"; else user=postgres; fi
  [[ -n "$user" && "$user" != postgres ]] || return 0
  [[ "$user" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "user name '$user' in DATABASE_URL: use letters, digits and _"
  info "creating role $user (superuser) if missing"
  as_pg "$bindir/psql" -h "$sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtAc \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user') THEN CREATE ROLE $user LOGIN SUPERUSER; END IF; END \$\$" >/dev/null ||
    die "could not create role $user"
}

ensure_database() {
  node "$PROBE" pg-ensure-db "$DATABASE_URL" ||
    die "cannot use Postgres for $DATABASE_URL (see above): check the user, password and that the server allows this connection"
}

# Stops the cluster these scripts started (recorded in .local/run), and nothing else.
stop_postgres() {
  local data bindir
  [[ -f "$ARENA_RUN_DIR/postgres.data" ]] || return 0
  data="$(cat "$ARENA_RUN_DIR/postgres.data")"
  bindir="$(cat "$ARENA_RUN_DIR/postgres.bindir" 2>/dev/null || pg_bindir)"
  if [[ -f "$data/postmaster.pid" ]] && as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    info "stopping PostgreSQL (data $data)"
    as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null ||
      warn "pg_ctl stop failed for $data"
  fi
  rm -f "$ARENA_RUN_DIR/postgres.data" "$ARENA_RUN_DIR/postgres.bindir" "$ARENA_RUN_DIR/postgres.pid"
}
