#!/bin/bash
# t_pub.sh -- `jetway pub`: PubAcks counted, %d templates in data/id/headers,
# server dedup reported as duplicates, --json-id, stdin data, failure exit
# status, and the JSON of --stream-info / --consumer-info.
. tests/lib/harness.sh
start_nats
. tests/lib/prov.sh
prov
[ $rc -eq 0 ] || fail "provision failed: $(cat "$T/err")"

sinfo() { "$JW" pub --stream-info ORDERS; }

# 200 async publishes with ids m-1..m-200
out=$("$JW" pub orders.created '{"message_id":"m-%d","n":%d}' --count 200 --id 'm-%d') ||
    fail "pub failed: $out"
[ "$out" = "published 200 (duplicates 0)" ] || fail "unexpected summary: $out"
stored=$(sinfo | jget '["messages"]')
[ "$stored" = 200 ] || fail "stream holds $stored messages, want 200"

# the same ids again: all duplicates (server dedup), nothing stored
out=$("$JW" pub orders.created 'again %d' --count 200 --id 'm-%d' --sync) || fail "pub failed"
[ "$out" = "published 200 (duplicates 200)" ] || fail "dedup not reported: $out"
dups=$(echo "$out" | sed 's/.*(duplicates \([0-9]*\)).*/\1/')
last=$(sinfo | jget '["last_seq"]')
[ "$last" = 200 ] || fail "duplicates were stored: last_seq $last"

# --json-id picks Nats-Msg-Id from the payload (m-7 exists already)
out=$("$JW" pub orders.created '{"message_id":"m-7"}' --json-id message_id) || fail "pub failed"
[ "$out" = "published 1 (duplicates 1)" ] || fail "--json-id not used as Nats-Msg-Id: $out"

# stdin data, headers with %d, --rate; read back with dlq show (any stream)
printf 'from stdin' | "$JW" pub orders.stdin - -H 'X-Num:n-%d' -H 'X-Fixed:a:b' --id s-1 >/dev/null ||
    fail "stdin pub failed"
"$JW" dlq show --stream ORDERS 201 --json >"$T/m.json" || fail "cannot read message 201"
[ "$(jget '["data"]' <"$T/m.json")" = "from stdin" ] || fail "stdin payload wrong"
[ "$(jget '["headers"]["X-Num"][0]' <"$T/m.json")" = "n-1" ] || fail "%d in header not expanded"
[ "$(jget '["headers"]["X-Fixed"][0]' <"$T/m.json")" = "a:b" ] || fail "header value split at ':'"
[ "$(jget '["headers"]["Nats-Msg-Id"][0]' <"$T/m.json")" = "s-1" ] || fail "id header wrong"
[ "$(jget '["subject"]' <"$T/m.json")" = "orders.stdin" ] || fail "subject wrong"
out=$("$JW" pub orders.rate x --count 5 --rate 1000) || fail "rate pub failed"
[ "$out" = "published 5 (duplicates 0)" ] || fail "rate pub: $out"

# a subject no stream captures: exit 1, nothing claimed as published
if out=$("$JW" pub nowhere.subject x 2>"$T/perr"); then
    fail "publish to an uncaptured subject succeeded: $out"
fi
[ "$out" = "published 0 (duplicates 0)" ] || fail "failed publish summary: $out"
grep -q 'failed' "$T/perr" || fail "no failure message"
"$JW" pub --sync nowhere.subject x >/dev/null 2>&1 && fail "sync publish to nowhere succeeded"

# consumer info as JSON
ci=$("$JW" pub --consumer-info ORDERS payment) || fail "consumer-info failed"
pending=$(echo "$ci" | jget '["num_pending"]')
[ "$pending" = 206 ] || fail "num_pending wrong: $ci"
[ "$(echo "$ci" | jget '["num_ack_pending"]')" = 0 ] || fail "num_ack_pending wrong: $ci"
[ "$(echo "$ci" | jget '["num_redelivered"]')" = 0 ] || fail "num_redelivered wrong: $ci"
[ "$(echo "$ci" | jget '["delivered"]["stream_seq"]')" = 0 ] || fail "delivered wrong: $ci"
"$JW" pub --consumer-info ORDERS nobody >/dev/null 2>&1 && fail "info of a missing consumer succeeded"

# usage errors
"$JW" pub >/dev/null 2>&1
[ $? -eq 2 ] || fail "pub without a subject is not a usage error"
"$JW" pub --help | grep -q 'usage: jetway pub' || fail "no --help"
echo "RESULT t_pub stored=$stored duplicates=$dups last_seq_after_dups=$last num_pending=$pending"
