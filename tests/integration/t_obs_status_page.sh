#!/bin/bash
# t_obs_status_page.sh -- the live status page at / in a real browser.
#
# A host with two consumers (worker: record.so with Redis dedup and a
# dead-letter subject; acks: ack.so) and a request/reply service runs under
# load (two publishers at a steady rate, some messages rejected into the
# dead-letter subject). Then:
#   1. /status.json has every consumer, the topology (streams, consumers,
#      their handlers and dead-letter subjects, the service), plugin
#      versions, readiness, NATS and Redis state, the config digest (the
#      file's sha256) and process figures; two documents a moment apart
#      show the counters moving.
#   2. Headless Chromium (Debian package chromium) loads / twice: in each
#      rendered DOM every consumer has its table row and its node in the
#      SVG topology, the handlers, dead-letter subjects and the service are
#      drawn, readiness says ready; the received figures differ between the
#      two loads, and the second load (which polled twice) shows rates. A
#      screenshot is saved to $JW_TEST_OUT (default
#      $JETWAY_BUILD/test-output/t_obs_status_page/status.png).
#   3. The page's files carry a Content-Security-Policy and no external
#      reference (no http: or https: URL in them but the SVG namespace name).
#   4. Bad or hostile requests get 4xx (405, 404, 400, 431) and the host
#      goes on serving.
#   5. A reload shows on the page's data: a good one changes the digest and
#      adds a consumer to the topology; a bad one is reported with its error
#      and leaves the topology as it was.
source "$(dirname "$0")/../lib/harness.sh"
source "$(dirname "$0")/../lib/jetway.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || fail "chromium is not installed (scripts/deps installs the Debian package)"
OUT=${JW_TEST_OUT:-$JW_BUILD/test-output}/t_obs_status_page
mkdir -p "$OUT" || fail "cannot create $OUT"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so" "$JW_BUILD/tests/plugins/ack.so"
HTTP_PORT=$(free_port)
write_cfg()
{
    record_config "$T/jw.yaml" "{name: statuspage, workers: 4}" \
        'reject_if_contains: "please-reject", sleep: 2ms' "    - {name: acker, file: ack.so}"
    cat >>"$T/jw.yaml" <<YAML
consumers:
  - {name: worker, stream: WORK, filter_subject: work.a, handler: rec, concurrency: 4,
     max_deliver: 3, backoff: [100ms], dead_letter: dlq.worker, dedup: {lease: 5s}}
  - {name: acks, stream: WORK, filter_subject: work.b, handler: acker, concurrency: 2,
     dead_letter: dlq.acks}
$1
services:
  - {name: lookup, subject: svc.lookup, handler: acker}
http: {listen: "127.0.0.1:$HTTP_PORT"}
YAML
}
write_cfg ""
BASE="http://127.0.0.1:$HTTP_PORT"
jw_start jw "$T/jw.yaml"
jw_wait_running jw

P="$JW pub -s $NATS_URL -q"
bg pub_a $P work.a '{"message_id":"a-%d","n":%d}' --id 'a-%d' --count 200000 --rate 400
bg pub_b $P work.b '{"message_id":"b-%d","n":%d}' --id 'b-%d' --count 200000 --rate 150
$P work.a '{"message_id":"rej-%d","x":"please-reject"}' --id 'rej-%d' --count 3 ||
    fail "cannot publish the rejected messages"

# status_field EXPR FILE: a Python expression over the document `d`.
status_field()
{
    python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"
}
received_ge()
{
    curl -sf "$BASE/status.json" >"$T/s.json" &&
        [ "$(status_field "min(c['received'] for c in d['consumers'])" "$T/s.json")" -ge "$1" ]
}
wait_for 30 received_ge 20 || fail "no traffic in /status.json: $(cat "$T/s.json")"
wait_for 30 curl -sf "$BASE/readyz" || fail "not ready: $(curl -s "$BASE/readyz")"

# ---- 1. /status.json -------------------------------------------------------------
curl -sf -D "$T/s1.hdr" "$BASE/status.json" >"$T/s1.json" || fail "GET /status.json"
grep -qi '^content-type: application/json' "$T/s1.hdr" || fail "status.json type: $(cat "$T/s1.hdr")"
digest=$(sha256sum "$T/jw.yaml" | cut -d' ' -f1)
python3 - "$T/s1.json" "$digest" <<'PY' || fail "status.json content"
import json, sys
d = json.load(open(sys.argv[1]))
want_digest = sys.argv[2]
def need(cond, what):
    if not cond:
        sys.exit("FAIL: status.json: %s\n%s" % (what, json.dumps(d)[:2000]))
