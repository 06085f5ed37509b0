#!/bin/bash
# t_obs_metrics.sh -- /metrics of a real running host agrees with what was
# sent. Consumer "worker" (record.so) gets N good messages, R that it
# rejects, Y that it retries until max_deliver (then dead letters) and D
# copies of one message id published without Nats-Msg-Id (so JetStream keeps
# them all and jetway's Redis dedup sees D-1 duplicates); consumer "acks"
# (ack.so, which registers the plugin counter "calls") gets M messages.
# record.so sleeps 5 ms a call, so the bulk takes a moment: /metrics is
# scraped as fast as curl goes while it is processed, and at the end:
# every scrape passes the format check (tests/tools/promtext.py always, and
# `promtool check metrics`: Debian package prometheus, required), no
# counter ever goes down, and the final numbers are exactly the expected
# ones. Log lines about retried and dead-lettered messages carry trace_id
# and span_id.
source "$(dirname "$0")/../lib/harness.sh"
source "$(dirname "$0")/../lib/jetway.sh"

PT="python3 $(dirname "$0")/../tools/promtext.py"
N=1000 R=5 Y=4 D=10 M=50

# The checker must be able to fail: feed it broken texts first.
printf '# TYPE a counter\na 1\n# TYPE b gauge\nb 2\na{x="1"} 3\n' >"$T/bad1"
printf '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 4\nh_sum 1\nh_count 4\n' >"$T/bad2"
printf '# TYPE c counter\nc{l="a\\q"} 1\n' >"$T/bad3"
printf '# TYPE c counter\nc 1\nc 2\n' >"$T/bad4"
printf '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n' >"$T/bad5"
printf 'x 1\n' >"$T/bad6"
for b in 1 2 3 4 5 6; do
    $PT check "$T/bad$b" 2>/dev/null && fail "promtext accepted bad$b: $(cat "$T/bad$b")"
done

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so" "$JW_BUILD/tests/plugins/ack.so"
HTTP_PORT=$(free_port)
record_config "$T/jw.yaml" "{name: metrics, workers: 4}" \
    'retry_if_contains: "please-retry", reject_if_contains: "please-reject", sleep: 5ms' \
    "    - {name: acker, file: ack.so}"
cat >>"$T/jw.yaml" <<YAML
consumers:
  - name: worker
    stream: WORK
    filter_subject: work.a
    handler: rec
    ack_wait: 10s
    max_deliver: 3
    backoff: [100ms]
    concurrency: 4
    dead_letter: dlq.worker
    dedup: {lease: 1s}
  - {name: acks, stream: WORK, filter_subject: work.b, handler: acker, concurrency: 2,
     dead_letter: dlq.acks}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML
URL="http://127.0.0.1:$HTTP_PORT/metrics"

jw_start jw "$T/jw.yaml"
jw_wait_running jw
curl -sf "$URL" >"$T/scrape.0" || fail "no /metrics before load"

P="$JW pub -s $NATS_URL -q"
$P work.a '{"message_id":"rej-%d","x":"please-reject"}' --count $R --id 'rej-%d' || fail "pub reject"
$P work.a '{"message_id":"retry-%d","x":"please-retry"}' --count $Y --id 'retry-%d' || fail "pub retry"
$P work.a '{"message_id":"dup-1"}' --count $D || fail "pub dup"
$P work.b '{"message_id":"b-%d"}' --count $M --id 'b-%d' || fail "pub acks"
# The bulk last, so that the scrapes below see it being worked on.
$P work.a '{"message_id":"ok-%d","n":%d}' --count $N --id 'ok-%d' || fail "pub ok"

# Scrape as fast as curl goes while the work is processed, until the host
# reports it all settled (dead letters, acks, duplicates).
i=1
WL='service="metrics",consumer="worker",stream="WORK",handler="rec"'
AL='service="metrics",consumer="acks",stream="WORK",handler="acker"'
scrape_until_done()
{
    f="$T/scrape.$i"
    curl -sf "$URL" >"$f" || return 1
    i=$((i + 1))
    grep -qxF "jetway_dead_letters_total{$WL} $((R + Y))" "$f" &&
        grep -qxF "jetway_messages_settled_total{$WL,result=\"ack\"} $((N + 1))" "$f" &&
        grep -qxF "jetway_messages_settled_total{$WL,result=\"duplicate\"} $((D - 1))" "$f" &&
        grep -qxF "jetway_messages_settled_total{$AL,result=\"ack\"} $M" "$f"
}
wait_for 60 scrape_until_done || fail "work not done: DLQ $(si DLQ messages), worker pending $(ci WORK worker num_pending)/$(ci WORK worker num_ack_pending)"
[ "$(si DLQ messages)" = $((R + Y)) ] || fail "DLQ has $(si DLQ messages) letters"

