#!/bin/bash
# t_otlp.sh -- span export over real HTTP to a tiny OTLP/HTTP JSON receiver
# (tests/tools/otlp_sink.py): overflow of the bounded queue is counted,
# released spans arrive with their trace id and parent ids, a held queue is
# flushed at stop, and an unreachable collector is counted as failures.
source "$(dirname "$0")/../lib/harness.sh"

OBS="$JW_BUILD/tests/tools/obs_check"
[ -x "$OBS" ] || fail "missing $OBS (make all)"
SINK="$(dirname "$0")/../tools/otlp_sink.py"

bg sink python3 "$SINK" --port-file "$T/sinkport" --out "$T/spans.jsonl"
wait_for 30 test -s "$T/sinkport" || fail "otlp_sink did not start"
URL="http://127.0.0.1:$(cat "$T/sinkport")/v1/traces"

field()
{
    sed -n "s/.* $1=\([0-9a-f]*\).*/\1/p; s/^$1=\([0-9a-f]*\).*/\1/p" "$2"
}

# check_spans TRACE ROOT COUNT: the sink received exactly COUNT spans of
# TRACE: the root without a parent, every other one a child of ROOT.
check_spans()
{
    python3 - "$T/spans.jsonl" "$1" "$2" "$3" <<'PY'
import json, sys
path, trace, root, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
spans = []
for line in open(path):
    for rs in json.loads(line)["resourceSpans"]:
        svc = [a["value"]["stringValue"] for a in rs["resource"]["attributes"]
               if a["key"] == "service.name"]
        assert svc == ["obs-check"], svc
        for ss in rs["scopeSpans"]:
            assert ss["scope"]["name"] == "jetway"
            spans += [s for s in ss["spans"] if s["traceId"] == trace]
assert len(spans) == want, "got %d spans of %s, want %d" % (len(spans), trace, want)
roots = [s for s in spans if s["spanId"] == root]
assert len(roots) == 1 and "parentSpanId" not in roots[0], roots
kids = [s for s in spans if s["spanId"] != root]
assert all(s["parentSpanId"] == root for s in kids), "a child has another parent"
assert len({s["spanId"] for s in spans}) == want, "span ids repeat"
for s in kids:
    attrs = {a["key"]: a["value"] for a in s["attributes"]}
    assert attrs["messaging.system"]["stringValue"] == "nats"
    assert attrs["jetway.consumer"]["stringValue"] == "orders"
    assert int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]) > 0
    assert s["kind"] == 5
PY
}

# 1. 100 spans into a queue of 64 held: 36 dropped, then 64 exported.
"$OBS" otlp "$URL" 64 100 "$T/r1" release >"$T/otlp1.log" 2>&1 || fail "obs_check otlp release: $(cat "$T/otlp1.log")"
grep -q 'exported=64 dropped=36 failures=0' "$T/r1" || fail "counts: $(cat "$T/r1")"
check_spans "$(field trace "$T/r1")" "$(field root "$T/r1")" 64 || fail "spans of run 1"
note "overflow: $(cat "$T/r1")"

# 2. Spans still queued at stop are flushed.
"$OBS" otlp "$URL" 32 10 "$T/r2" stop >"$T/otlp2.log" 2>&1 || fail "obs_check otlp stop: $(cat "$T/otlp2.log")"
grep -q 'exported=10 dropped=0 failures=0' "$T/r2" || fail "counts: $(cat "$T/r2")"
check_spans "$(field trace "$T/r2")" "$(field root "$T/r2")" 10 || fail "spans of run 2"

# 3. Nobody listening: the batch fails, is counted and dropped, no hang.
DEAD="http://127.0.0.1:$(free_port)/v1/traces"
"$OBS" otlp "$DEAD" 32 10 "$T/r3" release >"$T/otlp3.log" 2>&1 || fail "obs_check otlp dead: $(cat "$T/otlp3.log")"
grep -q 'exported=0 dropped=10 failures=1' "$T/r3" || fail "counts: $(cat "$T/r3")"
grep -q 'otlp: POST .* failed' "$T/otlp3.log" || fail "failure not logged at debug"
echo "t_otlp: ok"