need(d["service"] == "statuspage", "service")
need(d["ready"] is True and d["reason"] == "", "ready")
need(d["nats"]["connected"] is True, "nats connected")
need(d["redis"]["needed"] is True and d["redis"]["connected"] is True, "redis connected")
need(d["reload"]["digest"] == want_digest, "digest %s" % d["reload"]["digest"])
need(d["process"]["rss_bytes"] > 0 and d["process"]["open_fds"] > 0, "process")
cons = {c["name"]: c for c in d["consumers"]}
need(set(cons) == {"worker", "acks"}, "consumers %s" % list(cons))
for c in cons.values():
    need(c["active"] and c["bound"], "%s bound" % c["name"])
    need(c["received"] > 0, "%s received" % c["name"])
    need(len(c["handler_seconds"]["buckets"]) == len(d["bucket_bounds_s"]) + 1, "buckets")
    need("pending" in c and "ack_pending" in c, "server gauges")
need(cons["worker"]["handler"] == "rec" and cons["acks"]["handler"] == "acker", "handlers")
t = d["topology"]
need([s["name"] for s in t["streams"]] == ["WORK", "DLQ"], "streams")
tc = {c["name"]: c for c in t["consumers"]}
need(tc["worker"]["dead_letter"] == "dlq.worker" and tc["worker"]["dedup"] is True, "worker topology")
need(tc["acks"]["dead_letter"] == "dlq.acks" and tc["acks"]["filter"] == "work.b", "acks topology")
need([s["name"] for s in t["services"]] == ["lookup"] and t["services"][0]["subject"] == "svc.lookup",
     "services")
plugs = {p["instance"]: p for p in d["plugins"]}
need(set(plugs) == {"rec", "acker"} and all(p["version"] and p["abi"] for p in plugs.values()),
     "plugins %s" % plugs)
PY
python3 - "$T/s1.json" "$BASE/status.json" <<'PY' || fail "status.json does not move under load"
import json, sys, time, urllib.request
a = json.load(open(sys.argv[1]))
deadline = time.time() + 20
while time.time() < deadline:
    b = json.load(urllib.request.urlopen(sys.argv[2]))
    ra = {c["name"]: c["received"] for c in a["consumers"]}
    if all(c["received"] > ra[c["name"]] for c in b["consumers"]) and b["now_ms"] > a["now_ms"]:
        sys.exit(0)
    time.sleep(0.2)
sys.exit("FAIL: received did not grow for every consumer")
PY

# ---- 2. the page in a real browser --------------------------------------------------
# --virtual-time-budget lets the page's timers run (its first poll, then one
# more 1.5 s later) before the DOM is dumped; fetches to the host are real.
browse()
{
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage \
        --user-data-dir="$(mktemp -d "$T/chrome.XXXXXX")" --virtual-time-budget=4000 "$@" \
        2>>"$T/chromium.log"
}
browse --dump-dom "$BASE/" >"$T/dom1.html" || fail "chromium could not load the page"
wait_for 20 received_ge "$(($(status_field "max(c['received'] for c in d['consumers'])" "$T/s1.json") + 50))" ||
    fail "load stalled"
browse --dump-dom "$BASE/" >"$T/dom2.html" || fail "chromium could not load the page (2)"
browse --screenshot="$OUT/status.png" --window-size=1280,900 "$BASE/" >/dev/null ||
    fail "chromium could not take the screenshot"
[ -s "$OUT/status.png" ] || fail "no screenshot written"
cp "$T/dom2.html" "$OUT/dom.html"
python3 - "$T/dom1.html" "$T/dom2.html" <<'PY' || fail "rendered DOM"
import sys
from html.parser import HTMLParser

