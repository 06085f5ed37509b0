#!/bin/bash
# One order is one trace across the four roles: the orders.create request
# span of the order role is the root; payment, inventory, order (decision)
# and audit spans all carry its trace id, each with a parent span that is
# in the same trace (the traceparent jetway injects into every publish and
# reply), and every role exports spans to the OTLP receiver.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/orders.sh"

SINK="$(dirname "$0")/../tools/otlp_sink.py"
bg sink python3 "$SINK" --port-file "$T/sinkport" --out "$T/spans.jsonl"
wait_for 30 test -s "$T/sinkport" || fail "otlp_sink did not start"
PORT=$(cat "$T/sinkport")

mkdir -p "$T/cfg"
for role in order payment inventory audit; do
    cp "config/$role.yaml" "$T/cfg/$role.yaml"
    printf '\ntracing:\n  otlp_endpoint: "http://127.0.0.1:%s/v1/traces"\n  export_interval: 100ms\n' \
        "$PORT" >>"$T/cfg/$role.yaml"
done
ORDERS_CONFIG_DIR="$T/cfg"
orders_start
orders_load 1 || fail "the order was not decided: $(cat "$T/load.err")"
orders_quiet 60 || fail "the system did not go quiet"
orders_stop || fail "a role exited non-zero"

python3 "$SINK" --dump "$T/spans.jsonl" >"$T/spans.flat"
python3 - "$T/spans.flat" <<'PY' || fail "the order's trace is not one connected trace over four roles"
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
roots = [s for s in spans if s["service"] == "order" and s["kind"] == 2 and not s["parentSpanId"]]
assert len(roots) == 1, "want one orders.create root span, have %d" % len(roots)
tid = roots[0]["traceId"]
trace = [s for s in spans if s["traceId"] == tid]
ids = {s["spanId"] for s in trace}
for s in trace:
    if s is roots[0]:
        continue
    assert s["parentSpanId"] in ids, "span %s (%s) has a parent outside the trace" % (s["name"], s["service"])
services = {s["service"] for s in trace}
assert services == {"order", "payment", "inventory", "audit"}, services
consumers = {s["attrs"].get("jetway.consumer") for s in trace}
for want in ("payment-orders", "inventory-orders", "audit-orders", "audit-payments",
             "audit-inventory"):
    assert want in consumers, (want, consumers)
# depth: root -> payment-orders -> order-payments-completed (a decision needs both)
by = {s["spanId"]: s for s in trace}
def depth(s):
    d = 0
    while s["parentSpanId"]:
        s = by[s["parentSpanId"]]
        d += 1
    return d
deepest = max(depth(s) for s in trace)
assert deepest >= 3, deepest
others = [s for s in spans if s["traceId"] != tid]
print("  .. trace %s: %d spans, roles %s, depth %d, %d spans outside it" %
      (tid, len(trace), ",".join(sorted(services)), deepest, len(others)))
print("RESULT obs_order_trace spans=%d roles=%d depth=%d" % (len(trace), len(services), deepest))
PY
