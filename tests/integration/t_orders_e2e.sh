#!/bin/bash
# t_orders_e2e -- the order-processing system as four processes (order,
# payment, inventory, audit with the shipped configs): 1500 orders through
# `jetway-orders-load`, then every invariant from the outside (tests/lib/
# orders_check.py): each accepted order created once and decided exactly
# once as load saw it, no order charged twice, refunds exactly for the
# orders cancelled after payment, stock balanced per SKU and sold == the
# confirmed quantities, every event in the audit log exactly once and the
# chain verified, no dead letter. Then bad orders.create requests (invalid
# JSON, no items, negative quantity) get an error reply and publish nothing.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/harness.sh
. tests/lib/jetway.sh
. tests/lib/orders.sh

N=${ORDERS:-1500}
orders_start
orders_load "$N" --timeout 60 || fail "jetway-orders-load: $(cat "$T/load.json" "$T/load.err")"
orders_quiet 60 || fail "the system did not go quiet"
orders_check || fail "invariants broken: $(cat "$T/check.json")"
grep -q "^ok: $(ocount audit_records) records" "$T/verify.txt" ||
    fail "verify counted otherwise: $(cat "$T/verify.txt")"
[ "$(ocount accepted)" = "$N" ] || fail "accepted $(ocount accepted) of $N"
# The run must exercise every path, or the checks above prove little.
for k in confirmed cancelled_by_reason.out_of_stock cancelled_by_reason.payment_declined refunded \
    payment_failed rejected_for_stock; do
    [ "$(ocount "$k")" -gt 0 ] || fail "no $k in this run: $(cat "$T/check.json")"
done
note "orders: $(cat "$T/check.json")"

# Bad requests: an error reply naming the problem, nothing published.
req()
{
    "$JW_BUILD/tests/tools/nats_req" "$NATS_URL" orders.create "$1" 5000
}
before=$(orders_last_seqs)
ok='"customer_id":"c-1","total_amount":9.5,"currency":"EUR"'
bad_n=0
while IFS='|' read -r body want; do
    reply=$(req "$body") || fail "no reply to $body"
    case "$reply" in
    *'"error":'*"$want"*) ;;
    *) fail "request $body: reply $reply, want an error with '$want'" ;;
    esac
    case "$reply" in *order_id*) fail "request $body was accepted: $reply" ;; esac
    bad_n=$((bad_n + 1))
done <<EOF
{"customer_id":"c-1",|request is not valid JSON
{$ok}|items: missing
{$ok,"items":[]}|items: must not be empty
{$ok,"items":[{"sku":"SKU-1","qty":-2}]}|items[0].qty
{$ok,"items":[{"sku":"SKU-1","qty":1},{"sku":"SKU-2","qty":0}]}|items[1].qty
EOF
# A good request afterwards is answered, so the bad ones were all handled
# before it; its order's events are the only new ones.
good=$(req "{$ok,\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}]}") || fail "no reply to a good request"
oid=$(echo "$good" | python3 -c 'import json,sys; print(json.load(sys.stdin)["order_id"])') ||
    fail "good request not accepted: $good"
orders_quiet 60 || fail "the system did not go quiet after the requests"
orders_dump
# Every message after $before is the good order's: the bad ones published nothing.
# shellcheck disable=SC2086
new=$(python3 - "$T/dump" "$oid" $before <<'PY'
import json, sys
d, oid, last = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 0
for s, since in zip(("ORDERS", "PAYMENTS", "INVENTORY", "DLQ"), map(int, last)):
    for line in open(f"{d}/{s}.jsonl"):
        m = json.loads(line)
        if m["seq"] <= since:
            continue
        if s == "DLQ" or json.loads(m["data"]).get("order_id") != oid:
            sys.exit(f"{s} seq {m['seq']} {m['subject']} is not of the good order {oid}: {m['data']}")
        n += 1
print(n)
PY
) || fail "bad requests published something: $new"
[ "$new" -ge 3 ] || fail "the good order left only $new events"
invalid=$(curl -s "http://$ORDER_HTTP/metrics" | sed -n 's/^jetway_plugin_orders_invalid[^ ]* \([0-9]*\)$/\1/p')
[ "$invalid" = "$bad_n" ] || fail "orders_invalid metric ${invalid:-absent}, want $bad_n"
note "bad requests: $bad_n answered with an error, nothing published (the good one after them: $new events); orders_invalid metric ${invalid:-?}"
orders_stop || fail "a role exited non-zero"
echo "RESULT orders_e2e sent=$(ocount sent) accepted=$(ocount accepted) confirmed=$(ocount confirmed)" \
    "cancelled=$(ocount cancelled) $(ocount cancelled_by_reason | tr -d "{}' ")" \
    "paid=$(ocount paid) refunded=$(ocount refunded) cancelled_after_payment=$(ocount cancelled_after_payment)" \
    "duplicate_charges=$(ocount duplicate_charges) events=$(ocount events)" \
    "audit_records=$(ocount audit_records) dead_letters=$(ocount dead_letters) bad_requests=$bad_n"
