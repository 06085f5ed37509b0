#!/bin/bash
# t_obs_ready_jetstream.sh -- readiness reflects what the role can do
# (issue 16 item 3): on a three-node cluster (tests/lib/cluster.sh) with R3
# streams, jetway connected to node 1 stays connected when nodes 2 and 3 go
# down, but JetStream has no quorum: after health.jetstream_timeout /readyz
# answers 503 "jetstream unavailable: ..."; once the nodes are back it is
# ready again by itself, and work published then is handled.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/cluster.sh"

cluster_start
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
HTTP_PORT=$(free_port)
BASE="http://127.0.0.1:$HTTP_PORT"
cat >"$T/jw.yaml" <<YAML
service: {name: jsready, workers: 2, shutdown_grace: 10s}
nats:
  servers: ["tls://127.0.0.1:${CPORT[1]}"]
  user: admin
  password_env: NATS_PW_ADMIN
  tls: {ca: "$T/ca.crt"}
  request_timeout: 2s
redis: {url: "$REDIS_URL"}
plugins:
  dir: $T/plugins
  instances:
    - {name: rec, file: record.so, config: {effects_file: "$T/effects"}}
streams:
  - {name: WORK, subjects: ["work.>"], replicas: 3}
  - {name: DLQ, subjects: ["dlq.>"], replicas: 3}
consumers:
  - {name: worker, stream: WORK, handler: rec, ack_wait: 10s, dead_letter: dlq.worker}
http: {listen: "127.0.0.1:$HTTP_PORT"}
health: {jetstream_timeout: 4s}
YAML

expect()
{
    c=$(curl -s --max-time 5 -o "$T/body" -w '%{http_code}' "$BASE$1") || return 1
    [ "$c" = "$2" ] || return 1
    [ -z "${3:-}" ] || grep -qF -- "$3" "$T/body"
}
must()
{
    wait_for "${4:-30}" expect "$1" "$2" "${3:-}" || {
        echo "last body: $(cat "$T/body" 2>/dev/null)" >&2
        fail "GET $1: wanted $2 ${3:-}"
    }
}

jw_start jw "$T/jw.yaml"
jw_wait_running jw 60
must /readyz 200 '"ready"' 60
pubn work.a 5 a- >/dev/null || fail pub
wait_for 60 sh -c "[ \$(grep -c '^attempt ' $T/effects 2>/dev/null || echo 0) -ge 5 ]" || fail "work not handled"

# Two of three nodes down: node 1 is up (jetway stays connected) but
# JetStream has no quorum.
for i in 2 3; do kill -TERM "$(pid_of n$i)"; done
for i in 2 3; do wait_for 20 sh -c "! kill -0 $(pid_of n$i) 2>/dev/null" || fail "node $i still up"; done
must /readyz 503 'jetstream unavailable: ' 60
note "not ready: $(cat "$T/body")"
grep -q 'nats disconnected' "$T/body" && fail "the reason should be JetStream, not the connection"
must /healthz 200 ok

# Back: ready again by itself.
for i in 2 3; do start_node $i; done
must /readyz 200 '"ready"' 90
# Ready means jetway's consumer works again; the stream's own leader may
# still be settling, so the publisher retries (same ids: no duplicates).
pub_b() { pubn work.a 5 b- >/dev/null 2>&1; }
wait_for 30 pub_b || fail "pub after recovery"
wait_for 60 sh -c "[ \$(grep -c '^attempt ' $T/effects) -ge 10 ]" || fail "work not handled after recovery"
jw_stop jw || fail "exit status"
echo "RESULT obs_ready_jetstream outage=503 recovered=200 handled=10"