class Dom(HTMLParser):
    """Rows of the consumers table, topology nodes, card texts."""
    def __init__(self):
        super().__init__()
        self.rows, self.nodes, self.stack, self.cell = {}, [], [], None
        self.cards, self.card = {}, None
        self.samples = 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.samples = int(a.get("data-samples", "0"))
        if tag == "tr" and "data-consumer" in a:
            self.row = self.rows.setdefault(a["data-consumer"], {})
        if tag == "td" and "data-k" in a:
            self.cell = a["data-k"]
            self.row[self.cell] = ""
        if tag == "g" and "node-g" in a.get("class", ""):
            self.nodes.append((a["class"].split()[1], a.get("data-name")))
        if tag == "div" and a.get("id") in ("ready", "reload"):
            self.card = a["id"]
            self.cards[self.card] = ""
    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None
        if tag == "section":
            self.card = None
    def handle_data(self, data):
        if self.cell:
            self.row[self.cell] += data
        if self.card:
            self.cards[self.card] += data + " "

def load(path):
    d = Dom()
    d.feed(open(path, encoding="utf-8").read())
    return d

def fail(msg):
    sys.exit("FAIL: " + msg)

doms = [load(p) for p in sys.argv[1:3]]
for i, d in enumerate(doms, 1):
    if set(d.rows) != {"worker", "acks"}:
        fail("load %d: consumer rows %s" % (i, sorted(d.rows)))
    for kind, name in [("stream", "WORK"), ("consumer", "worker"), ("consumer", "acks"),
                       ("handler", "rec"), ("handler", "acker"), ("deadletter", "dlq.worker"),
                       ("deadletter", "dlq.acks"), ("service", "lookup")]:
        if (kind, name) not in d.nodes:
            fail("load %d: no %s node %s in the topology: %s" % (i, kind, name, d.nodes))
    if "not ready" in d.cards.get("ready", "") or "ready" not in d.cards.get("ready", ""):
        fail("load %d: readiness card: %r" % (i, d.cards.get("ready")))
    for c, row in d.rows.items():
        if row.get("state") != "bound":
            fail("load %d: %s state %r" % (i, c, row.get("state")))
    if d.samples < 2:
        fail("load %d: the page polled %d times within the time budget" % (i, d.samples))

def val(s):
    s = s.strip()
    mult = 1
    if s.endswith("k"):
        s, mult = s[:-1], 1e3
    elif s.endswith("M"):
        s, mult = s[:-1], 1e6
    return float(s) * mult

for c in ("worker", "acks"):
    r1, r2 = val(doms[0].rows[c]["received"]), val(doms[1].rows[c]["received"])
    if not r2 > r1:
        fail("%s: received %s then %s: the figures did not change between loads" % (c, r1, r2))
    rin = doms[1].rows[c]["in"]
    if rin in ("", "—") or val(rin) <= 0:
        fail("%s: in/s %r on the second load, under load" % (c, rin))
print("rows=%s received worker %s -> %s, in/s worker %s acks %s" % (
    sorted(doms[1].rows), doms[0].rows["worker"]["received"], doms[1].rows["worker"]["received"],
    doms[1].rows["worker"]["in"], doms[1].rows["acks"]["in"]))
PY
note "$(python3 -c 'import sys; print(open(sys.argv[1]).read().count("<tr"))' "$T/dom2.html") table rows; screenshot $OUT/status.png ($(stat -c %s "$OUT/status.png") bytes)"

# ---- 3. self-contained, with a policy ----------------------------------------------
for f in / /status.js /status.css; do
    curl -sf -D "$T/h.hdr" "$BASE$f" >"$T/asset" || fail "GET $f"
    grep -qi "^content-security-policy: default-src 'none'" "$T/h.hdr" || fail "$f: no CSP"
    grep -qi '^x-content-type-options: nosniff' "$T/h.hdr" || fail "$f: no nosniff"
    # (the SVG namespace name is an identifier, never fetched)
    ext=$(grep -Eo 'https?://[^ "'"'"']*' "$T/asset" | grep -vx 'http://www.w3.org/2000/svg' | head -3)
    [ -z "$ext" ] || fail "$f refers to an external URL: $ext"
done
curl -sf -D "$T/h.hdr" -o /dev/null "$BASE/status.js" && grep -qi '^content-type: text/javascript' "$T/h.hdr" ||
    fail "status.js type: $(cat "$T/h.hdr")"

# ---- 4. bad and hostile requests --------------------------------------------------------
# raw REQUEST: the status code of the answer to these exact bytes.
raw()
{
    python3 - "$HTTP_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.") else "none")
