#!/bin/bash
# t_http.sh -- the operator endpoint over real sockets: /metrics in the
# Prometheus text format (checked by promtool when installed), /healthz
# following the loop heartbeat, /readyz with a reason for each way of not
# being ready, 404 and 405. tests/tools/obs_check serves it and takes state
# changes from a FIFO (held open here on fd 3).
source "$(dirname "$0")/../lib/harness.sh"

OBS="$JW_BUILD/tests/tools/obs_check"
[ -x "$OBS" ] || fail "missing $OBS (make all)"

mkfifo "$T/ctl"
exec 3<>"$T/ctl" # read-write: opening does not block, and the FIFO stays open
bg obs "$OBS" http "$T/port" "$T/ctl" 3>&-
wait_for 10 test -s "$T/port" || fail "obs_check did not start serving"
PORT=$(cat "$T/port")
BASE="http://127.0.0.1:$PORT"

send()
{
    echo "$*" >&3
}

# expect PATH CODE [TEXT]: GET PATH answers CODE with TEXT in the body.
expect()
{
    c=$(curl -s -o "$T/body" -w '%{http_code}' "$BASE$1") || return 1
    [ "$c" = "$2" ] || return 1
    [ -z "${3:-}" ] || grep -qF -- "$3" "$T/body"
}

must()
{
    wait_for 10 expect "$@" || {
        echo "last body: $(cat "$T/body" 2>/dev/null)" >&2
        fail "GET $1: wanted $2 ${3:-}"
    }
}

# /metrics: format, content type and values.
curl -s -D "$T/headers" -o "$T/metrics" "$BASE/metrics" || fail "GET /metrics"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/headers" ||
    fail "content type: $(grep -i content-type "$T/headers")"
C='service="obs",consumer="orders",stream="ORDERS",handler="order"'
for line in \
    "jetway_messages_received_total{$C} 5" \
    "jetway_messages_settled_total{$C,result=\"ack\"} 4" \
    "jetway_dead_letters_total{$C} 1" \
    "jetway_consumer_pending_messages{$C} 17" \
    "jetway_consumer_bound{$C} 1" \
    "jetway_handler_duration_seconds_bucket{$C,le=\"0.0025\"} 1" \
    "jetway_handler_duration_seconds_count{$C} 1" \
    'jetway_nats_connected{service="obs"} 1' \
    'jetway_config_info{service="obs",digest="0123456789abcdef"} 1' \
    'jetway_plugin_info{service="obs",instance="order",plugin="order",version="1.0.0",abi="1.0"} 1' \
    'jetway_plugin_orders_accepted_total{service="obs",plugin="order"} 3'; do
    grep -qxF -- "$line" "$T/metrics" || fail "/metrics lacks: $line"
done
[ "$(grep -c '^# TYPE jetway_messages_received_total counter$' "$T/metrics")" = 1 ] ||
    fail "TYPE line of jetway_messages_received_total not exactly once"
if command -v promtool >/dev/null 2>&1; then
    promtool check metrics <"$T/metrics" || fail "promtool check metrics"
    note "promtool check metrics: ok"
else
    note "promtool not installed (Debian package prometheus): format check skipped"
fi

# /healthz follows the heartbeat.
must /healthz 200 ok
send stall
must /healthz 503 '"status":"stalled"'
since=$(sed -n 's/.*"since_ms":\([0-9]*\).*/\1/p' "$T/body")
[ -n "$since" ] && [ "$since" -ge 5000 ] || fail "since_ms: $(cat "$T/body")"
send beat
must /healthz 200 ok

# /readyz: ready, then every reason in turn.
must /readyz 200 '{"status":"ready"}'
send redis 0
must /readyz 503 '{"status":"not ready","reason":"redis unreachable"}'
send needs_redis 0 # no consumer dedups through Redis: it does not matter
must /readyz 200 '"ready"'
send needs_redis 1
send redis 1
send bound 0
must /readyz 503 '"reason":"consumer orders not bound"'
must /metrics 200 "jetway_consumer_bound{$C} 0"
send bound 1
send nats 0
must /readyz 503 '"reason":"nats disconnected"'
must /metrics 200 'jetway_nats_connected{service="obs"} 0'
send nats 1
send draining 1
must /readyz 503 '"reason":"draining"'
send draining 0
must /readyz 200 '{"status":"ready"}'

# Other paths and methods.
must /nope 404
c=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$BASE/metrics")
[ "$c" = 405 ] || fail "POST /metrics answered $c"
c=$(curl -s -o /dev/null -w '%{http_code}' -I "$BASE/healthz")
[ "$c" = 200 ] || fail "HEAD /healthz answered $c"

send quit
wait_for 10 sh -c "! kill -0 $(pid_of obs) 2>/dev/null" || fail "obs_check did not exit on quit"
# A child of this shell: wait gives its status (sanitizer reports make it non-zero).
wait "$(pid_of obs)"
rc=$?
[ $rc -eq 0 ] || fail "obs_check exited with $rc"
grep -q 'ok draining 0' "$T/obs.log" || fail "obs_check did not acknowledge commands"
echo "t_http: ok"
