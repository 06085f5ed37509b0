#!/bin/bash
# t_obs_pending.sh -- jetway_consumer_pending_messages (the autoscaling
# signal) and jetway_consumer_ack_pending_messages follow the server while
# the consumer is held back (the fetcher refreshes them every ~2 s):
#  1. paused: redis-server stopped, so the dedup consumers stop fetching;
#     messages published meanwhile show as pending (but for at most the
#     credits taken by the pull request already open), none in flight; Redis
#     back: they are processed and pending returns to 0;
#  2. blocked: a handler that sleeps (record.so sleep 60s) with
#     max_ack_pending 2: two messages are ack-pending, the rest pending.
# Every number is compared with the server's own consumer info.
source "$(dirname "$0")/../lib/harness.sh"
source "$(dirname "$0")/../lib/jetway.sh"

PT="python3 $(dirname "$0")/../tools/promtext.py"
start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
HTTP_PORT=$(free_port)
URL="http://127.0.0.1:$HTTP_PORT/metrics"
record_config "$T/jw.yaml" "{name: pending, workers: 4}" "" \
    "    - {name: slow, file: record.so, config: {effects_file: \"$T/slow\", sleep: 60s}}"
cat >>"$T/jw.yaml" <<YAML
consumers:
  - {name: q, stream: WORK, filter_subject: work.q, handler: rec, ack_wait: 10s,
     batch: 5, dead_letter: dlq.q}
  - {name: s, stream: WORK, filter_subject: work.s, handler: slow, ack_wait: 120s,
     max_ack_pending: 2, concurrency: 2, batch: 1, dead_letter: dlq.s}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML

# metric NAME CONSUMER: its value in a fresh scrape.
metric()
{
    curl -sf "$URL" >"$T/m" || return 1
    $PT get "$T/m" "$1" "consumer=$2"
}
# is CONSUMER PENDING ACK_PENDING IN_FLIGHT: /metrics and the server agree.
is()
{
    [ "$(metric jetway_consumer_pending_messages "$1")" = "$2" ] &&
        [ "$($PT get "$T/m" jetway_consumer_ack_pending_messages "consumer=$1")" = "$3" ] &&
        [ "$($PT get "$T/m" jetway_in_flight_messages "consumer=$1")" = "$4" ] &&
        [ "$(ci WORK "$1" num_pending)" = "$2" ] &&
        [ "$(ci WORK "$1" num_ack_pending)" = "$3" ]
}
show()
{
    echo "metrics: pending $(metric jetway_consumer_pending_messages "$1")" \
        "ack_pending $($PT get "$T/m" jetway_consumer_ack_pending_messages "consumer=$1")" \
        "in_flight $($PT get "$T/m" jetway_in_flight_messages "consumer=$1");" \
        "server: $(ci WORK "$1" num_pending)/$(ci WORK "$1" num_ack_pending)"
}

jw_start jw "$T/jw.yaml"
jw_wait_running jw
wait_for 20 is q 0 0 0 || fail "q at rest: $(show q)"

# 1. Paused by a Redis outage.
N=30
stop_redis
wait_for 20 sh -c "curl -sf '$URL' | grep -qx 'jetway_redis_connected{service=\"pending\"} 0'" ||
    fail "jetway did not notice the Redis outage"
# The pull request the fetcher keeps open (continuous pull, asking for its
# credits: max_ack_pending, 2 x batch = 10 here) was sent before the outage
# and may still take up to 10 of them; they wait unhandled on the fetcher's
# inbox until Redis is back, and the server counts them as ack-pending.
# Everything else stays pending: no new request is sent while paused.
pubn work.q $N q- || fail "pub q"
paused_ok()
{
    pend=$(metric jetway_consumer_pending_messages q) &&
        ack=$($PT get "$T/m" jetway_consumer_ack_pending_messages consumer=q) &&
        [ "$pend" -ge $((N - 10)) ] && [ $((pend + ack)) = $N ] &&
        [ "$($PT get "$T/m" jetway_in_flight_messages consumer=q)" = 0 ] &&
        [ "$(ci WORK q num_pending)" = "$pend" ] && [ "$(ci WORK q num_ack_pending)" = "$ack" ]
}
wait_for 20 paused_ok || fail "paused: $(show q)"
note "paused: pending $pend + ack pending $ack (taken by the pull already open, held unhandled) of $N, 0 in flight, server and /metrics agree"
[ "$(attempts "$T/effects")" = 0 ] || fail "handled while Redis was down"
restart_redis
wait_drained WORK q 30 || fail "q did not drain after Redis came back"
wait_for 20 is q 0 0 0 || fail "q after the outage: $(show q)"
[ "$(committed q)" = $N ] || fail "committed $(committed q) of $N"

# 2. Blocked in the handler: 2 ack-pending (max_ack_pending), the rest pending.
M=20
pubn work.s $M s- || fail "pub s"
wait_for 20 is s $((M - 2)) 2 2 || fail "blocked: $(show s)"
[ "$(attempts "$T/slow")" = 2 ] || fail "slow attempts: $(attempts "$T/slow")"
note "blocked: pending $((M - 2)), ack pending 2, in flight 2 (server and /metrics)"
$PT check "$T/m" || fail "scrape not well-formed"

# Stop without waiting for the 60 s handlers: a second SIGINT exits at once.
p=$(pid_of jw)
kill -INT "$p"
wait_for 30 grep -q '"msg":"SIGINT: draining' "$T/jw.log" || fail "no drain on SIGINT"
kill -INT "$p"
wait_gone "$p" || fail "second SIGINT did not exit"
echo "RESULT obs_pending paused_pending=$pend paused_ack_pending=$ack blocked_pending=$((M - 2)) blocked_ack_pending=2"
