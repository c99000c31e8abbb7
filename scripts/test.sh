#!/usr/bin/env bash
# Runs every test tier: type check, lint, unit, integration (real etcd), VS Code (real
# VS Code 1.100 extension host + UI checks), the packaged-VSIX check and a smoke run of the demo. Installs what it
# needs first. Every tier runs even when an earlier one fails; the exit status is non-zero
# when any failed. The last line sums the tests: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "setup failed"; exit 1; }

mkdir -p test-results
passed=0; failed=0; status=0; summary=()

# Runs one tier, tees its output to test-results/<name>.log, adds its counts to the totals.
tier() {
  local name=$1; shift
  printf '\n==================== %s ====================\n' "$name"
  local start=$SECONDS
  "$@" 2>&1 | tee "test-results/$name.log"
  local rc=${PIPESTATUS[0]}
  local out; out=$(sed 's/\x1b\[[0-9;]*m//g' "test-results/$name.log")
  local p f
  # mocha prints "N passing" / "N failing"; the VS Code driver prints "N passed, N failed".
  p=$(printf '%s\n' "$out" | grep -Eo '^ *[0-9]+ passing' | awk '{s+=$1} END {print s+0}')
  f=$(printf '%s\n' "$out" | grep -Eo '^ *[0-9]+ failing' | awk '{s+=$1} END {print s+0}')
  if [ "$p" = 0 ] && [ "$f" = 0 ]; then
    p=$(printf '%s\n' "$out" | grep -Eo '^[a-zA-Z ]*:? *[0-9]+ passed, [0-9]+ failed' | tail -1 | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || echo 0)
    f=$(printf '%s\n' "$out" | grep -Eo '^[a-zA-Z ]*:? *[0-9]+ passed, [0-9]+ failed' | tail -1 | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || echo 0)
  fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" -ne 0 ]; then
    status=1
    # A tier that failed without a failing test (a crash, a type error) counts as one failure.
    [ "$f" = 0 ] && failed=$((failed + 1))
    summary+=("$name: FAILED (exit $rc, $p passed, $f failed, $((SECONDS - start))s)")
  else
    summary+=("$name: ok ($p passed, $((SECONDS - start))s)")
  fi
}

tier typecheck npm run --silent typecheck
tier lint npm run --silent lint
tier build npm run --silent build
tier unit npm run --silent test:unit
tier integration npm run --silent test:integration
tier vscode npm run --silent test:vscode
tier vsix npm run --silent test:vsix
# The README's run command, checked: the demo cluster in the view of a real workbench.
tier demo node scripts/demo.mjs --smoke

printf '\n==================== summary ====================\n'
printf '%s\n' "${summary[@]}"
echo "tests: $passed passed, $failed failed"
exit $status
