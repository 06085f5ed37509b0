#!/bin/bash
# t_audit.sh -- `jetway-audit-verify` on a log the audit plugin really wrote:
# tests/tools/audit_gen dlopens the built plugin with a fake host and feeds it
# events from 16 threads (with redeliveries); the log must verify, survive a
# restart with one unbroken chain, and every tampering must be found and
# named by segment and line. Needs no servers: the plugin only writes files.
source "$(dirname "$0")/../lib/harness.sh"

GEN="$JW_BUILD/tests/tools/audit_gen"
SO="$JW_BUILD/plugins/audit.so"
[ -x "$GEN" ] && [ -f "$SO" ] || fail "build $GEN and $SO first (make)"
LOG="$T/audit"

"$AUDIT_VERIFY" --help | grep -q "usage: jetway-audit-verify DIR" || fail "jetway-audit-verify --help"
"$JW" --help | grep -qw "audit" && fail "jetway --help still lists the example's audit command"
"$AUDIT_VERIFY" >/dev/null 2>&1
[ $? -eq 2 ] || fail "audit verify without DIR should be a usage error (2)"

# 16 KiB segments, batches of 8, up to 5 ms: many segments and group commits.
out=$("$GEN" "$SO" "$LOG" 3000 16 16384 8 5) || fail "audit_gen: $out"
note "$out"
case "$out" in *" failed=0 records=3000 "*) ;; *) fail "unexpected: $out" ;; esac

res=$("$AUDIT_VERIFY" "$LOG") || fail "fresh log does not verify: $res"
note "$res"
nseg=$(ls "$LOG" | grep -c '^audit-[0-9]*\.jsonl$')
[ "$nseg" -ge 5 ] || fail "expected rotation, got $nseg segments"
echo "$res" | grep -Eq "^ok: 3000 records in $nseg segments, head [0-9a-f]{64}$" || fail "ok line: $res"

json=$("$AUDIT_VERIFY" "$LOG" --json) || fail "--json: $json"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ok"] and d["records"]==3000, d' \
    "$json" || fail "--json output: $json"

# A restart continues the same chain (the ids here are old enough to be
# outside the duplicate window, so they are logged again).
out2=$("$GEN" "$SO" "$LOG" 160 4 16384 8 5) || fail "second audit_gen: $out2"
rec2=$(echo "$out2" | sed -n 's/.*records=\([0-9]*\).*/\1/p')
total=$((3000 + rec2))
res=$("$AUDIT_VERIFY" "$LOG") || fail "after restart: $res"
echo "$res" | grep -q "^ok: $total records" || fail "after restart, expected $total: $res"
note "after restart: $res"

# Tamper with one byte of one event in the middle of the log.
mid=$(printf 'audit-%06d.jsonl' $((nseg / 2)))
cp "$LOG/$mid" "$T/saved"
line=$(python3 - "$LOG/$mid" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
lines = b.split(b"\n")
k = len(lines) // 2                     # 0-based line in the middle
off = sum(len(l) + 1 for l in lines[:k]) + lines[k].index(b'"order_id":"o-') + 14
b[off] ^= 0x01
open(p, "wb").write(b)
print(k + 1)
PY
)
res=$("$AUDIT_VERIFY" "$LOG")
rc=$?
[ $rc -eq 1 ] || fail "flipped byte: exit $rc, $res"
[ "$res" = "broken: $mid:$line: hash mismatch" ] || fail "flipped byte named wrongly: $res (want $mid:$line)"
note "flip: $res"
json=$("$AUDIT_VERIFY" "$LOG" --json)
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert not d["ok"] and d["segment"]==sys.argv[2] and d["line"]==int(sys.argv[3]) and d["error"]=="hash mismatch", d' \
    "$json" "$mid" "$line" || fail "--json broken: $json"
cp "$T/saved" "$LOG/$mid"
"$AUDIT_VERIFY" "$LOG" >/dev/null || fail "restored segment should verify"

# The same flip with dd, on the first byte of a record's data.
off=$(python3 -c 'import sys; print(open(sys.argv[1],"rb").read().index(b"\"data\":{") + 8)' "$LOG/$mid")
printf 'X' | dd of="$LOG/$mid" bs=1 seek="$off" conv=notrunc status=none
res=$("$AUDIT_VERIFY" "$LOG") && fail "dd flip not detected"
[ "$res" = "broken: $mid:1: bad JSON" ] || fail "dd flip: $res"
cp "$T/saved" "$LOG/$mid"

# A deleted line.
sed -i '3d' "$LOG/$mid"
res=$("$AUDIT_VERIFY" "$LOG") && fail "deleted line not detected"
[ "$res" = "broken: $mid:3: n not consecutive" ] || fail "deleted line: $res"
cp "$T/saved" "$LOG/$mid"

# A missing segment.
mv "$LOG/$mid" "$T/moved"
res=$("$AUDIT_VERIFY" "$LOG") && fail "missing segment not detected"
[ "$res" = "broken: $mid: missing segment" ] || fail "missing segment: $res"
mv "$T/moved" "$LOG/$mid"

# A torn final line of the last segment (a crash mid-append): reported,
# accepted unless --strict, and cut by the plugin when it starts again.
last=$(ls "$LOG" | grep '^audit-[0-9]*\.jsonl$' | sort | tail -n 1)
lines=$(wc -l <"$LOG/$last")
truncate -s -20 "$LOG/$last"
res=$("$AUDIT_VERIFY" "$LOG" 2>"$T/note") || fail "torn tail should be accepted: $res"
grep -q "$last:$lines is a torn final line" "$T/note" || fail "torn tail not reported: $(cat "$T/note")"
res=$("$AUDIT_VERIFY" --strict "$LOG") && fail "--strict accepted a torn tail"
[ "$res" = "broken: $last:$lines: torn final line" ] || fail "--strict: $res"
"$GEN" "$SO" "$LOG" 16 4 16384 8 5 >/dev/null || fail "audit_gen after the torn tail"
res=$("$AUDIT_VERIFY" --strict "$LOG") || fail "after the plugin cut the torn tail: $res"
note "after torn tail and restart: $res"

echo "RESULT audit: ok"
