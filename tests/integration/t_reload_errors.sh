#!/bin/bash
# Failed reloads keep the old generation serving: a broken YAML file, a
# missing plugin, an ABI-mismatched plugin, a plugin whose init fails (next
# to a changed, valid instance that must be thrown away again), and a
# consumer change JetStream refuses (deliver_policy all -> new). Each makes
# `jetway reload` exit 1 with the reason, is logged with file:line:column,
# and a message published afterwards is committed by the old version. Then a
# good reload works.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so" \
    "$JW_BUILD/tests/plugins/abi_major2.so" "$JW_BUILD/tests/plugins/init_fails.so"

# write_cfg VERSION FILE DELIVER [EXTRA_INSTANCE_FILE]
write_cfg()
{
    local extra=""
    [ -z "${4:-}" ] || extra="    - {name: extra, file: $4}"
    record_config "$T/jw.yaml" "{name: reload-errors, workers: 2, shutdown_grace: 10s}" \
        "version: \"$1\"" "$extra" "$2"
    cat >>"$T/jw.yaml" <<YAML
consumers:
  - name: worker
    stream: WORK
    handler: rec
    deliver_policy: $3
    ack_wait: 10s
    dead_letter: dlq.worker
log: {level: info}
YAML
}

k=0
# served_by VERSION: a new message is committed by that version.
served_by()
{
    k=$((k + 1))
    "$JW" pub -s "$NATS_URL" -q work.items "{\"message_id\":\"e-$k\"}" --id "e-$k" ||
        fail "publish e-$k failed"
    wait_for 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT HGET jwtest:version:worker e-$k)\" = $1 ]" ||
        fail "e-$k not committed by $1 (got '$(rcli HGET jwtest:version:worker "e-$k")')"
}

# refused CASE REGEX: reload fails with REGEX in its output and in the log.
refused()
{
    nfailed=$(count_in '"msg":"reload: failed' "$T/jw.log")
    out=$("$JW" reload --pid-file "$T/jw.pidfile" --timeout 30 2>&1)
    rc=$?
    [ $rc = 1 ] || fail "$1: jetway reload exited $rc: $out"
    echo "$out" | grep -q '^reload failed: ' || fail "$1: unexpected output: $out"
    echo "$out" | grep -Eq -- "$2" || fail "$1: reason '$out' does not match /$2/"
    grep -E '"msg":"reload: ' "$T/jw.log" | grep -Eq -- "$2" || fail "$1: /$2/ not logged"
    [ "$(count_in '"msg":"reload: failed' "$T/jw.log")" = $((nfailed + 1)) ] ||
        fail "$1: failure not logged once"
    grep -q '"ok":false' "$T/jw.pidfile.reload" || fail "$1: status file says $(cat "$T/jw.pidfile.reload")"
    served_by v1
    note "$1: $out"
}

LOC="$T/jw.yaml:[0-9]+:[0-9]+: "

write_cfg v1 record.so all
jw_start jw "$T/jw.yaml"
jw_wait_running jw
served_by v1

# 1. Broken YAML.
write_cfg v2 record.so all
sed -i 's/^service: {name: reload-errors,/service: {name: reload-errors/' "$T/jw.yaml"
refused "broken yaml" "${LOC}.*(syntax error|did not find)"

# 2. Missing plugin file.
write_cfg v2 nothere.so all
refused "missing plugin" "${LOC}plugins.instances\[0\]: plugin 'nothere.so'"

# 3. ABI-mismatched plugin.
write_cfg v2 abi_major2.so all
refused "abi mismatch" "${LOC}plugins.instances\[0\]: .*ABI major 2, host supports 1"

# 4. A plugin whose init fails, next to a valid changed instance (rec v2 is
#    initialised, then finalised again when the generation is dropped).
write_cfg v2 record.so all init_fails.so
nfin=$(count_in "plugin instance 'rec' finalised" "$T/jw.log")
refused "init fails" "${LOC}plugins.instances\[1\]: plugin 'extra' init failed: init refused by test"
[ "$(count_in "plugin instance 'rec' finalised" "$T/jw.log")" = $((nfin + 1)) ] ||
    fail "the v2 instance of the failed generation was not finalised"

# 5. A consumer change JetStream cannot make in place, next to a new
#    consumer: the dry run refuses before anything reaches the server.
write_cfg v2 record.so new
cat >>"$T/jw.yaml" <<YAML
  - {name: newbie, stream: WORK, handler: rec, dead_letter: dlq.newbie}
YAML
sed -i 's/^log: {level: info}$//' "$T/jw.yaml"
echo "log: {level: info}" >>"$T/jw.yaml"
"$JW" check -q -c "$T/jw.yaml" || fail "case 5 config is invalid"
refused "refused consumer change" "${LOC}provisioning: consumer WORK/worker: refused: deliver_policy is 'all' on the server, config says 'new'"
"$JW" pub -s "$NATS_URL" --consumer-info WORK newbie >/dev/null 2>&1 &&
    fail "a refused reload created consumer newbie on the server"

# The old generation served everything: nothing was handled by v2.
[ "$(grep -c ' v2 ' "$T/effects")" = 0 ] || fail "a failed generation handled messages"

# 6. A good reload.
write_cfg v2 record.so all
out=$("$JW" reload --pid-file "$T/jw.pidfile" --timeout 30 2>&1) || fail "good reload failed: $out"
echo "$out" | grep -Eq '^reload ok: config sha256 [0-9a-f]{64}$' || fail "good reload: $out"
note "good reload: $out"
served_by v2
grep -q '"ok":true' "$T/jw.pidfile.reload" || fail "status file says $(cat "$T/jw.pidfile.reload")"

wait_drained WORK worker 20 || fail "not drained"
[ "$(committed worker)" = $k ] || fail "committed $(committed worker), want $k"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits"
[ "$(attempts "$T/effects")" = $k ] || fail "attempts $(attempts "$T/effects"), want $k"
jw_stop jw || fail "jetway exited non-zero after SIGTERM"
echo "RESULT reload_errors refused=5 good=1 published=$k committed=$(committed worker) attempts=$(attempts "$T/effects") v1=$((k - 1)) v2=1 duplicates=0"
