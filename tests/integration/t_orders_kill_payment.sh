#!/bin/bash
# t_orders_kill_payment -- kill -9 of the payment role in the middle of a
# run of 1500 orders, once about a third of them are charged; a backlog
# builds up while it is down; a new payment process starts and is killed
# too, by the fail point after_handle (a charge recorded and its event
# published, the message neither committed nor acknowledged); a third one
# finishes the run. The messages in flight at the kills come back after
# ack_wait (30 s in config/payment.yaml) and the claims' lease (20 s), the
# two redeliveries overlapping: afterwards every invariant of t_orders_e2e still
# holds: no order charged twice, every accepted order decided exactly once,
# refunds exactly for the orders cancelled after payment, stock balanced,
# every event in the audit log exactly once.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/harness.sh
. tests/lib/jetway.sh
. tests/lib/orders.sh

jw_require_failpoints
N=${ORDERS:-1500}
orders_start

# The load runs in the background, so the test can kill payment meanwhile.
("$ORDERS_LOAD" --orders "$N" --redis "$REDIS_URL" --json --accepted-out "$T/accepted.txt" \
    --timeout 100 >"$T/load.json" 2>"$T/load.err") &
load_pid=$!
JW_PIDS="$JW_PIDS $load_pid"

charges() { v=$(rcli GET pay:charges_total); echo "${v:-0}"; }
charged_third() { [ "$(charges)" -ge $((N / 3)) ]; }
wait_for 60 charged_third || fail "payment did not charge $((N / 3)) orders: $(charges)"
ppid_=$(pid_of payment)
kill -KILL "$ppid_"
wait "$ppid_" 2>/dev/null
at_kill=$(charges)
# While payment is down the order role keeps accepting: a backlog builds.
backlog() { [ "$(ci ORDERS payment-orders num_pending)" -ge 50 ]; }
wait_for 30 backlog || fail "no backlog built up while payment was down"
pending=$(ci ORDERS payment-orders num_pending)
inflight=$(ci ORDERS payment-orders num_ack_pending)
note "payment killed after $at_kill charges; restart with $pending pending, $inflight unacknowledged"
[ "$(charges)" = "$at_kill" ] || fail "charges went on without the payment role"
# The kill must hit work in flight, or it tests nothing the restart fixes.
[ "$inflight" -ge 1 ] || fail "no message in flight at the kill -9 of payment"

# The second payment process dies at the worst moment: its 41st message
# handled (charge recorded in Redis, event published), not yet committed
# nor acknowledged (fail point after_handle, a SIGKILL; FAILPOINTS=1 build).
orders_role payment JW_FAILPOINT=after_handle JW_FAILPOINT_SKIP=40
ppid_=$(pid_of payment)
wait_gone "$ppid_" 60 || fail "the fail point did not kill payment"
wait "$ppid_" 2>/dev/null
grep -q 'failpoint after_handle: killing the process' "$T/payment.log" ||
    fail "payment died, but not at the fail point: $(tail -n 5 "$T/payment.log")"
at_crash=$(charges)
note "second payment process killed at after_handle with $at_crash charges"
orders_role payment

load_rc=0
wait "$load_pid" || load_rc=$?
[ $load_rc = 0 ] || fail "jetway-orders-load: exit $load_rc: $(cat "$T/load.json" "$T/load.err")"
orders_quiet 60 || fail "the system did not go quiet"
orders_check || fail "invariants broken: $(cat "$T/check.json")"
[ "$(ocount accepted)" = "$N" ] || fail "accepted $(ocount accepted) of $N"
note "orders: $(cat "$T/check.json")"
orders_stop || fail "a role exited non-zero"
echo "RESULT orders_kill_payment sent=$(ocount sent) accepted=$(ocount accepted)" \
    "charges_at_kill=$at_kill pending_at_restart=$pending unacked_at_restart=$inflight" \
    "charges_at_failpoint=$at_crash" \
    "confirmed=$(ocount confirmed) cancelled=$(ocount cancelled) paid=$(ocount paid)" \
    "refunded=$(ocount refunded) cancelled_after_payment=$(ocount cancelled_after_payment)" \
    "duplicate_charges=$(ocount duplicate_charges) events=$(ocount events)" \
    "audit_records=$(ocount audit_records) dead_letters=$(ocount dead_letters)"
