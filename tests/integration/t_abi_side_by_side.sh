#!/bin/bash
# ABI 1.0 and 1.1 plugins in one process: record10.so (compiled against the
# frozen 1.0 header: short descriptor, abi_minor 0), record.so (1.1, handle
# only) and record_batch.so (1.1 with handle_batch and kv_pipeline) each
# serve a durable of the same stream. Every one handles and commits every
# message once; the 1.0 plugin's publishes (publish(), waiting for the
# PubAck) and the 1.1 ones' (publish_async) all land once in the stream.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record10.so" \
    "$JW_BUILD/tests/plugins/record.so" "$JW_BUILD/tests/plugins/record_batch.so"

record_config "$T/jw.yaml" "{name: abi, workers: 4}" "publish_to: \"out.v11\"" \
"    - name: rec10
      file: record10.so
      config: {effects_file: \"$T/effects10\", publish_to: \"out.v10\"}
    - name: recb
      file: record_batch.so
      config: {effects_file: \"$T/effectsb\", publish_to: \"out.vb\"}"
cat >>"$T/jw.yaml" <<YAML
  - {name: OUT, subjects: ["out.>"]}
consumers:
  - {name: c10, stream: WORK, handler: rec10, concurrency: 2, batch: 32, dead_letter: dlq.c10}
  - {name: c11, stream: WORK, handler: rec, concurrency: 2, batch: 32, dead_letter: dlq.c11}
  - {name: cb, stream: WORK, handler: recb, concurrency: 2, batch: 32, dead_letter: dlq.cb}
YAML

"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provisioning failed"
N=300
pubn work.items $N a- >/dev/null || fail "publish failed"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
for c in c10 c11 cb; do
    wait_drained WORK $c 60 || fail "$c did not drain: $(tail -n 5 "$T/jw.log")"
done
grep -q "instance 'rec10' loaded: record10 10 (ABI 1.0," "$T/jw.log" ||
    fail "record10 not loaded as ABI 1.0: $(grep -o '"msg":"[^"]*rec10[^"]*"' "$T/jw.log" | head -1)"
grep -q "instance 'recb' loaded: record_batch 1 (ABI 1.1," "$T/jw.log" ||
    fail "record_batch not loaded as ABI 1.1"
for c in c10 c11 cb; do
    [ "$(committed $c)" = $N ] || fail "$c committed $(committed $c), want $N"
    [ "$(dupcommits $c)" = 0 ] || fail "$c committed $(dupcommits $c) twice"
done
[ "$(attempts "$T/effects10")" = $N ] || fail "record10 attempts $(attempts "$T/effects10")"
[ "$(attempts "$T/effects")" = $N ] || fail "record attempts $(attempts "$T/effects")"
[ "$(attempts "$T/effectsb")" = $N ] || fail "record_batch attempts $(attempts "$T/effectsb")"
# The backlog reached record_batch in batches, not one message a call.
python3 - "$T/effectsb" $N <<'PY' || fail "record_batch did not get batches"
import sys
sizes = [int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("batch ")]
assert sum(sizes) == int(sys.argv[2]), sizes
assert max(sizes) > 1, sizes
print("  .. record_batch: %d calls, largest %d, mean %.1f" % (len(sizes), max(sizes), sum(sizes) / len(sizes)))
PY
wait_for 30 sh -c "[ \"\$(\"$JW\" pub -s $NATS_URL --stream-info OUT | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"messages\"])')\" = $((3 * N)) ]" ||
    fail "OUT holds $(si OUT messages) events, want $((3 * N))"
jw_stop jw || fail "jetway exited non-zero"
echo "RESULT abi_side_by_side messages=$N plugins=3"
