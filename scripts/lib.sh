# Shared helpers for scripts/test.sh and scripts/dev.sh. Sourced, not executed.
# They install what is missing when run as root (Debian/Ubuntu), and otherwise print the exact
# command to run; nothing is installed silently behind a non-root user's back.

PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

ensure_node() {
  command -v node >/dev/null || die "Node.js 20 or newer is required: https://nodejs.org (or: apt-get install nodejs)"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "Node.js 20 or newer is required, found $(node --version)"
}

# pnpm at the version pinned in package.json's packageManager field.
ensure_pnpm() {
  if command -v pnpm >/dev/null && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
    return
  fi
  if is_root; then
    log "installing pnpm@$PNPM_VERSION with npm"
    npm install -g "pnpm@$PNPM_VERSION" >/dev/null
  else
    # No global install without root: run the pinned pnpm through npx (cached after first use).
    log "pnpm@$PNPM_VERSION not installed globally; using npx (to install: npm install -g pnpm@$PNPM_VERSION)"
    pnpm() { npx --yes "pnpm@$PNPM_VERSION" "$@"; }
  fi
}

_apt_updated=
apt_install() {
  if ! is_root; then
    die "missing: $*. Install with:
  sudo apt-get update && sudo apt-get install -y $*"
  fi
  command -v apt-get >/dev/null || die "missing: $* (no apt-get on this machine; install them with your package manager)"
  if [ -z "$_apt_updated" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    _apt_updated=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_postgres_server() {
  command -v initdb >/dev/null && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

# ensure_servers redis|postgres ...: the database servers the tests or the local stack start.
ensure_servers() {
  local missing=()
  for s in "$@"; do
    case "$s" in
      redis) command -v redis-server >/dev/null || [ -x /usr/sbin/redis-server ] || [ -x /usr/bin/redis-server ] || missing+=(redis-server) ;;
      postgres) have_postgres_server || missing+=(postgresql) ;;
    esac
  done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

ensure_deps() {
  log "pnpm install"
  pnpm install --frozen-lockfile --prefer-offline --reporter=append-only >/dev/null 2>/tmp/coldcopy-pnpm-install.err \
    || { cat /tmp/coldcopy-pnpm-install.err >&2; die "pnpm install failed"; }
}
