#!/bin/bash
# ACKs without dedup: the workers publish them to each message's reply
# subject (jsack_send) into cnats's write buffer, while the fetcher keeps a
# pull request outstanding. None may be lost or held: a backlog that ends
# exactly on a batch boundary is fully acked without further traffic, a
# trickle after it too, and a SIGTERM in the middle of a backlog leaves
# nothing handled but unacked, and nothing that reached the inbox stuck
# until ack_wait (the fetcher drains its inbox and NAKs what arrived; every
# message is handled exactly once over two runs, dedup off).
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"

record_config "$T/jw.yaml" "{name: core-acks, workers: 2, shutdown_grace: 10s}"
cat >>"$T/jw.yaml" <<YAML
consumers:
  - name: worker
    stream: WORK
    handler: rec
    ack_wait: 60s
    max_deliver: 3
    concurrency: 2
    batch: 64
    max_ack_pending: 256
    dead_letter: dlq.worker
    dedup: {enabled: false}
log: {level: info}
YAML

"$JW" check -c "$T/jw.yaml" >/dev/null || fail "jetway check refused the config"
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provisioning failed"

# 1. A backlog of exactly 100 full batches: the last batch is full, the
#    next finds nothing, and every ACK must still reach the server. ack_wait is
#    60 s, so a lost ACK would keep num_ack_pending above 0 past the
#    deadline and a redelivery would show as an extra attempt.
N=6400
pubn work.items $N a- >/dev/null || fail "publish failed"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
wait_drained WORK worker 30 || fail "backlog not fully acked: pending $(ci WORK worker num_pending), ack pending $(ci WORK worker num_ack_pending)"
[ "$(attempts "$T/effects")" = $N ] || fail "attempts $(attempts "$T/effects"), want $N"
[ "$(ci WORK worker num_redelivered)" = 0 ] || fail "redeliveries: $(ci WORK worker num_redelivered)"
note "backlog: $N handled once, all acked"

# 2. A trickle after the backlog: single messages are acked too.
for i in 1 2 3; do
    "$JW" pub -s "$NATS_URL" -q work.items "{\"message_id\":\"t-$i\"}" --id "t-$i" ||
        fail "publish failed"
    wait_drained WORK worker 30 || fail "trickle message $i not acked"
done
[ "$(attempts "$T/effects")" = $((N + 3)) ] || fail "attempts $(attempts "$T/effects"), want $((N + 3))"

# 3. SIGTERM in the middle of a backlog: queued work is given back, running
#    handlers finish and ACK, and what the open pull request brought to the
#    inbox is NAKed at the exit. Whatever was handled must not come back.
jw_stop jw || fail "jetway exited non-zero after SIGTERM"
M=40000
pubn work.items $M b- >/dev/null || fail "publish failed"
base=$(attempts "$T/effects")
jw_start jw2 "$T/jw.yaml"
jw_wait_running jw2
wait_for 60 sh -c "[ \$(grep -c 'attempt ' '$T/effects') -ge $((base + 5000)) ]" ||
    fail "no progress on the second backlog"
jw_stop jw2 || fail "jetway exited non-zero after SIGTERM mid-backlog"
handled=$(($(attempts "$T/effects") - base))
# (The NAKed ones still count as ack pending on the server until they are
# redelivered, so num_ack_pending says nothing here; the third run does.)
[ "$handled" -lt $M ] || fail "the stop came too late to test anything ($handled of $M handled)"
note "stopped after $handled of $M"

# The rest, in a third run: every message handled exactly once in total.
# An ACK lost at the stop would leave its message unacked until ack_wait
# (60 s): the drain below would time out, or the message come back as an
# extra attempt.
jw_start jw3 "$T/jw.yaml"
jw_wait_running jw3
wait_drained WORK worker 45 || fail "second backlog did not drain: ack pending $(ci WORK worker num_ack_pending)"
jw_stop jw3 || fail "third jetway exited non-zero"
total=$(attempts "$T/effects")
[ "$total" = $((N + 3 + M)) ] ||
    fail "attempts $total, want $((N + 3 + M)): an ACK was lost or a message handled twice"
echo "RESULT core_acks backlog=$N trickle=3 second_backlog=$M stopped_after=$handled attempts=$total"
