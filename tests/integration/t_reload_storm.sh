#!/bin/bash
# 50 SIGHUPs within about a second, each after rewriting the config
# (atomically) with a new `version:`: reloads coalesce, the process ends on
# the last config (status file digest = the file's sha256, new messages
# committed by the last version), nothing crashes. 10 SIGHUPs while a
# reload sits in a slow plugin init fold into exactly one more reload. Then SIGTERM while a
# reload is inside a slow plugin init: the drain waits for the reload,
# drops its generation (finalising the new instance), and exits 0; a
# restart commits everything exactly once.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

HUPS=50

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so" "$JW_BUILD/tests/plugins/slow_init.so"

# write_cfg VERSION [slow]: atomically replace the topology.
write_cfg()
{
    local slow=""
    if [ "${2:-}" = slow ]; then
        slow="    - {name: slowinit, file: slow_init.so, config: {init_sleep: 3s, marker: \"$T/marker\"}}"
    fi
    record_config "$T/jw.yaml.tmp" "{name: reload-storm, workers: 4, shutdown_grace: 30s}" \
        "version: \"$1\", sleep: 5ms" "$slow"
    cat >>"$T/jw.yaml.tmp" <<YAML
consumers:
  - {name: worker, stream: WORK, handler: rec, dead_letter: dlq.worker, concurrency: 4, ack_wait: 20s}
log: {level: info}
YAML
    mv -f "$T/jw.yaml.tmp" "$T/jw.yaml"
}

# status_final DIGEST NS: the status file reports an ok reload of DIGEST
# that started at or after NS.
status_final()
{
    python3 - "$T/jw.pidfile.reload" "$1" "$2" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if s["ok"] and s["digest"] == sys.argv[2] and s["started_ns"] >= int(sys.argv[3]) else 1)
EOF
}

write_cfg s0
jw_start jw "$T/jw.yaml"
jw_wait_running jw
pid=$(pid_of jw)
total=0
pubn work.items 20 a- >/dev/null || fail "publish failed"
total=$((total + 20))

# The storm.
t0=$(date +%s%N)
for i in $(seq 1 $HUPS); do
    write_cfg "s$i"
    t_last=$(date +%s%N) # a reload of this file starts after this instant
    kill -HUP "$pid" || fail "jetway is gone after $i SIGHUPs"
done
digest=$(sha256sum "$T/jw.yaml" | cut -d' ' -f1)
note "$HUPS SIGHUPs in $(((t_last - t0) / 1000000)) ms"
wait_for 60 status_final "$digest" "$t_last" ||
    fail "no final ok reload of the last config: $(cat "$T/jw.pidfile.reload" 2>/dev/null)"
kill -0 "$pid" || fail "jetway died"
runs=$(count_in '"msg":"reload: reading' "$T/jw.log")
oks=$(count_in '"msg":"reload: ok' "$T/jw.log")
coalesced=$(count_in 'one more will follow' "$T/jw.log")
seq=$(python3 -c "import json; print(json.load(open('$T/jw.pidfile.reload'))['seq'])")
note "reloads run=$runs ok=$oks seq=$seq; SIGHUPs during a reload=$coalesced"
[ "$(count_in '"msg":"reload: failed' "$T/jw.log")" = 0 ] || fail "a reload failed during the storm"
[ "$runs" = "$oks" ] && [ "$seq" = "$runs" ] || fail "runs $runs, ok $oks, seq $seq disagree"
[ "$runs" -ge 2 ] && [ "$runs" -le $HUPS ] || fail "$runs reloads for $HUPS SIGHUPs"
grep '"msg":"reload: ok' "$T/jw.log" | tail -n 1 | grep -q "sha256 ${digest:0:12}" ||
    fail "the last reload logged is not of the last config"

# Coalescing for certain: 10 SIGHUPs while a reload sits in a 3 s plugin
# init must give exactly one more reload, of the last file.
write_cfg s-slow slow
kill -HUP "$pid"
wait_for 30 test -e "$T/marker" || fail "the slow reload never reached plugin init"
for i in $(seq 1 10); do
    write_cfg "t$i"
    kill -HUP "$pid"
done
t_last=$(date +%s%N)
digest=$(sha256sum "$T/jw.yaml" | cut -d' ' -f1)
wait_for 60 status_final "$digest" "$t_last" ||
    fail "no ok reload of the last file after the slow one: $(cat "$T/jw.pidfile.reload" 2>/dev/null)"
runs2=$(($(count_in '"msg":"reload: reading' "$T/jw.log") - runs))
folded=$(($(count_in 'one more will follow' "$T/jw.log") - coalesced))
note "10 SIGHUPs during a slow reload: $folded folded, $runs2 reloads run"
[ "$folded" = 10 ] || fail "$folded of 10 SIGHUPs during a reload were folded into the pending one"
[ "$runs2" = 2 ] || fail "$runs2 reloads for one slow reload and 10 SIGHUPs during it, want 2"
wait_for 30 sh -c "! test -e '$T/marker'" || fail "the slow instance replaced by the follow-up was not finalised"
LAST=t10
# Behaviour: new messages are committed by the last version.
pubn work.items 50 b- >/dev/null || fail "publish failed"
total=$((total + 50))
wait_drained WORK worker 30 || fail "not drained after the storm"
for k in 1 25 50; do
    v=$(rcli HGET jwtest:version:worker "b-$k")
    [ "$v" = "$LAST" ] || fail "b-$k committed by '$v', want $LAST"
done

# SIGTERM during a reload (inside a 3 s plugin init), with messages in flight.
pubn work.items 1000 c- >/dev/null || fail "publish failed"
total=$((total + 1000))
write_cfg s-never slow
kill -HUP "$pid"
wait_for 20 test -e "$T/marker" || fail "the reload never reached plugin init"
t_term=$(date +%s%N)
rc=0
jw_stop jw || rc=$?
[ $rc = 0 ] || fail "jetway exited $rc after SIGTERM during a reload"
note "SIGTERM during reload: exit 0 after $((($(date +%s%N) - t_term) / 1000000)) ms"
grep -q '"msg":"reload: shutting down; the new configuration is dropped' "$T/jw.log" ||
    fail "the interrupted reload was not reported"
grep -q '"msg":"jetway stopped' "$T/jw.log" || fail "no clean stop logged"
grep -q '"ok":false.*"error":"draining"' "$T/jw.pidfile.reload" ||
    fail "status after the interrupted reload: $(cat "$T/jw.pidfile.reload")"
grep -q "plugin instance 'slowinit' finalised" "$T/jw.log" || fail "the dropped instance was not finalised"
[ ! -e "$T/marker" ] || fail "slowinit's fini did not run"
handled_before=$(attempts "$T/effects")

# A restart on the last good config finishes the rest, exactly once.
write_cfg "$LAST"
jw_start jw2 "$T/jw.yaml"
jw_wait_running jw2
wait_drained WORK worker 60 || fail "not drained after restart"
[ "$(committed worker)" = $total ] || fail "committed $(committed worker), want $total"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits $(dupcommits worker)"
[ "$(grep -c ' s-never ' "$T/effects")" = 0 ] || fail "the dropped generation handled messages"
att=$(attempts "$T/effects")
[ "$att" = $total ] || note "attempts $att for $total messages (redelivered after the drain)"
jw_stop jw2 || fail "jw2 exited non-zero"
echo "RESULT reload_storm sighups=$HUPS reloads_run=$runs coalesced_hups=$coalesced slow_reload_hups=10 slow_reload_folded=$folded slow_reload_runs=$runs2 published=$total committed=$(committed worker) attempts=$att handled_before_sigterm=$handled_before duplicates=0"
