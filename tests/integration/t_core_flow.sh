#!/bin/bash
# Host core: provisioning, N messages each handled and committed exactly
# once, the concurrency limit, and a restart resuming from the durable.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"

record_config "$T/jw.yaml" "{name: core-flow, workers: 4, shutdown_grace: 10s}" "sleep: 2ms"
cat >>"$T/jw.yaml" <<YAML
consumers:
  - name: worker
    stream: WORK
    filter_subject: work.items
    handler: rec
    ack_wait: 10s
    max_deliver: 3
    backoff: [200ms]
    concurrency: 3
    batch: 32
    dead_letter: dlq.worker
log: {level: info}
YAML

"$JW" check -c "$T/jw.yaml" >/dev/null || fail "jetway check refused the config"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
[ "$(ci WORK worker num_pending)" = 0 ] || fail "consumer not provisioned"

N=2000
pubn work.items $N >/dev/null || fail "publish failed"
wait_drained WORK worker 60 || fail "backlog did not drain"
[ "$(committed worker)" = $N ] || fail "committed $(committed worker), want $N"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits: $(dupcommits worker)"
[ "$(attempts "$T/effects")" = $N ] || fail "attempts $(attempts "$T/effects"), want $N"
note "first run: $N published, $(committed worker) committed, $(attempts "$T/effects") attempts"

jw_stop jw || fail "jetway exited non-zero after SIGTERM"
grep -q '"msg":"jetway stopped"' "$T/jw.log" || fail "no clean stop logged"
# The concurrency limit: record.so writes the most concurrent calls at fini.
maxc=$(cat "$T/effects.maxconc")
[ "$maxc" -le 3 ] || fail "concurrency limit 3 exceeded: $maxc calls at once"
[ "$maxc" -ge 2 ] || fail "handlers never ran concurrently ($maxc); the limit is not exercised"
note "concurrency: at most $maxc handler calls at once (limit 3)"

# Publish while stopped; a restart resumes from the durable.
"$JW" pub -s "$NATS_URL" -q work.items '{"message_id":"r-%d"}' --count 500 --id 'r-%d' ||
    fail "publish failed"
[ "$(ci WORK worker num_pending)" = 500 ] || fail "pending $(ci WORK worker num_pending), want 500"
jw_start jw2 "$T/jw.yaml"
jw_wait_running jw2
wait_drained WORK worker 60 || fail "backlog after restart did not drain"
[ "$(committed worker)" = $((N + 500)) ] || fail "committed $(committed worker) after restart"
[ "$(attempts "$T/effects")" = $((N + 500)) ] || fail "messages were handled twice"
jw_stop jw2 || fail "second jetway exited non-zero"
echo "RESULT core_flow published=$((N + 500)) committed=$(committed worker) attempts=$(attempts "$T/effects") duplicates=$(dupcommits worker)"
