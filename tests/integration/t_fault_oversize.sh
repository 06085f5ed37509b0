#!/bin/bash
# A payload over the stream's max_msg_size (1KiB): the publish fails at the
# publisher (jetway pub exits non-zero, the PubAck is an error), the message
# is not in the stream, nothing is half-processed, and the messages around
# it (one just under the limit among them) are all committed once.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
FAULT_STREAM_EXTRA=", max_msg_size: 1KiB"
fault_config "$T/jw.yaml"
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
jw_start jw "$T/jw.yaml"
jw_wait_running jw

fault_pub 100 a-
pad=$(head -c 2000 /dev/zero | tr '\0' x)
if "$JW" pub -s "$NATS_URL" work.x "{\"message_id\":\"big-1\",\"pad\":\"$pad\"}" --id big-1 \
    >"$T/big.out" 2>&1; then
    fail "a 2 KB publish to a 1 KiB stream succeeded: $(cat "$T/big.out")"
fi
note "oversized publish refused: $(tr "\n" " " <"$T/big.out")"
pad=$(head -c 900 /dev/zero | tr '\0' y)
"$JW" pub -s "$NATS_URL" -q work.x "{\"message_id\":\"near-1\",\"pad\":\"$pad\"}" --id near-1 ||
    fail "a 0.9 KB publish to a 1 KiB stream failed"
echo near-1 >>"$T/published"
fault_pub 100 b-

[ "$(si WORK messages)" = 201 ] || fail "stream has $(si WORK messages) messages, want 201"
fault_check oversize
[ "$(count_in 'attempt big-1 ' "$T/effects")" = 0 ] || fail "the refused message reached a handler"
[ "$(rcli SISMEMBER jwtest:committed:worker big-1)" = 0 ] || fail "the refused message was committed"
jw_stop jw || fail "jetway exited non-zero"
