#!/bin/bash
# nats-server kill -9 and restart under load. A publisher publishes chunks
# of 200 messages and retries a chunk until all its PubAcks came back (the
# same Nats-Msg-Ids, so the stream's duplicate window absorbs the retries);
# jetway consumes meanwhile. The server is killed while both are busy and
# restarted once jetway and the publisher have both noticed; the stream is
# file storage in $T/nats. Everything acknowledged is committed exactly
# once; nothing is dead-lettered.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

CHUNKS=20
start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
fault_config "$T/jw.yaml" "sleep: 1ms"
sed -i 's/^nats: {servers: \(.*\)}$/nats: {servers: \1, reconnect_wait: 100ms, reconnect_wait_max: 200ms, request_timeout: 2s}/' "$T/jw.yaml"
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"

# One chunk at a time, at 2,000 messages a second; a chunk counts as
# published only once every message in it was acknowledged.
publisher()
{
    for k in $(seq 1 $CHUNKS); do
        tries=0
        until "$JW" pub -s "$NATS_URL" -q work.x "{\"message_id\":\"c$k-%d\",\"n\":%d}" \
            --count 200 --id "c$k-%d" --rate 2000 2>>"$T/pubfail.log"; do
            tries=$((tries + 1))
            echo "chunk $k: try $tries failed" >>"$T/pubfail.log"
            [ $tries -lt 200 ] || { echo "chunk $k: giving up" >>"$T/pubfail.log"; exit 1; }
            sleep 0.1 # the publisher's own retry pace, not a synchronisation
        done
        seq 1 200 | sed "s/^/c$k-/" >>"$T/published"
    done
    echo finished >>"$T/pubdone"
}

jw_start jw "$T/jw.yaml"
jw_wait_running jw
bg publisher publisher
wait_committed 1000 || fail "no progress"
kill9_nats || fail "nats-server survived SIGKILL"
at=$(committed worker)
note "nats-server killed at $at committed, $(wc -l <"$T/published") acknowledged"
wait_for 30 grep -q 'nats: disconnected' "$T/jw.log" || fail "jetway did not notice the outage"
wait_for 30 grep -q 'try 1 failed' "$T/pubfail.log" || fail "the publisher did not notice the outage"
restart_nats
note "nats-server restarted"
wait_for 90 test -f "$T/pubdone" || fail "the publisher did not finish: $(tail -n 3 "$T/pubfail.log")"
[ "$(wc -l <"$T/published")" = $((CHUNKS * 200)) ] || fail "published $(wc -l <"$T/published")"
fault_check nats_kill9 --extra "killed_at=$at" \
    --extra "pub_retries=$(grep -c 'failed$' "$T/pubfail.log")" \
    --extra "stream_msgs=$(si WORK messages)"
jw_stop jw || fail "jetway exited non-zero"
