#!/bin/bash
# t_obs_trace.sh -- W3C trace context across a real two-hop pipeline, with
# spans exported to an OTLP/HTTP sink (tests/tools/otlp_sink.py):
#   work.in --[consumer hop1: relay.so, publishes to work.out]--> work.out
#           --[consumer hop2: relay.so, logs only]
# A message published with a traceparent gives two spans of that trace: hop1's
# parent is the incoming span id, hop2's parent is hop1's span id. tracestate
# travels with the downstream publish; an invalid traceparent starts a new
# trace and drops tracestate; no traceparent starts a new trace. Every log
# line about a message carries trace_id and span_id, and they match the spans.
# Then export must never block processing: with the OTLP endpoint on a
# closed port, and on a collector that accepts and never answers, every
# message still goes through both hops (no timing threshold: all processed,
# failures counted).
source "$(dirname "$0")/../lib/harness.sh"
source "$(dirname "$0")/../lib/jetway.sh"

SINK="$(dirname "$0")/../tools/otlp_sink.py"
start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/relay.so"

bg sink python3 "$SINK" --port-file "$T/sinkport" --out "$T/spans.jsonl"
wait_for 30 test -s "$T/sinkport" || fail "otlp_sink did not start"

# config FILE OTLP_URL HTTP_PORT
config()
{
    cat >"$1" <<YAML
service: {name: tracer, workers: 4}
nats: {servers: ["$NATS_URL"]}
redis: {url: "$REDIS_URL"}
plugins:
  dir: $T/plugins
  instances:
    - {name: fwd, file: relay.so, config: {to: work.out}}
    - {name: sink, file: relay.so}
streams:
  - {name: WORK, subjects: ["work.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
consumers:
  - {name: hop1, stream: WORK, filter_subject: work.in, handler: fwd, ack_wait: 10s,
     concurrency: 4, dead_letter: dlq.hop1}
  - {name: hop2, stream: WORK, filter_subject: work.out, handler: sink, ack_wait: 10s,
     concurrency: 4, dead_letter: dlq.hop2}
http: {listen: "127.0.0.1:$3"}
log: {format: json, level: info}
tracing: {otlp_endpoint: "$2", export_interval: 200ms}
YAML
}

TRACE=4bf92f3577b34da6a3ce929d0e0e4736
PARENT=00f067aa0ba902b7
STATE="vendor1=abc,vendor2=x:y"
config "$T/jw.yaml" "http://127.0.0.1:$(cat "$T/sinkport")/v1/traces" "$(free_port)"
jw_start jw "$T/jw.yaml"
jw_wait_running jw

P="$JW pub -s $NATS_URL -q"
$P work.in '{"message_id":"t-1"}' --id t-1 -H "traceparent:00-$TRACE-$PARENT-01" \
    -H "tracestate:$STATE" || fail pub
$P work.in '{"message_id":"t-2"}' --id t-2 || fail pub
# Uppercase hex is invalid in traceparent: a new trace, tracestate dropped.
$P work.in '{"message_id":"t-3"}' --id t-3 -H "traceparent:00-${TRACE^^}-$PARENT-01" \
    -H "tracestate:$STATE" || fail pub

nspans()
{
    [ "$(python3 "$SINK" --dump "$T/spans.jsonl" | wc -l)" -ge "$1" ]
}
wait_for 30 nspans 6 || fail "expected 6 spans, sink has $(python3 "$SINK" --dump "$T/spans.jsonl" | wc -l)"
wait_drained WORK hop2 30 || fail "hop2 did not drain"
jw_stop jw || fail "jetway exited non-zero"
python3 "$SINK" --dump "$T/spans.jsonl" >"$T/spans.txt"
grep '^{' "$T/jw.log" >"$T/jw.json" || true

python3 - "$T/spans.txt" "$T/jw.json" "$TRACE" "$PARENT" "$STATE" <<'PY' || fail "trace checks"
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
logs = [json.loads(l) for l in open(sys.argv[2])]
trace, parent, state = sys.argv[3], sys.argv[4], sys.argv[5]
assert len(spans) == 6, "want 6 spans, got %d" % len(spans)
assert all(s["service"] == "tracer" for s in spans), spans
by = {}
for s in spans:
    a = s["attrs"]
    assert a["messaging.system"] == "nats", a
    assert a["jetway.result"] == "ack", a
    assert s["kind"] == 5 and s["status"] == 1, s
    subj = a["messaging.destination.name"]
    assert a["jetway.consumer"] == {"work.in": "hop1", "work.out": "hop2"}[subj], a
    by.setdefault(a["messaging.nats.sequence"], s)

# The relay lines: which message, on which hop, with which trace context.
relay = {}
for l in logs:
    m = l.get("msg", "")
    if m.startswith("relay "):
        _, mid, tp, ts = m.split(" ")
        # hop2's message id is derived by the host: "<input id>:<subject>"
        relay[(l["consumer"], mid.split(":")[0])] = (l, tp.split("=", 1)[1], ts.split("=", 1)[1])
assert len(relay) == 6, sorted(relay)

def span_of(consumer, mid):
    l = relay[(consumer, mid)][0]
    ss = [s for s in spans if s["spanId"] == l["span_id"]]
    assert len(ss) == 1, (consumer, mid, l)
    s = ss[0]
    assert s["traceId"] == l["trace_id"], (s, l)
    assert s["attrs"]["jetway.consumer"] == consumer, s
    assert s["attrs"]["messaging.nats.sequence"] == int(l["seq"]), (s, l)
    return s

# t-1: the incoming context continues through both hops.
h1, h2 = span_of("hop1", "t-1"), span_of("hop2", "t-1")
assert h1["traceId"] == trace and h2["traceId"] == trace, (h1, h2)
assert h1["parentSpanId"] == parent, h1
assert h2["parentSpanId"] == h1["spanId"], (h1, h2)
assert relay[("hop1", "t-1")][1] == "00-%s-%s-01" % (trace, parent)
assert relay[("hop2", "t-1")][1] == "00-%s-%s-01" % (trace, h1["spanId"]), relay[("hop2", "t-1")]
assert relay[("hop1", "t-1")][2] == state
assert relay[("hop2", "t-1")][2] == state, "tracestate not propagated: %s" % relay[("hop2", "t-1")][2]

# t-2: no context: hop1 is a root, hop2 its child.
h1, h2 = span_of("hop1", "t-2"), span_of("hop2", "t-2")
assert h1["parentSpanId"] == "" and h1["traceId"] != trace, h1
assert h2["traceId"] == h1["traceId"] and h2["parentSpanId"] == h1["spanId"], (h1, h2)
assert relay[("hop2", "t-2")][2] == "-", relay[("hop2", "t-2")]

# t-3: invalid traceparent: new trace, and its tracestate is not carried on.
h1, h2 = span_of("hop1", "t-3"), span_of("hop2", "t-3")
assert h1["parentSpanId"] == "" and h1["traceId"] not in (trace, trace.upper()), h1
assert h2["traceId"] == h1["traceId"] and h2["parentSpanId"] == h1["spanId"], (h1, h2)
assert relay[("hop2", "t-3")][2] == "-", "tracestate of an invalid parent leaked: %s" % (relay[("hop2", "t-3")],)

# Every log line about a message carries both ids.
about = [l for l in logs if l.get("message_id") or l.get("seq")]
assert len(about) >= 6, about
bad = [l for l in about if len(l.get("trace_id", "")) != 32 or len(l.get("span_id", "")) != 16]
assert not bad, bad
print("  .. %d spans in 3 traces, %d message log lines all with trace_id/span_id" % (len(spans), len(about)))
PY

# --- export never blocks processing -------------------------------------
N=300
nohang()
{
    # $1 label, $2 endpoint
    rm -f "$T/jw.log"
    mport=$(free_port)
    config "$T/jw.yaml" "$2" "$mport"
    jw_start jw "$T/jw.yaml"
    jw_wait_running jw
    "$JW" pub -s "$NATS_URL" -q work.in "{\"message_id\":\"$1-%d\"}" --count $N --id "$1-%d" \
        -H "traceparent:00-$TRACE-$PARENT-01" || fail "pub $1"
    wait_for 60 sh -c "[ \$(grep -c '\"msg\":\"relay $1-' '$T/jw.log') -ge $((2 * N)) ]" ||
        fail "$1: only $(grep -c "\"msg\":\"relay $1-" "$T/jw.log") of $((2 * N)) handlings"
    wait_drained WORK hop2 30 || fail "$1: hop2 did not drain"
    curl -s "http://127.0.0.1:$mport/metrics" >"$T/m-$1.txt" || fail "$1: scrape"
    jw_stop jw || fail "$1: jetway exited non-zero"
    exported=$(sed -n 's/^jetway_spans_exported_total{[^}]*} //p' "$T/m-$1.txt")
    dropped=$(sed -n 's/^jetway_spans_dropped_total{[^}]*} //p' "$T/m-$1.txt")
    failures=$(sed -n 's/^jetway_span_export_failures_total{[^}]*} //p' "$T/m-$1.txt")
    [ "$exported" = 0 ] || fail "$1: spans exported to a dead collector: $exported"
    note "$1: $((2 * N)) handlings done; spans dropped=$dropped export_failures=$failures"
}
nohang closed "http://127.0.0.1:$(free_port)/v1/traces"
[ "$failures" -ge 1 ] || fail "closed: no export failure counted"

bg hang python3 "$SINK" --port-file "$T/hangport" --out "$T/hang.jsonl" --hang
wait_for 30 test -s "$T/hangport" || fail "hanging sink did not start"
nohang hung "http://127.0.0.1:$(cat "$T/hangport")/v1/traces"
grep -q 'hanging on a POST' "$T/hang.log" || fail "the exporter never reached the hanging collector"
echo "RESULT obs_trace spans=6 traces=3 tracestate=propagated closed_port_handled=$((2 * N)) hung_collector_handled=$((2 * N))"
