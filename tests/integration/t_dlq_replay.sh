#!/bin/bash
# A dead-lettered message, once the cause is fixed, is replayed with
# `jetway dlq replay` and processed once more, exactly once, although its
# message id was seen before; a second replay of the same letter is skipped.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
write()
{
    record_config "$T/jw.yaml" "{name: replay}" "reject_if_contains: \"$1\""
    cat >>"$T/jw.yaml" <<YAML
consumers:
  - {name: worker, stream: WORK, handler: rec, dead_letter: dlq.worker, max_deliver: 3}
YAML
}

write "poison"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"p-%d","x":"poison"}' --count 3 --id 'p-%d' || fail pub
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"ok-%d"}' --count 5 --id 'ok-%d' || fail pub
wait_for 30 si_eq DLQ messages 3 ||
    fail "3 letters expected"
wait_drained WORK worker 30 || fail "not drained"
[ "$(committed worker)" = 5 ] || fail "committed $(committed worker), want 5"
jw_stop jw || fail "exit status"

# The cause is fixed: nothing is poison any more.
write "nothing-matches-this"
jw_start jw2 "$T/jw.yaml"
jw_wait_running jw2
"$JW" dlq replay -c "$T/jw.yaml" --all >"$T/replay1.out" 2>&1 || fail "replay failed: $(cat "$T/replay1.out")"
wait_for 30 sh -c "[ \$(redis-cli -p $REDIS_PORT SCARD jwtest:committed:worker) = 8 ]" ||
    fail "replayed letters not processed: committed $(committed worker)"
wait_drained WORK worker 30 || fail "not drained after replay"
"$JW" dlq replay -c "$T/jw.yaml" --all >"$T/replay2.out" 2>&1 ||
    fail "second replay failed: $(cat "$T/replay2.out")"
grep -qx "replayed 0, skipped 3, failed 0" "$T/replay2.out" ||
    fail "second replay not skipped for all 3 letters: $(cat "$T/replay2.out")"
wait_drained WORK worker 30 || fail "not drained"
[ "$(committed worker)" = 8 ] || fail "committed $(committed worker) after a second replay, want 8"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits"
for i in 1 2 3; do
    n=$(grep -c "^attempt p-$i~" "$T/effects" || true)
    [ "$n" = 1 ] || fail "replayed p-$i handled $n times"
done
jw_stop jw2 || fail "exit status"
echo "RESULT dlq_replay letters=3 replayed_once=3 committed=8 duplicates=0"
