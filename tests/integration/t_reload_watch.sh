#!/bin/bash
# t_reload_watch.sh -- `run --watch-config` with a Kubernetes ConfigMap
# volume's layout, under load.
#
# The config is mounted the way the kubelet does it: cm/config.yaml ->
# ..data/config.yaml, ..data -> ..<timestamp>/ (a directory of real files).
# While 12,000 messages are published at 1,500/s, the ConfigMap is updated
# the way the kubelet updates it (a new timestamped directory, a ..data_tmp
# symlink renamed over ..data, the old directory removed): the host must
# reload exactly once, to the new config (record.so's `version` v1 -> v2),
# every message must be committed exactly once, and messages published
# after the reload must be handled by v2. Then changes that must not reload:
# the same content swapped in again, an unrelated file written in the
# directory, the file touched. Then an invalid config swapped in: exactly
# one failed reload, the old config keeps running. A last swap back to a
# valid config reloads once more.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

N=12000
RATE=1500

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
CM="$T/cm"
mkdir -p "$CM"

# content VERSION: the config text.
content()
{
    record_config "$T/head.yaml" "{name: watch, workers: 4, shutdown_grace: 20s}" "version: \"$1\""
    cat "$T/head.yaml" - <<YAML
consumers:
  - {name: w, stream: WORK, filter_subject: work.items, handler: rec, dead_letter: dlq.w,
     concurrency: 4, batch: 64, backoff: [100ms]}
log: {level: info}
YAML
}

# kubelet_swap VERSION|-: what the kubelet's atomic writer does on a
# ConfigMap update ("-" = an invalid config).
swaps=0
kubelet_swap()
{
    swaps=$((swaps + 1))
    new="..2030_01_01_00_00_0$swaps.000000001"
    mkdir "$CM/$new"
    if [ "$1" = - ]; then
        printf 'consumers: [unterminated\n' >"$CM/$new/config.yaml"
    else
        content "$1" >"$CM/$new/config.yaml"
    fi
    old=$(readlink "$CM/..data" || true)
    ln -s "$new" "$CM/..data_tmp"
    mv -T "$CM/..data_tmp" "$CM/..data"
    [ -z "$old" ] || rm -rf "${CM:?}/$old"
    [ -L "$CM/config.yaml" ] || ln -s ..data/config.yaml "$CM/config.yaml"
}

reloads_ok()
{
    count_in 'reload: ok' "$T/jw.log"
}
reloads_failed()
{
    count_in 'reload: failed' "$T/jw.log"
}

kubelet_swap v1
"$JW" check -c "$CM/config.yaml" -q || fail "jetway check refused the config"
# (jw_start passes no options)
"$JW" run -c "$CM/config.yaml" --pid-file "$T/jw.pidfile" --watch-config >>"$T/jw.log" 2>&1 &
echo $! >"$T/jw.pid"
JW_PIDS="$JW_PIDS $!"
jw_wait_running jw
grep -q 'watch-config: watching' "$T/jw.log" || fail "no watch started: $(tail -n 5 "$T/jw.log")"
base_ok=$(reloads_ok)

bg pub "$JW" pub -s "$NATS_URL" work.items '{"message_id":"m-%d","n":%d}' --id 'm-%d' \
    --count $N --rate $RATE
committed_ge()
{
    [ "$(committed w)" -ge "$1" ]
}
wait_for 30 committed_ge 2000 || fail "consumption did not start"

# 1. the update: exactly one reload, to v2.
kubelet_swap v2
wait_for 20 sh -c "[ \$(grep -c 'reload: ok' '$T/jw.log') -ge $((base_ok + 1)) ]" ||
    fail "no reload after the ConfigMap update: $(grep -E 'watch-config|reload' "$T/jw.log" | tail -n 5)"
S_T=$(si WORK last_seq)
grep -q 'reload: ok, config sha256 '"$(sha256sum "$CM/config.yaml" | cut -c1-12)" "$T/jw.log" ||
    fail "the reload did not load the new file: $(grep 'reload: ok' "$T/jw.log" | tail -n 1)"
