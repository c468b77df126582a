# shellcheck shell=bash
# Debian's Chromium for the browser tests (playwright-core drives /usr/bin/chromium).
# Sourced after common.sh and apt.sh.

ensure_chromium() {
  log "Chromium for browser tests"
  if [[ ! -x /usr/bin/chromium ]]; then
    apt_install chromium fonts-liberation
  fi
  [[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium missing after installing chromium"
  export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
  info "$(timeout 30 /usr/bin/chromium --version 2>/dev/null || echo chromium) at $CHROMIUM_PATH"
}
