#!/bin/bash
# t_says_why.sh -- `run` says what is wrong (issue 15, item 2). The HTTP
# endpoint answers before NATS connects (/healthz 200 "starting", /readyz
# 503 with the reason) and the reason names the failure: NATS unreachable,
# JetStream not enabled, NATS authorization refused, Redis authentication
# refused (WRONGPASS, NOAUTH). A refusal is an error: run exits 1 after
# max_auth_failures refusals in a row, or keeps retrying with --retry-auth
# (or max_auth_failures: 0). A clean stop logs no reconnect warning.
. tests/lib/harness.sh
. tests/lib/jetway.sh
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/ack.so"
n=0
ok() { n=$((n + 1)); }

# cfg FILE NATS_URL [REDIS_URL [NATS-EXTRA [REDIS-EXTRA]]]: one dedup consumer when REDIS_URL.
cfg()
{
    HTTP_PORT=$(free_port)
    {
        echo "service: {name: why}"
        echo "nats: {servers: [\"$2\"]${4:+, $4}}"
        [ -z "${3:-}" ] || echo "redis: {url: \"$3\"${5:+, $5}}"
        cat <<YAML
plugins: {dir: $T/plugins, instances: [{name: ack, file: ack.so}]}
streams: [{name: WHY, subjects: ["why.>"]}, {name: DLQ, subjects: ["dlq.>"]}]
consumers:
  - {name: why, stream: WHY, handler: ack, dead_letter: dlq.why, dedup: {enabled: $([ -n "${3:-}" ] && echo true || echo false)}}
http: {listen: "127.0.0.1:$HTTP_PORT"}
log: {format: json, level: info}
YAML
    } >"$1"
}
ready() { curl -s "http://127.0.0.1:$HTTP_PORT/readyz"; }
# wait_reason TEXT: /readyz is 503 and its reason contains TEXT
has_reason() { r=$(ready) && case "$r" in *"not ready"*"$1"*) true ;; *) false ;; esac; }
wait_reason() { wait_for 30 has_reason "$1" || fail "readyz never said '$1' (last: $(ready))"; }
exited() { ! kill -0 "$(pid_of "$1")" 2>/dev/null; }
status_of() { local rc=0; wait "$(pid_of "$1")" || rc=$?; echo $rc; }

# 1. NATS not there yet: HTTP answers at once, says why; ready once it comes
NATS_PORT=$(free_port)
cfg "$T/a.yaml" "nats://127.0.0.1:$NATS_PORT"
jw_start a "$T/a.yaml"
wait_reason "nats unreachable"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz")" = 200 ] ||
    fail "/healthz is not 200 while starting"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -q '^jetway_nats_connected{.*} 0' ||
    fail "/metrics does not answer while starting"
start_nats
wait_for 30 sh -c "curl -sf http://127.0.0.1:$HTTP_PORT/readyz >/dev/null" ||
    fail "not ready after NATS came: $(ready)"
ok

# 2. a clean stop: exit 0 and no reconnect warning
jw_stop a || fail "run exited non-zero on SIGTERM"
grep -q "disconnected; reconnecting" "$T/a.log" && fail "a clean stop logged a reconnect warning"
ok

# 3. JetStream not enabled
JS_OFF=$(free_port)
bg nats-nojs nats-server -a 127.0.0.1 -p "$JS_OFF"
wait_for 20 port_open "$JS_OFF" || fail "nats-server (no JetStream) did not start"
cfg "$T/b.yaml" "nats://127.0.0.1:$JS_OFF"
jw_start b "$T/b.yaml"
wait_reason "nats JetStream not enabled"
grep -q "JetStream is not enabled" "$T/b.log" || fail "the log does not say JetStream is off"
kill -TERM "$(pid_of b)"
ok

# 4. authorization refused: an error, exit 1 after max_auth_failures (here 2)
AUTH_PORT=$(free_port)
printf 'jetstream {store_dir: "%s"}\nauthorization { users = [ {user: app, password: "right-pw"} ] }\n' \
    "$T/nats-auth" >"$T/auth.conf"
bg nats-auth nats-server -a 127.0.0.1 -p "$AUTH_PORT" -c "$T/auth.conf"
wait_for 20 port_open "$AUTH_PORT" || fail "nats-server (auth) did not start"
cfg "$T/c.yaml" "nats://127.0.0.1:$AUTH_PORT" "" "user: app, password: wrong-pw, max_auth_failures: 2"
jw_start c "$T/c.yaml"
wait_for 60 exited c || fail "run kept retrying refused credentials"
[ "$(status_of c)" = 1 ] || fail "run refused by NATS did not exit 1"
grep -q '"level":"error".*authorization refused 2 times in a row.*Authorization Violation' "$T/c.log" ||
    fail "no clear error: $(tail -n 3 "$T/c.log")"
grep -q "wrong-pw" "$T/c.log" && fail "the password was logged"
ok

# 5. --retry-auth keeps retrying, /readyz says why; the right password then works
cfg "$T/d.yaml" "nats://127.0.0.1:$AUTH_PORT" "" "user: app, password: wrong-pw, max_auth_failures: 1"
"$JW" run -c "$T/d.yaml" --retry-auth >>"$T/d2.log" 2>&1 &
echo $! >"$T/d2.pid"
JW_PIDS="$JW_PIDS $!"
wait_reason "nats authorization refused"
# well past one refusal and still running
wait_for 30 sh -c "[ \$(grep -c 'authorization refused' '$T/d2.log') -ge 2 ]" ||
    fail "--retry-auth: no second refusal logged: $(tail -n 3 "$T/d2.log")"
exited d2 && fail "--retry-auth exited"
kill -TERM "$(pid_of d2)"
ok

# 6. Redis: NOAUTH (no password given) and WRONGPASS are refusals, not "unreachable"
REDIS_PORT=$(free_port)
bg redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --requirepass right-redis-pw
wait_for 20 port_open "$REDIS_PORT" || fail "redis-server did not start"
cfg "$T/e.yaml" "$NATS_URL" "redis://127.0.0.1:$REDIS_PORT" "" "max_auth_failures: 0"
jw_start e "$T/e.yaml"
wait_reason "redis authentication refused"
ready | grep -q "NOAUTH" || fail "NOAUTH not named: $(ready)"
kill -TERM "$(pid_of e)"
cfg "$T/f.yaml" "$NATS_URL" "redis://:wrong-redis-pw@127.0.0.1:$REDIS_PORT"
jw_start f "$T/f.yaml"
wait_for 60 exited f || fail "run kept retrying a wrong Redis password"
[ "$(status_of f)" = 1 ] || fail "run refused by Redis did not exit 1"
grep -q "WRONGPASS" "$T/f.log" || fail "WRONGPASS not logged: $(tail -n 3 "$T/f.log")"
grep -q '"level":"error".*redis: the server refused our credentials 3 times' "$T/f.log" ||
    fail "no clear Redis error: $(tail -n 3 "$T/f.log")"
grep -q "wrong-redis-pw" "$T/f.log" && fail "the Redis password was logged"
ok

echo "RESULT t_says_why ok ($n checks)"
