#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the binary the
# end-to-end tests run, then runs every test file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bun scripts/gen-migrations.ts --check
bun run build
exec bun test "$@"