PY
}
expect()
{
    got=$(raw "$2")
    [ "$got" = "$1" ] || fail "request $(printf %q "$2"): status $got, want $1"
}
expect 405 'POST /status.json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'
expect 405 'DELETE / HTTP/1.1\r\n\r\n'
expect 404 'GET /status.json/../status.json HTTP/1.1\r\n\r\n'
expect 404 'GET /../../etc/passwd HTTP/1.1\r\n\r\n'
expect 404 'GET /%2e%2e/status.json HTTP/1.1\r\n\r\n'
expect 404 'GET /index.html HTTP/1.1\r\n\r\n'
expect 404 'GET status.json HTTP/1.1\r\n\r\n'
expect 404 'GET http://evil.example/ HTTP/1.1\r\n\r\n'
expect 400 'GET /\r\n\r\n'
expect 400 'GET  / HTTP/1.1\r\n\r\n'
expect 400 'GET / JUNK/1.1\r\n\r\n'
expect 400 '\x00\x01\x02 \xff\r\n\r\n'
expect 431 "GET / HTTP/1.1\r\nX: $(head -c 9000 /dev/zero | tr '\0' a)\r\n\r\n"
expect 200 'GET /status.json?<script>alert(1)</script> HTTP/1.1\r\n\r\n'
expect 200 'HEAD / HTTP/1.0\r\n\r\n'
curl -sf "$BASE/status.json" >/dev/null || fail "the host stopped answering after bad requests"

# ---- 5. reloads show -----------------------------------------------------------------------
write_cfg "  - {name: extra, stream: WORK, filter_subject: work.c, handler: acker, dead_letter: dlq.extra}"
kill -HUP "$(pid_of jw)"
digest2=$(sha256sum "$T/jw.yaml" | cut -d' ' -f1)
# The digest and the topology are published by two steps of the swap (the
# reload's outcome, then the new generation's topology): wait for both.
reloaded()
{
    curl -sf "$BASE/status.json" >"$T/s2.json" &&
        [ "$(status_field "d['reload']['digest']" "$T/s2.json")" = "$digest2" ] &&
        [ "$(status_field "[c['name'] for c in d['topology']['consumers']]" "$T/s2.json")" = \
            "['worker', 'acks', 'extra']" ]
}
wait_for 30 reloaded || fail "the good reload does not show: $(cat "$T/s2.json")"
[ "$(status_field "(d['reload']['last_ok'], 'error' in d['reload'], [c['name'] for c in d['topology']['consumers']])" "$T/s2.json")" = \
    "(True, False, ['worker', 'acks', 'extra'])" ] || fail "after the good reload: $(cat "$T/s2.json")"
echo "consumers: [nope" >>"$T/jw.yaml"
kill -HUP "$(pid_of jw)"
reload_failed()
{
    curl -sf "$BASE/status.json" >"$T/s3.json" &&
        [ "$(status_field "d['reload']['failed']" "$T/s3.json")" = 1 ]
}
wait_for 30 reload_failed || fail "the failed reload does not show: $(cat "$T/s3.json")"
python3 - "$T/s3.json" "$digest2" <<'PY' || fail "after the failed reload"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["reload"]
if r["last_ok"] or not r.get("error") or r["digest"] != sys.argv[2]:
    sys.exit("FAIL: reload %s" % r)
if [c["name"] for c in d["topology"]["consumers"]] != ["worker", "acks", "extra"]:
    sys.exit("FAIL: topology changed by a failed reload")
PY
browse --dump-dom "$BASE/" >"$T/dom3.html" || fail "chromium (3)"
grep -Eq 'id="reload"><div class="k">last reload</div><div class="v">failed, ' "$T/dom3.html" ||
    fail "the page does not show the failed reload: $(grep -o 'id="reload".\{0,300\}' "$T/dom3.html")"
grep -q 'data-name="extra"' "$T/dom3.html" || fail "the page does not draw the added consumer"

kill "$(pid_of pub_a)" "$(pid_of pub_b)" 2>/dev/null
jw_stop jw || fail "jetway exited non-zero"
echo "RESULT obs_status_page consumers=2 loads=3 screenshot=$OUT/status.png bad_requests=15"
