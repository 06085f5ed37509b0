#!/bin/bash
# Hot reload under load: while `jetway pub` publishes 30,000 messages at
# 2,000/s, 30 reloads (by `jetway reload`) alternate between two configs.
# Consumer `cfgswap` runs rec_a.so, whose bytes never change, with config
# `version:` v1/v2 (a config change, same file); consumer `fileswap` runs
# rec_b.so, whose bytes are replaced between record.so and record_v2.so (a
# file change, same config). Both configs also differ in a backoff value.
# Every message must be committed exactly once by each consumer, every
# message published after the last reload returned must carry the last
# version, and every replaced instance must be finalised.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

N=30000
RATE=2000
RELOADS=30
STEP=700 # reload i once i*STEP messages are committed (spreads the reloads over the load)

start_nats
start_redis
plugin_dir "$T/plugins"
install -m 0644 "$JW_BUILD/tests/plugins/record.so" "$T/plugins/rec_a.so"
install -m 0644 "$JW_BUILD/tests/plugins/record.so" "$T/plugins/rec_b.so"

# write_cfg VERSION BACKOFF: the topology, rewritten in place.
write_cfg()
{
    cat >"$T/jw.yaml" <<YAML
service: {name: reload-load, workers: 4, shutdown_grace: 20s}
nats: {servers: ["$NATS_URL"]}
redis: {url: "$REDIS_URL"}
plugins:
  dir: $T/plugins
  instances:
    - name: ra
      file: rec_a.so
      config: {effects_file: "$T/effects.cfgswap", version: "$1"}
    - name: rb
      file: rec_b.so
      config: {effects_file: "$T/effects.fileswap"}
streams:
  - {name: WORK, subjects: ["work.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
consumers:
  - name: cfgswap
    stream: WORK
    filter_subject: work.items
    handler: ra
    dead_letter: dlq.cfgswap
    ack_wait: 30s
    max_deliver: 5
    backoff: [$2, 1s]
    concurrency: 4
    batch: 64
  - name: fileswap
    stream: WORK
    filter_subject: work.items
    handler: rb
    dead_letter: dlq.fileswap
    ack_wait: 30s
    max_deliver: 5
    backoff: [$2, 1s]
    concurrency: 4
    batch: 64
log: {level: info}
YAML
}

# swap_file SO: replace rec_b.so's bytes (atomically, same name).
swap_file()
{
    install -m 0644 "$1" "$T/plugins/.rec_b.tmp" && mv -f "$T/plugins/.rec_b.tmp" "$T/plugins/rec_b.so" ||
        fail "cannot replace rec_b.so with $1"
}

# Pacing by Redis (a few ms a poll; stream info costs a process start).
committed_has()
{
    [ "$(committed fileswap)" -ge "$1" ]
}

write_cfg v1 100ms
"$JW" check -c "$T/jw.yaml" -q || fail "jetway check refused the config"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
wait_for 20 sh -c "[ \"\$(\"$JW\" pub -s $NATS_URL --consumer-info WORK fileswap 2>/dev/null)\" ]" ||
    fail "consumers not provisioned"

bg pub "$JW" pub -s "$NATS_URL" work.items '{"message_id":"m-%d","n":%d}' --id 'm-%d' \
    --count $N --rate $RATE
t0=$(date +%s%N)

last=v1
for i in $(seq 1 $RELOADS); do
    wait_for 30 committed_has $((i * STEP)) || fail "consumption stalled before reload $i"
    if [ $((i % 2)) -eq 1 ]; then
        last=v2
        write_cfg v2 150ms
        swap_file "$JW_BUILD/tests/plugins/record_v2.so"
    else
        last=v1
        write_cfg v1 100ms
        swap_file "$JW_BUILD/tests/plugins/record.so"
    fi
    out=$("$JW" reload --pid-file "$T/jw.pidfile" --timeout 30 2>&1) ||
        fail "reload $i failed: $out"
    case $out in "reload ok: config sha256 "*) ;; *) fail "reload $i: unexpected '$out'" ;; esac
done
# Everything published from now on is fetched after the last swap.
S_T=$(si WORK last_seq)
reload_secs=$((($(date +%s%N) - t0) / 1000000000))
note "$RELOADS reloads done within ${reload_secs}s of publishing, stream at seq $S_T"
kill -0 "$(pid_of pub)" 2>/dev/null || fail "the publisher finished before the last reload"

