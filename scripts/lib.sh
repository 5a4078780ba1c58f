# shellcheck shell=bash
# Shared helpers for scripts/test.sh, scripts/dev.sh and scripts/with-node.sh. Sourced, not executed.
# They install what is missing when run as root (Debian/Ubuntu), and otherwise print the exact
# command to run; nothing is installed silently behind a non-root user's back.

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PNPM_VERSION=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$ROOT_DIR/package.json")
# The Node.js version everything runs on (tests, dev stack, CLI, benchmarks, images, droplets).
NODE_VERSION=$(tr -d ' \t\r\n' <"$ROOT_DIR/.node-version")
# Workspace packages that ship built JavaScript (queue-core, web) export their TypeScript sources
# under the "@coldcopy/source" condition: every Node process these scripts start (and its children)
# runs the sources, so no build step is needed while developing (README "Developing").
case " ${NODE_OPTIONS:-} " in *" --conditions=@coldcopy/source "*) ;; *) export NODE_OPTIONS="--conditions=@coldcopy/source${NODE_OPTIONS:+ $NODE_OPTIONS}" ;; esac
# Repo-local tools fetched by the scripts (ignored by git)
TOOLS_DIR="$ROOT_DIR/.tools"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# node-<os>-<arch>: the npm package that carries the official Node.js build for this machine
node_package_platform() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) return 1 ;;
  esac
  echo "$os-$arch"
}

# ensure_node: the Node.js of .node-version first on PATH for the rest of the script.
ensure_node() { use_node "$NODE_VERSION"; }

# use_node <version>: puts Node.js <version> (a bare major such as 26 means its newest release)
# first on PATH for the rest of the script. A system Node of the same
# major is used as it is; otherwise the official build comes from the npm registry (the
# node-<os>-<arch> packages) into .tools/, once. nvm, fnm, volta and mise read the same version
# from .node-version / .nvmrc / package.json.
use_node() {
  local want=$1 major platform dir
  major=${want%%.*}
  if command -v node >/dev/null && [ "$(node --version 2>/dev/null | sed 's/^v\([0-9]*\).*/\1/')" = "$major" ]; then
    return
  fi
  platform=$(node_package_platform) || die "Node.js $major is required (.node-version) and no official build is packaged for $(uname -sm): install it from https://nodejs.org"
  if [ "$want" = "$major" ]; then
    dir=$(find "$TOOLS_DIR" -maxdepth 1 -type d -name "node-$major.*-$platform" 2>/dev/null | sort -V | tail -n 1)
  else
    dir="$TOOLS_DIR/node-$want-$platform"
  fi
  if [ -z "$dir" ] || [ ! -x "$dir/bin/node" ]; then
    command -v npm >/dev/null || die "Node.js $major is required (.node-version): install it (nvm install / fnm use / volta read it from the repo) or install npm so that the scripts can fetch it"
    log "Node.js $major not on PATH (found: $(node --version 2>/dev/null || echo none)); fetching node-$platform@$want from the npm registry into .tools/"
    mkdir -p "$TOOLS_DIR"
    local tmp tarball version
    tmp=$(mktemp -d "$TOOLS_DIR/fetch.XXXXXX")
    tarball=$(cd "$tmp" && npm pack --silent "node-$platform@$want" 2>"$tmp/npm.err" | tail -n 1) || true
    if [ -z "$tarball" ] || [ ! -f "$tmp/$tarball" ]; then
      cat "$tmp/npm.err" >&2
      rm -rf "$tmp"
      die "could not fetch node-$platform@$want from the npm registry"
    fi
    tar -xzf "$tmp/$tarball" -C "$tmp" package/bin/node package/LICENSE package/package.json
    version=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$tmp/package/package.json" | head -n 1)
    dir="$TOOLS_DIR/node-$version-$platform"
    rm -rf "$dir"
    mv "$tmp/package" "$dir"
    rm -rf "$tmp"
  fi
  PATH="$dir/bin:$PATH"
  export PATH
  hash -r
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
    # shellcheck disable=SC2317 # called by the sourcing script
    pnpm() { npx --yes "pnpm@$PNPM_VERSION" "$@"; }
  fi
}

# The Debian packages the tests use, as <binary>:<package> (README, "Tests"; the tests look the
# binaries up with @coldcopy/testing's requireDebianBinary, and scripts/system-packages.test.ts
# keeps the three in step). `npm run dev` needs the first two.
# postgresql also brings pg_dump/pg_restore of the same major version (the maintenance worker's
# backup tests): postgresql-<major> depends on postgresql-client-<major>, installed beside initdb.
# shellcheck disable=SC2034 # read by scripts/test.sh
TEST_PACKAGES=(
  redis-server:redis-server
  initdb:postgresql
  shellcheck:shellcheck
  promtool:prometheus
  chromium:chromium
  systemd-analyze:systemd
  pdftoppm:poppler-utils
)

# have_binary <name>: on PATH or where Debian puts it (PostgreSQL's server binaries are off PATH)
have_binary() {
  command -v "$1" >/dev/null && return 0
  [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ] && return 0
  [ "$1" = initdb ] && compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

# ensure_packages <binary:package>...: installs the packages whose binary is missing, in one
# apt-get call, as root; as another user prints the exact command and stops. Never run from a test.
ensure_packages() {
  local missing=() pair
  for pair in "$@"; do have_binary "${pair%%:*}" || missing+=("${pair#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return
  if ! is_root; then
    die "missing Debian packages: ${missing[*]}. Install them with:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
  fi
  command -v apt-get >/dev/null || die "missing: ${missing[*]} (no apt-get on this machine; install them with your package manager)"
  # wait for another apt/dpkg run to finish instead of failing on its lock
  local apt=(apt-get -qq -o DPkg::Lock::Timeout=600)
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >/dev/null
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
  for pair in "$@"; do have_binary "${pair%%:*}" || die "${pair#*:} is installed but ${pair%%:*} is still not found"; done
}

ensure_deps() {
  log "pnpm install"
  local err
  err=$(mktemp -t coldcopy-pnpm-install.XXXXXX)
  pnpm install --frozen-lockfile --prefer-offline --reporter=append-only >/dev/null 2>"$err" \
    || { cat "$err" >&2; rm -f "$err"; die "pnpm install failed"; }
  rm -f "$err"
}
