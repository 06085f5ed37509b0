#!/bin/bash
# t_deploy_cluster.sh -- jetway on the 3-node JetStream cluster of
# deploy/nats (its nats.conf and auth.conf, TLS on clients and routes): R3
# streams, N messages processed, then the node jetway is connected to is
# killed with SIGKILL while a backlog is being processed; jetway reconnects
# and every message is committed exactly once (record.so + Redis), and the
# two remaining nodes keep accepting publishes.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

make_certs "$T" node

export NATS_TLS_CERT="$T/node.crt" NATS_TLS_KEY="$T/node.key" NATS_TLS_CA="$T/ca.crt"
for u in SYS ADMIN ORDER PAYMENT INVENTORY AUDIT; do
    export "NATS_PW_$u=pw-$u-$RANDOM$RANDOM"
done
export SSL_CERT_FILE="$T/ca.crt" # for `jetway pub` (no TLS options of its own)
for i in 1 2 3; do
    CPORT[$i]=$(free_port)
    RPORT[$i]=$(free_port)
    MPORT[$i]=$(free_port)
done
export NATS_ROUTE_1="nats-route://127.0.0.1:${RPORT[1]}" \
    NATS_ROUTE_2="nats-route://127.0.0.1:${RPORT[2]}" \
    NATS_ROUTE_3="nats-route://127.0.0.1:${RPORT[3]}"
# Each node: deploy/nats's files; only the monitoring port differs (three
# nodes share this host), still on loopback.
for i in 1 2 3; do
    mkdir -p "$T/n$i/js"
    cp deploy/nats/auth.conf "$T/n$i/"
    sed "s|^http: 127.0.0.1:8222$|http: 127.0.0.1:${MPORT[$i]}|" deploy/nats/nats.conf >"$T/n$i/nats.conf"
    grep -q "^http: 127.0.0.1:${MPORT[$i]}$" "$T/n$i/nats.conf" ||
        fail "deploy/nats/nats.conf: no loopback monitoring line"
done
start_node()
{
    i=$1
    NATS_SERVER_NAME="n$i" NATS_CLIENT_LISTEN="127.0.0.1:${CPORT[$i]}" \
        NATS_CLUSTER_LISTEN="127.0.0.1:${RPORT[$i]}" NATS_STORE_DIR="$T/n$i/js" \
        bg "n$i" nats-server -c "$T/n$i/nats.conf"
}
for i in 1 2 3; do start_node $i; done
for i in 1 2 3; do
    wait_for 20 port_open "${CPORT[$i]}" || fail "node $i did not start"
    grep -q "Starting http monitor on 127.0.0.1:${MPORT[$i]}" "$T/n$i.log" ||
        fail "node $i: monitoring not on loopback"
done
url() { echo "tls://admin:$NATS_PW_ADMIN@127.0.0.1:${CPORT[$1]}"; }
# The CLI (ci, si, pubn) talks to one node.
NATS_URL=$(url 1)
export NATS_URL
# The JetStream meta group has a leader when the API answers "not found".
wait_for 30 sh -c "'$JW' pub --stream-info NONE 2>&1 | grep -q 'not found'" ||
    fail "no JetStream meta leader: $("$JW" pub --stream-info NONE 2>&1)"
for i in 1 2 3; do
    wait_for 20 sh -c "curl -s http://127.0.0.1:${MPORT[$i]}/routez | grep -q '\"num_routes\": 2'" ||
        fail "node $i does not route to both others"
done
grep -q 'TLS required for client connections' "$T/n1.log" || fail "client TLS is off"

start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
cat >"$T/jw.yaml" <<YAML
service: {name: cluster-test, workers: 4, shutdown_grace: 10s}
nats:
  servers: ["tls://127.0.0.1:${CPORT[1]}", "tls://127.0.0.1:${CPORT[2]}", "tls://127.0.0.1:${CPORT[3]}"]
  user: admin
  password_env: NATS_PW_ADMIN
  tls: {ca: "$T/ca.crt"}
  reconnect_wait: 100ms
  reconnect_wait_max: 500ms
