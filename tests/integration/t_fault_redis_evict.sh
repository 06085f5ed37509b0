#!/bin/bash
# t_fault_redis_evict.sh -- the dedup store cannot silently forget (issue 16
# item 2). Against a redis-server with maxmemory and allkeys-lru:
#  1. a dedup consumer is refused with a clear error: /readyz 503 naming the
#     policy, jetway_redis_refused 1, and messages published meanwhile are
#     not handled (the consumer does not fetch, also with
#     on_unavailable: process); the persistence and require_fsync warnings
#     are logged;
#  2. once the policy is fixed (CONFIG SET noeviction) jetway takes the
#     server back by itself and handles them;
#  3. the same refusal when CONFIG is renamed away (INFO fallback);
#  4. with redis.allow_eviction: true it runs (a loud warning), and keys the
#     server evicts while it runs show in jetway_redis_evicted_keys and in an
#     error in the log.
source "$(dirname "$0")/../lib/harness.sh"
source "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis --maxmemory 4mb --maxmemory-policy allkeys-lru
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
HTTP_PORT=$(free_port)
BASE="http://127.0.0.1:$HTTP_PORT"

# write_config FILE ALLOW: one dedup consumer (on_unavailable: process, which
# must not make it run without claims on a refused server).
write_config()
{
    record_config "$1" "{name: evict, workers: 2}"
    sed -i "s|^redis: .*|redis: {url: \"$REDIS_URL\", allow_eviction: $2}|" "$1"
    cat >>"$1" <<YAML
consumers:
  - {name: worker, stream: WORK, handler: rec, ack_wait: 30s, dead_letter: dlq.worker,
     dedup: {on_unavailable: process, require_fsync: true}}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML
}

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
conns()
{
    rcli INFO stats | tr -d '\r' | sed -n 's/^total_connections_received://p'
}
checks=0

# ---- 1. refused ----
write_config "$T/refuse.yaml" false
jw_start jw "$T/refuse.yaml"
jw_wait_running jw
wait_for 20 grep -q 'refusing to run dedup consumers: maxmemory-policy allkeys-lru with maxmemory 4194304 evicts dedup markers' "$T/jw.log" ||
    fail "no refusal in the log"
must /readyz 503 "redis refused: maxmemory-policy allkeys-lru"
must /metrics 200 'jetway_redis_refused{service="evict"} 1'
grep -q 'neither AOF nor RDB snapshots are enabled' "$T/jw.log" || fail "no persistence warning"
grep -q 'dedup.require_fsync but the server has AOF off' "$T/jw.log" || fail "no fsync warning"
checks=$((checks + 5))
pubn work.a 20 r- >/dev/null || fail pub
# Let the refusal be checked again twice after the publish (each retry is a
# new connection), then nothing may have been handled.
c0=$(conns)
wait_for 30 sh -c "[ \$(redis-cli -p $REDIS_PORT INFO stats | tr -d '\r' | sed -n 's/^total_connections_received://p') -ge $((c0 + 2)) ]" ||
    fail "jetway stopped re-checking the server"
[ "$(attempts "$T/effects")" = 0 ] || fail "handled $(attempts "$T/effects") messages on a refused server"
[ "$(ci WORK worker num_pending)" = 20 ] || fail "the consumer fetched from a refused server"
checks=$((checks + 2))

# ---- 2. fixed: taken back by itself ----
rcli CONFIG SET maxmemory-policy noeviction >/dev/null
must /readyz 200 '' 30
wait_for 20 grep -q 'maxmemory-policy is now noeviction; dedup consumers resume' "$T/jw.log" ||
    fail "no resume in the log"
wait_drained WORK worker 60 || fail "not drained after the policy was fixed"
[ "$(attempts "$T/effects")" = 20 ] || fail "handled $(attempts "$T/effects") of 20"
must /metrics 200 'jetway_redis_refused{service="evict"} 0'
checks=$((checks + 4))
jw_stop jw || fail "jetway exited non-zero"

# ---- 3. CONFIG renamed: the policy is read from INFO ----
stop_redis
REDIS_ARGS="--maxmemory 4mb --maxmemory-policy volatile-lru --rename-command CONFIG \"\""
# shellcheck disable=SC2086
bg redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$T/redis" --save "" \
    --appendonly no --maxmemory 4mb --maxmemory-policy volatile-lru --rename-command CONFIG ""
wait_for 20 rcli ping || fail "redis-server did not start"
rcli CONFIG GET maxmemory 2>&1 | grep -qi 'unknown command' || fail "CONFIG still there"
: >"$T/jw2.log"
jw_start jw2 "$T/refuse.yaml"
jw_wait_running jw2
wait_for 20 grep -q 'refusing to run dedup consumers: maxmemory-policy volatile-lru with maxmemory 4194304' "$T/jw2.log" ||
    fail "no refusal without CONFIG"
must /readyz 503 "redis refused: maxmemory-policy volatile-lru"
grep -q 'appendfsync unknown (CONFIG unavailable)' "$T/jw2.log" || fail "no fsync-unknown warning"
checks=$((checks + 3))
jw_stop jw2 || fail "jetway exited non-zero"

# ---- 4. accepted explicitly; evictions while running are reported ----
stop_redis
bg redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$T/redis" --save "" \
    --appendonly no --maxmemory 4mb --maxmemory-policy allkeys-lru
wait_for 20 rcli ping || fail "redis-server did not start"
write_config "$T/allow.yaml" true
jw_start jw3 "$T/allow.yaml"
jw_wait_running jw3
wait_for 20 grep -q 'maxmemory-policy allkeys-lru with maxmemory 4194304 EVICTS dedup markers' "$T/jw3.log" ||
    fail "no eviction warning"
grep -q 'refusing to run' "$T/jw3.log" && fail "refused although allowed"
must /readyz 200
pubn work.b 10 a- >/dev/null || fail pub
wait_drained WORK worker 60 || fail "not drained with allow_eviction"
must /metrics 200 'jetway_redis_evicted_keys{service="evict"} 0'
checks=$((checks + 4))
# Fill the server past maxmemory: it evicts (done markers among them).
python3 - "$REDIS_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
val = b"x" * 1024
buf = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nfill:%d\r\n$1024\r\n%s\r\n" % (len(b"fill:%d" % i), i, val)
               for i in range(20000))
s.sendall(buf)
got = b""
while got.count(b"\r\n") < 20000:
    d = s.recv(65536)
    if not d:
        break
    got += d
PY
ev=$(rcli INFO stats | tr -d '\r' | sed -n 's/^evicted_keys://p')
[ "$ev" -gt 0 ] || fail "redis evicted nothing (evicted_keys $ev)"
wait_for 20 sh -c "curl -s $BASE/metrics | grep -q '^jetway_redis_evicted_keys{service=\"evict\"} [1-9]'" ||
    fail "evictions not in the metrics"
wait_for 20 grep -q 'the server evicted [0-9]* keys since the last check' "$T/jw3.log" ||
    fail "evictions not logged"
grep 'the server evicted' "$T/jw3.log" | grep -q '"level":"error"' || fail "eviction not an error"
checks=$((checks + 4))
jw_stop jw3 || fail "jetway exited non-zero"
echo "RESULT fault_redis_evict checks=$checks refused=1 resumed=1 info_fallback=1 evicted_keys=$ev"
