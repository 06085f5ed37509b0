#!/bin/bash
# t_orders_invalid_event -- invalid orders.created.v1 events published by
# hand into a running system (four roles, 300 orders before and 300 after):
#   bad-fields  JSON, but no items and no total_amount
#   bad-id      JSON, an order_id that may not be a Redis key part
#   not-json    not JSON at all
# payment and inventory REJECT each to the dead letters with the reason at
# the first delivery (`jetway dlq ls -c config/payment.yaml --json`); the
# audit role records the JSON ones and dead-letters the other. Nothing else
# is disturbed: no payment, reservation or decision of those orders, no
# Redis state of them, and every invariant of the system holds over both
# loads.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/harness.sh
. tests/lib/jetway.sh
. tests/lib/orders.sh

orders_start
orders_load 300 --timeout 60 || fail "first jetway-orders-load: $(cat "$T/load.json" "$T/load.err")"
orders_quiet 60 || fail "the system did not go quiet"

ts=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
# inject NAME DATA: publish DATA as orders.created.v1; prints its ORDERS seq.
inject()
{
    "$JW" pub -q orders.created.v1 "$2" --id "orders.created:$1" || fail "cannot publish $1"
    si ORDERS last_seq
}
seq_fields=$(inject ord-bad-fields \
    "{\"message_id\":\"orders.created:ord-bad-fields\",\"order_id\":\"ord-bad-fields\",\"ts\":\"$ts\",\"customer_id\":\"c-1\",\"currency\":\"EUR\"}")
seq_id=$(inject ord-bad-id \
    "{\"message_id\":\"orders.created:ord-bad-id\",\"order_id\":\"ord bad/id\",\"ts\":\"$ts\",\"customer_id\":\"c-1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total_amount\":5,\"currency\":\"EUR\"}")
seq_nojson=$(inject ord-not-json '{"order_id": "ord-not-json", oops')
note "injected at ORDERS seq $seq_fields, $seq_id, $seq_nojson"
letters() { [ "$(si DLQ messages)" -ge "$1" ]; }
wait_for 60 letters 7 || fail "want 7 dead letters, have $(si DLQ messages)"
orders_quiet 60 || fail "the system did not go quiet after the injection"

"$JW" dlq ls -c config/payment.yaml --json >"$T/dlq.json" || fail "jetway dlq ls failed"
python3 - "$T/dlq.json" "$seq_fields" "$seq_id" "$seq_nojson" <<'PY' || fail "dead letters: $(cat "$T/dlq.json")"
import json, sys
letters = json.load(open(sys.argv[1]))
fields, bad_id, nojson = sys.argv[2:5]
want = {
    ("payment-orders", fields): "orders.created.v1: total_amount: must be a number > 0",
    ("inventory-orders", fields): "orders.created.v1: items: must be a non-empty array",
    ("payment-orders", bad_id): "orders.created.v1: order_id: must match",
    ("inventory-orders", bad_id): "orders.created.v1: order_id: must match",
    ("payment-orders", nojson): "orders.created.v1: payload is not a JSON object",
    ("inventory-orders", nojson): "orders.created.v1: payload is not a JSON object",
    ("audit-orders", nojson): "invalid JSON",
}
got = {}
for l in letters:
    k = (l["consumer"], str(l.get("original_seq", "")))
    if k in got:
        sys.exit(f"two letters of {k}")
    got[k] = l
if set(got) != set(want):
    sys.exit(f"letters of {sorted(got)}, want {sorted(want)}")
for k, why in want.items():
    l = got[k]
    if not l["error"].startswith(why):
        sys.exit(f"{k}: error {l['error']!r}, want {why!r}...")
    if l["original_subject"] != "orders.created.v1" or int(l["deliveries"]) != 1:
        sys.exit(f"{k}: {l}")
print("ok")
PY
note "letters: $(python3 -c 'import json,sys
print("; ".join("%s seq %s: %s" % (l["consumer"], l["original_seq"], l["error"])
                for l in json.load(open(sys.argv[1]))))' "$T/dlq.json")"

# The letter keeps the event byte for byte.
lseq=$(python3 -c 'import json,sys
print([l["seq"] for l in json.load(open(sys.argv[1])) if l["consumer"] == "payment-orders" and str(l["original_seq"]) == sys.argv[2]][0])' \
    "$T/dlq.json" "$seq_nojson")
"$JW" dlq show -c config/payment.yaml "$lseq" --json |
    python3 -c 'import json,sys; d = json.load(sys.stdin)["data"]; sys.exit(d != sys.argv[1])' \
        '{"order_id": "ord-not-json", oops' || fail "the letter of not-json lost its payload"

# No state of the injected orders in Redis.
for k in pay:charge:ord-bad-fields pay:charge_count:ord-bad-fields inv:res:ord-bad-fields \
    ord:ord-bad-fields pay:charge:ord-not-json inv:res:ord-not-json; do
    [ "$(rcli EXISTS "$k")" = 0 ] || fail "$k exists"
done

# The system goes on as before.
orders_load 300 --timeout 60 || fail "second jetway-orders-load: $(cat "$T/load.json" "$T/load.err")"
orders_quiet 60 || fail "the system did not go quiet"
orders_check --injected "ORDERS:$seq_fields" --injected "ORDERS:$seq_id" \
    --unaudited "ORDERS:$seq_nojson" --letters 7 || fail "invariants broken: $(cat "$T/check.json")"
[ "$(ocount accepted)" = 600 ] || fail "accepted $(ocount accepted) of 600"
orders_stop || fail "a role exited non-zero"
note "orders: $(cat "$T/check.json")"
echo "RESULT orders_invalid_event injected=3 dead_letters=$(ocount dead_letters) (payment 3, inventory 3, audit 1)" \
    "accepted=$(ocount accepted) confirmed=$(ocount confirmed) cancelled=$(ocount cancelled)" \
    "duplicate_charges=$(ocount duplicate_charges) events=$(ocount events) audit_records=$(ocount audit_records)"
