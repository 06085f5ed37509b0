#!/bin/bash
# publish_async (ABI 1.1): a message is settled only when every publish
# made for it has its PubAck.
#  - ok: publishes to a stream; every message committed and ACKed once,
#    every event in the stream once.
#  - lost: publishes to a stream created with no_ack (it stores the message
#    but never answers): no PubAck within nats.request_timeout, so the
#    verdict turns into RETRY (no ACK, no commit), each redelivery
#    republishes with the same Nats-Msg-Id and the stream's duplicate
#    window drops it (one copy per message), and after max_deliver the
#    message is dead-lettered.
#  - nowhere: no stream takes the subject (503 no responders): RETRY too.
#  - a request/reply service: the reply is held until the PubAck is in; a
#    lost PubAck answers Jetway-Status: 503 instead.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
REQ="$JW_BUILD/tests/tools/nats_req"

inst()
{
    printf '    - name: %s\n      file: record.so\n      config: {effects_file: "%s", publish_to: "%s", commit: %s}\n' "$@"
}
record_config "$T/jw.yaml" "{name: pubasync, workers: 4}" "publish_to: \"out.ok\"" \
    "$(inst lost "$T/e_lost" noack.out false)
$(inst nowhere "$T/e_nowhere" nowhere.out false)
$(inst svcok "$T/e_svcok" out.svc false)
$(inst svcbad "$T/e_svcbad" noack.svc false)"
sed -i 's/^nats: {servers: \(.*\)}$/nats: {servers: \1, request_timeout: 1s}/' "$T/jw.yaml"
grep -q 'request_timeout: 1s' "$T/jw.yaml" || fail "config edit failed"
cat >>"$T/jw.yaml" <<YAML
  - {name: OUT, subjects: ["out.>"]}
consumers:
  - {name: ok, stream: WORK, filter_subject: work.ok, handler: rec, batch: 16, dead_letter: dlq.ok}
  - {name: lost, stream: WORK, filter_subject: work.lost, handler: lost, max_deliver: 3,
     backoff: [200ms], dead_letter: dlq.lost}
  - {name: nowhere, stream: WORK, filter_subject: work.nowhere, handler: nowhere, max_deliver: 2,
     backoff: [200ms], dead_letter: dlq.nowhere}
services:
  - {name: svcok, subject: svc.ok, handler: svcok}
  - {name: svcbad, subject: svc.bad, handler: svcbad}
YAML

"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provisioning failed"
# A stream that stores but never sends a PubAck, with a 2-minute duplicate window.
"$REQ" "$NATS_URL" '$JS.API.STREAM.CREATE.NOACK' \
    '{"name":"NOACK","subjects":["noack.>"],"no_ack":true,"storage":"file","duplicate_window":120000000000}' \
    >"$T/noack.json" || fail "cannot create NOACK: $(cat "$T/noack.json")"
grep -q '"no_ack":true' "$T/noack.json" || fail "NOACK not created with no_ack: $(cat "$T/noack.json")"

jw_start jw "$T/jw.yaml"
jw_wait_running jw

pubn work.ok 40 ok- >/dev/null || fail "publish failed"
pubn work.lost 5 lost- >/dev/null || fail "publish failed"
pubn work.nowhere 3 nw- >/dev/null || fail "publish failed"

# Requests: answered after the PubAck, or 503 when it never comes.
got=$("$REQ" "$NATS_URL" svc.ok '{"message_id":"r1"}' 5000) || fail "svc.ok: no reply"
[ "$got" = ok ] || fail "svc.ok answered '$got'"
got=$("$REQ" "$NATS_URL" svc.bad '{"message_id":"r2"}' 5000) || fail "svc.bad: no reply"
[ "$(echo "$got" | head -1)" = "Jetway-Status: 503" ] || fail "svc.bad answered '$got'"
note "requests: ok after the PubAck; 503 when it did not come"

wait_drained WORK ok 30 || fail "ok did not drain"
[ "$(committed ok)" = 40 ] || fail "ok committed $(committed ok), want 40"
[ "$(dupcommits ok)" = 0 ] || fail "ok committed twice"
[ "$(attempts "$T/effects")" = 40 ] || fail "ok attempts $(attempts "$T/effects"), want 40"

dl()
{
    "$JW" dlq ls -c "$T/jw.yaml" --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin); d = d if isinstance(d, list) else d.get("letters", d)
print(sum(1 for l in d if l.get("consumer") == sys.argv[1]))' "$1"
}
wait_for 60 sh -c "[ \"\$(\"$JW\" pub -s $NATS_URL --stream-info DLQ | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"messages\"])')\" = 8 ]" ||
    fail "want 8 dead letters (5 lost, 3 nowhere), have $(si DLQ messages)"
[ "$(dl lost)" = 5 ] || fail "lost: $(dl lost) letters"
[ "$(dl nowhere)" = 3 ] || fail "nowhere: $(dl nowhere) letters"
wait_drained WORK lost 30 || fail "lost did not drain"
wait_drained WORK nowhere 30 || fail "nowhere did not drain"

# lost: handled on deliveries 1..3 (never ACKed in between), its publishes
# stored once each despite three attempts.
python3 - "$T/e_lost" "$T/e_nowhere" <<'PY' || fail "attempts wrong"
import sys, collections
for path, want in ((sys.argv[1], ["1", "2", "3"]), (sys.argv[2], ["1", "2"])):
    per = collections.defaultdict(list)
    for l in open(path):
        f = l.split()
        per[f[1]].append(f[3])
    assert len(per) == (5 if "lost" in path else 3), (path, dict(per))
    for k, v in per.items():
        assert v == want, (path, k, v)
print("  .. lost: deliveries 1,2,3 each; nowhere: 1,2 each")
PY
[ "$(si NOACK messages)" = 6 ] || fail "NOACK holds $(si NOACK messages), want 5 events + 1 request's (one copy each)"
grep -q 'got no PubAck in time' "$T/jw.log" || fail "no PubAck timeout logged"
grep -q 'asynchronous publish to nowhere.out failed' "$T/jw.log" || fail "no-responders failure not logged"
[ "$(si OUT messages)" = 41 ] || fail "OUT holds $(si OUT messages), want 41"
# The claims of the lost messages were never committed as done ('ok'):
# they end as dead letters ('D|dlq').
n=0
for k in $(rcli KEYS 'jw:lost:lost-*' | grep -v '|starts'); do
    dedup_done lost "${k#jw:lost:}" dlq || fail "$k is '$(rcli GET "$k")', want D|dlq"
    n=$((n + 1))
done
[ $n = 5 ] || fail "want 5 claims of lost messages marked D|dlq, have $n"
jw_stop jw || fail "jetway exited non-zero"
echo "RESULT core_pubasync ok=40 lost=5 nowhere=3 noack_copies=$(si NOACK messages) reply503=1"
