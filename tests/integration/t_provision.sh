#!/bin/bash
# t_provision.sh -- `jetway provision`: create, re-run unchanged, update an
# allowed field, refuse a change JetStream cannot make (naming the field and
# both values, exit 1), never delete the durable; --dry-run changes nothing.
# Provisioning goes through tests/lib/prov.sh (a YAML topology).
. tests/lib/harness.sh
start_nats

. tests/lib/prov.sh

cinfo() { "$JW" pub --consumer-info ORDERS payment; }

# 1. dry run on an empty server creates nothing
prov --dry-run
[ $rc -eq 0 ] || fail "dry run failed: $(cat "$T/err")"
grep -q '^stream ORDERS: would create$' "$T/out" || fail "dry run: no 'would create' for the stream"
"$JW" pub --stream-info ORDERS 2>/dev/null && fail "dry run created the stream"

# 2. create
prov
[ $rc -eq 0 ] || fail "create failed: $(cat "$T/err")"
grep -q '^stream ORDERS: created$' "$T/out" || fail "stream not reported created"
grep -q '^consumer ORDERS/payment: created$' "$T/out" || fail "consumer not reported created"
ci=$(cinfo) || fail "consumer missing after create"
[ "$(echo "$ci" | jget '["max_deliver"]')" = -1 ] || fail "server max_deliver is not -1: $ci"
[ "$(echo "$ci" | jget '["backoff_len"]')" = 0 ] || fail "server consumer has a BackOff: $ci"
[ "$(echo "$ci" | jget '["pull"]')" = True ] || fail "consumer is not pull: $ci"
[ "$(echo "$ci" | jget '["ack_wait_ms"]')" = 30000 ] || fail "ack_wait not 30s: $ci"
[ "$(echo "$ci" | jget '["max_ack_pending"]')" = 128 ] || fail "max_ack_pending not 128: $ci"

# 3. re-run: unchanged
prov
[ $rc -eq 0 ] || fail "re-run failed"
grep -q '^stream ORDERS: unchanged$' "$T/out" || fail "stream not unchanged on re-run"
grep -q '^consumer ORDERS/payment: unchanged$' "$T/out" || fail "consumer not unchanged on re-run"

# 4. allowed update: max_ack_pending and ack_wait
"$JW" pub -q orders.created '{"message_id":"m-%d"}' --count 5 --id 'm-%d' || fail "publish failed"
prov max_ack_pending=64 ack_wait_ms=10000 --dry-run
grep -q '^consumer ORDERS/payment: would update: ack_wait: 30s -> 10s; max_ack_pending: 128 -> 64$' \
    "$T/out" || fail "dry-run update line wrong"
[ "$(cinfo | jget '["max_ack_pending"]')" = 128 ] || fail "dry run changed the consumer"
prov max_ack_pending=64 ack_wait_ms=10000
[ $rc -eq 0 ] || fail "update failed: $(cat "$T/err")"
grep -q '^consumer ORDERS/payment: updated: ack_wait: 30s -> 10s; max_ack_pending: 128 -> 64$' \
    "$T/out" || fail "update not reported"
ci=$(cinfo)
[ "$(echo "$ci" | jget '["max_ack_pending"]')" = 64 ] || fail "max_ack_pending not updated: $ci"
[ "$(echo "$ci" | jget '["ack_wait_ms"]')" = 10000 ] || fail "ack_wait not updated: $ci"
[ "$(echo "$ci" | jget '["num_pending"]')" = 5 ] || fail "update lost the consumer's state: $ci"

# 5. refused: deliver_policy (consumer) and storage (stream)
prov max_ack_pending=64 ack_wait_ms=10000 deliver=new
[ $rc -eq 1 ] || fail "refused change exited $rc, want 1"
grep -qF "consumer ORDERS/payment: refused: deliver_policy is 'all' on the server, config says 'new': JetStream cannot change it in place" \
    "$T/out" || fail "deliver_policy refusal text wrong"
prov max_ack_pending=64 ack_wait_ms=10000 storage=memory
[ $rc -eq 1 ] || fail "storage change exited $rc, want 1"
grep -qF "stream ORDERS: refused: storage is 'file' on the server, config says 'memory'" \
    "$T/out" || fail "storage refusal text wrong"

# 6. the durable survived every refusal with its state
ci=$(cinfo) || fail "durable deleted after a refusal"
pending=$(echo "$ci" | jget '["num_pending"]')
[ "$pending" = 5 ] || fail "durable was recreated: $ci"
msgs=$("$JW" pub --stream-info ORDERS | jget '["messages"]')
[ "$msgs" = 5 ] || fail "stream lost messages: $msgs of 5"
storage=$("$JW" pub --stream-info ORDERS | jget '["storage"]')
[ "$storage" = file ] || fail "storage changed to $storage"
map=$(echo "$ci" | jget '["max_ack_pending"]')
awms=$(echo "$ci" | jget '["ack_wait_ms"]')
echo "RESULT t_provision num_pending=$pending messages=$msgs storage=$storage" \
    "max_ack_pending=$map ack_wait_ms=$awms"
