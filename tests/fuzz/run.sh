#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD SECONDS [TARGET...] -- run the libFuzzer targets.
#
# For each target (default: every BUILD/fuzz/fuzz_*): first every input
# kept in tests/fuzz/regress/TARGET/ (crashes found and fixed: each must
# now pass), then fuzzing for SECONDS seconds starting from the committed
# seeds (tests/fuzz/corpus/TARGET/, never written) plus what earlier runs
# found (BUILD/corpus/TARGET/). A crash leaves its input in
# BUILD/artifacts/TARGET/ (the log in BUILD/logs/) and fails the run; so does a leak (ASan
# LeakSanitizer) or a UBSan report (-fno-sanitize-recover).
#
# The targets are detached from the terminal (setsid, stdin /dev/null) so
# that a fuzzed config naming /dev/tty or /dev/stdin as a secret file
# cannot block; their scratch files live under one temporary directory,
# removed at the end.
set -u
build=${1:?usage: run.sh BUILD SECONDS [TARGET...]}
secs=${2:?usage: run.sh BUILD SECONDS [TARGET...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
    set -- $(cd "$build/fuzz" && ls fuzz_* 2>/dev/null | grep -v '\.' | sort)
fi
[ $# -gt 0 ] || { echo "run.sh: no fuzz targets in $build/fuzz (make fuzz-build)" >&2; exit 1; }

JW_FUZZ_TMP=$(mktemp -d "${TMPDIR:-/tmp}/jw-fuzz.XXXXXX")
export JW_FUZZ_TMP
trap 'rm -rf "$JW_FUZZ_TMP"' EXIT
# abort_on_error: a core dump-free abort libFuzzer reports as a crash;
# detect_leaks: a leak on any path fails the target.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fail=0
for t in "$@"; do
    bin=$build/fuzz/$t
    seeds=$here/corpus/$t
    regress=$here/regress/$t
    work=$build/corpus/$t
    art=$build/artifacts/$t
    log=$build/logs/$t.log
    mkdir -p "$work" "$art" "$build/logs"
    [ -d "$seeds" ] || { echo "FAIL $t: no seed corpus $seeds"; fail=1; continue; }
    if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
        if ! setsid "$bin" -runs=1 "$regress"/* </dev/null >"$log" 2>&1; then
            echo "FAIL $t: a regression input crashes again (see $log)"
            tail -n 30 "$log"
            fail=1
            continue
        fi
        nreg=$(ls "$regress" | wc -l)
    else
        nreg=0
    fi
    # -timeout: one input taking this long is a hang; -rss_limit_mb: a leak
    # or runaway allocation; the first corpus dir receives the new inputs.
    if setsid "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=16384 \
        -artifact_prefix="$art/" -print_final_stats=1 "$work" "$seeds" </dev/null >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "ok   $t: ${nreg} regression inputs, ${runs:-?} runs in ${secs}s, ${cov:-cov: ?}"
    else
        echo "FAIL $t: crash, leak or hang; input kept in $art/ (log $log)"
        grep -E 'ERROR|SUMMARY|runtime error|fuzz' "$log" | head -n 20
        fail=1
    fi
done
exit $fail
