#!/usr/bin/env bash
# The run command (README): `npm run dev [-- --reset]`. Installs what is missing (pnpm, the
# dependencies and, as root, redis-server/postgresql; otherwise it prints the apt-get command),
# then hands over to scripts/dev.ts, which starts Redis and Postgres in .data/ (unless REDIS_URL /
# DATABASE_URL are given), migrates and seeds, starts the SES emulator and every app in apps/, and
# enqueues a demo campaign. Ctrl-C stops everything; data stays in .data/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_node
servers=()
[ -n "${REDIS_URL:-}" ] || servers+=(redis-server:redis-server)
[ -n "${DATABASE_URL:-}" ] || servers+=(initdb:postgresql)
[ ${#servers[@]} -eq 0 ] || ensure_packages "${servers[@]}"
ensure_pnpm
ensure_deps

# node directly (not pnpm/npm): signals reach dev.ts, which stops the children in order
exec node --import tsx scripts/dev.ts "$@"
