#!/bin/bash
# t_rds.sh -- core/redis/rds_*.c against a real redis-server, through
# build/tests/tools/rds_check: the claim/commit/release/extend scripts and
# their answers, lease expiry, NOSCRIPT reload after SCRIPT FLUSH, every
# callback answered exactly once when Redis dies, state down/up around a
# restart, the command timeout (CLIENT PAUSE), unix socket, ACL user + SELECT,
# a name resolved by uv_getaddrinfo, a clean stop, and the hot-path bench.
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

# A long-lived client fed through a fifo; commands run one after another.
LOG="$T/rds.log"
mkfifo "$T/rds.in"
bg rds "$RC" -p "$REDIS_PORT" -t 300 -i "$T/rds.in" serve
exec 3>"$T/rds.in"

N=0
# ask CMD ARGS...: send, wait for the answer, leave "RESULT AUX" in $RES.
ask()
{
    N=$((N + 1))
    tag="t$N"
    cmd=$1
    shift
    echo "$cmd $tag $*" >&3
    wait_for 20 grep -q "^R $tag " "$LOG" || fail "no answer to: $cmd $*"
    RES=$(grep "^R $tag " "$LOG" | head -n 1 | cut -d' ' -f3-)
}

# check NAME WANT CMD ARGS...: WANT is a shell pattern for "RESULT AUX".
check()
{
    name=$1
    want=$2
    shift 2
    ask "$@"
    # shellcheck disable=SC2254
    case "$RES" in
    $want) ok "$name ($RES)" ;;
    *) fail "$name: got '$RES', want '$want'" ;;
    esac
}

check "connects and loads the scripts" "UP 0" wait-up 10

