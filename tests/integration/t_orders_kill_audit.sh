#!/bin/bash
# t_orders_kill_audit -- kill -9 of the audit role in a loop under load
# (issues 14 and 16: the soak found events recorded twice). A kill falls
# while whole fetches are between their fsync and their commit in Redis: the
# records are on disk, the claims are mere leases, so the redeliveries (after
# ack_wait) are claimed afresh and only the audit plugin can tell that the
# log already holds them. It must, however many records the restarted
# process has appended meanwhile: in the soak a redelivery came after the
# catch-up of a backlog had filled more than two segments (the size-bounded
# window the plugin used to remember), and was logged again.
#
# Here the audit role runs with ack_wait 5 s (so the redeliveries come back
# within the test) and 64 KiB segments (about 130 records each, so that the
# catch-up after a kill fills several of them before the redeliveries
# arrive, as 4 MiB ones did in the soak at ~1300 records/s over 30 s). It is
# killed KILLS times spread over the run, each time with messages
# unacknowledged, and started again. Afterwards every event is in the log
# exactly once (tests/lib/orders_check.py), and every other invariant holds.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/harness.sh
. tests/lib/jetway.sh
. tests/lib/orders.sh

N=${ORDERS:-2400}
KILLS=${KILLS:-4}

mkdir -p "$T/config"
cp "$ORDERS_CONFIG_DIR"/{order,payment,inventory,audit}.yaml "$T/config/"
sed -i -e 's/^\(    ack_wait:\) 30s$/\1 5s/' -e 's/^\(        segment_size:\) 4MiB$/\1 64KiB/' \
    "$T/config/audit.yaml"
[ "$(grep -c '^    ack_wait: 5s$' "$T/config/audit.yaml")" = 3 ] ||
    fail "could not shorten ack_wait in audit.yaml: $(grep ack_wait "$T/config/audit.yaml")"
grep -q '^        segment_size: 64KiB$' "$T/config/audit.yaml" ||
    fail "could not shrink segment_size in audit.yaml: $(grep segment_size "$T/config/audit.yaml")"
ORDERS_CONFIG_DIR="$T/config"
orders_start

("$ORDERS_LOAD" --orders "$N" --rate "${RATE:-300}" --redis "$REDIS_URL" --json \
    --accepted-out "$T/accepted.txt" --timeout 100 >"$T/load.json" 2>"$T/load.err") &
load_pid=$!
JW_PIDS="$JW_PIDS $load_pid"

audit_consumers="ORDERS:audit-orders PAYMENTS:audit-payments INVENTORY:audit-inventory"
unacked() {
    local sc n=0
    for sc in $audit_consumers; do
        n=$((n + $(ci "${sc%%:*}" "${sc#*:}" num_ack_pending 2>/dev/null || echo 0)))
    done
    echo "$n"
}
orders_events() { si ORDERS messages 2>/dev/null || echo 0; }
kills=0 hit=0
for k in $(seq 1 "$KILLS"); do
    want=$((2 * N * k / (KILLS + 2)))
    progressed() { [ "$(orders_events)" -ge "$want" ]; }
    wait_for 60 progressed || fail "kill $k: ORDERS did not reach $want events: $(orders_events)"
    apid=$(pid_of audit)
    kill -KILL "$apid"
    wait "$apid" 2>/dev/null
    kills=$((kills + 1))
    # What the dead process held: redelivered after ack_wait.
    [ "$(unacked)" -ge 1 ] && hit=$((hit + 1))
    # Down for a moment, so a backlog builds for the restart to catch up.
    sleep 1
    orders_role audit
done
note "audit role killed $kills times, $hit of them with messages unacknowledged"
# A kill that caught nothing in flight tests nothing the restart must fix.
[ "$hit" -ge 1 ] || fail "no kill of the audit role left a message unacknowledged"

load_rc=0
wait "$load_pid" || load_rc=$?
[ $load_rc = 0 ] || fail "jetway-orders-load: exit $load_rc: $(cat "$T/load.json" "$T/load.err")"
orders_quiet 60 || fail "the system did not go quiet"
orders_check || fail "invariants broken: $(cat "$T/check.json") $(tail -n 3 "$T/verify.txt")"
[ "$(ocount accepted)" = "$N" ] || fail "accepted $(ocount accepted) of $N"
[ "$(ocount audit_records)" = "$(ocount events)" ] ||
    fail "audit records $(ocount audit_records) != events $(ocount events)"
segs=$(find "$AUDIT_DIR" -name 'audit-*.jsonl' | wc -l)
note "orders: $(cat "$T/check.json")"
orders_stop || fail "a role exited non-zero"
echo "RESULT orders_kill_audit kills=$kills kills_with_unacked=$hit segments=$segs" \
    "events=$(ocount events) audit_records=$(ocount audit_records) sent=$(ocount sent)" \
    "accepted=$(ocount accepted) dead_letters=$(ocount dead_letters)"
