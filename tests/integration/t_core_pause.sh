#!/bin/bash
# t_core_pause -- `jetway consumer pause|resume NAME` against a running
# process found by its pid file: paused, nothing is fetched (the backlog
# stays on the server, nothing is NAKed), the gauge and /readyz say so, the
# pause survives a reload; paused in the middle of a run, the messages in
# flight finish and settle; a SIGTERM while paused drains and exits 0; an
# unknown consumer is refused with exit 1.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
HTTP_PORT=$(free_port)
record_config "$T/jw.yaml" "{name: pause, workers: 4, shutdown_grace: 20s}" "sleep: 5ms"
cat >>"$T/jw.yaml" <<YAML
consumers:
  - {name: worker, stream: WORK, handler: rec, concurrency: 4, batch: 16,
     dead_letter: dlq.worker, ack_wait: 30s}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML
N=600
C='service="pause",consumer="worker",stream="WORK",handler="rec"'
metric() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -F "$1{$C}" | awk '{print $2}'; }
has_metric() { [ "$(metric "$1")" = "$2" ]; }
readyz() { curl -s "http://127.0.0.1:$HTTP_PORT/readyz"; }
ctl() { "$JW" consumer "$@" --pid-file "$T/jw.pidfile"; }

"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
wait_for 20 sh -c "curl -s http://127.0.0.1:$HTTP_PORT/readyz | grep -q '\"ready\"'" ||
    fail "not ready: $(readyz)"

out=$(ctl pause worker) || fail "pause: exit $?: $out"
[ "$out" = "consumer worker paused" ] || fail "pause said: $out"
out=$(ctl pause worker) || fail "second pause: exit $?"
[ "$out" = "consumer worker was already paused" ] || fail "second pause said: $out"
rc=0
out=$(ctl pause nosuch 2>&1) || rc=$?
[ $rc = 1 ] || fail "pause of an unknown consumer: exit $rc, want 1"
echo "$out" | grep -q "no consumer named 'nosuch'" || fail "unknown consumer: $out"
rc=0
ctl stop worker >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "bad verb: exit $rc, want 2"

# The same over HTTP (the listener is on loopback): POST only.
hst=$(curl -s -o "$T/hresp" -w '%{http_code}' -X POST "http://127.0.0.1:$HTTP_PORT/consumers/worker/pause")
[ "$hst" = 200 ] && grep -qx "ok consumer worker was already paused" "$T/hresp" ||
    fail "POST /consumers/worker/pause: HTTP $hst: $(cat "$T/hresp")"
hst=$(curl -s -o "$T/hresp" -w '%{http_code}' -X POST "http://127.0.0.1:$HTTP_PORT/consumers/nosuch/pause")
[ "$hst" = 404 ] || fail "POST for an unknown consumer: HTTP $hst: $(cat "$T/hresp")"
hst=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/consumers/worker/resume")
[ "$hst" = 405 ] || fail "GET /consumers/worker/resume: HTTP $hst, want 405"

wait_for 10 has_metric jetway_consumer_paused 1 || fail "gauge: $(metric jetway_consumer_paused)"
readyz | grep -q 'consumer worker paused (operator)' || fail "/readyz: $(readyz)"

pubn work.x $N >/dev/null || fail "publish failed"
# The pause survives a reload.
"$JW" reload --pid-file "$T/jw.pidfile" >/dev/null || fail "reload failed"
# A pull already at the server when the pause came (it waits up to 500 ms
# for a first message) may still bring one batch, which is handled; after
# that nothing. jetway's own view of the server (refreshed by the paused
# fetcher every 2 s) then shows the rest of the backlog, unchanged across
# two refreshes.
early=$(metric jetway_messages_received_total)
[ "$early" -le 16 ] || fail "paused, yet received $early (more than the one pull in flight)"
backlog_seen() { has_metric jetway_consumer_pending_messages $((N - $(metric jetway_messages_received_total))); }
wait_for 20 backlog_seen || fail "pending gauge: $(metric jetway_consumer_pending_messages)"
sv=$(ci WORK worker num_pending)
recv=$(metric jetway_messages_received_total)
[ "$recv" = "$early" ] || fail "paused, yet received went from $early to $recv"
[ "$sv" = $((N - recv)) ] || fail "server pending $sv, want $((N - recv))"
wait_for 20 sh -c "[ \$(redis-cli -p $REDIS_PORT SCARD jwtest:committed:worker) = $recv ]" ||
    fail "committed $(committed worker) of $recv received while paused"
has_metric jetway_consumer_paused 1 || fail "the reload lost the pause"

out=$(ctl resume worker) || fail "resume: exit $?"
[ "$out" = "consumer worker resumed" ] || fail "resume said: $out"
wait_for 60 sh -c "[ \$(redis-cli -p $REDIS_PORT SCARD jwtest:committed:worker) -ge 100 ]" ||
    fail "no progress after resume"
ctl pause worker >/dev/null || fail "pause mid-run"
# What was in flight finishes and settles; nothing new comes.
wait_for 30 has_metric jetway_in_flight_messages 0 || fail "in flight: $(metric jetway_in_flight_messages)"
wait_for 30 sh -c "[ \"\$(\"$JW\" pub -s $NATS_URL --consumer-info WORK worker | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"num_ack_pending\"])')\" = 0 ]" ||
    fail "unacknowledged messages while paused: $(ci WORK worker num_ack_pending)"
mid=$(committed worker)
recv=$(metric jetway_messages_received_total)
[ "$mid" -lt $N ] || fail "the run finished before the pause; the test proves nothing"
[ "$mid" = "$recv" ] || fail "received $recv, committed $mid: something was left unsettled"
retry=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -F "jetway_messages_settled_total{$C,result=\"retry\"}" | awk '{print $2}')
[ "$retry" = 0 ] || fail "the pause NAKed $retry messages"
readyz | grep -q 'paused (operator)' || fail "/readyz while paused: $(readyz)"
note "paused mid-run after $mid of $N; $(ci WORK worker num_pending) stay on the server"

# SIGTERM while paused: drains and exits 0.
jw_stop jw || fail "SIGTERM while paused: exit $?"
grep -q '"msg":"drain: complete' "$T/jw.log" || fail "the drain did not complete"
[ ! -e "$T/jw.pidfile.sock" ] || fail "the control socket was left behind"
rc=0
ctl resume worker >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "resume with no process: exit $rc, want 1"

# A restart forgets the pause and finishes the rest.
jw_start jw2 "$T/jw.yaml"
jw_wait_running jw2
wait_drained WORK worker 120 || fail "did not drain after restart"
jw_stop jw2 || fail "second run exited non-zero"
[ "$(committed worker)" = $N ] || fail "committed $(committed worker), want $N"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits"
echo "RESULT pause published=$N committed_at_pause=$mid committed=$(committed worker) retries_while_paused=$retry"
