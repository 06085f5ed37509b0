#!/bin/bash
# redis-server stopped for 10 s under load (work left), then started again
# (AOF with appendfsync always, so claims and done markers survive). During
# the outage the consumer must not burn deliveries: no handler call, at most
# one max_ack_pending delivered, nothing dead-lettered, redeliveries bounded
# by what was in flight; the commits that failed are held and re-sent once
# Redis is back. Afterwards every
# message is committed exactly once. Duplicate handler calls (attempts
# beyond one per message) are reported: the aim is zero; the handlers that
# were running when Redis went away fail their commit and run again.
# record.so fences its effect (fence: true): a commit whose reply was lost
# in the shutdown may still have been applied, and only an effect written
# together with the done marker makes the re-run see it.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

N=4000
INFLIGHT=64
FAULT_MAX_ACK_PENDING=$INFLIGHT
start_nats
start_redis --appendonly yes --appendfsync always
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
fault_config "$T/jw.yaml" "sleep: 2ms" "fence: true"
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
fault_pub $N
jw_start jw "$T/jw.yaml"
jw_wait_running jw
wait_committed 1000 || fail "no progress"
at=$(committed worker)
# Under load: work left when Redis goes away.
[ "$at" -lt $((N - 2 * INFLIGHT)) ] || fail "$at of $N committed before the outage: not under load"
# Hold the writes for 1.5 s (past the 1 s command timeout): a host commit
# then in flight fails with its outcome unknown, is held, and must be
# re-sent once Redis answers. Whether the host's commit (rather than a
# claim, or record.so's own fenced write) is the one in flight is chance,
# so pause again, up to 5 times, until one was held and re-sent.
# Each pause needs work in flight: a fast host may have drained the first
# batch, so publish more (new ids, checked like the rest) whenever less than
# two max_ack_pending are left.
topups=0
keep_busy()
{
    local published
    published=$(wc -l <"$T/published")
    if [ "$(committed worker)" -ge $((published - 2 * INFLIGHT)) ]; then
        topups=$((topups + 1))
        fault_pub 2000 "t$topups-"
    fi
}
pauses=0
while [ $pauses -lt 5 ]; do
    pauses=$((pauses + 1))
    wait_for 30 grep -q '"msg":"redis: connected"' "$T/jw.log" || fail "Redis not connected"
    keep_busy
    rcli CLIENT PAUSE 1500 WRITE >/dev/null || fail "CLIENT PAUSE"
    wait_for 30 rcli SET jwtest:probe 1 || fail "Redis did not take writes after the pause"
    wait_for 5 grep -q 'redis: re-sending [1-9][0-9]* held commits' "$T/jw.log" && break
done
grep -q 'redis: re-sending [1-9][0-9]* held commits' "$T/jw.log" ||
    fail "no commit held and re-sent in $pauses pauses of the writes past the command timeout"
keep_busy
at=$(committed worker)
stop_redis || fail "redis-server did not stop"
wait_for 30 grep -q 'redis: unreachable' "$T/jw.log" || fail "jetway did not notice the outage"
a0=$(attempts "$T/effects")
d0=$(ci WORK worker delivered | python3 -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read())["consumer_seq"])')
sleep 10 # the length of the outage, not a synchronisation
a1=$(attempts "$T/effects")
d1=$(ci WORK worker delivered | python3 -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read())["consumer_seq"])')
restart_redis
wait_for 30 sh -c "redis-cli -p $REDIS_PORT ping | grep -q PONG" || fail "redis-server did not load its AOF"
note "redis-server down for 10 s at $at committed; during the outage: $((a1 - a0)) handler calls, $((d1 - d0)) deliveries"
# Consumers that need claims stop fetching: no handler runs without a
# claim, and the server hands out at most what was already asked for (one
# max_ack_pending) instead of a NAK-spin of redeliveries.
[ $((a1 - a0)) = 0 ] || fail "$((a1 - a0)) handler calls while Redis was down"
[ $((d1 - d0)) -le $INFLIGHT ] || fail "$((d1 - d0)) deliveries while Redis was down: still fetching"
# The commits that failed were held, and re-sent once Redis answered again
# (after the pause, or after the restart).
wait_for 30 grep -q 'redis: re-sending [1-9][0-9]* held commits' "$T/jw.log" ||
    fail "no held commit re-sent (none held, or never re-sent)"
resent=$(grep -o 'redis: re-sending [0-9]* held commits' "$T/jw.log" | awk '{s += $3} END {print s}')
# Each message in flight when Redis went away may be redelivered once; only
# the handlers already running then (concurrency 4, plus any that started
# before jetway noticed) run twice -- not the whole in-flight set.
fault_check redis_outage --max-redeliveries $((INFLIGHT * (1 + pauses))) --max-reattempts 32 --extra "committed_at_outage=$at" \
    --extra "attempts_during_outage=$((a1 - a0))" --extra "deliveries_during_outage=$((d1 - d0))" \
    --extra "held_commits_resent=$resent" --extra "pauses=$pauses" --extra "topups=$topups"
jw_stop jw || fail "jetway exited non-zero"
