#!/bin/bash
# t_orders_outage_drill -- the payment gateway outage drill (scripts/drill-run)
# with payment-orders' circuit breaker: the four roles under steady load,
# the simulated gateway down for a while and back. Intake never stops
# (orders are accepted during the outage), the orders that met the outage
# are decided after it, no dead letter, no duplicate charge, every accepted
# order decided; the breaker opened. The same drill without the breaker is
# `make drill` (its dead letters are the point of comparison, not a test).
cd "$(dirname "$0")/../.." || exit 1
export JETWAY_BUILD=${JETWAY_BUILD:-build}
out=$(DRILL_ORDERS=${DRILL_ORDERS:-1500} DRILL_OUTAGE=${DRILL_OUTAGE:-8} scripts/drill-run 2>&1)
rc=$?
line=$(echo "$out" | grep '^DRILL ')
[ $rc = 0 ] && [ -n "$line" ] || { echo "$out" | tail -n 40; echo "FAIL: the drill did not complete"; exit 1; }
fig() { echo "$line" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
bad=""
[ "$(fig accepted_during_outage)" -gt 0 ] || bad="$bad intake stopped during the outage;"
[ "$(fig decided_after_return)" -gt 0 ] || bad="$bad nothing decided after the return;"
[ "$(fig dead_letters)" = 0 ] || bad="$bad $(fig dead_letters) dead letters;"
[ "$(fig duplicate_charges)" = 0 ] || bad="$bad duplicate charges: $(fig duplicate_charges);"
[ "$(fig undecided)" = 0 ] || bad="$bad $(fig undecided) orders undecided;"
[ "$(fig breaker_opened)" -ge 1 ] || bad="$bad the breaker never opened;"
[ "$(fig load_rc)" = 0 ] || bad="$bad jetway-orders-load exit $(fig load_rc);"
[ -z "$bad" ] || { echo "$out" | tail -n 20; echo "FAIL:$bad"; exit 1; }
echo "RESULT orders_outage_drill ${line#DRILL }"