kill -0 "$(pid_of pub)" 2>/dev/null || fail "the publisher finished before the reload"
note "reloaded at stream seq $S_T of $N"

# 2. changes that must not reload: each is seen (logged "content unchanged")
#    and reloads nothing.
unchanged()
{
    count_in 'content unchanged' "$T/jw.log"
}
noop()
{
    before=$(unchanged)
    "$@"
    wait_for 10 sh -c "[ \$(grep -c 'content unchanged' '$T/jw.log') -gt $before ]" ||
        fail "the watcher did not look at the file after: $*"
}
noop kubelet_swap v2 # same bytes, new directory
noop sh -c "echo unrelated >'$CM/notes.txt'"
noop touch "$CM/..data/config.yaml"
wait "$(pid_of pub)" || fail "publisher failed: $(tail -n 3 "$T/pub.log")"
grep -q "published $N" "$T/pub.log" || fail "publisher: $(tail -n 2 "$T/pub.log")"
wait_drained WORK w 60 || fail "w did not drain"
[ "$(reloads_ok)" = $((base_ok + 1)) ] || fail "$(reloads_ok) reloads ok, want exactly $((base_ok + 1))"
[ "$(count_in 'reload: reading' "$T/jw.log")" = 1 ] ||
    fail "$(count_in 'reload: reading' "$T/jw.log") reloads started, want 1"

# Nothing lost or repeated; after the reload, v2 only.
[ "$(committed w)" = $N ] || fail "committed $(committed w), want $N"
[ "$(dupcommits w)" = 0 ] || fail "duplicate commits: $(dupcommits w)"
rcli HGETALL "jwtest:version:w" >"$T/versions"
python3 - "$T/effects" "$T/versions" "$S_T" "$N" <<'PY' || fail "versions"
import sys
effects, versions, s_t, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = open(versions).read().split("\n")
ver = dict(zip(lines[0::2], lines[1::2]))
after, bad = set(), []
for line in open(effects):
    f = line.split()
    if f[0] == "attempt" and int(f[2]) > s_t:
        after.add(f[1])
        if f[4] != "v2":
            bad.append(line.strip())
dist = {}
for v in ver.values():
    dist[v] = dist.get(v, 0) + 1
if len(ver) != n:
    sys.exit("FAIL: %d versions recorded, want %d" % (len(ver), n))
if not after or bad:
    sys.exit("FAIL: %d handled after the reload, %d not by v2: %s" % (len(after), len(bad), bad[:3]))
if set(dist) != {"v1", "v2"}:
    sys.exit("FAIL: versions %s, want v1 and v2" % dist)
print("after_reload=%d versions=%s" % (len(after), dist))
PY

# 3. an invalid update: one failed reload, v2 keeps running.
kubelet_swap -
wait_for 20 sh -c "[ \$(grep -c 'reload: failed' '$T/jw.log') -ge 1 ]" ||
    fail "no failed reload after an invalid update"
pubn work.items 100 after-bad- >/dev/null || fail "publish failed"
wait_drained WORK w 30 || fail "w did not drain after the invalid update"
[ "$(rcli HGET jwtest:version:w after-bad-50)" = v2 ] || fail "after the invalid update: not v2"

# 4. a valid update again: one more reload, to v3.
kubelet_swap v3
wait_for 20 sh -c "[ \$(grep -c 'reload: ok' '$T/jw.log') -ge $((base_ok + 2)) ]" ||
    fail "no reload after the fixed update"
pubn work.items 100 after-fix- >/dev/null || fail "publish failed"
wait_drained WORK w 30 || fail "w did not drain after the fixed update"
[ "$(rcli HGET jwtest:version:w after-fix-50)" = v3 ] || fail "after the fixed update: not v3"
[ "$(reloads_ok)" = $((base_ok + 2)) ] && [ "$(reloads_failed)" = 1 ] ||
    fail "reloads: $(reloads_ok) ok, $(reloads_failed) failed; want $((base_ok + 2)) and 1"

jw_stop jw || fail "jetway exited non-zero after SIGTERM"
echo "RESULT reload_watch published=$N rate=$RATE reloads_ok=2 reloads_failed=1 noop_changes=3 committed=$N duplicates=0"
