#!/bin/bash
# t_kv.sh -- core/kv.c (the blocking kv service of plugins) against a real
# redis-server, through build/tests/tools/rds_check: every call and its
# return codes, eval replies (arrays, nil, errors), the EVALSHA -> EVAL
# fallback on NOSCRIPT, many threads at once, no redis section (ENOTSUP),
# Redis down and back on one long-lived thread, the socket timeout, and the
# unix socket with an ACL user and SELECT.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=../lib/harness.sh
source tests/lib/harness.sh

RC="$JW_BUILD/tests/tools/rds_check"
[ -x "$RC" ] || fail "missing $RC (make all)"

start_redis --unixsocket "$T/redis.sock" --unixsocketperm 700

ok()
{
    echo "PASS: $*"
}

# kvis NAME WANT OP ARGS...: one call in a fresh process; WANT is the exact
# line after "K ".
kvis()
{
    name=$1
    want=$2
    shift 2
    got=$("$RC" -p "$REDIS_PORT" "kv-$1" "${@:2}" 2>"$T/kv.err") || fail "$name: exit $? $(cat "$T/kv.err")"
    [ "$got" = "K $want" ] || fail "$name: got '$got', want 'K $want'"
    ok "$name ($want)"
}

kvis "set" 'OK' set k1 hello
kvis "get" 'OK 5 "hello"' get k1
kvis "get of a missing key" 'ENOENT' get nokey
kvis "setnx on an existing key" 'EXISTS' setnx k1 other
kvis "setnx on a new key with a ttl" 'SET' setnx k2 v 60000
ttl=$(rcli pttl k2)
[ "$ttl" -gt 0 ] && [ "$ttl" -le 60000 ] || fail "setnx ttl: pttl $ttl"
kvis "set with a ttl" 'OK' set k3 v 5000
ttl=$(rcli pttl k3)
[ "$ttl" -gt 0 ] && [ "$ttl" -le 5000 ] || fail "set ttl: pttl $ttl"
[ "$(rcli get k1)" = hello ] || fail "setnx overwrote k1"
ok "ttls applied, setnx kept the old value"
kvis "incr of a new key" 'OK 5' incr c1 5
kvis "incr by a negative amount" 'OK 2' incr c1 -3
kvis "incr of a string is an error" 'EIO' incr k1 1
kvis "del" 'OK' del k1
kvis "get after del" 'ENOENT' get k1
kvis "del of a missing key" 'OK' del k1

kvis "eval: nested array, nil, ints, strings" 'OK [:1,"a",nil,[:2,"b"]]' \
    eval "return {1, 'a', false, {2, 'b'}}" 0
kvis "eval: keys and args" 'OK ["kk","a1","a2"]' \
    eval "return {KEYS[1], ARGV[1], ARGV[2]}" 1 kk a1 a2
kvis "eval: nil" 'OK nil' eval "return redis.call('GET', KEYS[1])" 1 nokey
kvis "eval: status" 'OK "FINE"' eval "return redis.status_reply('FINE')" 0
kvis "eval: error reply" 'OK (error NOPE boom)' eval "return redis.error_reply('NOPE boom')" 0
got=$("$RC" -p "$REDIS_PORT" kv-eval "return {" 0 2>/dev/null)
case "$got" in "K OK (error ERR Error compiling script"*) ok "eval: a script that does not compile" ;;
*) fail "compile error: $got" ;; esac

# NOSCRIPT: the first call of a script misses the cache and falls back to
# EVAL (which caches it); the next is a plain EVALSHA hit.
cmdstat()
{
    rcli info commandstats | tr -d '\r' | sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p"
}
rcli script flush >/dev/null
rcli config resetstat >/dev/null
kvis "eval after SCRIPT FLUSH" 'OK :42' eval "return 42" 0
[ "$(cmdstat evalsha)" = 1 ] && [ "$(cmdstat eval)" = 1 ] ||
    fail "want one EVALSHA and one EVAL, got evalsha=$(cmdstat evalsha) eval=$(cmdstat eval)"
kvis "eval again" 'OK :42' eval "return 42" 0
[ "$(cmdstat evalsha)" = 2 ] && [ "$(cmdstat eval)" = 1 ] ||
    fail "second call should be EVALSHA only: evalsha=$(cmdstat evalsha) eval=$(cmdstat eval)"
