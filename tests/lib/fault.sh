# tests/lib/fault.sh -- shared pieces of the fault tests (t_fault_*.sh).
# Source after harness.sh and jetway.sh.
#
#   fault_config FILE [KEY: VALUE...]  write a one-consumer topology: stream
#                      WORK (work.>, file storage), DLQ (dlq.>), consumer
#                      "worker" with ack_wait 2s, dedup lease 1s, record.so
#                      writing $T/effects, max_deliver 5, max_ack_pending
#                      $FAULT_MAX_ACK_PENDING (256); the arguments go into
#                      record's config (FAULT_CONSUMER_EXTRA / FAULT_SERVICE_EXTRA /
#                      FAULT_STREAM_EXTRA add ", key: value" to the consumer /
#                      service / WORK stream; FAULT_PLUGIN names another
#                      build of record.c, e.g. record_batch.so)
#   fault_pub N [PREFIX]  publish N messages PREFIX1..PREFIXN (id header and JSON
#                      message_id), append the ids to $T/published; fails
#                      the test unless every PubAck came back
#   wait_committed N   wait until record.so committed at least N
#   fault_failpoint P SKIP  the whole crash-window test of fail point P
#   crash_window OUT   after a kill: ids whose effect record.so committed but
#                      whose done marker the host had not written (they will
#                      be handled once more after the restart)
#   fault_check NAME [check.py options]  wait for the drain, then check the
#                      invariants (tests/lib/check.py) and print RESULT

FAULT_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fault_config()
{
    f=$1
    shift
    {
        echo "service: {name: fault, workers: 4, shutdown_grace: 10s${FAULT_SERVICE_EXTRA:-}}"
        echo "nats: {servers: [\"$NATS_URL\"]}"
        echo "redis: {url: \"$REDIS_URL\", timeout: 1s}"
        echo "plugins:"
        echo "  dir: $T/plugins"
        echo "  instances:"
        echo "    - name: rec"
        echo "      file: ${FAULT_PLUGIN:-record.so}"
        echo "      config:"
        echo "        effects_file: \"$T/effects\""
        for kv in "$@"; do echo "        $kv"; done
        echo "streams:"
        echo "  - {name: WORK, subjects: [\"work.>\"], storage: file${FAULT_STREAM_EXTRA:-}}"
        echo "  - {name: DLQ, subjects: [\"dlq.>\"], storage: file}"
        echo "  - {name: OUT, subjects: [\"out.>\"], storage: file}"
        echo "consumers:"
        echo "  - {name: worker, stream: WORK, handler: rec, concurrency: 4, batch: 64,"
        echo "     max_ack_pending: ${FAULT_MAX_ACK_PENDING:-256}, dead_letter: dlq.worker, ack_wait: 2s, max_deliver: 5,"
        echo "     dedup: {lease: 1s}${FAULT_CONSUMER_EXTRA:-}}"
    } >"$f"
}

fault_pub()
{
    n=$1
    p=${2:-m-}
    "$JW" pub -s "$NATS_URL" -q work.x "{\"message_id\":\"$p%d\",\"n\":%d}" \
        --count "$n" --id "$p%d" || fail "publish of $p1..$p$n failed"
    seq 1 "$n" | sed "s/^/$p/" >>"$T/published"
}

wait_committed()
{
    wait_for "${2:-60}" committed_ge worker "$1"
}

