#!/bin/bash
# t_orders_schema.sh -- the event schemas (plugins/*/schemas/<subject>.json)
# describe what the plugins really publish: the four roles decide a few
# hundred orders (with declines, stock-outs and refunds, so every event
# kind occurs), every message of ORDERS, PAYMENTS and INVENTORY is checked
# against its subject's schema (tests/lib/schema_check.py), each of the
# eight subjects is seen, and a broken event is caught.
. tests/lib/harness.sh
. tests/lib/jetway.sh
. tests/lib/orders.sh

SCHEMAS=(plugins/order/schemas plugins/payment/schemas plugins/inventory/schemas)
orders_start
orders_load 400 || fail "the load failed: $(cat "$T/load.err")"
orders_quiet 120 || fail "the system did not go quiet"
orders_stop || fail "a role exited non-zero"
orders_dump
python3 tests/lib/schema_check.py "${SCHEMAS[@]}" -- "$T"/dump/{ORDERS,PAYMENTS,INVENTORY}.jsonl \
    >"$T/counts.json" 2>"$T/schema.err" || fail "events do not match their schemas: $(head -n 20 "$T/schema.err")"
python3 - "$T/counts.json" <<'PY' || fail "not every event kind occurred: $(cat "$T/counts.json")"
import json, sys
c = json.load(open(sys.argv[1]))
want = ["orders.created.v1", "orders.confirmed.v1", "orders.cancelled.v1", "payments.completed.v1",
        "payments.failed.v1", "payments.refunded.v1", "inventory.reserved.v1", "inventory.rejected.v1"]
missing = [s for s in want if not c.get(s)]
assert not missing, missing
PY

# The checker is not a rubber stamp: an event without order_id, one with an
# extra member and one with a wrong type each fail.
for mut in 'del d["order_id"]' 'd["extra"] = 1' 'd["ts"] = 17'; do
    python3 - "$T/dump/ORDERS.jsonl" "$T/bad.jsonl" "$mut" <<'PY'
import json, sys
src, dst, mut = sys.argv[1:]
m = json.loads(open(src).readline())
d = json.loads(m["data"])
exec(mut)
m["data"] = json.dumps(d)
open(dst, "w").write(json.dumps(m) + "\n")
PY
    python3 tests/lib/schema_check.py "${SCHEMAS[@]}" -- "$T/bad.jsonl" >/dev/null 2>"$T/bad.err" &&
        fail "schema_check accepted a broken event ($mut)"
done
echo "RESULT t_orders_schema ok $(cat "$T/counts.json")"
