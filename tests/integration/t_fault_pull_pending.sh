#!/bin/bash
# Messages already waiting on the fetcher's inbox when it asks for more: the
# condition in which Debian 12's cnats 3.4.1 overflowed its fetch array
# (nats.c #749; heap corruption in restarted roles, caught by ASan in
# t_fault_fp_dead_letter and t_orders_kill_payment). jetway's own pull
# client (core/runtime/pull.c) must take them as they come, with small
# batches (4) against many credits (64), which is where 3.4.1 wrote past its
# array. Run it under ASan (make test-asan) to see memory errors, not only
# lost messages.
#   1. SIGSTOP of an idle consumer (its pull request waiting), 1,000
#      messages published meanwhile and the stop outlasting ack_wait and two
#      pull heartbeats: on SIGCONT the inbox holds a request's worth of
#      messages whose ack_wait has passed, and heartbeats; while the fetcher
#      takes them 4 at a time it asks for more, and the server may redeliver
#      the expired ones into that new request, behind them.
#   2. kill -9 mid-backlog and a restart while the killed process's messages
#      come back after ack_wait: redeliveries flow as the new fetcher starts
#      pulling (the scenario of the original corruption).
# Nothing lost, nothing committed twice (record.so fences its effect with
# the claim; only the kill's crash window may repeat), everything drains.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
FAULT_MAX_ACK_PENDING=64
fault_config "$T/jw.yaml" "sleep: 2ms" "fence: true"
sed -i 's/batch: 64/batch: 4/' "$T/jw.yaml"
grep -q "batch: 4," "$T/jw.yaml" || fail "could not set the batch"

N=1000
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
fault_pub $N
jw_start jwa "$T/jw.yaml"
jw_wait_running jwa
wait_committed $N || fail "the first $N were not committed: $(committed worker)"
a=$(pid_of jwa)
kill -STOP "$a"
fault_pub 3000 s-
N=4000
# The fault's length, not an assertion: past ack_wait (2 s) and two pull
# heartbeats (2 x 5 s) while the stopped process's inbox fills.
sleep 11
kill -CONT "$a"
wait_committed 1500 || fail "no progress after SIGCONT: $(committed worker) committed"
note "continued; $(committed worker) committed"

kill -KILL "$a"
wait_gone "$a" || fail "jetway survived SIGKILL"
mid=$(committed worker)
[ "$mid" -lt $N ] || fail "the run finished before the kill; the test proves nothing"
crash_window "$T/rerun"
note "killed at $mid committed; crash window $(wc -l <"$T/rerun")"

jw_start jwb "$T/jw.yaml"
jw_wait_running jwb
fault_check pull_pending --rerun "$T/rerun" --extra "killed_at=$mid" | tee "$T/result"
[ "${PIPESTATUS[0]}" = 0 ] || fail "invariants violated"
[ "$(committed worker)" = $N ] || fail "committed $(committed worker), want $N"
# A message handled in a second delivery: redeliveries did flow.
grep -Eq ' max_delivery=([2-9]|[1-9][0-9]+)' "$T/result" ||
    fail "nothing was redelivered; the test proves nothing"
jw_stop jwb || fail "the restarted jetway exited non-zero"
