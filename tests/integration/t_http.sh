#!/bin/bash
# t_http.sh -- the operator endpoint over real sockets: /metrics in the
# Prometheus text format (checked by promtool), /healthz
# following the loop heartbeat, /readyz with a reason for each way of not
# being ready, 404 and 405; then what the small server core/obs/http.c must
# guarantee: HTTP/1.0 and 1.1, HEAD without a body, queries ignored,
# Connection: close and Content-Length on every answer, 431 for a head over
# 8 KiB, the connection limit (the oldest idle connection makes room), 100
# clients at once, and a timeout on clients that send too little. tests/tools/obs_check serves it and takes
# state changes from a FIFO (held open here on fd 3).
source "$(dirname "$0")/../lib/harness.sh"

OBS="$JW_BUILD/tests/tools/obs_check"
[ -x "$OBS" ] || fail "missing $OBS (make all)"

mkfifo "$T/ctl"
exec 3<>"$T/ctl" # read-write: opening does not block, and the FIFO stays open
bg obs "$OBS" http "$T/port" "$T/ctl" 3>&-
wait_for 30 test -s "$T/port" || fail "obs_check did not start serving"
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
    wait_for 30 expect "$@" || {
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
need_tool promtool prometheus
promtool check metrics <"$T/metrics" || fail "promtool check metrics"
note "promtool check metrics: ok"

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
c=$(curl -s -o /dev/null -D "$T/h405" -w '%{http_code}' -X POST --data x "$BASE/metrics")
[ "$c" = 405 ] || fail "POST /metrics answered $c"
grep -qi '^Allow: GET, HEAD' "$T/h405" || fail "405 without Allow: $(cat "$T/h405")"
c=$(curl -s -o /dev/null -w '%{http_code}' -I "$BASE/healthz")
[ "$c" = 200 ] || fail "HEAD /healthz answered $c"
# A large body is not read, yet the client gets the 405 (no reset).
c=$(head -c 1000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X POST \
    --data-binary @- "$BASE/metrics")
[ "$c" = 405 ] || fail "POST of 1 MB to /metrics answered $c"
must '/metrics?x=1' 200 "jetway_nats_connected{service=\"obs\"} 1"
must '/healthz?probe=kubelet' 200 ok

# raw REQUEST OUT: send REQUEST (printf format) on a fresh connection and
# read the answer until the server closes it (the read is bounded).
raw()
{
    exec 5<>"/dev/tcp/127.0.0.1/$PORT" || return 1
    # shellcheck disable=SC2059
    printf "$1" >&5
    timeout 20 cat <&5 >"$2"
    r=$?
    exec 5<&-
    return $r
}

# ends_with FILE BYTES: FILE ends with BYTES (printf format), byte for byte.
ends_with()
{
    # shellcheck disable=SC2059
    n=$(printf "$2" | wc -c)
    # shellcheck disable=SC2059
    tail -c "$n" "$1" | cmp -s - <(printf "$2")
}

# Every answer says Connection: close and carries its Content-Length.
raw 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' "$T/r11" || fail "GET over HTTP/1.1 not closed"
grep -q $'^HTTP/1.1 200 OK\r$' "$T/r11" || fail "HTTP/1.1 answer: $(cat "$T/r11")"
grep -q $'^Connection: close\r$' "$T/r11" || fail "no Connection: close: $(cat "$T/r11")"
grep -q $'^Content-Length: 3\r$' "$T/r11" || fail "no Content-Length: $(cat "$T/r11")"
ends_with "$T/r11" '\r\n\r\nok\n' || fail "HTTP/1.1 body: $(cat "$T/r11")"
raw 'GET /healthz HTTP/1.0\r\n\r\n' "$T/r10" || fail "GET over HTTP/1.0 not closed"
grep -q $'^HTTP/1.0 200 OK\r$' "$T/r10" || fail "HTTP/1.0 answer: $(cat "$T/r10")"
ends_with "$T/r10" '\r\n\r\nok\n' || fail "HTTP/1.0 body: $(cat "$T/r10")"
# HEAD: the headers of GET (Content-Length included), no body.
raw 'HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n' "$T/rhead" || fail "HEAD not closed"
grep -q $'^Content-Length: 18\r$' "$T/rhead" || fail "HEAD Content-Length: $(cat "$T/rhead")"
ends_with "$T/rhead" '\r\n\r\n' || fail "HEAD has a body: $(cat "$T/rhead")"
raw 'garbage\r\n\r\n' "$T/rbad" || fail "bad request line not closed"
grep -q '^HTTP/1.1 400 ' "$T/rbad" || fail "bad request line: $(cat "$T/rbad")"

# A request head over the 8 KiB buffer gets 431, and serving goes on.
BIG=$(head -c 9000 /dev/zero | tr '\0' a)
c=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $BIG" "$BASE/healthz")
[ "$c" = 431 ] || fail "9000-byte header answered $c"
must /healthz 200 ok

# 100 clients at once: each is answered or closed (curl's exit 52/56),
# none hangs until its own timeout (exit 28), and serving goes on.
seq 1 100 | xargs -P 100 -I{} curl -s -o /dev/null --max-time 30 \
    -w '%{http_code} %{exitcode}\n' "$BASE/metrics" >"$T/par" || true
[ "$(wc -l <"$T/par")" = 100 ] || fail "parallel: $(wc -l <"$T/par") results"
bad=$(grep -cvE '^(200 0|000 5[26])$' "$T/par" || true)
[ "$bad" = 0 ] || fail "parallel: $(sort "$T/par" | uniq -c | tr '\n' ' ')"
grep -q '^200 0$' "$T/par" || fail "parallel: no request answered"
note "100 parallel GET /metrics: $(sort "$T/par" | uniq -c | tr '\n' ' ')"
must /healthz 200 ok

# The connection limit: with 64 idle connections held open, one more is
# still answered (a probe must always get in): the oldest idle one is
# dropped to make room, the newest held ones stay open.
python3 - "$PORT" <<'PY' || fail "connection limit"
import socket, sys
port = int(sys.argv[1])
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=20)
held = [conn() for _ in range(64)]
extra = conn()
extra.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
got = b""
while True:
    d = extra.recv(4096)
    if not d:
        break
    got += d
if not got.startswith(b"HTTP/1.1 200 "):
    sys.exit("connection 65 was not answered: %r" % got)
try:
    first = held[0].recv(100)
except ConnectionResetError:
    first = b""
if first:
    sys.exit("the dropped connection got data: %r" % first)
held[-1].setblocking(False)
try:
    held[-1].recv(100)
    sys.exit("the newest held connection was closed")
except BlockingIOError:
    pass
for s in held:
    s.close()
PY
must /healthz 200 ok

# A client that stops mid-request (slowloris) or sends nothing is
# disconnected by the server (3 s); the read here gives up after 30 s.
exec 6<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect"
exec 7<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&6
timeout 30 cat <&6 >"$T/slow" || fail "a half-sent request was not disconnected"
timeout 30 cat <&7 >"$T/idle" || fail "an idle connection was not disconnected"
exec 6<&- 7<&-
[ ! -s "$T/slow" ] && [ ! -s "$T/idle" ] || fail "timed-out connections got an answer"
must /healthz 200 ok

send quit
wait_gone "$(pid_of obs)" || fail "obs_check did not exit on quit"
# A child of this shell: wait gives its status (sanitizer reports make it non-zero).
wait "$(pid_of obs)"
rc=$?
[ $rc -eq 0 ] || fail "obs_check exited with $rc"
grep -q 'ok draining 0' "$T/obs.log" || fail "obs_check did not acknowledge commands"
echo "t_http: ok"
