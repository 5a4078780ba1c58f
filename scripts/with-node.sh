#!/usr/bin/env bash
# Runs a command on the Node.js version of .node-version, whatever the system Node is (fetching the
# official build into .tools/ once when needed). The package.json scripts that run code (`pnpm jobs`,
# `pnpm bench`, `pnpm db:migrate`, …) go through it:  bash scripts/with-node.sh tsx <file>
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_node
exec "$@"
