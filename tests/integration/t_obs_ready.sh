#!/bin/bash
# t_obs_ready.sh -- /healthz and /readyz of a real running host: ready while
# running; 503 with a JSON reason while redis-server is stopped (its
# consumer dedups through Redis) and ready again once it is back; the same
# for nats-server; and 503 "draining" from the moment a drain starts, while
# a slow handler is still in flight (the HTTP endpoint stays up until the
# drain is over; /healthz stays 200), after which the slow message is
# committed and jetway exits 0.
source "$(dirname "$0")/../lib/harness.sh"
source "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
HTTP_PORT=$(free_port)
BASE="http://127.0.0.1:$HTTP_PORT"
RECORD_NATS_EXTRA=", reconnect_wait: 100ms, reconnect_wait_max: 500ms" \
    record_config "$T/jw.yaml" "{name: ready, workers: 2, shutdown_grace: 60s}" "sleep: 4s"
cat >>"$T/jw.yaml" <<YAML
consumers:
  - {name: worker, stream: WORK, handler: rec, ack_wait: 30s, concurrency: 1,
     dead_letter: dlq.worker}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML

# expect PATH CODE [TEXT]: GET PATH answers CODE with TEXT in the body.
expect()
{
    c=$(curl -s -o "$T/body" -w '%{http_code}' "$BASE$1") || return 1
    [ "$c" = "$2" ] || return 1
    [ -z "${3:-}" ] || grep -qF -- "$3" "$T/body"
}
must()
{
    wait_for "${4:-20}" expect "$1" "$2" "${3:-}" || {
        echo "last body: $(cat "$T/body" 2>/dev/null)" >&2
        fail "GET $1: wanted $2 ${3:-}"
    }
}
# The body is JSON with exactly these fields.
json_is()
{
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d == json.loads(sys.argv[2]), d' \
        "$T/body" "$1" || fail "body $(cat "$T/body") is not $1"
}

jw_start jw "$T/jw.yaml"
jw_wait_running jw
must /healthz 200 ok
must /readyz 200
json_is '{"status":"ready"}'
checks=2

# Redis down: the dedup consumer cannot claim, so not ready.
stop_redis
must /readyz 503 "redis unreachable"
# The reason says what failed after the kind ("redis unreachable: connection lost: ...").
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d) == {"status","reason"} and d["status"] == "not ready" and d["reason"].startswith("redis unreachable: "), d' \
    "$T/body" || fail "body $(cat "$T/body") is not a 'redis unreachable: ...' reason"
must /healthz 200 ok
must /metrics 200 'jetway_redis_connected{service="ready"} 0'
restart_redis
must /readyz 200
json_is '{"status":"ready"}'
checks=$((checks + 4))

# NATS down: not ready; back (reconnected, consumer bound): ready.
stop_nats
must /readyz 503 "nats disconnected"
json_is '{"status":"not ready","reason":"nats disconnected"}'
restart_nats
must /readyz 200 '"ready"' 30
checks=$((checks + 2))

# The work still flows after both outages.
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"slow-1"}' --id slow-1 || fail pub
wait_for 30 grep -q '^attempt slow-1 ' "$T/effects" || fail "slow-1 not started"

# Drain with slow-1 in its handler (4 s): 503 at once, the endpoint stays up.
kill -TERM "$(pid_of jw)"
wait_for 30 grep -q '"msg":"SIGTERM: draining' "$T/jw.log" || fail "no drain"
expect /readyz 503 || fail "/readyz not 503 right after the drain began: $(cat "$T/body")"
json_is '{"status":"not ready","reason":"draining"}'
expect /healthz 200 ok || fail "/healthz during the drain: $(cat "$T/body")"
expect /metrics 200 'jetway_draining{service="ready"} 1' || fail "jetway_draining not 1"
# In flight now, so (nothing new is fetched while draining) also during
# the checks above.
expect /metrics 200 'jetway_in_flight_messages{service="ready",consumer="worker",stream="WORK",handler="rec"} 1' ||
    fail "slow-1 not in flight during the drain"
checks=$((checks + 4))
rc=0
wait "$(pid_of jw)" || rc=$?
[ $rc = 0 ] || fail "jetway exited $rc"
[ "$(committed worker)" = 1 ] || fail "slow-1 was not committed by the drain"
port_open "$HTTP_PORT" && fail "HTTP still listening after exit"
echo "RESULT obs_ready checks=$checks redis_outage=503 nats_outage=503 drain=503 exit=0"
