# shellcheck shell=bash
# Node and npm dependencies: checks the Node version, runs `npm ci` unless node_modules
# already matches package-lock.json. Sourced after common.sh.

ensure_node() {
  command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20 (>= 20.10) or 22+"
  command -v npm >/dev/null 2>&1 || die "npm not found: install npm with Node.js"
  local v major minor
  v="$(node -p 'process.versions.node')"
  major="${v%%.*}"
  minor="${v#*.}"
  minor="${minor%%.*}"
  if ((major < 20 || (major == 20 && minor < 10) || major == 21)); then
    die "Node.js $v is not supported: need 20.10+ or 22+"
  fi
  info "node $v, npm $(npm --version)"
}

ensure_deps() {
  log "npm dependencies"
  ensure_node
  if [[ -d "$ARENA_ROOT/node_modules" ]] && node "$PROBE" deps-ok "$ARENA_ROOT"; then
    info "node_modules matches package-lock.json: skipping npm ci"
    return 0
  fi
  info "running npm ci"
  (cd "$ARENA_ROOT" && timeout 1200 npm ci --no-audit --no-fund </dev/null) ||
    die "npm ci failed (see above)"
}

build_project() {
  log "build (npm run build)"
  (cd "$ARENA_ROOT" && timeout 600 npm run build --silent </dev/null) || die "npm run build failed (see above)"
}
