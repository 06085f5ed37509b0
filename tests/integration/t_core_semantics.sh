#!/bin/bash
# t_core_semantics.sh -- README "Delivery semantics", promise by promise, at
# the level of the host (the Redis scripts alone are t_rds's):
#  - the done marker is written with the dedup TTL;
#  - the message id can come from a JSON field other than message_id;
#  - RETRY releases the claim: the redelivery after the backoff is handled
#    although the lease (20 s) is far from spent;
#  - a claim held by another process: the handler is not called while it is
#    held, and the NAK waits for the rest of the lease (no NAK-spin);
#  - a lease lost under a slow handler is counted at the commit;
#  - the backoff's jitter really varies the NAK delays;
#  - dedup.on_unavailable: process handles messages while Redis is down,
#    each counted as unclaimed.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

PT="python3 $(dirname "$0")/../tools/promtext.py"
start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so" "$JW_BUILD/tests/plugins/ack.so"
HTTP_PORT=$(free_port)
record_config "$T/jw.yaml" "{name: semantics, workers: 8}" 'retry_if_contains: "please-retry"' \
    "    - {name: slow, file: record.so, config: {effects_file: \"$T/slow\", sleep: 5s}}"
cat >>"$T/jw.yaml" <<YAML
consumers:
  - {name: worker, stream: WORK, filter_subject: work.a, handler: rec, ack_wait: 60s,
     backoff: [2s], max_deliver: 3, concurrency: 4, dead_letter: dlq.worker,
     dedup: {lease: 20s, ttl: 2h}}
  - {name: byfield, stream: WORK, filter_subject: work.f, handler: rec, dead_letter: dlq.byfield,
     dedup: {id_field: order_id}}
  - {name: slowc, stream: WORK, filter_subject: work.s, handler: slow, ack_wait: 30s, dead_letter: dlq.slowc,
     concurrency: 1, dedup: {lease: 1s}}
  - {name: jit, stream: WORK, filter_subject: work.j, handler: rec, ack_wait: 30s,
     backoff: [1s], max_deliver: 2, concurrency: 8, dead_letter: dlq.jit}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML
jw_start jw "$T/jw.yaml"
jw_wait_running jw
metric()
{
    curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/m" || return 1
    $PT get "$T/m" "$@"
}
metric_is()
{
    [ "$(metric "${@:2}")" = "$1" ]
}
# attempt_ms ID N: unix ms of ID's Nth attempt in FILE ($3, default effects).
attempt_ms()
{
    awk -v id="$1" -v n="$2" '$1 == "attempt" && $2 == id && ++k == n {print $6}' "${3:-$T/effects}"
}
attempt_delivery()
{
    awk -v id="$1" -v n="$2" '$1 == "attempt" && $2 == id && ++k == n {print $4}' "${3:-$T/effects}"
}

# -- The done marker carries the dedup TTL (2 h), not the lease.
pubn work.a 1 ttl- >/dev/null || fail pub
wait_for 30 committed_ge worker 1 || fail "ttl-1 not committed"
wait_for 30 dedup_done worker ttl-1 ok || fail "no done marker for ttl-1: '$(dedup_value worker ttl-1)'"
pttl=$(rcli PTTL jw:worker:ttl-1)
[ "$pttl" -gt $((7200000 - 60000)) ] && [ "$pttl" -le 7200000 ] ||
    fail "done marker PTTL $pttl ms, want the 2 h TTL"
note "done marker: $(rcli GET jw:worker:ttl-1), PTTL $pttl ms"

# -- The id from a configured JSON field; the second copy is a duplicate.
for _ in 1 2; do
    "$JW" pub -s "$NATS_URL" -q work.f '{"order_id":"o-7","n":1}' || fail pub
done
wait_drained WORK byfield 30 || fail "byfield did not drain"
[ "$(count_in 'attempt o-7 ' "$T/effects")" = 1 ] || fail "o-7 handled $(count_in 'attempt o-7 ' "$T/effects") times, want 1"
dedup_done byfield o-7 ok || fail "no done marker under the order_id: '$(dedup_value byfield o-7)'"

# -- RETRY releases the claim: the redelivery (backoff 2 s) is handled at
# once, not after the 20 s lease (a claim left in place would make it busy).
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"rt-1","x":"please-retry"}' --id rt-1 || fail pub
wait_for 30 sh -c "[ \$(grep -c '^attempt rt-1 ' '$T/effects') -ge 2 ]" || fail "rt-1 was not redelivered"
t1=$(attempt_ms rt-1 1)
t2=$(attempt_ms rt-1 2)
rgap=$((t2 - t1))
note "RETRY: second attempt after $rgap ms (backoff 2 s, lease 20 s)"
[ $rgap -ge 1800 ] && [ $rgap -lt 20000 ] || fail "rt-1 retried after $rgap ms: claim not released"

