#!/bin/bash
# t_orders_audit_tamper -- the audit log of a real run (four roles, 500
# orders, segments of 128 KiB so there are several) verifies; then, on
# copies of it, one flipped byte (inside the data, and one breaking the
# JSON), a deleted line and a deleted first line of a later segment each
# make `jetway-audit-verify` exit 1 naming that segment and line, in text
# and in --json. The untouched copy still verifies after each.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/harness.sh
. tests/lib/jetway.sh
. tests/lib/orders.sh

# The shipped configs, but small audit segments.
ORDERS_CONFIG_DIR="$T/config"
mkdir -p "$ORDERS_CONFIG_DIR"
cp config/*.yaml "$ORDERS_CONFIG_DIR/"
sed -i 's/segment_size: 4MiB/segment_size: 128KiB/' "$ORDERS_CONFIG_DIR/audit.yaml"
grep -q 'segment_size: 128KiB' "$ORDERS_CONFIG_DIR/audit.yaml" || fail "cannot set segment_size"

orders_start
orders_load 500 --timeout 60 || fail "jetway-orders-load: $(cat "$T/load.json" "$T/load.err")"
orders_quiet 60 || fail "the system did not go quiet"
orders_stop || fail "a role exited non-zero"
orders_check || fail "invariants broken: $(cat "$T/check.json")"
records=$(ocount audit_records)
nseg=$(find "$AUDIT_DIR" -name 'audit-*.jsonl' | wc -l)
[ "$nseg" -ge 3 ] || fail "want at least 3 segments, got $nseg"
note "clean log: $(cat "$T/verify.txt")"

# verify_broken DIR SEGMENT LINE WHAT: verify must fail at SEGMENT:LINE.
verify_broken()
{
    local out rc=0 js
    out=$("$AUDIT_VERIFY" "$1" 2>&1) || rc=$?
    [ $rc = 1 ] || fail "$4: verify exited $rc, want 1: $out"
    case "$out" in
    "broken: $2:$3: "*) ;;
    *) fail "$4: verify said '$out', want broken: $2:$3: ..." ;;
    esac
    js=$("$AUDIT_VERIFY" "$1" --json) && fail "$4: verify --json exited 0"
    echo "$js" | python3 -c 'import json,sys
o = json.load(sys.stdin)
assert o["ok"] is False and o["segment"] == sys.argv[1] and o["line"] == int(sys.argv[2]), o' "$2" "$3" ||
        fail "$4: verify --json: $js"
    note "$4: $out"
}

# fresh: a new copy of the clean log in $T/t
fresh()
{
    rm -rf "$T/t"
    cp -a "$AUDIT_DIR" "$T/t"
    "$AUDIT_VERIFY" "$T/t" >/dev/null || fail "the clean copy does not verify"
}

seg2=audit-000002.jsonl
lines2=$(wc -l <"$AUDIT_DIR/$seg2")
mid=$((lines2 / 2))

# 1. One byte inside a record's data: the first hex digit of its order id
#    changes, the JSON stays valid and only the hash can tell.
fresh
python3 - "$T/t/$seg2" "$mid" <<'PY' || fail "cannot flip a byte"
import sys
path, k = sys.argv[1], int(sys.argv[2])
lines = open(path, "rb").read().split(b"\n")
line = lines[k - 1]
at = line.index(b'"order_id":"ord-') + len(b'"order_id":"ord-')
b = bytearray(line)
b[at] = ord("a") if b[at] != ord("a") else ord("b")
lines[k - 1] = bytes(b)
open(path, "wb").write(b"\n".join(lines))
PY
verify_broken "$T/t" "$seg2" "$mid" "flipped data byte"

# 2. One byte that breaks the JSON of the record.
fresh
python3 - "$T/t/$seg2" "$mid" <<'PY' || fail "cannot flip a byte"
import sys
path, k = sys.argv[1], int(sys.argv[2])
lines = open(path, "rb").read().split(b"\n")
lines[k - 1] = b"[" + lines[k - 1][1:]
open(path, "wb").write(b"\n".join(lines))
PY
verify_broken "$T/t" "$seg2" "$mid" "flipped brace"

# 3. A deleted line in the middle of the first segment: the next record's
#    prev (and n) no longer fit, at the same line number.
fresh
sed -i "10d" "$T/t/audit-000001.jsonl"
verify_broken "$T/t" audit-000001.jsonl 10 "deleted line 10"

# 4. The first line of the third segment deleted: the chain across segments.
fresh
sed -i "1d" "$T/t/audit-000003.jsonl"
verify_broken "$T/t" audit-000003.jsonl 1 "deleted first line of segment 3"

fresh
echo "RESULT orders_audit_tamper records=$records segments=$nseg tampered=4 detected=4"