# Final: wait for the host's own numbers to settle (in flight back to 0,
# every reception settled exactly once -- the results partition the
# settlements -- and the server numbers refreshed to 0).
final_ok()
{
    curl -sf "$URL" >"$T/final" || return 1
    C='consumer=worker'
    recv=$($PT get "$T/final" jetway_messages_received_total $C) || return 1
    settled=0
    for r in ack retry reject duplicate dead_letter busy; do
        v=$($PT get "$T/final" jetway_messages_settled_total $C result=$r) || return 1
        settled=$((settled + v))
    done
    [ "$recv" = "$settled" ] &&
        [ "$($PT get "$T/final" jetway_in_flight_messages)" = 0 ] &&
        [ "$($PT get "$T/final" jetway_consumer_pending_messages)" = 0 ] &&
        [ "$($PT get "$T/final" jetway_consumer_ack_pending_messages)" = 0 ] &&
        [ "$($PT get "$T/final" jetway_plugin_calls_total plugin=acker)" = $M ]
}
wait_for 30 final_ok || { cat "$T/final" >&2; fail "final numbers did not settle"; }
cp "$T/final" "$T/scrape.$i"
note "$i scrapes"

# Every scrape is well-formed; counters never go down.
need_tool promtool prometheus
promtool_ok=0
for f in "$T"/scrape.*; do
    $PT check "$f" || fail "$(basename "$f") is not valid exposition text"
    promtool check metrics <"$f" >"$T/promtool.out" 2>&1 ||
        fail "promtool check metrics $(basename "$f"): $(cat "$T/promtool.out")"
    promtool_ok=$((promtool_ok + 1))
done
note "promtool check metrics: $promtool_ok scrapes ok"
python3 - "$T" "$i" <<'PY' || fail "a counter went down between scrapes"
import re, sys
d, n = sys.argv[1], int(sys.argv[2])
prev, types, midway = {}, {}, 0
for k in range(n + 1):
    cur = {}
    for line in open("%s/scrape.%d" % (d, k)):
        if line.startswith("# TYPE "):
            _, _, fam, t = line.split()
            types[fam] = t
            continue
        if line.startswith("#") or not line.strip():
            continue
        series, value = line.rsplit(" ", 1)
        fam = re.sub(r"(_bucket|_sum|_count)$", "", series.split("{")[0])
        if types.get(fam) in ("counter", "histogram") or types.get(series.split("{")[0]) == "counter":
            cur[series] = float(value)
    for s, v in cur.items():
        assert v >= prev.get(s, 0), "%s: %s -> %s in scrape %d" % (s, prev.get(s), v, k)
    lost = set(prev) - set(cur)
    assert not lost, "series vanished in scrape %d: %s" % (k, sorted(lost)[:5])
    r = [v for s, v in cur.items() if s.startswith("jetway_messages_settled_total{")
         and 'consumer="worker"' in s and 'result="ack"' in s]
    if r and 0 < r[0] < 1001:
        midway += 1
    prev = cur
print("  .. %d scrapes monotonic; %d taken mid-way through the work" % (n + 1, midway))
open("%s/midway" % d, "w").write("%d\n" % midway)
# "Scraped while processed" is the point of the test: it must have happened.
assert midway >= 1, "no scrape was taken mid-way through the work"
PY
midway=$(cat "$T/midway")