crash_window()
{
    # shellcheck disable=SC2016
    rcli --raw EVAL '
local out = {}
for _, id in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  local v = redis.call("GET", ARGV[1] .. id)
  if not v or string.sub(v, 1, 2) ~= "D|" then out[#out + 1] = id end
end
return out' 1 jwtest:committed:worker jw:worker: >"$1"
}

fault_check()
{
    name=$1
    shift
    wait_drained WORK worker 90 || fail "$name: WORK did not drain: pending $(ci WORK worker num_pending), ack pending $(ci WORK worker num_ack_pending)"
    logs=()
    for l in "$T"/jw*.log; do logs+=(--log "$l"); done
    python3 "$FAULT_LIB/check.py" --name "$name" --jw "$JW" --cfg "$T/jw.yaml" \
        --redis-port "$REDIS_PORT" --consumer worker --published "$T/published" \
        --effects "$T/effects" "${logs[@]}" "$@" || fail "$name: invariants violated"
}

# fault_failpoint POINT SKIP: 1,000 messages and 20 that record.so rejects,
# interleaved; jetway runs with JW_FAILPOINT=POINT JW_FAILPOINT_SKIP=SKIP and
# must die by SIGKILL mid-run; the restart (without the fail point) must
# leave every invariant true. With FAULT_PLUGIN (e.g. record_batch.so) the
# handler publishes every ACKed message to out.x (publish_async on ABI
# 1.1) and the stream OUT must end with exactly one event per message
# despite the re-runs. (Not fenced: a handler that writes the host's done
# marker itself must not use publish_async, see jetway/plugin.h.) Prints RESULT fp_POINT ...
fault_failpoint()
{
    point=$1
    skip=$2
    jw_require_failpoints
    start_nats
    start_redis
    plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/${FAULT_PLUGIN:-record.so}"
    if [ -n "${FAULT_PLUGIN:-}" ]; then
        fault_config "$T/jw.yaml" "sleep: 1ms" "reject_if_contains: please-reject" "publish_to: out.x"
    else
        fault_config "$T/jw.yaml" "sleep: 1ms" "reject_if_contains: please-reject"
    fi
    FP_HTTP="127.0.0.1:$(free_port)"
    echo "http: {listen: \"$FP_HTTP\"}" >>"$T/jw.yaml"
    "$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
    : >"$T/dead"
    for i in $(seq 1 10); do
        fault_pub 100 "m$i-"
        # A header of their own, which their letters must keep.
        "$JW" pub -s "$NATS_URL" -q work.x "{\"message_id\":\"r$i-%d\",\"x\":\"please-reject\"}" \
            --count 2 --id "r$i-%d" -H "X-Fault-Origin:batch-$i-%d" || fail "publish of rejects failed"
        printf 'r%s-1\nr%s-2\n' "$i" "$i" | tee -a "$T/published" >>"$T/dead"
    done
    jw_start jw "$T/jw.yaml" JW_FAILPOINT="$point" JW_FAILPOINT_SKIP="$skip"
    p=$(pid_of jw)
    rc=0
    wait "$p" || rc=$?
    [ $rc = 137 ] || fail "jetway with fail point $point exited with $rc, want 137 (SIGKILL)"
    grep -q "failpoint $point: killing the process" "$T/jw.log" || fail "fail point $point not hit"
    # The message the process died on, and its state as the kill left it.
    X=$(sed -n "s/.*failpoint $point: killing the process (message id \([^)]*\)).*/\1/p" "$T/jw.log")
    [ -n "$X" ] && [ "$X" != - ] || fail "the fail point logged no message id"
    key=$(rcli GET "jw:worker:$X")
    mid=$(committed worker)
    letters=$(si DLQ messages)
    att_x=$(count_in "attempt $X " "$T/effects")
    note "$point: killed on $X (key '${key:0:2}', $att_x attempts) after $mid committed, $letters letters"
    [ "$mid" -lt 1000 ] || fail "every message was committed before the crash; the test proves nothing"
    crash_window "$T/rerun"
    note "crash window: $(wc -l <"$T/rerun") ids handled but not marked done"
    # What only this window produces for X, before the restart.
    in_window=0
    grep -qxF -- "$X" "$T/rerun" && in_window=1
    case $point in
    after_claim)
        # Claimed, not yet handled: a live lease, no attempt, no effect.
        dedup_held worker "$X" || fail "after_claim: key of $X is '$key', want a P| lease"
        [ "$att_x" = 0 ] || fail "after_claim: $X was handled ($att_x attempts) before the kill"
        ;;
    after_handle)
        # Handled and its effect written (record.so does not fence), the
        # done marker not: the restart must repeat exactly this effect.
        [ "$att_x" = 1 ] || fail "after_handle: $X has $att_x attempts before the kill, want 1"
        [ $in_window = 1 ] || fail "after_handle: $X (key '$key') is not in the crash window"
        ;;
    after_commit)
        # Done marker written, the ACK not sent.
        dedup_done worker "$X" ok || fail "after_commit: key of $X is '$key', want D|ok"
        [ "$att_x" = 1 ] || fail "after_commit: $X has $att_x attempts before the kill, want 1"
        [ $in_window = 0 ] || fail "after_commit: $X is in the crash window"
        ;;
    after_dead_letter)
        # The letter is stored, the TERM was not sent.
        "$JW" dlq ls -c "$T/jw.yaml" --json >"$T/dlq_at_kill.json" || fail "dlq ls"
        n=$(python3 -c 'import json,sys; print(sum(l.get("message_id") == sys.argv[2] for l in json.load(open(sys.argv[1]))))' "$T/dlq_at_kill.json" "$X")
        [ "$n" = 1 ] || fail "after_dead_letter: $n letters for $X at the kill, want 1"
        grep -qxF -- "$X" "$T/dead" || fail "after_dead_letter: $X is not a rejected message"
        ;;
    esac

    jw_start jw2 "$T/jw.yaml"
    jw_wait_running jw2
    wait_for 60 si_ge DLQ messages 20 ||
        fail "expected 20 dead letters, have $(si DLQ messages)"
    extra=()
    if [ -n "${FAULT_PLUGIN:-}" ]; then
        wait_for 30 sh -c "[ \"\$(\"$JW\" pub -s $NATS_URL --stream-info OUT | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"messages\"])')\" -ge 1000 ]" ||
            fail "OUT holds $(si OUT messages) events, want 1000"
        extra=(--extra "plugin=${FAULT_PLUGIN%.so}")
    fi
    fault_check "fp_$point" --rerun "$T/rerun" --expect-dead "$T/dead" \
        --extra "killed_on=$X" --extra "killed_at=$mid" --extra "letters_before_kill=$letters" "${extra[@]}"
    if [ -n "${FAULT_PLUGIN:-}" ]; then
        [ "$(si OUT messages)" = 1000 ] || fail "OUT holds $(si OUT messages) events, want 1000 (one per message)"
        note "OUT: 1000 events, one per message, after the re-runs"
    fi
    # ... and after it.
    att_end=$(count_in "attempt $X " "$T/effects")
    curl -sf "http://$FP_HTTP/metrics" >"$T/metrics2" || fail "no /metrics from the restarted jetway"
    dups=$(python3 "$FAULT_LIB/../tools/promtext.py" get "$T/metrics2" jetway_dedup_total consumer=worker outcome=duplicate) ||
        fail "no duplicate count in /metrics"
    case $point in
    after_claim)
        [ "$att_end" = 1 ] || fail "after_claim: $X handled $att_end times, want once (after the restart)"
        ;;
    after_handle)
        [ "$att_end" = 2 ] || fail "after_handle: $X handled $att_end times, want 2"
        grep -q "record: duplicate commit of $X\"" "$T/jw2.log" ||
            fail "after_handle: the repeated effect of $X was not the one record.so saw twice"
        ;;
    after_commit)
        # Redelivered (never acked) and acked as a duplicate, not re-run.
        [ "$att_end" = 1 ] || fail "after_commit: $X handled $att_end times, want once"
        [ "$dups" -ge 1 ] || fail "after_commit: the restart acked no duplicate"
        ;;
    esac
    note "$X after the restart: $att_end attempts; the restart acked $dups duplicates"
    jw_stop jw2 || fail "the restarted jetway exited non-zero"
}
