#!/bin/bash
# t_audit_archive.sh -- the audit archive (issue 18 item 4) against a real
# S3-compatible server, s3rver (scripts/s3rver-install puts it in build/npm),
# on a loopback port: tests/tools/audit_gen drives the built audit plugin
# with a fake host while its archive thread uploads every sealed segment.
#  1. every sealed segment lands in the bucket, byte for byte (sha256 of the
#     object = the sidecar's), and only then is marked; retention keeps the
#     newest 2 archived segments on disk;
#  2. jetway-audit-verify checks the whole chain with the deleted segments
#     read from the bucket, and finds a tampered object;
#  3. the server down while segments are sealed: uploads fail and are
#     retried, nothing is marked or deleted; the server back: the uploads
#     land, retention runs again, and the whole chain verifies.
source "$(dirname "$0")/../lib/harness.sh"

GEN="$JW_BUILD/tests/tools/audit_gen"
SO="$JW_BUILD/plugins/audit.so"
[ -x "$GEN" ] && [ -f "$SO" ] || fail "build $GEN and $SO first (make)"
need_tool curl curl
S3RVER=$(scripts/s3rver-install) || fail "scripts/s3rver-install failed (node and npm: scripts/deps archive)"
case "$S3RVER" in /*) ;; *) S3RVER="$(pwd)/$S3RVER" ;; esac

LOG="$T/audit"
S3_PORT=$(free_port)
EP="http://127.0.0.1:$S3_PORT"
BUCKET=audit
PREFIX=role-a/
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
EXTRA="\"archive_endpoint\":\"$EP\",\"archive_bucket\":\"$BUCKET\",\"archive_prefix\":\"$PREFIX\""
EXTRA="$EXTRA,\"archive_keep_local\":2,\"archive_retry_min\":100,\"archive_retry_max\":400"
VERIFY_S3=(--s3-endpoint "$EP" --bucket "$BUCKET" --prefix "$PREFIX")

start_s3()
{
    bg s3rver "$S3RVER" -d "$T/s3data" -a 127.0.0.1 -p "$S3_PORT" --silent \
        --no-vhost-buckets --configure-bucket "$BUCKET"
    wait_for 30 port_open "$S3_PORT" || fail "s3rver did not listen on $S3_PORT"
}

s3_curl()
{
    curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"
}

s3_get() # NAME -> the object's bytes on stdout
{
    s3_curl -H "x-amz-content-sha256: $EMPTY_SHA" "$EP/$BUCKET/$PREFIX$1"
}

s3_put() # NAME FILE
{
    s3_curl -X PUT -H "x-amz-content-sha256: $(sha256sum <"$2" | cut -d' ' -f1)" \
        --data-binary "@$2" "$EP/$BUCKET/$PREFIX$1" >/dev/null
}

seg() { printf 'audit-%06d.jsonl' "$1"; }
newest() { ls "$LOG" | sed -n 's/^audit-0*\([0-9][0-9]*\)\.jsonl$/\1/p' | sort -n | tail -n 1; }
nlocal() { ls "$LOG" | grep -c '^audit-[0-9]*\.jsonl$'; }
nmarked() { ls "$LOG" | grep -c '^audit-[0-9]*\.jsonl\.archived$'; }
all_marked() { [ "$(nmarked)" -eq $(($(newest) - 1)) ]; }
generated() { grep -q '^generated ' "$T/$1.log"; }

# Every sidecar's sha256 is that of the object in the bucket, and of the
# local copy while there is one.
check_objects()
{
    for ((k = 1; k < $(newest); k++)); do
        s=$(seg $k)
        want=$(sed -n 's/.*"sha256":"\([0-9a-f]\{64\}\)".*/\1/p' "$LOG/$s.archived")
        [ -n "$want" ] || fail "sidecar of $s: $(cat "$LOG/$s.archived")"
        got=$(s3_get "$s" | sha256sum | cut -d' ' -f1)
        [ "$got" = "$want" ] || fail "$s: object sha256 $got, sidecar says $want"
        if [ -f "$LOG/$s" ]; then
            [ "$(sha256sum <"$LOG/$s" | cut -d' ' -f1)" = "$want" ] || fail "$s: local copy differs"
        fi
    done
}

# Retention (keep 2): exactly the current segment and the two newest sealed
# ones are on disk.
check_retention()
{
    local n
    n=$(newest)
    [ "$(nlocal)" -eq 3 ] || fail "retention: $(nlocal) local segments: $(ls "$LOG" | tr '\n' ' ')"
    for k in $((n - 2)) $((n - 1)) "$n"; do
        [ -f "$LOG/$(seg $k)" ] || fail "retention deleted $(seg $k)"
    done
}

start_s3

# 1. Upload, verify, mark, retention.
bg gen1 env AUDIT_GEN_EXTRA="$EXTRA" AUDIT_GEN_WAIT="$T/stop1" \
    "$GEN" "$SO" "$LOG" 1500 8 32768 8 5
