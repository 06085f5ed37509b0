#!/bin/bash
# Topology changes by reload. Two jetway processes share the durable
# `shared` (slow handler, max_ack_pending 40, so a process holds messages it
# has not started). A reload of P1 adds consumer `beta` (it starts
# consuming) and removes `shared` (P1 finishes only the handlers already
# running; the messages it held are given back and committed by P2, exactly
# once), `keepme` (durable stays) and `pruneme` (prune: true, durable
# deleted).
#
# P2 starts after P1's reload. max_ack_pending is the durable's, shared by
# both processes, so with P2 already pulling, how many of the 40 P1 holds at
# the swap is a race P2 can win outright (CI saw P1 hold none: nothing was
# tested). Alone, P1 holds all 40 and runs 2: the swap always finds
# messages waiting, and P2 still gets them only by redelivery.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

N=400
CONC=2

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"

# consumer_yaml NAME FILTER HANDLER [extra]
consumer_yaml()
{
    echo "  - {name: $1, stream: WORK, filter_subject: $2, handler: $3, dead_letter: dlq.$1,"
    echo "     ack_wait: 20s, concurrency: $CONC, max_ack_pending: 40, batch: 16${4:+, $4}}"
}

# header WHO: service, servers, the two instances, streams.
header()
{
    cat <<YAML
service: {name: topo-$1, workers: 4, shutdown_grace: 20s}
nats: {servers: ["$NATS_URL"]}
redis: {url: "$REDIS_URL"}
plugins:
  dir: $T/plugins
  instances:
    - {name: rec, file: record.so, config: {effects_file: "$T/effects.$1"}}
    - {name: slow, file: record.so, config: {effects_file: "$T/effects.$1.slow", sleep: 50ms}}
streams:
  - {name: WORK, subjects: ["work.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
log: {level: info}
consumers:
YAML
}

{
    header p1
    consumer_yaml alpha work.a rec
    consumer_yaml shared work.s slow
    consumer_yaml keepme work.k rec
    consumer_yaml pruneme work.p rec "prune: true"
} >"$T/p1.yaml"
{
    header p2
    consumer_yaml shared work.s slow
} >"$T/p2.yaml"
"$JW" check -q -c "$T/p1.yaml" || fail "p1.yaml refused"
"$JW" check -q -c "$T/p2.yaml" || fail "p2.yaml refused"

jw_start p1 "$T/p1.yaml"
jw_wait_running p1

pubn work.a 20 a- >/dev/null || fail "publish work.a failed"
wait_drained WORK alpha 20 || fail "alpha did not drain"
[ "$(committed alpha)" = 20 ] || fail "alpha committed $(committed alpha)"

# Load the shared durable; remove it from P1 while P1 holds messages: a
# batch of 16 is fetched before the first handler starts, and the fetcher
# keeps P1 at 40 in flight while the stream has more.
pubn work.s $N s- >/dev/null || fail "publish work.s failed"
p1_started()
{
    [ "$(attempts "$T/effects.p1.slow")" -ge 4 ]
}
wait_for 30 p1_started || fail "p1 did not start on shared"

{
    header p1
    consumer_yaml alpha work.a rec
    consumer_yaml beta work.b rec
} >"$T/p1.yaml"
out=$("$JW" reload --pid-file "$T/p1.pidfile" --timeout 30 2>&1) || fail "reload failed: $out"
t_done=$(($(date +%s%N) / 1000000))
note "p1: $out"
grep -q 'consumers added \[beta\] removed \[[a-z,]*shared[a-z,]*\]' "$T/p1.log" ||
    fail "reload did not log beta added, shared removed: $(grep 'reload: ok' "$T/p1.log")"
given=$(grep -o 'consumer shared removed; [0-9]* waiting' "$T/p1.log" | grep -o '[0-9]*' || echo 0)
jw_start p2 "$T/p2.yaml"
jw_wait_running p2

# The added consumer consumes.
pubn work.b 20 b- >/dev/null || fail "publish work.b failed"
wait_drained WORK beta 20 || fail "beta did not drain"
[ "$(committed beta)" = 20 ] || fail "beta committed $(committed beta)"

# The removed one stops: P1 starts no handler of `shared` after the reload
# returned (those running at the swap may still log an attempt as they
# start, at most one per unit of concurrency); P2 commits the rest.
wait_drained WORK shared 60 || fail "shared did not drain"
[ "$(committed shared)" = $N ] || fail "shared committed $(committed shared), want $N"
[ "$(dupcommits shared)" = 0 ] || fail "shared: duplicate commits $(dupcommits shared)"
wait_for 20 grep -q 'reload: consumer shared drained and stopped' "$T/p1.log" ||
    fail "p1 did not report shared stopped"
late=$(awk -v t="$t_done" '$1 == "attempt" && $6 > t' "$T/effects.p1.slow" | wc -l)
[ "$late" -le $CONC ] || fail "p1 started $late handlers of shared after its removal"
a1=$(attempts "$T/effects.p1.slow")
a2=$(attempts "$T/effects.p2.slow")
redelivered=$(awk '$1 == "attempt" && $4 > 1' "$T/effects.p2.slow" | wc -l)
note "shared: p1 attempts=$a1 (late $late) p2 attempts=$a2 (redeliveries $redelivered), p1 gave back $given"
[ "$given" -gt 0 ] || fail "p1 held no waiting messages of shared at the swap: nothing tested"
[ "$redelivered" -ge "$given" ] || fail "p2 saw $redelivered redeliveries, p1 gave back $given"
[ $((a1 + a2)) = $N ] || fail "attempts $a1 + $a2, want $N (a message was handled twice)"

# prune: true deletes the durable once drained; a plain removal keeps it.
wait_for 20 grep -q 'durable consumer WORK/pruneme deleted' "$T/p1.log" || fail "pruneme not pruned"
"$JW" pub -s "$NATS_URL" --consumer-info WORK pruneme >/dev/null 2>&1 &&
    fail "durable pruneme still exists"
"$JW" pub -s "$NATS_URL" --consumer-info WORK keepme >/dev/null 2>&1 ||
    fail "durable keepme was deleted"
"$JW" pub -s "$NATS_URL" --consumer-info WORK shared >/dev/null 2>&1 ||
    fail "durable shared was deleted"
grep -q 'WORK/keepme deleted' "$T/p1.log" && fail "keepme reported deleted"
# Messages for the kept durable wait on the server for a later consumer.
pubn work.k 5 k- >/dev/null || fail "publish work.k failed"
[ "$(ci WORK keepme num_pending)" = 5 ] || fail "keepme pending $(ci WORK keepme num_pending)"

jw_stop p1 || fail "p1 exited non-zero"
jw_stop p2 || fail "p2 exited non-zero"
echo "RESULT reload_topology beta_committed=20 shared_published=$N shared_committed=$(committed shared) p1_attempts=$a1 p1_late=$late p1_gave_back=$given p2_attempts=$a2 p2_redelivered=$redelivered duplicates=0 pruned=pruneme kept=keepme,shared"
