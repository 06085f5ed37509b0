#!/bin/bash
# RETRY redelivers after the backoff delay and dead-letters after
# max_deliver attempts; REJECT dead-letters at once and is not redelivered;
# a message without a usable id, or with malformed JSON, is dead-lettered
# with the reason. Every letter keeps its payload and carries the Jetway-*
# headers.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"

record_config "$T/jw.yaml" "{name: verdicts, workers: 2}" "retry_if_contains: \"please-retry\", reject_if_contains: \"please-reject\""
cat >>"$T/jw.yaml" <<YAML
consumers:
  - name: worker
    stream: WORK
    handler: rec
    ack_wait: 10s
    max_deliver: 3
    backoff: [300ms, 600ms]
    concurrency: 2
    dead_letter: dlq.worker
YAML

jw_start jw "$T/jw.yaml"
jw_wait_running jw

"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"retry-1","x":"please-retry"}' --id retry-1 || fail pub
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"reject-1","x":"please-reject"}' --id reject-1 || fail pub
"$JW" pub -s "$NATS_URL" -q work.a '{"no_id_here":true}' || fail pub
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id": broken' || fail pub
"$JW" pub -s "$NATS_URL" -q work.a '' || fail pub
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"ok-1"}' --id ok-1 || fail pub

wait_for 30 si_eq DLQ messages 5 ||
    fail "expected 5 dead letters, have $(si DLQ messages)"
wait_drained WORK worker 30 || fail "WORK did not drain"

# RETRY: exactly max_deliver attempts, spaced by at least the backoff.
python3 - "$T/effects" >"$T/retry.txt" <<'PY' || fail "retry attempts wrong"
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("attempt retry-1 ")]
assert [r[3] for r in rows] == ["1", "2", "3"], rows
t = [int(r[5]) for r in rows]
# backoff 300ms then 600ms, minus the 10% jitter; and well before ack_wait
# (10 s): the redelivery came from the NAK's delay, not the backstop.
assert 270 <= t[1] - t[0] < 3000, t
assert 540 <= t[2] - t[1] < 3000, t
print("%d %d" % (t[1] - t[0], t[2] - t[1]))
PY
read -r gap1 gap2 <"$T/retry.txt"
note "retry attempts at +$gap1 ms and +$gap2 ms"
[ "$(count_in 'attempt reject-1 ' "$T/effects")" = 1 ] || fail "REJECT was redelivered"
[ "$(count_in 'attempt ok-1 ' "$T/effects")" = 1 ] || fail "ok-1 not handled once"
[ "$(committed worker)" = 1 ] || fail "only ok-1 may be committed"

# The letters: payload, reason and headers.
"$JW" dlq ls -c "$T/jw.yaml" --json >"$T/dlq.json" || fail "dlq ls failed"
python3 - "$T/dlq.json" <<'PY' || fail "dead letters wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
letters = doc if isinstance(doc, list) else doc.get("letters", doc)
errs = [l.get("error", "") for l in letters]
# Each letter's reason exactly, the three id-less ones each told apart.
want = sorted([
    "retries exhausted after 3 deliveries: payload contains 'please-retry'",
    "payload contains 'please-reject'",
    "no message id: no Nats-Msg-Id header and no 'message_id' field",
    "no message id: payload is not valid JSON (at byte 15)",
    "no message id: empty payload and no Nats-Msg-Id header",
])
assert sorted(errs) == want, sorted(errs)
for l in letters:
    assert l.get("consumer") == "worker", l
print("  .. letters:", "; ".join(sorted(errs)))
PY

seq=$("$JW" dlq ls -c "$T/jw.yaml" --json | python3 -c '
import json,sys
d=json.load(sys.stdin); d=d if isinstance(d,list) else d.get("letters",d)
print([l for l in d if "retries exhausted" in l.get("error","")][0]["seq"])')
"$JW" dlq show -c "$T/jw.yaml" "$seq" >"$T/letter.txt" || fail "dlq show failed"
for h in Jetway-Original-Subject Jetway-Stream Jetway-Sequence Jetway-Deliveries Jetway-Consumer Jetway-Error Nats-Msg-Id; do
    grep -q "$h" "$T/letter.txt" || fail "letter lacks header $h: $(cat "$T/letter.txt")"
done
grep -q 'please-retry' "$T/letter.txt" || fail "letter lost its payload"
grep -q 'worker:WORK:' "$T/letter.txt" || fail "letter Nats-Msg-Id is not consumer:stream:seq"
jw_stop jw || fail "jetway exited non-zero"
echo "RESULT verdicts dead_letters=$(si DLQ messages) retry_attempts=$(count_in 'attempt retry-1 ' "$T/effects")" \
    "retry_gaps_ms=$gap1,$gap2 reject_attempts=$(count_in 'attempt reject-1 ' "$T/effects")" \
    "committed=$(committed worker)"
