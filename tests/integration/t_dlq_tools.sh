#!/bin/bash
# t_dlq_tools.sh -- `jetway dlq ls|show|replay` on hand-made letters (what
# the runtime writes: original headers + Jetway-* diagnostics, Nats-Msg-Id
# <consumer>:<stream>:<seq>): listing, showing, replaying to the original
# subject with the right headers, skipping a second replay, --force.
. tests/lib/harness.sh
start_nats
. tests/lib/prov.sh
prov dlq=dlq.payment with_dlq_stream
[ $rc -eq 0 ] || fail "provision failed: $(cat "$T/err")"

# Three letters of consumer payment, as the runtime would write them.
"$JW" pub -q dlq.payment '{"message_id":"o-%d","amount":%d}' --count 3 \
    --id 'payment:ORDERS:%d' -H 'Jetway-Original-Subject:orders.created' \
    -H 'Jetway-Stream:ORDERS' -H 'Jetway-Sequence:%d' -H 'Jetway-Deliveries:5' \
    -H 'Jetway-Consumer:payment' -H 'Jetway-Error:card declined %d' \
    -H 'Jetway-Message-Id:o-%d' -H 'traceparent:00-4bf92f3577b34da6a3ce929d0e0e473%d-00f067aa0ba902b7-01' \
    -H 'X-Tenant:acme' || fail "cannot publish letters"
# ...and a message on the DLQ that jetway did not write.
"$JW" pub -q dlq.other 'stray' || fail "cannot publish stray"

# DLQ selection: the config's dead_letter streams.
SEL=(-c "$T/t.yaml")
norders() { "$JW" pub --stream-info ORDERS | jget '["messages"]'; }

# ls
"$JW" dlq ls "${SEL[@]}" --json >"$T/ls.json" || fail "dlq ls failed"
listed=$(jget '.__len__()' <"$T/ls.json")
[ "$listed" = 4 ] || fail "ls: want 4 letters: $(cat "$T/ls.json")"
[ "$(jget '[1]["seq"]' <"$T/ls.json")" = 2 ] || fail "ls: seq"
[ "$(jget '[1]["original_subject"]' <"$T/ls.json")" = orders.created ] || fail "ls: subject"
[ "$(jget '[1]["consumer"]' <"$T/ls.json")" = payment ] || fail "ls: consumer"
[ "$(jget '[1]["deliveries"]' <"$T/ls.json")" = 5 ] || fail "ls: deliveries"
[ "$(jget '[1]["error"]' <"$T/ls.json")" = "card declined 2" ] || fail "ls: error"
[ "$(jget '[1]["size"]' <"$T/ls.json")" = 31 ] || fail "ls: size"
[ "$(jget '[1]["replays"]' <"$T/ls.json")" = 0 ] || fail "ls: replays"
n=$("$JW" dlq ls --stream DLQ --consumer payment --json | jget '.__len__()')
[ "$n" = 3 ] || fail "ls --consumer payment: want 3 letters, got $n"
ofpay=$n
"$JW" dlq ls --stream DLQ | grep -q 'card declined 3' || fail "text ls lacks the error"

# show
"$JW" dlq show "${SEL[@]}" 2 >"$T/show.txt" || fail "dlq show failed"
grep -qx '  Jetway-Error: card declined 2' "$T/show.txt" || fail "show: no Jetway-Error"
grep -qx '{"message_id":"o-2","amount":2}' "$T/show.txt" || fail "show: payload"
"$JW" dlq show --stream DLQ 99 >/dev/null 2>&1 && fail "show of a missing letter succeeded"

# replay 2
before=$(norders)
"$JW" dlq replay "${SEL[@]}" 2 >"$T/r1.txt" || fail "replay failed: $(cat "$T/r1.txt")"
grep -q '^DLQ:2: replayed to orders.created' "$T/r1.txt" || fail "replay line: $(cat "$T/r1.txt")"
[ "$(norders)" = $((before + 1)) ] || fail "replay did not reach ORDERS"
last=$("$JW" pub --stream-info ORDERS | jget '["last_seq"]')
"$JW" dlq show --stream ORDERS "$last" --json >"$T/m.json" || fail "cannot read the replay"
h() { jget "[\"headers\"].get(\"$1\", [\"<none>\"])[0]" <"$T/m.json"; }
[ "$(jget '["subject"]' <"$T/m.json")" = orders.created ] || fail "replay subject"
[ "$(jget '["data"]' <"$T/m.json")" = '{"message_id":"o-2","amount":2}' ] || fail "replay payload"
[ "$(h Jetway-Replay)" = DLQ:2 ] || fail "Jetway-Replay: $(h Jetway-Replay)"
[ "$(h Nats-Msg-Id)" = 'o-2~replay-DLQ-2' ] || fail "Nats-Msg-Id: $(h Nats-Msg-Id)"
[ "$(h traceparent)" = '00-4bf92f3577b34da6a3ce929d0e0e4732-00f067aa0ba902b7-01' ] ||
    fail "traceparent not kept"
[ "$(h X-Tenant)" = acme ] || fail "original header not kept"
for k in Jetway-Error Jetway-Consumer Jetway-Original-Subject Jetway-Deliveries Jetway-Message-Id; do
    [ "$(h $k)" = '<none>' ] || fail "replay carries diagnostic header $k"
done

# a second replay is skipped and publishes nothing
"$JW" dlq replay "${SEL[@]}" 2 >"$T/r2.txt" || fail "second replay exited non-zero"
grep -q '^DLQ:2: skipped: already replayed at 20' "$T/r2.txt" || fail "not skipped: $(cat "$T/r2.txt")"
[ "$(norders)" = $((before + 1)) ] || fail "second replay published"

# --all for the consumer: 1 and 3 replayed, 2 skipped; the stray is not theirs
"$JW" dlq replay "${SEL[@]}" --all --consumer payment >"$T/r3.txt" || fail "replay --all failed"
grep -qx 'replayed 2, skipped 1, failed 0' "$T/r3.txt" || fail "--all tally: $(cat "$T/r3.txt")"
[ "$(norders)" = $((before + 3)) ] || fail "--all did not publish 2"
# the stray letter is refused
"$JW" dlq replay --stream DLQ 4 | grep -q 'skipped: not a jetway letter' || fail "stray replayed"

# --force replays again under a new id
"$JW" dlq replay "${SEL[@]}" 2 --force >"$T/r4.txt" || fail "forced replay failed"
grep -q "(id o-2~replay-DLQ-2#2)" "$T/r4.txt" || fail "forced replay id: $(cat "$T/r4.txt")"
replayed=$(($(norders) - before))
[ $replayed = 4 ] || fail "forced replay did not publish: $replayed replays in ORDERS, want 4"
n=$("$JW" dlq ls --stream DLQ --json | jget '[1]["replays"]')
[ "$n" = 2 ] || fail "ls does not show 2 replays of letter 2: $n"

# usage
"$JW" dlq replay --stream DLQ >/dev/null 2>&1 && fail "replay without SEQ or --all succeeded"
"$JW" dlq --help | grep -q 'usage: jetway dlq' || fail "no --help"
echo "RESULT t_dlq_tools listed=$listed of_payment=$ofpay replayed_to_orders=$replayed replays_of_2=$n"
