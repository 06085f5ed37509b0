#!/bin/bash
# SIGTERM under load drains: exit 0, nothing lost, nothing handled twice;
# a restart finishes the rest from the durable.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
record_config "$T/jw.yaml" "{name: sigterm, workers: 4, shutdown_grace: 20s}" "sleep: 1ms"
cat >>"$T/jw.yaml" <<YAML
consumers:
  - {name: worker, stream: WORK, handler: rec, concurrency: 4, batch: 64,
     max_ack_pending: 256, dead_letter: dlq.worker, ack_wait: 30s}
YAML

N=5000
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
pubn work.x $N >/dev/null || fail "publish failed"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
wait_for 60 sh -c "[ \$(redis-cli -p $REDIS_PORT SCARD jwtest:committed:worker) -ge 500 ]" ||
    fail "no progress"
jw_stop jw || fail "SIGTERM: jetway exited with status $?"
mid=$(committed worker)
note "SIGTERM after $mid of $N committed"
[ "$mid" -lt $N ] || fail "the run finished before SIGTERM; the test proves nothing"
grep -q '"msg":"drain: complete' "$T/jw.log" || fail "the drain did not complete"

jw_start jw2 "$T/jw.yaml"
jw_wait_running jw2
wait_drained WORK worker 120 || fail "did not drain after restart"
jw_stop jw2 || fail "second run exited non-zero"
[ "$(committed worker)" = $N ] || fail "committed $(committed worker), want $N"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits"
[ "$(attempts "$T/effects")" = $N ] || fail "attempts $(attempts "$T/effects"), want $N: a message was handled twice"
echo "RESULT sigterm published=$N committed=$(committed worker) attempts=$(attempts "$T/effects") duplicates=$(dupcommits worker)"
