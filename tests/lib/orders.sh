# tests/lib/orders.sh -- the order-processing system (config/order.yaml,
# payment.yaml, inventory.yaml, audit.yaml) as four `jetway run` processes,
# for scripts/demo and the t_orders_* integration tests. Source after
# harness.sh and jetway.sh.
#
#   orders_start          nats-server, redis-server (AOF), the plugin dir,
#                         the streams (provision all-in-one.yaml, their
#                         owner), then the roles: inventory (seeds the stock), audit
#                         (sees every event), payment, order
#   orders_role ROLE [VAR=VALUE...]  start one role (again, e.g. after a
#                         kill -9), with extra environment
#   orders_load N [ARGS]  `jetway-orders-load` of N orders with --redis --json,
#                         appending its summary to $T/load.json and its
#                         accepted orders to $T/accepted.txt; its status
#   orders_quiet [SECS]   wait until every consumer of the system is drained
#                         and no stream grows any more
#   orders_stop           SIGTERM every role, wait for them; 1 if one exited
#                         non-zero
#   orders_check [ARGS]   dump the streams, verify the audit chain and check
#                         every invariant (tests/lib/orders_check.py, ARGS
#                         passed on); prints the counts as JSON in
#                         $T/check.json; its status
#
# Set ORDERS_SAY=demo to have orders_start report what it does as
# "demo: ..." lines (scripts/demo's output); tests leave it unset.
#
# Exports AUDIT_DIR, JETWAY_PLUGIN_DIR and ROLE_HTTP for the configs.

ORDERS_ROLES="inventory audit payment order"
# Every consumer of the four configs, as STREAM/CONSUMER.
ORDERS_CONSUMERS="ORDERS/payment-orders ORDERS/payment-cancellations ORDERS/inventory-orders
ORDERS/inventory-confirmations ORDERS/audit-orders PAYMENTS/order-payments-completed
PAYMENTS/order-payments-failed PAYMENTS/inventory-payments PAYMENTS/audit-payments INVENTORY/order-events-inventory
INVENTORY/audit-inventory"
ORDERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ORDERS_CONFIG_DIR=${ORDERS_CONFIG_DIR:-$ORDERS_DIR/config}

orders_say()
{
    [ "${ORDERS_SAY:-}" = demo ] && echo "demo: $*"
    return 0
}

orders_start()
{
    orders_say "starting nats-server and redis-server in $T"
    start_nats
    start_redis --appendonly yes --appendfsync everysec
    export JETWAY_PLUGIN_DIR="$T/plugins"
    plugin_dir "$JETWAY_PLUGIN_DIR" "$JW_BUILD"/plugins/*.so
    export AUDIT_DIR="$T/audit"
    ORDER_HTTP="127.0.0.1:$(free_port)" PAYMENT_HTTP="127.0.0.1:$(free_port)"
    INVENTORY_HTTP="127.0.0.1:$(free_port)" AUDIT_HTTP="127.0.0.1:$(free_port)"
    export ORDER_HTTP PAYMENT_HTTP INVENTORY_HTTP AUDIT_HTTP
    # The streams are owned by all-in-one.yaml; the roles only bind to them
    # (manage: false), so they are created here, once, as an operator would.
    local owner=$ORDERS_CONFIG_DIR/all-in-one.yaml
    [ -f "$owner" ] || owner=$ORDERS_DIR/config/all-in-one.yaml
    orders_say "creating the streams: jetway provision -c $owner"
    "$JW" provision -c "$owner" >"$T/provision.out" 2>&1 ||
        fail "provisioning $owner failed: $(cat "$T/provision.out")"
    # Inventory first: it seeds the stock; audit next so it sees every event.
    local role
    for role in $ORDERS_ROLES; do
        orders_role "$role"
    done
}

orders_role()
{
    local role=$1 i=1
    shift
    # A restart: the earlier process's log moves to ROLE.N.log, so the wait
    # below sees the new process's "jetway running".
    if [ -f "$T/$role.log" ]; then
        while [ -f "$T/$role.$i.log" ]; do i=$((i + 1)); done
        mv "$T/$role.log" "$T/$role.$i.log"
    fi
    jw_start "$role" "$ORDERS_CONFIG_DIR/$role.yaml" "$@"
    jw_wait_running "$role" 60
    orders_say "$role running (pid $(pid_of "$role"), log $T/$role.log)"
}

orders_load()
{
    local n=$1 rc=0
    shift
    rm -f "$T/accepted.part"
    "$ORDERS_LOAD" --orders "$n" --redis "$REDIS_URL" --json --accepted-out "$T/accepted.part" "$@" \
        >>"$T/load.json" 2>>"$T/load.err" || rc=$?
    [ -f "$T/accepted.part" ] && cat "$T/accepted.part" >>"$T/accepted.txt"
    return $rc
}

# The last sequences of the four streams, e.g. "3000 1976 1500 0 " -- to see growth.
orders_last_seqs()
{
    local s
    for s in ORDERS PAYMENTS INVENTORY DLQ; do
        si "$s" last_seq
    done | tr '\n' ' '
}

# Every consumer drained, twice, with no stream grown in between.
orders_drained_once()
{
    local a b
    # shellcheck disable=SC2086
    a=$("$JW_BUILD/tests/tools/js_drained" "$NATS_URL" $ORDERS_CONSUMERS DLQ) || return 1
    # shellcheck disable=SC2086
    b=$("$JW_BUILD/tests/tools/js_drained" "$NATS_URL" $ORDERS_CONSUMERS DLQ) || return 1
    [ "$a" = "$b" ]
}

orders_quiet()
{
    wait_for "${1:-120}" orders_drained_once
}

# All at once: a role's drain takes up to ~5 s even when idle (its
# fetchers' open pull requests), so one after the other would take 20 s.
orders_stop()
{
    local rc=0 role st
    for role in order payment inventory audit; do
        kill -TERM "$(pid_of "$role")" 2>/dev/null || true
    done
    for role in order payment inventory audit; do
        st=0
        wait "$(pid_of "$role")" || st=$?
        [ $st = 0 ] || { echo "${ORDERS_SAY:-orders}: $role exited with status $st"; rc=1; }
    done
    return $rc
}

orders_dump()
{
    local s
    mkdir -p "$T/dump"
    for s in ORDERS PAYMENTS INVENTORY DLQ; do
        "$JW_BUILD/tests/tools/stream_dump" "$NATS_URL" "$s" >"$T/dump/$s.jsonl" ||
            fail "cannot dump stream $s"
    done
}

orders_check()
{
    orders_dump
    "$AUDIT_VERIFY" "$AUDIT_DIR" >"$T/verify.txt" 2>&1 ||
        fail "audit chain does not verify: $(cat "$T/verify.txt")"
    python3 "$ORDERS_DIR/tests/lib/orders_check.py" --load "$T/load.json" \
        --accepted "$T/accepted.txt" --dumps "$T/dump" --audit "$AUDIT_DIR" \
        --redis "127.0.0.1:$REDIS_PORT" "$@" >"$T/check.json"
}

# One number of $T/check.json, e.g. ocount created; ocount skus.SKU-1.sold
ocount()
{
    python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$T/check.json" "$1"
}