ok "EVALSHA first, EVAL on NOSCRIPT only"

# kv_pipeline (ABI 1.1): one round trip for many commands.
rcli config resetstat >/dev/null
out=$("$RC" -p "$REDIS_PORT" kv-pipeline 2>&1) || fail "kv-pipeline: $out"
echo "$out" | grep '^PASS'
echo "$out" | grep -q '^FAIL' && fail "kv-pipeline reported failures: $(echo "$out" | grep FAIL)"
# The script ran as EVAL on its first use on the connection and after the
# flush (NOSCRIPT answered), as EVALSHA otherwise.
[ "$(cmdstat eval)" -ge 3 ] && [ "$(cmdstat evalsha)" -ge 3 ] ||
    fail "kv-pipeline: evalsha=$(cmdstat evalsha) eval=$(cmdstat eval)"
ok "kv-pipeline: evalsha=$(cmdstat evalsha) eval=$(cmdstat eval)"

out=$("$RC" -p "$REDIS_PORT" kv-threads 8 200 2>&1) || fail "kv-threads: $out"
echo "$out" | grep '^PASS'
echo "$out" | grep -q '^FAIL' && fail "kv-threads reported failures"

out=$("$RC" -p "$REDIS_PORT" kv-nocfg 2>&1) || fail "kv-nocfg: $out"
echo "$out"

# unix socket, ACL user + password, SELECT
rcli acl setuser jw on '>s3cret' '~*' '+@all' >/dev/null
got=$("$RC" -s "$T/redis.sock" -u jw -a s3cret -n 2 kv-set ku viaunix 2>&1)
[ "$got" = "K OK" ] || fail "unix+acl set: $got"
[ "$(rcli -n 2 get ku)" = viaunix ] && [ "$(rcli -n 0 exists ku)" = 0 ] || fail "SELECT 2 not applied"
ok "unix socket, AUTH user password, SELECT"
got=$("$RC" -p "$REDIS_PORT" -u jw -a wrong kv-get ku 2>&1 | grep '^K')
[ "$got" = "K EIO" ] || fail "wrong password: $got"
ok "a wrong password is EIO"

# One long-lived thread through an outage and a stall.
LOG="$T/kvs.log"
mkfifo "$T/kvs.in"
bg kvs "$RC" -p "$REDIS_PORT" -t 300 -i "$T/kvs.in" kv-serve
exec 3>"$T/kvs.in"
N=0
ask()
{
    N=$((N + 1))
    tag="t$N"
    cmd=$1
    shift
    echo "$cmd $tag $*" >&3
    wait_for 20 grep -q "^K $tag " "$LOG" || fail "no answer to: $cmd $*"
    RES=$(grep "^K $tag " "$LOG" | head -n 1 | cut -d' ' -f3-)
}
check()
{
    name=$1
    want=$2
    shift 2
    ask "$@"
    [ "$RES" = "$want" ] || fail "$name: got '$RES', want '$want'"
    ok "$name ($RES)"
}
check "long-lived: set" "OK" set ks 1
check "long-lived: eval" "OK :7" eval return 7
check "long-lived: pipeline" "OK :20" pipe 20 kp
stop_redis
check "Redis down: get fails" "EIO" get ks
check "Redis down: a pipeline fails whole" "EIO" pipe 5 kp
check "Redis down: eval fails" "EIO" eval return 7
restart_redis
check "after the restart the same thread reconnects" "ENOENT" get ks
check "and writes" "OK 3" incr ks 3
check "a pipeline after the restart" "OK :5" pipe 5 kp
check "eval after the restart (NOSCRIPT on a new server)" "OK :7" eval return 7

rcli client pause 1500 all >/dev/null
check "no answer within 300 ms is ETIMEDOUT" "ETIMEDOUT" get ks
# Redis answers again once the pause ends; poll with fresh commands.
back()
{
    ask get ks
    [ "$RES" = 'OK 1 "3"' ]
}
wait_for 30 back || fail "kv did not recover after the stall: $RES"
ok "recovers after the stall"
echo "quit" >&3
pid=$(pid_of kvs)
wait "$pid"
st=$?
exec 3>&-
[ $st -eq 0 ] || fail "kv-serve exited with $st"
ok "kv-serve exited cleanly"
