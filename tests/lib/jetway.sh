# tests/lib/jetway.sh -- helpers for tests that run the jetway binary.
# Source after harness.sh.
#
#   jw_start NAME CONFIG [env...]  start `jetway run` in the background, pid
#                                  file $T/NAME.pidfile, log $T/NAME.log
#   jw_wait_running NAME           wait until it logs "jetway running"
#   jw_stop NAME                   SIGTERM and wait for exit; returns its status
#   jw_require_failpoints          fail at once unless $JW has fail points
#   ci STREAM CONSUMER FIELD       one field of the consumer's info
#   si STREAM FIELD                one field of the stream's info
#   wait_drained STREAM CONSUMER [SECS]  num_pending == 0 and num_ack_pending == 0
#   si_eq / si_ge STREAM FIELD N   the stream's FIELD = / >= N (for wait_for)
#   committed_ge CONSUMER N        record.so committed at least N (for wait_for)
#   committed CONSUMER             distinct ids committed by record.so
#   dupcommits CONSUMER            second commits record.so saw (must be 0)
#   attempts FILE                  attempt lines in record.so's effects file
#   pubn SUBJECT N [ID_PREFIX]     publish N JSON messages with ids PREFIX%d
#   dedup_value CONSUMER ID        the host's dedup key of ID (prefix jw)
#   dedup_done CONSUMER ID [MARK]  the key is a done marker (D|MARK, any mark)
#   dedup_held CONSUMER ID [TOKEN] the key is a claim (P|TOKEN, any token)
#   record_config FILE SERVICE [REC [MORE [SO]]]  write the head of a
#                                  config: service SERVICE (a YAML flow
#                                  mapping), the servers, instance "rec" of
#                                  record.so or SO (effects in $T/effects,
#                                  REC: more of its config), MORE (instance
#                                  list items, as YAML lines), streams WORK
#                                  (work.>) and DLQ (dlq.>); the caller
#                                  appends `consumers:`. RECORD_NATS_EXTRA
#                                  adds ", key: value" to the nats mapping

jw_start()
{
    name=$1
    cfg=$2
    shift 2
    env "$@" "$JW" run -c "$cfg" --pid-file "$T/$name.pidfile" >>"$T/$name.log" 2>&1 &
    pid=$!
    echo "$pid" >"$T/$name.pid"
    JW_PIDS="$JW_PIDS $pid"
}

jw_wait_running()
{
    wait_for "${2:-30}" grep -q '"msg":"jetway running' "$T/$1.log" ||
        fail "$1 did not start: $(tail -n 5 "$T/$1.log")"
}

jw_stop()
{
    p=$(pid_of "$1")
    # Already gone is no excuse: its exit status is still the answer.
    kill -TERM "$p" 2>/dev/null
    rc=0
    wait "$p" || rc=$?
    return $rc
}

# A test that crashes jetway at a fail point waits for a kill that a plain
# build never delivers; refuse such a binary in seconds, naming the cause.
jw_require_failpoints()
{
    v=$("$JW" version) || fail "$JW version failed"
    printf '%s\n' "$v" | grep -qx 'failpoints: on' ||
        fail "$JW was built without fail points; this test needs a FAILPOINTS=1 build (make FAILPOINTS=1 all, or make integration)"
}

ci()
{
    "$JW" pub -s "$NATS_URL" --consumer-info "$1" "$2" 2>/dev/null |
        python3 -c "import json,sys; print(json.load(sys.stdin)['$3'])"
}

si()
{
    "$JW" pub -s "$NATS_URL" --stream-info "$1" 2>/dev/null |
        python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

si_eq()
{
    [ "$(si "$1" "$2")" = "$3" ]
}

si_ge()
{
    v=$(si "$1" "$2") && [ "$v" -ge "$3" ]
}

committed_ge()
{
    [ "$(committed "$1")" -ge "$2" ]
}

drained()
{
    [ "$(ci "$1" "$2" num_pending)" = 0 ] && [ "$(ci "$1" "$2" num_ack_pending)" = 0 ]
}

wait_drained()
{
    wait_for "${3:-60}" drained "$1" "$2"
}

committed()
{
    rcli SCARD "jwtest:committed:$1"
}

dupcommits()
{
    v=$(rcli GET "jwtest:dupcommit:$1")
    echo "${v:-0}"
}

attempts()
{
    count_in "attempt " "$1"
}

pubn()
{
    "$JW" pub -s "$NATS_URL" -q "$1" "{\"message_id\":\"${3:-m-}%d\",\"n\":%d}" \
        --count "$2" --id "${3:-m-}%d"
}

dedup_value()
{
    rcli GET "jw:$1:$2"
}

dedup_done()
{
    v=$(dedup_value "$1" "$2") || return 1
    case "$v" in "D|${3:-}"*) [ -z "${3:-}" ] || [ "$v" = "D|$3" ] ;; *) return 1 ;; esac
}

dedup_held()
{
    v=$(dedup_value "$1" "$2") || return 1
    case "$v" in "P|${3:-}"*) [ -z "${3:-}" ] || [ "$v" = "P|$3" ] ;; *) return 1 ;; esac
}

record_config()
{
    {
        cat <<YAML
service: $2
nats: {servers: ["$NATS_URL"]${RECORD_NATS_EXTRA:-}}
redis: {url: "$REDIS_URL"}
plugins:
  dir: $T/plugins
  instances:
    - name: rec
      file: ${5:-record.so}
      config: {effects_file: "$T/effects"${3:+, $3}}
YAML
        [ -z "${4:-}" ] || printf '%s\n' "$4"
        cat <<YAML
streams:
  - {name: WORK, subjects: ["work.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
YAML
    } >"$1"
}
