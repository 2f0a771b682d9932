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
# bun names a failure at the end but prints its error where it happened, and
# a failed beforeAll/afterAll only as "(unnamed)": repeat each failure with its
# file and the lines before it, so the end of the output says what went wrong.
if grep -q '^(fail)' "$log"; then
  echo
  echo "failures, each with its file and what was printed before it:"
  awk '/^test\/.*:$/ { file = $0; n = 0; next }
       /^[0-9]+ tests? failed:$/ { exit }
       /^\(pass\)/ { next }
       { line[n++ % 30] = $0 }
       /^\(fail\)/ { print "--- " file; for (i = (n > 30 ? n - 30 : 0); i < n; i++) print line[i % 30]; print ""; n = 0 }' "$log"
fi
passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | tr -dc 0-9)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | tr -dc 0-9)
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$code"