# claim / busy / release / extend / commit
check "claim of an absent key" "CLAIMED 0" claim k1 tokA 5000
[ "$(rcli get k1)" = "P|tokA" ] || fail "k1 should hold P|tokA, has $(rcli get k1)"
ttl=$(rcli pttl k1)
[ "$ttl" -gt 0 ] && [ "$ttl" -le 5000 ] || fail "k1 lease pttl $ttl"
ok "the claim is P|token with the lease as PX"
check "claim by another token is BUSY" "BUSY *" claim k1 tokB 5000
aux=${RES#BUSY }
[ "$aux" -gt 0 ] && [ "$aux" -le 5000 ] || fail "BUSY aux should be the remaining lease, is $aux"
ok "BUSY carries the remaining lease ($aux ms)"
check "release by the wrong token does nothing" "LEASE_LOST 0" release k1 tokB
[ "$(rcli get k1)" = "P|tokA" ] || fail "k1 changed by a foreign release"
check "extend by another token is refused" "LEASE_LOST 0" extend k1 tokB 60000
check "extend by the owner" "OK 0" extend k1 tokA 60000
[ "$(rcli pttl k1)" -gt 5000 ] || fail "extend did not push the lease"
ok "extend moved the lease"
check "commit by the owner" "OK 0" commit k1 tokA 600000 ok
[ "$(rcli get k1)" = "D|ok" ] || fail "k1 should be D|ok, is $(rcli get k1)"
[ "$(rcli pttl k1)" -gt 60000 ] || fail "done marker has the wrong ttl"
ok "commit wrote D|mark with the done ttl"
check "claim of a done key" "DONE 0" claim k1 tokC 5000
check "commit of a done key" "DONE 0" commit k1 tokC 600000 ok
check "release of a done key by its old owner" "LEASE_LOST 0" release k1 tokA
[ "$(rcli get k1)" = "D|ok" ] || fail "release removed a done marker"

check "claim k2" "CLAIMED 0" claim k2 tokA 5000
check "release by the owner" "OK 0" release k2 tokA
[ "$(rcli exists k2)" = 0 ] || fail "k2 still exists after release"
check "claim after release" "CLAIMED 0" claim k2 tokB 5000

# lease expiry
gone()
{
    [ "$(rcli exists "$1")" = 0 ]
}
check "claim with a short lease" "CLAIMED 0" claim k3 tokA 150
wait_for 30 gone k3 || fail "k3 lease did not expire"
check "claim after the lease expired" "CLAIMED 0" claim k3 tokB 5000
check "commit after someone else claimed" "LEASE_LOST 0" commit k3 tokA 600000 ok
[ "$(rcli get k3)" = "P|tokB" ] || fail "a lost lease overwrote the new claim"
check "claim k4 with a short lease" "CLAIMED 0" claim k4 tokA 100
wait_for 30 gone k4 || fail "k4 lease did not expire"
check "commit after an unclaimed expiry writes the marker" "OK 0" commit k4 tokA 600000 dlq
[ "$(rcli get k4)" = "D|dlq" ] || fail "k4 should be D|dlq"

# NOSCRIPT: the script cache is emptied under a live connection
rcli config resetstat >/dev/null
rcli script flush >/dev/null
# (a claim of an absent key is a plain SET NX, no script: the second claim,
# after a second flush, needs the claim script to answer DONE)
check "claim after SCRIPT FLUSH" "CLAIMED 0" claim k5 tokA 5000
check "commit after SCRIPT FLUSH" "OK 0" commit k5 tokA 600000 ok
rcli script flush >/dev/null
check "claim of a done key after SCRIPT FLUSH" "DONE 0" claim k5 tokC 5000
evals=$(rcli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_eval:calls=\([0-9]*\),.*/\1/p')
[ "${evals:-0}" -ge 2 ] || fail "NOSCRIPT was not answered by EVAL (eval calls: ${evals:-0})"
check "claim once the scripts are cached again" "DONE 0" claim k5 tokB 5000
evals2=$(rcli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_eval:calls=\([0-9]*\),.*/\1/p')
[ "$evals2" = "$evals" ] || fail "EVAL used although the script was cached again"
ok "NOSCRIPT re-sent once as EVAL, EVALSHA afterwards"

check "ping" "OK 0" ping
check "a pipelined burst" "BURST claimed=500 busy=0 done=0 error=0 total=500" burst 500 b1 5000
check "the same burst again is all BUSY" "BURST claimed=0 busy=500 done=0 error=0 total=500" \
    burst 500 b1 5000

# Commits issued together go out as commit-many calls (up to 256 keys each),
# every key with its own answer: done markers stay, foreign claims are
# LEASE_LOST, our claims (or expired ones) get the marker.
for i in $(seq 0 9); do rcli set "b1:$i" "D|old" >/dev/null; done
for i in $(seq 10 19); do rcli set "b1:$i" "P|other" >/dev/null; done
evalsha0=$(rcli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
check "500 commits at once" "CBURST ok=480 done=10 lost=10 error=0 total=500" \
    cburst 500 b1 burst 600000 ok
evalsha1=$(rcli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
[ $((evalsha1 - ${evalsha0:-0})) -le 4 ] ||
    fail "500 commits took $((evalsha1 - ${evalsha0:-0})) EVALSHA calls, not a few batches"
[ "$(rcli get b1:5)" = "D|old" ] || fail "a batch commit overwrote a done marker"
[ "$(rcli get b1:15)" = "P|other" ] || fail "a batch commit overwrote a foreign claim"
[ "$(rcli get b1:300)" = "D|ok" ] || fail "a batch commit did not write the marker"
[ "$(rcli pttl b1:300)" -gt 5000 ] || fail "a batch commit's marker has the wrong ttl"
ok "batched commits: $((evalsha1 - ${evalsha0:-0})) calls, per-key answers and markers"
rcli script flush >/dev/null
check "commits at once after SCRIPT FLUSH (EVAL)" "CBURST ok=0 done=490 lost=10 error=0 total=500" \
    cburst 500 b1 burst 600000 ok

# Redis dies with commands in flight: each callback exactly once, state down.
# Stop Redis once the burst has begun (its first claim is in Redis), so that
# the stop lands inside it: 100,000 claims take seconds, a stop milliseconds.
keys0=$(rcli dbsize)
echo "burst tb 100000 b2 5000" >&3
wait_for 20 sh -c "[ \$(redis-cli -p $REDIS_PORT dbsize) -gt $keys0 ]" ||
    fail "the burst never reached Redis"
stop_redis
wait_for 30 grep -q "^R tb " "$LOG" || fail "burst across the stop never finished"
line=$(grep "^R tb " "$LOG")
case "$line" in
*"total=100000"*) ;;
*) fail "burst across the stop: $line" ;;
esac
# Only a burst cut by the stop proves anything: some commands must have
# been answered by Redis and some failed by its loss.
burst_ok=$(echo "$line" | sed -n 's/.* claimed=\([0-9]*\) .*/\1/p')
burst_err=$(echo "$line" | sed -n 's/.* error=\([0-9]*\) .*/\1/p')
[ "${burst_ok:-0}" -ge 1 ] && [ "${burst_err:-0}" -ge 1 ] ||
    fail "the burst was not in flight when Redis stopped (claimed=${burst_ok:-?} error=${burst_err:-?}): nothing proven"
ok "every command in flight answered once when Redis stopped: ${line#R tb }"
check "state goes down" "DOWN 0" wait-down 10
grep -q "^STATE down" "$LOG" || fail "no STATE down event"
check "commands while down fail at once" "ERROR 0" claim k6 tokA 5000
check "stats while down" "STATS connected=0 *" stats

restart_redis
check "state comes back after a restart" "UP 0" wait-up 15
check "claims work after the restart (scripts reloaded)" "CLAIMED 0" claim k6 tokA 5000
check "a reconnect is counted" "STATS connected=1 reconnects=[1-9]* timeouts=0" stats

# Timeout: Redis stops answering (CLIENT PAUSE) while a command is out.
rcli client pause 2500 all >/dev/null
check "a command past the 300 ms timeout fails" "ERROR 0" claim k7 tokA 5000
check "the timeout drops the connection" "DOWN 0" wait-down 10
check "the timeout is counted" "STATS connected=* timeouts=[1-9]*" stats
check "reconnects once Redis answers again" "UP 0" wait-up 15
check "and works" "CLAIMED 0" claim k8 tokA 5000

# clean stop: loop closes with nothing left
echo "quit" >&3
wait_for 30 grep -q "^LOOP closed" "$LOG" || fail "loop did not close cleanly: $(tail -n 3 "$LOG")"
pid=$(pid_of rds)
wait "$pid"
st=$?
[ $st -eq 0 ] || fail "rds_check serve exited with $st"
exec 3>&-
ok "rds_stop closed everything (uv_loop_close ok, exit 0)"

# one-shot sessions: unix socket, ACL user + db, wrong password, a name
oneshot()
{
    printf '%s\n' "$@" >"$T/cmds"
}
run_session()
{
    # run_session NAME RC-ARGS... -- reads commands from $T/cmds
    name=$1
    shift
    "$RC" "$@" serve <"$T/cmds" >"$T/$name.log" 2>&1
    echo $?
}

oneshot "wait-up a 10" "claim b ku tokA 5000"
st=$(run_session unix -s "$T/redis.sock")
grep -q "^R b CLAIMED" "$T/unix.log" && [ "$st" = 0 ] || fail "unix socket: $(cat "$T/unix.log")"
ok "unix socket"

rcli acl setuser jw on '>s3cret' '~*' '+@all' >/dev/null
oneshot "wait-up a 10" "claim b kacl tokA 5000"
st=$(run_session acl -u jw -a s3cret -n 3 -p "$REDIS_PORT")
grep -q "^R b CLAIMED" "$T/acl.log" && [ "$st" = 0 ] || fail "acl: $(cat "$T/acl.log")"
[ "$(rcli -n 3 exists kacl)" = 1 ] && [ "$(rcli -n 0 exists kacl)" = 0 ] || fail "SELECT 3 not applied"
ok "AUTH user password and SELECT db"

oneshot "wait-up a 2" "claim b kbad tokA 5000"
st=$(run_session badauth -u jw -a wrong -p "$REDIS_PORT")
grep -q "^R a TIMEOUT" "$T/badauth.log" && grep -q "^R b ERROR" "$T/badauth.log" &&
    grep -q "AUTH" "$T/badauth.log" && [ "$st" = 0 ] || fail "bad password: $(cat "$T/badauth.log")"
ok "a wrong password never reports up"

oneshot "wait-up a 10" "claim b kname tokA 5000"
st=$(run_session name -h localhost -p "$REDIS_PORT")
grep -q "^R b CLAIMED" "$T/name.log" && [ "$st" = 0 ] || fail "by name: $(cat "$T/name.log")"
ok "host name resolved with uv_getaddrinfo"

# Redis absent from the start: retries quietly, stops cleanly.
oneshot "wait-up a 1" "ping b"
st=$(run_session absent -p "$(free_port)")
grep -q "^R a TIMEOUT" "$T/absent.log" && grep -q "^R b ERROR" "$T/absent.log" &&
    grep -q "^LOOP closed" "$T/absent.log" && [ "$st" = 0 ] || fail "absent: $(cat "$T/absent.log")"
ok "no Redis at all: errors, retries, clean stop"

# hot path throughput (no threshold; reported)
out=$("$RC" -p "$REDIS_PORT" bench 100000 1000 2>&1) || fail "bench failed: $out"
echo "RESULT rds burst_at_stop_claimed=$burst_ok burst_at_stop_error=$burst_err $(echo "$out" | grep '^bench:')"
ok "bench"
