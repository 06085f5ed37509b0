#!/usr/bin/env python3
"""tests/lib/check.py -- the invariants of effectively-once delivery, checked
after a fault test has healed and drained (see fault_check in fault.sh).

Inputs: the ids the test published and saw PubAcked, record.so's committed
set and duplicate counter in Redis, its attempts file, and the dead letters
(`jetway dlq ls/show --json`). Asserts:

  * nothing lost: every published id is committed or dead-lettered;
  * nothing invented: every committed or dead id was published, and none is
    both committed and dead;
  * the dead are exactly the expected ones (--expect-dead, default none),
    with exactly one letter each, carrying every Jetway-* header and the
    Nats-Msg-Id <consumer>:<stream>:<seq>;
  * no effect committed twice: record.so's duplicate counter equals the size
    of --rerun (default 0): the ids whose effect was written by the handler
    but whose done marker the host had not yet written when the process was
    killed (a window no host can close for a handler that does not fence its
    effect with the claim, DESIGN.md delivery 9), and every duplicate that
    record.so logged is one of them.

Prints: RESULT <name> published=.. committed=.. attempted=.. dead_lettered=..
duplicates=.. and a few extra counters.
"""
import argparse
import collections
import json
import re
import subprocess
import sys

LETTER_HEADERS = (
    "Jetway-Original-Subject",
    "Jetway-Stream",
    "Jetway-Sequence",
    "Jetway-Deliveries",
    "Jetway-Consumer",
    "Jetway-Error",
    "Jetway-Message-Id",
    "Nats-Msg-Id",
)


def read_ids(path):
    if not path:
        return set()
    with open(path) as f:
        return {line.strip() for line in f if line.strip()}


