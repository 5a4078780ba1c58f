#!/usr/bin/env bash
# The test command (README): typecheck, unit and integration tests against a private redis-server
# and Postgres that the run starts on free ports (or TEST_REDIS_URL / TEST_DATABASE_URL).
# Extra arguments go to vitest, e.g. `npm test -- --project unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_node
ensure_pnpm
servers=()
[ -n "${TEST_REDIS_URL:-}" ] || servers+=(redis)
[ -n "${TEST_DATABASE_URL:-}" ] || servers+=(postgres)
# Fault tests restart their own redis-server even when TEST_REDIS_URL is given.
[[ " ${servers[*]} " == *" redis "* ]] || servers+=(redis)
ensure_servers "${servers[@]}"
ensure_deps

log "typecheck"
pnpm typecheck

log "vitest"
report=$(mktemp -t coldcopy-vitest-XXXXXX.json)
trap 'rm -f "$report"' EXIT
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?

# A plain closing line, so that a run that executed nothing is visible as such.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  // A file that failed outside its tests (a hook, an import) counts as a failure too.
  const brokenFiles = r.testResults.filter((f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed")).length;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  if (r.numTotalTests === 0) process.exit(1);
' "$report" || status=1
exit $status