# -- A claim held elsewhere: no handler call while held; the NAK waits for
# the lease's rest (deliveries stay few).
rcli SET jw:worker:held-1 'P|someone-else' PX 4000 >/dev/null
t0=$(($(date +%s%N) / 1000000))
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"held-1"}' --id held-1 || fail pub
wait_for 30 grep -q '^attempt held-1 ' "$T/effects" || fail "held-1 never handled after the lease ran out"
hwait=$(($(attempt_ms held-1 1) - t0))
hdel=$(attempt_delivery held-1 1)
note "held elsewhere: handled after $hwait ms, on delivery $hdel"
[ $hwait -ge 3900 ] || fail "held-1 handled $hwait ms after a 4 s claim by another process"
[ "$hdel" -le 3 ] || fail "held-1 handled on delivery $hdel: NAKs did not wait for the lease"

# -- A lease lost under a slow handler (5 s, lease 1 s): another process
# claims meanwhile; the commit finds it and counts a lost lease.
"$JW" pub -s "$NATS_URL" -q work.s '{"message_id":"lost-1"}' --id lost-1 || fail pub
wait_for 30 grep -q '^attempt lost-1 ' "$T/slow" || fail "lost-1 not handled"
wait_for 30 sh -c "[ -z \"\$(redis-cli -p $REDIS_PORT GET jw:slowc:lost-1)\" ]" || fail "the 1 s lease did not run out"
rcli SET jw:slowc:lost-1 'P|intruder' PX 60000 >/dev/null
wait_for 30 metric_is 1 jetway_dedup_total consumer=slowc outcome=lease_lost ||
    fail "lease_lost is $(metric jetway_dedup_total consumer=slowc outcome=lease_lost), want 1"
grep -q '"msg":"claim lease lost before commit' "$T/jw.log" || fail "no lost lease logged"
dedup_held slowc lost-1 intruder || fail "the commit overwrote the other process's claim: '$(dedup_value slowc lost-1)'"

# -- Jitter: 20 messages retried once with backoff 1 s: the NAK delays differ.
"$JW" pub -s "$NATS_URL" -q work.j '{"message_id":"j-%d","x":"please-retry"}' --count 20 --id 'j-%d' || fail pub
wait_for 30 sh -c "[ \$(grep -c '^attempt j-' '$T/effects') -ge 40 ]" || fail "the jitter messages were not retried"
read -r jmin jmax <<<"$(for i in $(seq 1 20); do echo $(($(attempt_ms "j-$i" 2) - $(attempt_ms "j-$i" 1))); done |
    sort -n | sed -n '1p;$p' | tr '\n' ' ')"
note "jitter: retry gaps $jmin..$jmax ms for backoff 1 s (+-10%)"
[ "$jmin" -ge 880 ] || fail "a retry came after $jmin ms, below backoff 1 s - 10%"
[ $((jmax - jmin)) -ge 40 ] || fail "retry gaps $jmin..$jmax ms: the jitter does not vary"
jw_stop jw || fail "jetway exited non-zero"

# -- dedup.on_unavailable: process, with Redis down: handled without a
# claim, each counted as unclaimed.
cat >"$T/un.yaml" <<YAML
service: {name: unavailable}
nats: {servers: ["$NATS_URL"]}
redis: {url: "$REDIS_URL", timeout: 1s}
plugins: {dir: $T/plugins, instances: [{name: acker, file: ack.so}]}
streams:
  - {name: UN, subjects: ["un.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
consumers:
  - {name: un, stream: UN, handler: acker, dead_letter: dlq.un, dedup: {on_unavailable: process}}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML
jw_start un "$T/un.yaml"
jw_wait_running un
stop_redis || fail "redis-server did not stop"
wait_for 30 grep -q 'redis: unreachable' "$T/un.log" || fail "the outage went unnoticed"
"$JW" pub -s "$NATS_URL" -q un.x '{"message_id":"u-%d"}' --count 5 --id 'u-%d' || fail pub
wait_for 30 metric_is 5 jetway_messages_settled_total consumer=un result=ack ||
    fail "acked $(metric jetway_messages_settled_total consumer=un result=ack) of 5 with Redis down"
unclaimed=$(metric jetway_dedup_total consumer=un outcome=unclaimed)
[ "$unclaimed" = 5 ] || fail "unclaimed $unclaimed, want 5"
jw_stop un || fail "jetway (on_unavailable: process) exited non-zero"
echo "RESULT core_semantics done_pttl_ms=$pttl retry_gap_ms=$rgap held_wait_ms=$hwait" \
    "held_delivery=$hdel lease_lost=1 jitter_gaps_ms=$jmin..$jmax unclaimed=$unclaimed"
