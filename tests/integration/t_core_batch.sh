#!/bin/bash
# handle_batch (ABI 1.1) with mixed verdicts in one batch, dedup on (bd)
# and off (bn): record_batch.so gets the messages of a fetch in one call,
# commits its effects in one kv_pipeline and publishes each ACKed one with
# publish_async. ACK, RETRY and REJECT in the same batch each get their own
# settlement: ACKed ones committed once, RETRYs redelivered after the
# backoff until max_deliver and then dead-lettered, REJECTs dead-lettered
# at once; the events of the ACKed ones land once in the stream.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record_batch.so"

mixed='retry_if_contains: "please-retry", reject_if_contains: "please-reject"'
record_config "$T/jw.yaml" "{name: batch, workers: 4}" "$mixed, publish_to: \"out.bd\"" \
"    - name: recn
      file: record_batch.so
      config: {effects_file: \"$T/effects_n\", $mixed, publish_to: \"out.bn\"}" record_batch.so
cat >>"$T/jw.yaml" <<YAML
  - {name: OUT, subjects: ["out.>"]}
consumers:
  - {name: bd, stream: WORK, handler: rec, concurrency: 1, batch: 64, max_deliver: 3,
     backoff: [200ms, 400ms], dead_letter: dlq.bd}
  - {name: bn, stream: WORK, handler: recn, concurrency: 1, batch: 64, max_deliver: 3,
     backoff: [200ms, 400ms], dead_letter: dlq.bn, dedup: {enabled: false}}
YAML
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provisioning failed"

# Interleaved, before the start, so the first fetch holds all three kinds.
for i in $(seq 1 5); do
    pubn work.x 12 "ok$i-" >/dev/null || fail "publish failed"
    "$JW" pub -s "$NATS_URL" -q work.x "{\"message_id\":\"rt-$i\",\"x\":\"please-retry\"}" --id "rt-$i" || fail pub
    "$JW" pub -s "$NATS_URL" -q work.x "{\"message_id\":\"rj-$i\",\"x\":\"please-reject\"}" --id "rj-$i" || fail pub
done
jw_start jw "$T/jw.yaml"
jw_wait_running jw

wait_for 60 sh -c "[ \"\$(\"$JW\" pub -s $NATS_URL --stream-info DLQ | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"messages\"])')\" = 20 ]" ||
    fail "want 20 dead letters (5 retried + 5 rejected, per consumer), have $(si DLQ messages)"
for c in bd bn; do
    wait_drained WORK $c 30 || fail "$c did not drain"
    [ "$(committed $c)" = 60 ] || fail "$c committed $(committed $c), want 60"
    [ "$(dupcommits $c)" = 0 ] || fail "$c committed $(dupcommits $c) twice"
done
for f in "$T/effects" "$T/effects_n"; do
    python3 - "$f" <<'PY' || fail "attempts or batches wrong in $f"
import sys, collections
rows = [l.split() for l in open(sys.argv[1])]
per = collections.defaultdict(list)
batches, cur = [], None
for r in rows:
    if r[0] == "batch":
        cur = []
        batches.append(cur)
    else:
        per[r[1]].append(r[3])
        cur.append(r[1])
for k, v in per.items():
    want = ["1", "2", "3"] if k.startswith("rt-") else ["1"]
    assert v == want, (k, v)
assert len(per) == 70, len(per)
kinds = lambda b: {i.split("-")[0][:2] for i in b}
mixed = [b for b in batches if {"ok", "rt", "rj"} <= kinds(b)]
assert mixed, [len(b) for b in batches]
print("  .. %s: %d handle_batch calls; a batch of %d held ACK, RETRY and REJECT"
      % (sys.argv[1].split("/")[-1], len(batches), len(mixed[0])))
PY
done
wait_for 30 sh -c "[ \"\$(\"$JW\" pub -s $NATS_URL --stream-info OUT | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"messages\"])')\" = 120 ]" ||
    fail "OUT holds $(si OUT messages) events, want 120"
jw_stop jw || fail "jetway exited non-zero"
echo "RESULT core_batch consumers=2 acked=60 retried=5 rejected=5 events=120"
