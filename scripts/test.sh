#!/usr/bin/env bash
# The whole test suite: installs what it needs, checks the types, builds the
# binary the end-to-end tests run, then runs every test file and ends with one line
# "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bun scripts/gen-migrations.ts --check
tsc --noEmit -p .
bun run build
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# Integration tests start real processes, the binary and a browser: 30 s
# each at most (bun's own default is 5 s; bunfig.toml has no such setting).
bun test --timeout 30000 "$@" 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | tr -dc 0-9)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | tr -dc 0-9)
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$code"