wait "$(pid_of pub)" || fail "publisher failed: $(tail -n 3 "$T/pub.log")"
pub_secs=$((($(date +%s%N) - t0) / 1000000000))
grep -q "published $N" "$T/pub.log" || fail "publisher: $(tail -n 2 "$T/pub.log")"
[ "$(si WORK messages)" = $N ] || fail "stream holds $(si WORK messages), want $N"
note "published $N in ${pub_secs}s"
wait_drained WORK cfgswap 60 || fail "cfgswap did not drain"
wait_drained WORK fileswap 60 || fail "fileswap did not drain"

# Every swap was a real swap of both instances, and every replaced instance
# is finalised once its last message settled.
ok=$(grep -c 'reload: ok' "$T/jw.log")
[ "$ok" = $RELOADS ] || fail "$ok reloads logged ok, want $RELOADS"
sw=$(grep -c 'plugins swapped \[r[ab],r[ab]\]' "$T/jw.log")
[ "$sw" = $RELOADS ] || fail "$sw reloads swapped both instances, want $RELOADS"
finalised()
{
    [ "$(count_in "plugin instance '$1' finalised" "$T/jw.log")" = "$2" ]
}
wait_for 20 finalised ra $RELOADS || fail "ra: $(count_in "plugin instance 'ra' finalised" "$T/jw.log") finalised"
wait_for 20 finalised rb $RELOADS || fail "rb: $(count_in "plugin instance 'rb' finalised" "$T/jw.log") finalised"

# check_consumer NAME: exactly once, versions after the last swap.
check_consumer()
{
    c=$1
    [ "$(committed "$c")" = $N ] || fail "$c: committed $(committed "$c"), want $N"
    [ "$(dupcommits "$c")" = 0 ] || fail "$c: duplicate commits: $(dupcommits "$c")"
    rcli HGETALL "jwtest:version:$c" >"$T/versions.$c"
    python3 - "$T/effects.$c" "$T/versions.$c" "$S_T" "$last" "$c" "$N" <<'EOF' || exit 1
import sys
effects, versions, s_t, last, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
lines = open(versions).read().split("\n")
ver = dict(zip(lines[0::2], lines[1::2]))
attempts, after, bad = 0, set(), []
for line in open(effects):
    f = line.split()
    if f[0] != "attempt":
        continue
    attempts += 1
    if int(f[2]) > s_t:
        after.add(f[1])
        if f[4] != last:
            bad.append(line.strip())
bad += ["%s committed by %s" % (i, ver.get(i)) for i in sorted(after) if ver.get(i) != last]
dist = {}
for v in ver.values():
    dist[v] = dist.get(v, 0) + 1
if len(ver) != n:
    sys.exit("FAIL: %s: %d versions recorded, want %d" % (name, len(ver), n))
if not after:
    sys.exit("FAIL: %s: no message after the last swap" % name)
if bad:
    sys.exit("FAIL: %s: %d after the last swap not on %s, e.g. %s" % (name, len(bad), last, bad[:3]))
if len(dist) != 2:
    sys.exit("FAIL: %s: committed versions %s, want both v1 and v2" % (name, dist))
print("%s attempts=%d after_last_swap=%d versions=%s" % (name, attempts, len(after),
      ",".join("%s:%d" % kv for kv in sorted(dist.items()))))
EOF
}
res_a=$(check_consumer cfgswap) || fail "cfgswap: $res_a"
res_b=$(check_consumer fileswap) || fail "fileswap: $res_b"
note "$res_a"
note "$res_b"
att_a=$(attempts "$T/effects.cfgswap")
att_b=$(attempts "$T/effects.fileswap")

# A fresh batch after everything settled: all on the last version.
pubn work.items 200 post- >/dev/null || fail "publish failed"
wait_drained WORK cfgswap 30 || fail "post batch: cfgswap did not drain"
wait_drained WORK fileswap 30 || fail "post batch: fileswap did not drain"
for c in cfgswap fileswap; do
    for k in 1 100 200; do
        v=$(rcli HGET "jwtest:version:$c" "post-$k")
        [ "$v" = "$last" ] || fail "$c: post-$k committed by '$v', want $last"
    done
    [ "$(committed $c)" = $((N + 200)) ] || fail "$c: committed $(committed $c) after the post batch"
done

jw_stop jw || fail "jetway exited non-zero after SIGTERM"
echo "RESULT reload_load published=$N rate=$RATE reloads=$RELOADS committed_cfgswap=$N attempts_cfgswap=$att_a committed_fileswap=$N attempts_fileswap=$att_b duplicates=0 last=$last post_batch=200"
