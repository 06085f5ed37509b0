#!/bin/bash
# SIGSTOP of one of two jetway processes sharing a durable, for longer than
# ack_wait, then SIGCONT. The server redelivers the stopped process's
# messages to the other one once ack_wait has passed; the claim leases
# (shorter than ack_wait) have run out, so the other one claims and handles
# them. When the stopped one resumes:
#  - the handlers it was running finish late; record.so runs with fence, so
#    a late handler must not apply its effect again (its claim is gone);
#  - the jobs it had claimed and queued must not reach the handler at all
#    (their leases ran out): so at most `concurrency` (4) handler calls are
#    repeated, those that were running at the SIGSTOP.
# Committed effects never repeat; everything drains.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
FAULT_MAX_ACK_PENDING=64
fault_config "$T/jw.yaml" "sleep: 20ms" "fence: true"

N=3000
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
fault_pub $N
jw_start jwa "$T/jw.yaml"
jw_start jwb "$T/jw.yaml"
jw_wait_running jwa
jw_wait_running jwb
wait_committed 300 || fail "no progress"
a=$(pid_of jwa)
kill -STOP "$a"
stopped=$(committed worker)
r0=$(ci WORK worker num_redelivered)
note "stopped one process at $stopped committed"
# Beyond ack_wait: the server has redelivered the stopped one's messages and
# the other one has committed some of them (the redelivered count grows).
wait_for 30 sh -c "[ \$(\"$JW\" pub -s $NATS_URL --consumer-info WORK worker | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"num_redelivered\"])') -gt $r0 ]" ||
    fail "nothing was redelivered while one process was stopped"
wait_committed $((stopped + 400)) || fail "the running process made no progress"
cont_at=$(committed worker)
kill -CONT "$a"
note "continued at $cont_at committed"
wait_drained WORK worker 90 || fail "WORK did not drain after the SIGCONT"
# What only the stopped process's resumption produces: handlers that were
# running at the SIGSTOP finish late and find their claim gone (record.so's
# fence refuses the effect); the jobs it had queued never reach the
# handler. (The late commits find the message done by the other process,
# not a lease lost: that is t_core_lease's.)
lost=$(count_in 'claim lease lost' "$T/jwa.log")
fenced=$(count_in 'record: claim lost' "$T/jwa.log")
stale=$(count_in 'lease ran out before the handler' "$T/jwa.log")
# At most the 4 handlers running at the SIGSTOP come back late (whether
# one was inside the handler at that instant is chance: 4 of 4 on a plain
# build, sometimes 0 under ASan).
[ "$fenced" -le 4 ] || fail "$fenced late handlers fenced off, want at most 4 (concurrency)"
# Queued jobs may or may not exist at the instant of the SIGSTOP; that
# none of them reached the handler is --max-reattempts 4 below (only the 4
# running handlers may repeat).
fault_check sigstop --max-reattempts 4 --extra "stopped_at=$stopped" --extra "continued_at=$cont_at" \
    --extra "lease_lost=$lost" --extra "fenced_off=$fenced" --extra "stale_skipped=$stale"
[ "$(committed worker)" = $N ] || fail "committed $(committed worker), want $N"
jw_stop jwa || fail "the stopped-and-continued jetway exited non-zero"
jw_stop jwb || fail "the other jetway exited non-zero"
