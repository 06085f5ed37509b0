#!/bin/bash
# t_core_breaker -- the circuit breaker: a downstream that fails every call
# (record.so fail_every: 1, switched by reload) opens it after
# consecutive_retries RETRYs; it probes with one message per cool-down
# (half-open) and stays open while the probes fail; the messages that met
# the outage are handled more times than max_deliver allows, yet none is
# dead-lettered; the downstream back, a probe succeeds, the breaker closes
# and the backlog drains, every message committed once.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
HTTP_PORT=$(free_port)
write_cfg()
{
    record_config "$T/jw.yaml" "{name: brk, workers: 4}" "sleep: 1ms, fail_every: $1"
    cat >>"$T/jw.yaml" <<YAML
consumers:
  - {name: worker, stream: WORK, handler: rec, concurrency: 2, batch: 4, max_deliver: 3,
     backoff: [100ms], dead_letter: dlq.worker, ack_wait: 30s,
     breaker: {consecutive_retries: 3, window: 10s, cool_down: 500ms}}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML
}
C='service="brk",consumer="worker",stream="WORK",handler="rec"'
metric() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -F "$1{$C}" | awk '{print $2}'; }
has_metric() { [ "$(metric "$1")" = "$2" ]; }
# the most attempts any one message saw
max_attempts() { awk '$1 == "attempt" {n[$2]++} END {m = 0; for (k in n) if (n[k] > m) m = n[k]; print m}' "$T/effects" 2>/dev/null; }
handled_beyond() { [ "$(max_attempts)" -gt "$1" ]; }
N=40

write_cfg 1 # the downstream is down
"$JW" check -c "$T/jw.yaml" >/dev/null || fail "config with a breaker refused: $("$JW" check -c "$T/jw.yaml" 2>&1)"
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
pubn work.x $N >/dev/null || fail "publish failed"

wait_for 20 sh -c "curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -F 'jetway_consumer_breaker_opened_total{$C}' | grep -qv ' 0$'" ||
    fail "the breaker did not open: $(metric jetway_consumer_breaker_opened_total)"
grep -q 'circuit breaker open (3 retries in a row)' "$T/jw.log" || fail "no log line for the opening"
curl -s "http://127.0.0.1:$HTTP_PORT/readyz" | grep -q 'consumer worker paused (circuit breaker' ||
    wait_for 10 sh -c "curl -s http://127.0.0.1:$HTTP_PORT/readyz | grep -q 'paused (circuit breaker'" ||
    fail "/readyz: $(curl -s "http://127.0.0.1:$HTTP_PORT/readyz")"
# Probes go on, one message each, and fail: some message is handled more
# often than max_deliver (3) would allow.
wait_for 60 handled_beyond 5 || fail "probes did not continue: max attempts $(max_attempts)"
grep -q 'half-open: probing with one message' "$T/jw.log" || fail "no half-open probe logged"
[ "$(si DLQ messages)" = 0 ] || fail "the outage dead-lettered $(si DLQ messages) messages"
[ "$(committed worker)" = 0 ] || fail "committed during the outage"
pending=$(ci WORK worker num_pending)
[ "$pending" -gt 0 ] || fail "the open breaker let the backlog be fetched"
outage=$(metric jetway_consumer_outage_deliveries_total)
note "outage: $(max_attempts) attempts on one message, $outage deliveries not counted, $pending never fetched"

write_cfg 0 # the downstream is back
"$JW" reload --pid-file "$T/jw.pidfile" >/dev/null || fail "reload failed"
wait_drained WORK worker 60 || fail "the backlog did not drain after the outage"
wait_for 10 sh -c "[ \$(redis-cli -p $REDIS_PORT SCARD jwtest:committed:worker) = $N ]" ||
    fail "committed $(committed worker), want $N"
grep -q 'circuit breaker closed' "$T/jw.log" || fail "the breaker did not log closing"
wait_for 10 has_metric jetway_consumer_breaker_state 0 || fail "breaker state $(metric jetway_consumer_breaker_state)"
has_metric jetway_consumer_paused 0 || fail "still paused"
[ "$(si DLQ messages)" = 0 ] || fail "dead letters: $(si DLQ messages)"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits"
jw_stop jw || fail "exit $?"
echo "RESULT breaker published=$N committed=$(committed worker) dead_letters=$(si DLQ messages)" \
    "max_attempts_one_message=$(max_attempts) max_deliver=3 outage_deliveries=$outage"
