#!/bin/bash
# redis-server stopped for 10 s under load, then started again (AOF with
# appendfsync always, so claims and done markers survive). During the
# outage the consumer must not burn deliveries: nothing is dead-lettered
# and redeliveries stay bounded by what was in flight. Afterwards every
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
stop_redis || fail "redis-server did not stop"
wait_for 30 grep -q 'redis: unreachable' "$T/jw.log" || fail "jetway did not notice the outage"
a0=$(attempts "$T/effects")
sleep 10 # the length of the outage, not a synchronisation
a1=$(attempts "$T/effects")
restart_redis
wait_for 30 sh -c "redis-cli -p $REDIS_PORT ping | grep -q PONG" || fail "redis-server did not load its AOF"
at=$(committed worker)
note "redis-server down for 10 s at $at committed; handler calls during the outage: $((a1 - a0))"
# Each message in flight when Redis went away may be redelivered once; only
# the handlers already running then (concurrency 4, plus any that started
# before jetway noticed) run twice -- not the whole in-flight set.
fault_check redis_outage --max-redeliveries $INFLIGHT --max-reattempts 32 --extra "committed_at_outage=$at" \
    --extra "attempts_during_outage=$((a1 - a0))"
jw_stop jw || fail "jetway exited non-zero"
