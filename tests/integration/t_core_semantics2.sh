#!/bin/bash
# t_core_semantics2.sh -- more of README "Delivery semantics" at the level
# of the host (t_core_semantics.sh has the rest):
#  - a claim that waited half its lease in the queue is renewed before the
#    handler runs: another process that would take the key once the lease
#    taken at the fetch ran out finds it still held;
#  - a dead-letter publish that fails (the DLQ stream deleted) NAKs and is
#    tried again later; once the stream is back the letter arrives, one,
#    with the original headers, and the message is settled;
#  - a commit that fails on a Redis error while the connection stays up is
#    held and re-sent every second (the tick, not a reconnect) until it lands;
#  - Redis down: claimed messages not yet handed to their handler are NAKed
#    with a delay (2 s +-10%), not at once and not left to ack_wait (seen
#    by a pull of the test's own while jetway, without Redis, pulls none).
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

PT="python3 $(dirname "$0")/../tools/promtext.py"
start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
HTTP_PORT=$(free_port)
record_config "$T/jw.yaml" "{name: semantics2, workers: 8}" 'reject_if_contains: "please-reject"' \
    "    - {name: slow16, file: record.so, config: {effects_file: \"$T/slow16\", sleep: 1600ms, commit: false}}
    - {name: slow2, file: record.so, config: {effects_file: \"$T/slow2\", sleep: 2s, commit: false}}"
cat >>"$T/jw.yaml" <<YAML
consumers:
  - {name: renew, stream: WORK, filter_subject: work.r, handler: slow16, concurrency: 1, ack_wait: 30s,
     dead_letter: dlq.renew, dedup: {lease: 4s}}
  - {name: dl, stream: WORK, filter_subject: work.d, handler: rec, ack_wait: 30s, backoff: [1s],
     max_deliver: 20, dead_letter: dlq.dl}
  - {name: held, stream: WORK, filter_subject: work.h, handler: slow2, concurrency: 1, ack_wait: 30s,
     dead_letter: dlq.held, dedup: {lease: 10s}}
  - {name: down, stream: WORK, filter_subject: work.n, handler: slow2, concurrency: 1, ack_wait: 10s,
     dead_letter: dlq.down, dedup: {lease: 6s}}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML
jw_start jw "$T/jw.yaml"
jw_wait_running jw
metric()
{
    curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/m" || return 1
    $PT get "$T/m" "$@"
}
# attempt_field FILE ID N COL: column COL of ID's Nth attempt line in FILE
# ("attempt <id> <seq> <deliveries> <version> <unix_ms>").
attempt_field()
{
    awk -v id="$2" -v n="$3" -v c="$4" '$1 == "attempt" && $2 == id && ++k == n {print $c}' "$1"
}
now_ms()
{
    echo $(($(date +%s%N) / 1000000))
}

# -- Renewal. Concurrency 1 and a 1.6 s handler: rn-3 waits ~3.2 s in the
# queue after its claim (lease 4 s), more than half the lease. Without the
# renewal its lease runs out 0.8 s into its handler, and another process
# (the intruder: SET NX as a fresh claim would) takes the key.
pubn work.r 3 rn- >/dev/null || fail pub
wait_for 20 dedup_held renew rn-3 || fail "rn-3 was not claimed: '$(dedup_value renew rn-3)'"
tclaim=$(now_ms)
grep -q '^attempt rn-3 ' "$T/slow16" && fail "rn-3 handled when first seen claimed: it did not wait"
wait_for 30 grep -q '^attempt rn-3 ' "$T/slow16" || fail "rn-3 never handled"
tstart=$(attempt_field "$T/slow16" rn-3 1 6)
rwait=$((tstart - tclaim))
[ $rwait -ge 2000 ] || fail "rn-3 waited $rwait ms after its claim, want half the 4 s lease: the test proves nothing"
# From the handler's start until the commit: take the key if it is free.
intruded=0
deadline=$(($(now_ms) + 15000))
while ! dedup_done renew rn-3; do
    if [ "$(rcli SET jw:renew:rn-3 'P|intruder' NX PX 60000)" = OK ]; then
        intruded=$(($(now_ms) - tstart))
        break
    fi
    [ "$(now_ms)" -lt $deadline ] || fail "rn-3 never committed: '$(dedup_value renew rn-3)'"
    sleep 0.05
done
[ $intruded = 0 ] || fail "rn-3's claim ran out ${intruded} ms into its handler (waited $rwait ms): not renewed"
wait_drained WORK renew 30 || fail "renew did not drain"
lost=$(metric jetway_dedup_total consumer=renew outcome=lease_lost) || fail "no lease_lost count"
[ "$lost" = 0 ] || fail "renew lost $lost leases"
[ "$(count_in 'attempt rn-3 ' "$T/slow16")" = 1 ] || fail "rn-3 handled $(count_in 'attempt rn-3 ' "$T/slow16") times"
note "renewal: rn-3 waited $rwait ms after its claim (lease 4 s), kept its claim through the handler"

# -- A failed dead-letter publish NAKs and is tried again later.
# shellcheck disable=SC2016 # a NATS subject, not an expansion
"$JW_BUILD/tests/tools/nats_req" "$NATS_URL" '$JS.API.STREAM.DELETE.DLQ' '' >"$T/del.out" ||
    fail "cannot delete stream DLQ"
grep -q '"success":true' "$T/del.out" || fail "DLQ not deleted: $(cat "$T/del.out")"
"$JW" pub -s "$NATS_URL" -q work.d '{"message_id":"dl-1","x":"please-reject"}' --id dl-1 \
    -H "X-Origin:keep-me" || fail pub
wait_for 30 sh -c "[ \$(grep -c '^attempt dl-1 ' '$T/effects') -ge 3 ]" ||
    fail "dl-1 not tried again: $(count_in 'attempt dl-1 ' "$T/effects") attempts"
fails=$(grep -c '"msg":"dead-letter publish failed.*will be retried' "$T/jw.log")
[ "$fails" -ge 2 ] || fail "$fails failed letter publishes logged, want one per attempt"
dgap=$(($(attempt_field "$T/effects" dl-1 2 6) - $(attempt_field "$T/effects" dl-1 1 6)))
[ $dgap -ge 900 ] || fail "dl-1 retried $dgap ms after the failed letter, want the 1 s backoff"
[ "$(attempt_field "$T/effects" dl-1 2 4)" = 2 ] || fail "dl-1's retry is not its second delivery"
"$JW" provision -c "$T/jw.yaml" >"$T/prov.out" 2>&1 || fail "provision: $(cat "$T/prov.out")"
wait_for 30 si_ge DLQ messages 1 || fail "no letter once DLQ was back"
wait_drained WORK dl 30 || fail "dl did not drain after its letter"
dtries=$(count_in 'attempt dl-1 ' "$T/effects")
"$JW_BUILD/tests/tools/stream_dump" "$NATS_URL" DLQ >"$T/dlq.jsonl" || fail "cannot dump DLQ"
"$JW_BUILD/tests/tools/stream_dump" "$NATS_URL" WORK >"$T/work.jsonl" || fail "cannot dump WORK"
python3 - "$T/dlq.jsonl" "$T/work.jsonl" "$dtries" <<'PY' || fail "the letter of dl-1 is wrong"
import json, sys
letters = [json.loads(l) for l in open(sys.argv[1])]
orig = [m for m in map(json.loads, open(sys.argv[2])) if m["subject"] == "work.d"]
assert len(letters) == 1, f"{len(letters)} letters, want 1"
assert len(orig) == 1, orig
h, o = letters[0]["headers"], orig[0]
# The letter of the last attempt: its deliveries are the attempts made.
want = {"X-Origin": "keep-me", "Jetway-Message-Id": "dl-1", "Jetway-Stream": "WORK",
        "Jetway-Original-Subject": "work.d", "Jetway-Sequence": str(o["seq"]),
        "Jetway-Deliveries": sys.argv[3], "Jetway-Consumer": "dl",
        "Nats-Msg-Id": f"dl:WORK:{o['seq']}"}
for k, v in want.items():
    assert h.get(k) == [v], f"{k}: {h.get(k)}, want {v}"
assert letters[0]["data"] == o["data"], "payload changed"
PY
dedup_done dl dl-1 || fail "dl-1 not marked done: '$(dedup_value dl dl-1)'"
note "dead letter: $fails failed publishes, retried after $dgap ms, one letter after $dtries attempts"

# -- Held commits re-sent every second while Redis stays up: with
# maxmemory 1 (noeviction) the commit script fails with OOM, the
# connection stays up, and only the tick can re-send.
conn0=$(grep -c '"msg":"redis: connected' "$T/jw.log")
pubn work.h 1 hc- >/dev/null || fail pub
wait_for 20 grep -q '^attempt hc-1 ' "$T/slow2" || fail "hc-1 not handled"
rcli CONFIG SET maxmemory 1 >/dev/null || fail "CONFIG SET maxmemory"
wait_for 30 sh -c "[ \$(grep -c '\"msg\":\"redis: re-sending 1 held commits' '$T/jw.log') -ge 3 ]" ||
    fail "the held commit was not re-sent every second: $(grep -c 're-sending' "$T/jw.log") re-sends"
dedup_held held hc-1 || fail "hc-1's claim changed under the failing commits: '$(dedup_value held hc-1)'"
rcli CONFIG SET maxmemory 0 >/dev/null || fail "CONFIG SET maxmemory 0"
wait_for 10 dedup_done held hc-1 || fail "the held commit of hc-1 never landed: '$(dedup_value held hc-1)'"
wait_drained WORK held 30 || fail "held did not drain"
resends=$(grep -c '"msg":"redis: re-sending 1 held commits' "$T/jw.log")
conn1=$(grep -c '"msg":"redis: connected' "$T/jw.log")
[ "$conn1" = "$conn0" ] || fail "Redis reconnected ($conn0 -> $conn1): the re-sends were not the tick's"
grep -q 'redis: unreachable' "$T/jw.log" && fail "Redis was seen down"
# One a second: the span between the first and the last re-send.
rspan=$(grep '"msg":"redis: re-sending 1 held commits' "$T/jw.log" | python3 -c '
import sys, json, datetime
t = [datetime.datetime.fromisoformat(json.loads(l)["ts"].rstrip("Z")) for l in sys.stdin]
print(int((t[-1] - t[0]).total_seconds() * 1000))')
[ "$rspan" -ge $(((resends - 1) * 900)) ] || fail "$resends re-sends within $rspan ms: faster than every second"
[ "$(count_in 'attempt hc-1 ' "$T/slow2")" = 1 ] || fail "hc-1 handled $(count_in 'attempt hc-1 ' "$T/slow2") times"
note "held commit: re-sent $resends times over $rspan ms on one connection, then landed"

# -- Redis down: claimed messages not yet handed to their handler NAK with
# a delay. nd-1 is in its 2 s handler when Redis stops; nd-2 and nd-3 wait
# claimed behind it and are NAKed when the worker takes them, right as
# nd-1's handler returns. jetway does not pull while Redis is down, so a
# pull of our own on the durable sees when the server redelivers: after
# the NAK's delay (2 s +-10%), not at once (a NAK-spin) and not after
# ack_wait (10 s: no NAK at all).
pubn work.n 3 nd- >/dev/null || fail pub
wait_for 20 dedup_held down nd-3 || fail "nd-3 was not claimed"
wait_for 20 grep -q '^attempt nd-1 ' "$T/slow2" || fail "nd-1 not handled"
stop_redis || fail "redis-server did not stop"
wait_for 10 grep -q 'redis: unreachable' "$T/jw.log" || fail "jetway did not notice Redis stop"
tnd1=$(attempt_field "$T/slow2" nd-1 1 6)
grep -q '^attempt nd-2 ' "$T/slow2" && fail "nd-2 handled before Redis stopped: the test proves nothing"
[ "$(now_ms)" -lt $((tnd1 + 1900)) ] || fail "Redis stopped after nd-1's handler returned: the test proves nothing"
# shellcheck disable=SC2016
NATS_REQ_SHOW_REPLY=1 "$JW_BUILD/tests/tools/nats_req" "$NATS_URL" '$JS.API.CONSUMER.MSG.NEXT.WORK.down' \
    '{"batch":1,"expires":9000000000}' 10000 >"$T/next.out" || fail "no redelivery within 10 s"
tnext=$(now_ms)
# The NAK is sent as nd-1's handler (2 s) returns: its start + 2 s is a
# lower bound of the NAK's time, so the gap measured is at most the real one
# plus the little the NAK takes to leave after the handler.
ngap=$((tnext - tnd1 - 2000))
# shellcheck disable=SC2016
ndel=$(sed -n 's/^Reply-To: \$JS\.ACK\.WORK\.down\.\([0-9]*\)\..*/\1/p' "$T/next.out")
grep -q '"message_id":"nd-[23]"' "$T/next.out" ||
    fail "no redelivery of nd-2 or nd-3 within 9 s (not NAKed?): the pull got '$(cat "$T/next.out")'"
[ $ngap -ge 1800 ] || fail "redelivered $ngap ms after the NAK, want the 2 s (-10%) delay"
[ $ngap -lt 5000 ] || fail "redelivered $ngap ms after the NAK: ack_wait (10 s), not the NAK's delay"
[ "$ndel" = 2 ] || fail "the redelivery is delivery '$ndel', want 2 (one delayed NAK, no spin)"
restart_redis
# The pulled message comes back after its ack_wait; all three get done.
for i in 1 2 3; do
    wait_for 40 dedup_done down "nd-$i" || fail "nd-$i not done: '$(dedup_value down "nd-$i")'"
done
wait_drained WORK down 30 || fail "down did not drain"
jw_stop jw || fail "jetway exited non-zero"
echo "RESULT core_semantics2 renew_wait_ms=$rwait intruded=$intruded letter_fails=$fails" \
    "letter_retry_gap_ms=$dgap letter_attempts=$dtries held_resends=$resends held_span_ms=$rspan" \
    "redis_down_nak_gap_ms=$ngap redis_down_delivery=$ndel"
