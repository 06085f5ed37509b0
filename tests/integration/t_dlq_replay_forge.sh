#!/bin/bash
# t_dlq_replay_forge.sh -- a replay's dedup key cannot be forged (issue 16
# item 5a). The replay of dead letter DLQ:<seq> of message X is shown with
# the id "X~replay-DLQ-<seq>~DLQ:<seq>"; a producer publishing that very id first must not
# make the later replay be acked as a duplicate: the replay is handled.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
write()
{
    cat >"$T/jw.yaml" <<YAML
service: {name: forge}
nats: {servers: ["$NATS_URL"]}
redis: {url: "$REDIS_URL"}
plugins:
  dir: $T/plugins
  instances:
    - {name: rec, file: record.so, config: {effects_file: "$T/effects", reject_if_contains: "$1"}}
streams:
  - {name: WORK, subjects: ["work.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
consumers:
  - {name: worker, stream: WORK, handler: rec, dead_letter: dlq.worker, max_deliver: 3}
YAML
}

write "poison"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"x-1","x":"poison"}' --id x-1 || fail pub
wait_for 30 sh -c "[ \"\$(\"$JW\" pub -s $NATS_URL --stream-info DLQ | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"messages\"])')\" = 1 ]" ||
    fail "no letter"
# The forgery: the id the replay of letter DLQ:1 will be shown with (the
# replay publishes as "x-1~replay-DLQ-1" with Jetway-Replay: DLQ:1).
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"x-1~replay-DLQ-1~DLQ:1"}' --id 'x-1~replay-DLQ-1~DLQ:1' || fail pub
wait_drained WORK worker 30 || fail "not drained"
[ "$(grep -c '^attempt x-1~replay-DLQ-1~DLQ:1 ' "$T/effects")" = 1 ] || fail "the forged message was not handled once"
jw_stop jw || fail "exit status"

write "nothing-matches-this"
jw_start jw2 "$T/jw.yaml"
jw_wait_running jw2
"$JW" dlq replay -c "$T/jw.yaml" --all >"$T/replay.out" 2>&1 || fail "replay failed: $(cat "$T/replay.out")"
wait_for 30 sh -c "[ \$(grep -c '^attempt x-1~replay-DLQ-1~DLQ:1 ' $T/effects) = 2 ]" ||
    fail "the replay was shadowed by the forged id: $(grep -c '^attempt x-1~replay-DLQ-1~DLQ:1 ' "$T/effects") attempts"
wait_drained WORK worker 30 || fail "not drained after the replay"
[ "$(rcli EXISTS 'jw:worker:x-1~replay-DLQ-1 DLQ:1')" = 1 ] || fail "the replay's key is not 'jw:worker:x-1 DLQ:1'"
[ "$(rcli EXISTS 'jw:worker:x-1~replay-DLQ-1~DLQ:1')" = 1 ] || fail "the forged message's key is gone"
jw_stop jw2 || fail "exit status"
echo "RESULT dlq_replay_forge forged=1 replay_handled=1"