redis: {url: "$REDIS_URL"}
plugins:
  dir: $T/plugins
  instances:
    - name: rec
      file: record.so
      config: {effects_file: "$T/effects", sleep: 4ms}
streams:
  - {name: WORK, subjects: ["work.>"], replicas: 3}
  - {name: DLQ, subjects: ["dlq.>"], replicas: 3}
consumers:
  - name: worker
    stream: WORK
    handler: rec
    ack_wait: 4s
    max_deliver: 10
    backoff: [100ms]
    concurrency: 4
    batch: 32
    dead_letter: dlq.worker
log: {level: info}
YAML
jw_start jw "$T/jw.yaml"
jw_wait_running jw
# R3 as the cluster reports it: three replicas asked for, a leader, and
# both followers current.
[ "$(si WORK num_replicas)" = 3 ] || fail "WORK has $(si WORK num_replicas) replicas, want 3"
wait_for 30 si_eq WORK replicas_current 2 ||
    fail "WORK: $(si WORK replicas_current) of 2 followers current (leader '$(si WORK leader)')"
[ -n "$(si WORK leader)" ] || fail "WORK has no leader"

N1=1000
pubn work.items $N1 a- >/dev/null || fail "publish failed"
wait_drained WORK worker 40 || fail "first batch did not drain"
[ "$(committed worker)" = $N1 ] || fail "committed $(committed worker), want $N1"
note "R3 cluster: $N1 published, $(committed worker) committed"

# A backlog, then SIGKILL of the node jetway is connected to, mid-way.
N2=2000
pubn work.items $N2 b- >/dev/null || fail "publish of the backlog failed"
wait_for 30 committed_ge worker $((N1 + 200)) ||
    fail "the backlog is not being processed"
victim=""
for i in 1 2 3; do
    curl -s "http://127.0.0.1:${MPORT[$i]}/connz" | grep -q '"name": "cluster-test"' && victim=$i
done
[ -n "$victim" ] || fail "cannot tell which node jetway is connected to"
before=$(committed worker)
kill -KILL "$(pid_of "n$victim")"
# Committed only grows: counted after the kill, it proves work was left
# when the node died (else the kill tested an idle connection).
at_kill=$(committed worker)
[ "$at_kill" -lt $((N1 + N2)) ] || fail "the backlog was done ($at_kill committed) before the node was killed"
wait_gone "$(pid_of "n$victim")" || fail "node $victim survived SIGKILL"
note "killed node $victim (jetway's) with $at_kill of $((N1 + N2)) committed"
for i in 1 2 3; do [ "$i" != "$victim" ] && NATS_URL=$(url $i); done
export NATS_URL

# Two of three nodes: the stream keeps its quorum and takes writes.
N3=300
wait_for 30 sh -c "'$JW' pub -q work.items '{\"message_id\":\"c-%d\"}' --count $N3 --id 'c-%d' --sync" ||
    fail "the 2-node cluster refused publishes"
TOTAL=$((N1 + N2 + N3))
wait_for 60 committed_ge worker $TOTAL ||
    fail "committed $(committed worker) of $TOTAL after the kill"
wait_drained WORK worker 30 || fail "not drained after the kill"
[ "$(committed worker)" = $TOTAL ] || fail "committed $(committed worker), want $TOTAL"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits: $(dupcommits worker)"
[ "$(si WORK messages)" = $TOTAL ] || fail "stream holds $(si WORK messages), want $TOTAL"
grep -q '"msg":"nats: reconnected' "$T/jw.log" || fail "jetway never logged its reconnect"
reconnects=$(count_in '"msg":"nats: reconnected' "$T/jw.log")
[ "$(si WORK num_replicas)" = 3 ] || fail "WORK lost its R3 configuration"
att=$(attempts "$T/effects")
jw_stop jw || fail "jetway exited non-zero"
echo "RESULT t_deploy_cluster replicas=3 published=$(si WORK messages) committed=$(committed worker)" \
    "duplicates=$(dupcommits worker) attempts=$att killed=n$victim committed_at_kill=$at_kill" \
    "reconnects=$reconnects"
