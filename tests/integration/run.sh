#!/bin/bash
# Run every tests/integration/t_*.sh (or those named as arguments), each in
# its own process with its own servers, bounded by a timeout. Prints one
# line per test and the closing "N passed, N failed" line.
cd "$(dirname "$0")/../.." || exit 1
export JETWAY_BUILD=${JETWAY_BUILD:-build}
TIMEOUT=${JW_TEST_TIMEOUT:-300}
pass=0
failn=0
failed=""
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(tests/integration/t_*.sh)
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    start=$(date +%s)
    out=$(mktemp)
    if timeout -k 10 "$TIMEOUT" bash "$t" >"$out" 2>&1; then
        pass=$((pass + 1))
        echo "PASS $name ($(($(date +%s) - start))s)"
    else
        failn=$((failn + 1))
        failed="$failed $name"
        echo "FAIL $name ($(($(date +%s) - start))s)"
        sed 's/^/    /' "$out" | tail -n 80
    fi
    grep -E '^(  \.\.|RESULT)' "$out" | sed 's/^/    /' || true
    rm -f "$out"
done
echo "$pass $failn" >"$JETWAY_BUILD/integration.count" 2>/dev/null || true
echo "integration: $pass passed, $failn failed"
[ $failn -eq 0 ] || { echo "failed:$failed"; exit 1; }
