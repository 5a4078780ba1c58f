#!/usr/bin/env bash
# `pnpm lint`: ESLint (eslint.config.js: type-aware typescript-eslint plus the layering rules) and
# Prettier's check of the code's formatting (`pnpm format` writes it). Both cache per file content
# in node_modules/.cache; a type-aware result can depend on other files, so `LINT_CACHE=0 pnpm lint`
# (or a fresh clone, as in CI) lints everything from scratch. Extra arguments go to ESLint.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_node

cache=()
if [ "${LINT_CACHE:-1}" != 0 ]; then
  cache=(--cache --cache-strategy content)
fi
status=0
log "eslint"
node_modules/.bin/eslint ${cache[@]+"${cache[@]}"} ${cache[@]+--cache-location node_modules/.cache/eslint/} "$@" . || status=$?
log "prettier --check"
node_modules/.bin/prettier --check --log-level warn ${cache[@]+--cache --cache-location node_modules/.cache/prettier/.prettier-cache} '**/*.{ts,tsx,js,mjs,cjs}' || {
  status=1
  printf 'formatting differs in the files above: run `pnpm format`\n' >&2
}
exit $status
