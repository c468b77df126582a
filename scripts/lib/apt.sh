# shellcheck shell=bash
# Installs Debian packages by name when something is missing: `apt-get update` once per
# run, then `apt-get install`. Sourced after common.sh.

ARENA_APT_UPDATED=0

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* yourself (this set-up targets Debian bookworm)"
  local lock=(-o DPkg::Lock::Timeout=300)
  if [[ $ARENA_APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    # A failing extra source must not stop us: the install below says whether it matters.
    as_root timeout 600 apt-get "${lock[@]}" -q update || warn "apt-get update reported errors; trying the install anyway"
    ARENA_APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive timeout 1800 \
    apt-get "${lock[@]}" -q -y --no-install-recommends install "$@" ||
    die "apt-get install $* failed"
}
