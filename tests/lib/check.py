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
    with exactly one letter each, compared with the original message read
    from a dump of the stream (tests/tools/stream_dump): its sequence
    (looked up by message id, not taken from the letter), subject, payload
    and every original header; Jetway-Deliveries one of the deliveries
    record.so saw for that sequence (or the next, for a message that crashed
    the process on its last attempt); Nats-Msg-Id <consumer>:<stream>:<seq>;
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
import os
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


def dump_stream(tool, server, stream):
    """The stream's messages by sequence, read without consuming them."""
    out = subprocess.run([tool, server, stream], check=True, capture_output=True,
                         text=True).stdout
    msgs = {}
    for line in out.splitlines():
        if line.strip():
            m = json.loads(line)
            msgs[int(m["seq"])] = m
    return msgs


def host_message_id(m):
    """The id jetway derives: Nats-Msg-Id, else the JSON message_id."""
    h = m.get("headers", {}).get("Nats-Msg-Id")
    if h:
        return h[0]
    try:
        doc = json.loads(m.get("data", ""))
    except ValueError:
        return None
    v = doc.get("message_id") if isinstance(doc, dict) else None
    return v if isinstance(v, str) else None


def check_letter(a, errors, where, doc, originals, by_id, deliveries):
    """One letter against the original message it copies."""
    hv = doc.get("headers", {})
    h = {k: (v[0] if v else "") for k, v in hv.items()}
    missing = [k for k in LETTER_HEADERS if not h.get(k)]
    if missing:
        errors.append("letter %s lacks %s" % (where, missing))
        return
    mid = h["Jetway-Message-Id"]
    seqs = by_id.get(mid, [])
    if len(seqs) != 1:
        errors.append("letter %s: message id %r is at sequences %s of %s, want one"
                      % (where, mid, seqs, a.stream))
        return
    seq = seqs[0]
    orig = originals[seq]
    want = {
        "Jetway-Stream": a.stream,
        "Jetway-Sequence": str(seq),
        "Jetway-Original-Subject": orig["subject"],
        "Jetway-Consumer": a.consumer,
        "Nats-Msg-Id": "%s:%s:%d" % (a.consumer, a.stream, seq),
    }
    for k, v in want.items():
        if h[k] != v:
            errors.append("letter %s: %s %r, want %r" % (where, k, h[k], v))
    if doc.get("data", "") != orig.get("data", ""):
        errors.append("letter %s: payload %r differs from the original %r"
                      % (where, doc.get("data", "")[:80], orig.get("data", "")[:80]))
    for k, v in orig.get("headers", {}).items():
        if k == "Nats-Msg-Id":
            continue  # replaced by the letter's own id, checked above
        if hv.get(k) != v:
            errors.append("letter %s: original header %s %r, letter has %r"
                          % (where, k, v, hv.get(k)))
    # The delivery that dead-lettered it: one record.so saw (REJECT, RETRY
    # exhausted), or the one after its last attempt when that attempt
    # crashed the process (deliveries > max_deliver: no handler call).
    seen = deliveries.get(seq)
    if seen is not None and int(h["Jetway-Deliveries"]) not in seen | {max(seen) + 1}:
        errors.append("letter %s: Jetway-Deliveries %s, record.so saw deliveries %s of seq %d"
                      % (where, h["Jetway-Deliveries"], sorted(seen), seq))


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
    ap.add_argument("--dump-tool", help="tests/tools/stream_dump (default: next to --jw)")
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
    deliveries = collections.defaultdict(set)  # stream seq -> deliveries seen
    nattempts = 0
    max_delivery = 0
    with open(a.effects) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 4 and parts[0] == "attempt":
                attempts[parts[1]] += 1
                deliveries[int(parts[2])].add(int(parts[3]))
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
    if letters:
        server = a.server or os.environ.get("NATS_URL", "")
        tool = a.dump_tool or os.path.join(os.path.dirname(a.jw), "tests", "tools", "stream_dump")
        originals = dump_stream(tool, server, a.stream)
        by_id = collections.defaultdict(list)
        for seq, m in sorted(originals.items()):
            by_id[host_message_id(m)].append(seq)
    for l in letters:
        doc = json.loads(jetway(a.jw, "dlq", "show", "-c", a.cfg, "--stream", l["stream"],
                                str(int(l["seq"])), "--json"))
        check_letter(a, errors, "%s:%d" % (l["stream"], l["seq"]), doc, originals, by_id,
                     deliveries)

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