# Exact numbers.
F="$T/final"
g()
{
    $PT get "$F" "$@" || fail "no sample $*"
}
W=consumer=worker
busy=$(g jetway_dedup_total $W outcome=busy)
# busy from the server's side: every delivery is received once, so the
# deliveries beyond the known ones (N, 3 per retried, 1 per rejected, D
# copies of dup-1) are the busy NAKs' redeliveries.
delivered=$(ci WORK worker delivered | python3 -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read())["consumer_seq"])')
[ "$busy" = $((delivered - N - 3 * Y - R - D)) ] ||
    fail "busy $busy, but the server delivered $delivered = $((N + 3 * Y + R + D)) + $((delivered - N - 3 * Y - R - D))"
expect()
{
    v=$(g "${@:2}")
    [ "$v" = "$1" ] || fail "$* is $v"
}
expect $((N + 3 * Y + R + D + busy)) jetway_messages_received_total $W
expect $((N + 1)) jetway_messages_settled_total $W result=ack
expect $((2 * Y)) jetway_messages_settled_total $W result=retry
expect $Y jetway_messages_settled_total $W result=dead_letter
expect $R jetway_messages_settled_total $W result=reject
expect $((D - 1)) jetway_messages_settled_total $W result=duplicate
expect "$busy" jetway_messages_settled_total $W result=busy
expect $((R + Y)) jetway_dead_letters_total $W
expect $((N + 3 * Y + R + 1)) jetway_dedup_total $W outcome=claimed
expect $((D - 1)) jetway_dedup_total $W outcome=duplicate
expect 0 jetway_dedup_total $W outcome=lease_lost
expect 0 jetway_dedup_total $W outcome=error
expect $((N + 3 * Y + R + 1)) jetway_handler_duration_seconds_count $W
expect $((N + 3 * Y + R + 1)) jetway_handler_duration_seconds_bucket $W le=+Inf
expect $((N + 3 * Y + R + 1)) jetway_message_age_seconds_count $W
expect 1 jetway_consumer_bound $W
expect 0 jetway_publishes_total $W
expect $M jetway_messages_received_total consumer=acks
expect $M jetway_messages_settled_total consumer=acks result=ack
expect $M jetway_plugin_calls_total plugin=acker
expect 1 jetway_plugin_info instance=acker plugin=ack
expect 1 jetway_plugin_info instance=rec plugin=record
expect 1 jetway_nats_connected
expect 1 jetway_redis_connected
expect 0 jetway_draining
grep -q '^# TYPE jetway_plugin_calls_total counter$' "$F" || fail "plugin counter family has no TYPE"
grep -q "^jetway_messages_received_total{service=\"metrics\",consumer=\"worker\",stream=\"WORK\",handler=\"rec\"} " "$F" ||
    fail "consumer labels: $(grep '^jetway_messages_received_total' "$F")"

# What the test can see elsewhere agrees.
[ "$(committed worker)" = $((N + 1)) ] || fail "committed $(committed worker)"
[ "$(attempts "$T/effects")" = $((N + 3 * Y + R + 1)) ] || fail "attempts $(attempts "$T/effects")"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits"

# Log lines about retried and dead-lettered messages carry both trace ids.
python3 - "$T/jw.log" "$Y" "$R" <<'PY' || fail "message log lines lack trace ids"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
about = [r for r in rows if r.get("message_id")]
retried = [r for r in about if "asked to retry" in r["msg"]]
dead = [r for r in about if "dead-lettered" in r["msg"]]
assert len(retried) == 2 * int(sys.argv[2]), len(retried)
assert len(dead) == int(sys.argv[2]) + int(sys.argv[3]), len(dead)
bad = [r for r in about if len(r.get("trace_id", "")) != 32 or len(r.get("span_id", "")) != 16]
assert not bad, bad[:3]
PY
jw_stop jw || fail "jetway exited non-zero"
echo "RESULT obs_metrics received=$(g jetway_messages_received_total $W) delivered=$delivered" \
    "ack=$(g jetway_messages_settled_total $W result=ack) retry=$(g jetway_messages_settled_total $W result=retry)" \
    "reject=$(g jetway_messages_settled_total $W result=reject) dead_letter=$(g jetway_messages_settled_total $W result=dead_letter)" \
    "duplicate=$(g jetway_messages_settled_total $W result=duplicate) busy=$busy" \
    "plugin_calls=$(g jetway_plugin_calls_total plugin=acker) scrapes=$((i + 1)) midway_scrapes=$midway"
