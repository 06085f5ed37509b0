#!/bin/bash
# t_stream_owner.sh -- stream ownership (issue 15, item 3): a stream declared
# `manage: false` is bind-only. A role config with such a stream never
# creates or changes it: on an empty server provisioning and `run` fail with
# a message naming the owner's job; a declaration whose subjects are not
# captured, or whose consumer would break on the server's settings, is
# refused; a narrower subjects list or other limits (the silent update of
# old) leave the owner's stream as it is, shown by --dry-run; `check`
# prints the stream as bind-only; the role runs and handles its messages on
# the owner's stream.
. tests/lib/harness.sh
. tests/lib/jetway.sh
start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/ack.so"

owner()
{
    cat >"$T/owner.yaml" <<YAML
service: {name: owner}
nats: {servers: ["$NATS_URL"]}
streams:
  - {name: WORK, subjects: ["work.a", "work.b"], duplicate_window: ${1:-2m}}
  - {name: DLQ, subjects: ["dlq.>"]}
YAML
}

# role STREAM-EXTRA [TTL]: a role binding to WORK and DLQ.
role()
{
    cat >"$T/role.yaml" <<YAML
service: {name: role}
nats: {servers: ["$NATS_URL"]}
redis: {url: "$REDIS_URL"}
plugins:
  dir: $T/plugins
  instances: [{name: ack, file: ack.so}]
streams:
  - {name: WORK, manage: false, $1}
  - {name: DLQ, manage: false}
consumers:
  - name: role-a
    stream: WORK
    filter_subject: work.a
    handler: ack
    dead_letter: dlq.role-a
    dedup: {enabled: true, ttl: ${2:-72h}}
http: {listen: "127.0.0.1:$(free_port)"}
YAML
}

prov()
{
    rc=0
    "$JW" provision -c "$@" >"$T/out" 2>&1 || rc=$?
}

subjects() { "$JW" pub --stream-info WORK | python3 -c 'import json,sys; print(",".join(json.load(sys.stdin)["subjects"]))'; }

# 1. a managed stream must list subjects; the error says how to bind instead
printf 'service: {name: x}\nstreams:\n  - {name: WORK}\n' >"$T/bad.yaml"
"$JW" check -c "$T/bad.yaml" >"$T/out" 2>&1 && fail "a stream without subjects passed check"
grep -q "missing required key 'subjects' (or manage: false" "$T/out" || fail "no hint: $(cat "$T/out")"

# 2. check shows the stream as bind-only
role 'subjects: ["work.a"]'
"$JW" check -c "$T/role.yaml" >"$T/out" 2>&1 || fail "role config fails check: $(cat "$T/out")"
grep -q "manage: false # bind-only" "$T/out" || fail "check does not show bind-only: $(cat "$T/out")"

# 3. empty server: dry run and provision fail, create nothing
prov "$T/role.yaml" --dry-run
[ $rc -ne 0 ] || fail "dry run passed without the owner's streams"
grep -q "^stream WORK: error: does not exist; it is declared manage: false here" "$T/out" ||
    fail "dry run does not say why: $(cat "$T/out")"
prov "$T/role.yaml"
[ $rc -ne 0 ] || fail "provision passed without the owner's streams"
"$JW" pub --stream-info WORK >/dev/null 2>&1 && fail "a bind-only config created WORK"

# 4. run exits non-zero with the reason, creating nothing
rc=0
timeout 60 "$JW" run -c "$T/role.yaml" >"$T/run.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "run without the stream exited $rc"
grep -q "stream WORK.*does not exist; it is declared manage: false" "$T/run.log" ||
    fail "run does not say why: $(tail -n 5 "$T/run.log")"
"$JW" pub --stream-info WORK >/dev/null 2>&1 && fail "run of a bind-only config created WORK"

# 5. the owner creates them
owner
prov "$T/owner.yaml"
[ $rc -eq 0 ] || fail "owner provision failed: $(cat "$T/out")"
grep -q '^stream WORK: created$' "$T/out" || fail "owner did not create WORK: $(cat "$T/out")"

# 6. a narrower subjects list (a managed stream would be updated to it) binds,
#    and the owner's subjects stay
prov "$T/role.yaml" --dry-run
[ $rc -eq 0 ] || fail "dry run of a compatible role failed: $(cat "$T/out")"
grep -q '^stream WORK: bound: manage: false, owned by another config$' "$T/out" ||
    fail "dry run does not show the bind: $(cat "$T/out")"
grep -q '^consumer WORK/role-a: would create$' "$T/out" || fail "consumer: $(cat "$T/out")"
prov "$T/role.yaml"
[ $rc -eq 0 ] || fail "provision of a compatible role failed: $(cat "$T/out")"
[ "$(subjects)" = "work.a,work.b" ] || fail "the role changed WORK's subjects to $(subjects)"

# 7. limits declared on a bind-only stream are shown, not applied
role 'subjects: ["work.a"], max_age: 1h'
prov "$T/role.yaml" --dry-run
grep -q "^stream WORK: bound: .*differs from this declaration (left as is): max_age: 0 -> 1h" \
    "$T/out" || fail "the difference is not shown: $(cat "$T/out")"
prov "$T/role.yaml"
[ $rc -eq 0 ] || fail "provision with a differing limit failed: $(cat "$T/out")"
grep -q "^stream WORK: bound: .*max_age: 0 -> 1h" "$T/out" ||
    fail "provision did not leave max_age to the owner: $(cat "$T/out")"
prov "$T/role.yaml" --dry-run
grep -q "max_age: 0 -> 1h" "$T/out" || fail "the role changed WORK's max_age: $(cat "$T/out")"

# 8. a subject the owner's stream does not capture: refused, nothing changed
role 'subjects: ["work.a", "work.c"]'
prov "$T/role.yaml"
[ $rc -ne 0 ] || fail "an uncovered subject was accepted"
grep -qF "stream WORK: refused: incompatible with this config: subject 'work.c' is not captured by the server's subjects [work.a,work.b]" \
    "$T/out" || fail "refusal text: $(cat "$T/out")"
[ "$(subjects)" = "work.a,work.b" ] || fail "WORK changed to $(subjects)"

# 9. dedup.ttl shorter than the owner's duplicate window: refused
owner 10m
prov "$T/owner.yaml"
[ $rc -eq 0 ] || fail "owner update failed: $(cat "$T/out")"
role 'subjects: ["work.a"]' 5m
prov "$T/role.yaml"
[ $rc -ne 0 ] || fail "a dedup.ttl below the server's duplicate window was accepted"
grep -qF "consumer role-a: dedup.ttl 5m is shorter than the server's duplicate_window 10m" "$T/out" ||
    fail "ttl refusal text: $(cat "$T/out")"

# 10. the role runs on the owner's stream and handles what arrives
role 'subjects: ["work.a"]'
jw_start role "$T/role.yaml"
jw_wait_running role 60
"$JW" pub -q work.a '{"message_id":"m-%d"}' --count 20 --id 'm-%d' || fail "publish failed"
wait_drained WORK role-a 60 || fail "role-a did not drain WORK"
jw_stop role || fail "role exited non-zero"
[ "$(subjects)" = "work.a,work.b" ] || fail "run changed WORK to $(subjects)"
grep -q "Authorization\|stream WORK: updated" "$T/role.log" && fail "run touched WORK"

echo "RESULT t_stream_owner ok (10 checks)"