def redis(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def jetway(jw, *args):
    return subprocess.run([jw, *args], check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--jw", required=True)
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--redis-port", required=True)
    ap.add_argument("--consumer", required=True)
    ap.add_argument("--published", required=True, help="file: one acknowledged id a line")
    ap.add_argument("--effects", required=True, help="record.so's attempts file")
    ap.add_argument("--expect-dead", help="file: ids that must be dead-lettered")
    ap.add_argument("--rerun", help="file: ids allowed exactly one duplicate commit")
    ap.add_argument("--stream", default="WORK")
    ap.add_argument("--server", help="NATS URL for the consumer's numbers (default $NATS_URL)")
    ap.add_argument("--max-redeliveries", type=int,
                    help="at most this many redeliveries by the server in the whole run")
    ap.add_argument("--max-reattempts", type=int, help="at most this many repeated attempts")
    ap.add_argument("--log", action="append", default=[], help="jetway logs (duplicate ids)")
    ap.add_argument("--extra", action="append", default=[], help="k=v added to RESULT")
    a = ap.parse_args()
    errors = []
    # pylint: disable=too-many-locals,too-many-branches,too-many-statements

    published = read_ids(a.published)
    # Nothing published makes every invariant below vacuously true.
    if not published:
        errors.append("%s lists no published id: nothing was checked" % a.published)
    committed = set(redis(a.redis_port, "SMEMBERS", "jwtest:committed:" + a.consumer))
    dup = int((redis(a.redis_port, "GET", "jwtest:dupcommit:" + a.consumer) or ["0"])[0])
    rerun = read_ids(a.rerun)
    expect_dead = read_ids(a.expect_dead)

    attempts = collections.Counter()
    nattempts = 0
    max_delivery = 0
    with open(a.effects) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 4 and parts[0] == "attempt":
                attempts[parts[1]] += 1
                nattempts += 1
                max_delivery = max(max_delivery, int(parts[3]))

    # Every delivery takes a consumer sequence: the excess over the stream
    # sequences delivered is the number of redeliveries in the whole run.
    srv = ["-s", a.server] if a.server else []
    info = json.loads(jetway(a.jw, "pub", *srv, "--consumer-info", a.stream, a.consumer))
    redeliveries = int(info["delivered"]["consumer_seq"] - info["delivered"]["stream_seq"])
    if a.max_redeliveries is not None and redeliveries > a.max_redeliveries:
        errors.append("%d redeliveries, at most %d expected" % (redeliveries, a.max_redeliveries))

    letters = json.loads(jetway(a.jw, "dlq", "ls", "-c", a.cfg, "--json") or "[]")
    letters = [l for l in letters if l.get("consumer") == a.consumer]
    dead = collections.Counter(l.get("message_id", "") for l in letters)
    by_seq = collections.Counter((l.get("original_stream"), l.get("original_seq"))
                                 for l in letters)

    lost = published - committed - set(dead)
    if lost:
        errors.append("%d published ids neither committed nor dead-lettered, e.g. %s"
                      % (len(lost), sorted(lost)[:5]))
    invented = (committed | set(dead)) - published
    if invented:
        errors.append("%d committed/dead ids were never published, e.g. %s"
                      % (len(invented), sorted(invented)[:5]))
    both = committed & set(dead)
    if both:
        errors.append("%d ids both committed and dead-lettered, e.g. %s"
                      % (len(both), sorted(both)[:5]))
    if set(dead) != expect_dead:
        errors.append("dead-lettered %s, expected %s"
                      % (sorted(set(dead))[:10], sorted(expect_dead)[:10]))
    many = {k: n for k, n in dead.items() if n != 1}
    many.update({"%s:%s" % k: n for k, n in by_seq.items() if n != 1})
    if many:
        errors.append("dead messages with more than one letter: %s" % many)
    for l in letters:
        doc = json.loads(jetway(a.jw, "dlq", "show", "-c", a.cfg, "--stream", l["stream"],
                                str(int(l["seq"])), "--json"))
        h = {k: (v[0] if v else "") for k, v in doc.get("headers", {}).items()}
        missing = [k for k in LETTER_HEADERS if not h.get(k)]
        if missing:
            errors.append("letter %s:%d lacks %s" % (l["stream"], l["seq"], missing))
            continue
        want = "%s:%s:%s" % (a.consumer, h["Jetway-Stream"], h["Jetway-Sequence"])
        if h["Nats-Msg-Id"] != want:
            errors.append("letter %s:%d Nats-Msg-Id %r, want %r"
                          % (l["stream"], l["seq"], h["Nats-Msg-Id"], want))
        if h["Jetway-Consumer"] != a.consumer:
            errors.append("letter %s:%d of consumer %r" % (l["stream"], l["seq"],
                                                           h["Jetway-Consumer"]))

    if dup != len(rerun):
        errors.append("record.so counted %d duplicate commits, the crash window allows "
                      "exactly %d" % (dup, len(rerun)))
    logged = set()
    for path in a.log:
        with open(path, errors="replace") as f:
            for line in f:
                m = re.search(r"record: duplicate commit of ([^\"\\ ]+)", line)
                if m:
                    logged.add(m.group(1))
    if logged - rerun:
        errors.append("duplicate commits outside the crash window: %s"
                      % sorted(logged - rerun)[:10])
    unattempted = committed - set(attempts)
    if unattempted:
        errors.append("committed without an attempt: %s" % sorted(unattempted)[:5])

    redo = sum(n - 1 for n in attempts.values() if n > 1)
    if a.max_reattempts is not None and redo > a.max_reattempts:
        errors.append("%d repeated handler calls, at most %d expected: %s"
                      % (redo, a.max_reattempts,
                         sorted(k for k, n in attempts.items() if n > 1)[:10]))
    extra = "".join(" " + e for e in a.extra)
    print("RESULT %s published=%d committed=%d attempted=%d dead_lettered=%d duplicates=%d "
          "reattempts=%d rerun_window=%d redeliveries=%d max_delivery=%d%s"
          % (a.name, len(published), len(committed), nattempts, len(letters), dup, redo,
             len(rerun), redeliveries, max_delivery, extra))
    for e in errors:
        print("FAIL: %s: %s" % (a.name, e), file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
