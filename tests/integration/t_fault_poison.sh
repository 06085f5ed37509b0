#!/bin/bash
# A handler that crashes the process (abort) on one message. A small
# supervisor loop restarts jetway whenever it dies (bounded). The poison
# message is delivered again after each crash; once the host sees it with
# deliveries > max_deliver it dead-letters it without calling the handler
# ("max deliveries exceeded"), and everything else flows: in particular
# the messages that were fetched or queued (not handled) at each crash and
# so also reach deliveries > max_deliver are handled, not dead-lettered.
# concurrency 1: with several handlers running when the process dies, the
# host cannot tell which one killed it, and one started together with the
# poison on every crash would share its fate. record.so fences its effect
# (fence: true), so the in-flight messages of each crash are not committed
# twice either.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

MAXD=3
start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
fault_config "$T/jw.yaml" "sleep: 1ms" "fence: true" "crash_if_contains: poison-pill"
sed -i "s/max_deliver: 5/max_deliver: $MAXD/; s/concurrency: 4/concurrency: 1/" "$T/jw.yaml"
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
fault_pub 500 a-
"$JW" pub -s "$NATS_URL" -q work.x '{"message_id":"poison-1","x":"poison-pill"}' --id poison-1 ||
    fail "publish failed"
echo poison-1 | tee -a "$T/published" >"$T/dead"
fault_pub 500 b-

done_or_dead()
{
    gone "$1" || { [ "$(si DLQ messages)" = 1 ] && drained WORK worker; }
}

crashes=0
i=0
while :; do
    i=$((i + 1))
    [ $i -le $((MAXD + 2)) ] || fail "still crashing after $((i - 1)) starts"
    jw_start "jw$i" "$T/jw.yaml"
    p=$(pid_of "jw$i")
    wait_for 60 done_or_dead "$p" || fail "run $i neither finished nor died"
    kill -0 "$p" 2>/dev/null && break
    rc=0
    wait "$p" || rc=$?
    [ $rc = 134 ] || fail "run $i exited with $rc, want 134 (SIGABRT from the handler)"
    crashes=$((crashes + 1))
    note "run $i crashed (abort in the handler) after $(committed worker) committed"
done
# max_deliver handler starts, one fewer if a delivery never reached a handler.
[ $crashes -ge $((MAXD - 1)) ] && [ $crashes -le $MAXD ] || fail "$crashes crashes, want $((MAXD - 1))..$MAXD"
[ "$(count_in 'attempt poison-1 ' "$T/effects")" = $crashes ] ||
    fail "poison attempts $(count_in 'attempt poison-1 ' "$T/effects"), want one per crash ($crashes)"
"$JW" dlq ls -c "$T/jw.yaml" --json | python3 -c '
import json, sys
l = json.load(sys.stdin)
assert len(l) == 1 and l[0]["message_id"] == "poison-1", l
assert "max deliveries exceeded" in l[0]["error"], l[0]["error"]
assert l[0]["deliveries"] == int(sys.argv[1]) + 1, l[0]
print("  .. letter:", l[0]["error"])' $MAXD || fail "poison letter wrong"
fault_check poison --expect-dead "$T/dead" --extra "crashes=$crashes" --extra "starts=$i"
jw_stop "jw$i" || fail "the last jetway exited non-zero"
