#!/bin/bash
# t_orders_scripts -- the Redis Lua scripts of the order, payment and
# inventory plugins against a real redis-server: reserve all-or-nothing and
# never negative, release once, sell once, charge once (fenced), refund once,
# decide once, also with concurrent callers (tests/tools/orders_scripts.c).
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/harness.sh

tool="$JW_BUILD/tests/tools/orders_scripts"
[ -x "$tool" ] || fail "missing $tool (make all)"
start_redis
"$tool" 127.0.0.1 "$REDIS_PORT" || fail "script checks failed"
# The placeholder key of unfenced calls must never have been created.
[ "$(rcli EXISTS jw:nofence)" = "0" ] || fail "jw:nofence was written"
echo "RESULT orders scripts ok"