wait_for 60 generated gen1 || fail "audit_gen did not finish writing"
wait_for 30 all_marked || fail "not all sealed segments archived: $(nmarked) of $(($(newest) - 1))"
n1=$(newest)
[ "$n1" -ge 10 ] || fail "expected rotation, newest segment is $n1"
touch "$T/stop1"
wait_gone "$(pid_of gen1)" || fail "audit_gen did not stop"
line=$(grep '^acked=' "$T/gen1.log") || fail "no result line from audit_gen"
note "run 1: $line"
case "$line" in *" failed=0 records=1500 "*" archived=$((n1 - 1)) archive_failures=0 archive_deleted=$((n1 - 3))") ;;
*) fail "unexpected run 1: $line (newest segment $n1)" ;; esac
check_retention
check_objects
note "run 1: $((n1 - 1)) segments archived, $(nlocal) local"

# 2. The verifier: without the bucket the deleted segments are missing; with
# it the chain checks out; a changed object is found.
res=$("$AUDIT_VERIFY" "$LOG") && fail "verify without the bucket should fail: $res"
[ "$res" = "broken: audit-000001.jsonl: missing segment" ] || fail "without the bucket: $res"
res=$("$AUDIT_VERIFY" "$LOG" "${VERIFY_S3[@]}") || fail "verify with the bucket: $res"
echo "$res" | grep -Eq "^ok: 1500 records in $n1 segments \($((n1 - 3)) read from the archive\), head [0-9a-f]{64}$" ||
    fail "verify with the bucket: $res"
note "$res"
s3_get "$(seg 2)" >"$T/seg2" || fail "GET $(seg 2)"
python3 - "$T/seg2" "$T/seg2.bad" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.index(b'"order_id":"o-') + 14
b[i] ^= 1
open(sys.argv[2], "wb").write(b)
PY
s3_put "$(seg 2)" "$T/seg2.bad" || fail "PUT tampered object"
res=$("$AUDIT_VERIFY" "$LOG" "${VERIFY_S3[@]}") && fail "tampered object not detected: $res"
[ "$res" = "broken: $(seg 2):1: hash mismatch" ] || fail "tampered object: $res"
s3_put "$(seg 2)" "$T/seg2" || fail "PUT restored object"
"$AUDIT_VERIFY" "$LOG" "${VERIFY_S3[@]}" >/dev/null || fail "restored object should verify"
# An object the archive lacks is named as such.
res=$("$AUDIT_VERIFY" "$LOG" --s3-endpoint "$EP" --bucket "$BUCKET" --prefix elsewhere/) &&
    fail "wrong prefix accepted"
[ "$res" = "broken: audit-000001.jsonl: missing segment (not in the archive either)" ] ||
    fail "wrong prefix: $res"

# 3. The server down while segments are sealed.
kill -TERM "$(pid_of s3rver)"
wait_gone "$(pid_of s3rver)" || fail "s3rver did not stop"
bg gen2 env AUDIT_GEN_EXTRA="$EXTRA" AUDIT_GEN_WAIT="$T/stop2" \
    "$GEN" "$SO" "$LOG" 600 4 32768 8 5
wait_for 60 generated gen2 || fail "audit_gen (server down) did not finish writing"
n2=$(newest)
[ "$n2" -gt "$n1" ] || fail "no segment sealed while the server was down ($n1 -> $n2)"
retried() { grep -q "not archived (attempt 3" "$T/gen2.log"; }
wait_for 30 retried || fail "no retries seen: $(tail -n 5 "$T/gen2.log")"
for ((k = n1; k < n2; k++)); do
    [ -f "$LOG/$(seg $k)" ] || fail "$(seg $k) deleted while not archived"
    [ -f "$LOG/$(seg $k).archived" ] && fail "$(seg $k) marked archived with the server down"
done
note "server down: segments $n1..$((n2 - 1)) sealed and kept; $(grep -c 'not archived (attempt' "$T/gen2.log") failed attempts"
start_s3
wait_for 30 all_marked || fail "after the server came back: $(nmarked) of $((n2 - 1)) archived"
touch "$T/stop2"
wait_gone "$(pid_of gen2)" || fail "audit_gen (server down) did not stop"
line=$(grep '^acked=' "$T/gen2.log") || fail "no result line from audit_gen (server down)"
note "run 2: $line"
case "$line" in *" failed=0 "*" archived=$((n2 - n1)) "*) ;; *) fail "unexpected run 2: $line" ;; esac
rec2=$(echo "$line" | sed -n 's/.* records=\([0-9]*\) .*/\1/p')
check_retention
check_objects
res=$("$AUDIT_VERIFY" "$LOG" "${VERIFY_S3[@]}") || fail "verify after the outage: $res"
echo "$res" | grep -q "^ok: $((1500 + rec2)) records in $n2 segments" || fail "after the outage: $res"
note "$res"

echo "RESULT audit_archive: ok"
