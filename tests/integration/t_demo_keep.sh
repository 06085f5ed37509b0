#!/bin/bash
# t_demo_keep.sh -- `make demo KEEP=1` leaves something to explore (issue
# 15, item 6): after a small demo the servers and the four roles still run,
# the printed hints work as printed (the env file, the metrics URL, readyz,
# `jetway dlq ls`, more orders), figures are rounded, and the printed stop
# command stops every process it started and removes the directory.
. tests/lib/harness.sh

rc=0
KEEP=1 ORDERS=200 JETWAY_BUILD="$JW_BUILD" scripts/demo >"$T/demo.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "demo KEEP=1 exited $rc: $(tail -n 20 "$T/demo.out")"
grep -q "demo: all invariants hold" "$T/demo.out" || fail "no summary: $(tail -n 20 "$T/demo.out")"
# Rounded: "p50 12.3 ms", never "12.345678".
grep -Eq "create->decided +p50 [0-9]+\.[0-9] ms +p99 [0-9]+\.[0-9] ms" "$T/demo.out" ||
    fail "latency not rounded: $(grep decided "$T/demo.out")"
grep -Eq "[0-9]\.[0-9]{3,}" <(grep -E "orders per second|decided" "$T/demo.out") &&
    fail "unrounded figures: $(grep -E 'per second|decided' "$T/demo.out")"

stop=$(sed -n 's/^  stop it all: *//p' "$T/demo.out")
envf=$(sed -n 's/^  first, in your shell: *\. //p' "$T/demo.out")
[ -x "$stop" ] && [ -f "$envf" ] || fail "no stop command or env file printed: $(tail -n 15 "$T/demo.out")"
DEMO_T=$(dirname "$stop")
# Stop it whatever happens below.
keep_cleanup()
{
    local st=$?
    [ -x "$stop" ] && "$stop" >/dev/null 2>&1
    (exit $st)
    harness_cleanup
}
trap keep_cleanup EXIT
pids=$(cat "$DEMO_T"/*.pid)
for p in $pids; do kill -0 "$p" 2>/dev/null || fail "process $p of the demo is not running"; done
[ "$(echo "$pids" | wc -w)" -eq 6 ] || fail "want 6 processes (2 servers, 4 roles): $pids"

# The hints, as printed, in a shell that sourced the env file.
(
    . "$envf"
    curl -sf "http://$ORDER_HTTP/metrics" | grep -q '^jetway_messages_settled_total{' ||
        { echo "metrics"; exit 1; }
    curl -sf "http://$PAYMENT_HTTP/readyz" | grep -q '"ready"' || { echo "readyz"; exit 1; }
    "$JW" dlq ls -c config/payment.yaml >/dev/null || { echo "dlq ls"; exit 1; }
    "$ORDERS_LOAD" --orders 20 --json >"$DEMO_T/more.json" || { echo "more orders"; exit 1; }
) >"$T/hints.out" 2>&1 || fail "a printed hint failed: $(cat "$T/hints.out")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["accepted"] == 20 and d["undecided"] == 0, d' \
    "$DEMO_T/more.json" || fail "the kept system did not decide 20 more orders"

"$stop" >"$T/stop.out" 2>&1 || fail "the stop command failed: $(cat "$T/stop.out")"
for p in $pids; do kill -0 "$p" 2>/dev/null && fail "process $p still runs after stop"; done
[ -e "$DEMO_T" ] && fail "stop left $DEMO_T"
echo "RESULT t_demo_keep ok (6 processes kept, hints work, stopped)"
