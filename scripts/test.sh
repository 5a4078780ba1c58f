#!/usr/bin/env bash
# The test command (README): typecheck, lint (scripts/lint.sh), unit and integration tests against a private redis-server
# and Postgres that the run starts on free ports (or TEST_REDIS_URL / TEST_DATABASE_URL).
# Runs on the Node.js of .node-version (fetched into .tools/ when the system Node is another major).
# Extra arguments go to vitest, e.g. `npm test -- --project unit`.
# `--node <major|version>` also runs the unit tests on that Node.js afterwards (e.g. the next LTS:
# `npm test -- --node 26`); its failures are reported as a warning and do not fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

also_node=
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --node) [ -n "${2:-}" ] || die "--node needs a version, e.g. --node 26"; also_node=$2; shift 2 ;;
    --node=*) also_node=${1#--node=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

ensure_node
# the Node.js major the tests must see (scripts/node-version.test.ts)
export COLDCOPY_NODE_MAJOR=${NODE_VERSION%%.*}
log "node $(node --version)"
ensure_pnpm
# Every Debian package the tests use, installed up front (one apt-get, as root) so that no test
# installs anything; Postgres's only when the tests get no TEST_DATABASE_URL. Fault tests restart
# their own redis-server even when TEST_REDIS_URL is given.
packages=()
for pair in "${TEST_PACKAGES[@]}"; do
  [ "$pair" = initdb:postgresql ] && [ -n "${TEST_DATABASE_URL:-}" ] && continue
  packages+=("$pair")
done
ensure_packages "${packages[@]}"
ensure_deps

log "typecheck"
pnpm typecheck
pnpm lint

log "vitest"
report=$(mktemp -t coldcopy-vitest-XXXXXX.json)
trap 'rm -f "$report"' EXIT
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" ${args[@]+"${args[@]}"} || status=$?

# A plain closing line, so that a run that executed nothing is visible as such.
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  // A file that failed outside its tests (a hook, an import) counts as a failure too.
  const brokenFiles = r.testResults.filter((f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed")).length;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  if (r.numTotalTests === 0) process.exit(1);
' "$report" || status=1

if [ -n "$also_node" ]; then
  # Not a gate: a preview of the next Node.js line, so that the next bump is cheap.
  also_status=0
  (
    use_node "$also_node"
    export COLDCOPY_NODE_MAJOR=${also_node%%.*}
    log "unit tests on node $(node --version) (warning only)"
    pnpm exec vitest run --project unit
  ) || also_status=$?
  if [ "$also_status" -ne 0 ]; then
    printf '\033[33mwarning: the unit tests fail on Node.js %s (exit %s); the run above on Node.js %s decides the result\033[0m\n' "$also_node" "$also_status" "$NODE_VERSION" >&2
  fi
fi
exit $status
