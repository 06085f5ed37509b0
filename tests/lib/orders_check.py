#!/usr/bin/env python3
"""tests/lib/orders_check.py -- the invariants of the order-processing system
after a run, checked from the outside (called by tests/lib/orders.sh).

Inputs: the summaries of `jetway-orders-load` (--json, --accepted-out), every
message of the ORDERS, PAYMENTS, INVENTORY and DLQ streams (JSON lines of
tests/tools/stream_dump), the audit directory and Redis. Run it only once
the system is quiet (every consumer drained).

Checks, each printed as a failure when it does not hold:
  * load: every request accepted and answered (after the load tool's retries
    with the same idempotency key: unanswered_final 0), every accepted order
    decided;
  * ORDERS: no order id has two orders.created.v1 (a retried request must
    not create a second order); one orders.created.v1 per accepted order,
    and exactly one
    decision (orders.confirmed.v1 or orders.cancelled.v1) per accepted
    order, the one `jetway-orders-load` saw, with its reason; no event of an order
    nobody accepted, but the --injected messages of a test, and no event
    names the order of an injected one;
  * every message id is unique in its stream and equals the payload's
    message_id;
  * PAYMENTS: at most one completed or failed per order, never both; a
    confirmed order was paid and reserved; payments.refunded.v1 exactly for
    the cancelled orders that had payments.completed.v1;
  * INVENTORY: at most one reserved or rejected per order, never both;
  * Redis: pay:charge_count:<id> is 1 for exactly the paid orders;
    pay:charges_total and pay:refunds_total match the events; per SKU stock
    >= 0, reserved == 0, available + reserved + sold == initial and sold ==
    the quantities of the confirmed orders;
  * audit: every event of the three streams is in the log exactly once
    (stream, seq) with its subject, message id and data, nothing else is
    (the --unaudited messages must be absent);
  * DLQ: exactly --letters messages.

Prints one JSON object of counts on stdout; exit 0 when all hold, 1 if not.
"""
import argparse
import collections
import glob
import json
import os
import socket
import sys

EVENT_STREAMS = ("ORDERS", "PAYMENTS", "INVENTORY")


class Redis:
    """The few commands we need, over RESP (no client library installed)."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.f = self.sock.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._read()

    def _read(self):
        line = self.f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError("redis: unexpected reply %r" % line)

    def scan(self, pattern):
        cursor, keys = "0", []
        while True:
            cursor, batch = self.cmd("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            keys += batch
            if cursor == "0":
                return keys


def load_stream(dump_dir, name):
    msgs = []
    path = os.path.join(dump_dir, name + ".jsonl")
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            try:
                m["doc"] = json.loads(m["data"])
            except ValueError:
                m["doc"] = None
            msgs.append(m)
    return msgs


def msg_id(m):
    return (m["headers"].get("Nats-Msg-Id") or [None])[0]


def oid(m):
    d = m["doc"]
    return d.get("order_id") if isinstance(d, dict) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--load", required=True, help="jetway-orders-load --json output")
    ap.add_argument("--accepted", required=True, help="jetway-orders-load --accepted-out file")
    ap.add_argument("--dumps", required=True, help="dir of STREAM.jsonl dumps")
    ap.add_argument("--audit", required=True, help="audit directory")
    ap.add_argument("--redis", required=True, help="host:port")
    ap.add_argument("--injected", action="append", default=[], metavar="STREAM:SEQ",
                    help="a message a test published itself: no order check; no other "
                         "event may name its order_id")
    ap.add_argument("--unaudited", action="append", default=[], metavar="STREAM:SEQ",
                    help="an injected message the audit role must have refused")
    ap.add_argument("--letters", type=int, default=0, help="dead letters expected")
    a = ap.parse_args()

    bad = []
    counts = collections.OrderedDict()

    def check(ok, what):
        if not ok:
            bad.append(what)
        return ok

    # -- jetway load
    summaries = [json.loads(line) for line in open(a.load) if line.strip()]
    accepted = {}
    for line in open(a.accepted):
        parts = line.split()
        if parts:
            check(parts[0] not in accepted, "order %s accepted twice" % parts[0])
            accepted[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    # An empty summary would make every check below vacuously true.
    check(summaries, "load: %s holds no summary" % a.load)
    sent = sum(s.get("sent", 0) for s in summaries)
    check(sent > 0, "load: no order sent")
    n_acc = sum(s.get("accepted", 0) for s in summaries)
    counts["sent"] = sent
    counts["accepted"] = n_acc
    counts["retries"] = sum(s.get("retries", 0) for s in summaries)
    counts["replayed"] = sum(s.get("replayed", 0) for s in summaries)
    counts["unanswered_attempts"] = sum(s.get("unanswered", 0) for s in summaries)
    for s in summaries:
        # Attempts may go unanswered (a role killed); the request, retried
        # with its key, must be answered in the end. Older summaries lack
        # unanswered_final: then no attempt may go unanswered.
        final = s.get("unanswered_final", s.get("unanswered"))
        check(final == 0, "load: %s requests never answered" % final)
        check(not s.get("conflicting_answers"),
              "load: %s requests answered with two order ids" % s.get("conflicting_answers"))
        check(s.get("rejected") == 0,
              "load: %s requests rejected (%s)" % (s.get("rejected"), s.get("first_error")))
        check(s.get("undecided") == 0, "load: %s orders undecided" % s.get("undecided"))
        check(s.get("sent") == s.get("orders"), "load: sent %s of %s" % (s.get("sent"), s.get("orders")))
    check(len(accepted) == n_acc, "accepted file has %d orders, summaries %d" % (len(accepted), n_acc))
    check(n_acc == sent, "accepted %d of %d sent" % (n_acc, sent))
    undecided = [o for o, (d, _) in accepted.items() if d not in ("confirmed", "cancelled")]
    check(not undecided, "load saw no decision for %d orders, e.g. %s" % (len(undecided), undecided[:3]))

    # -- streams
    streams = {n: load_stream(a.dumps, n) for n in EVENT_STREAMS + ("DLQ",)}
    def key(text):
        st, sq = text.split(":")
        return (st, int(sq))
    injected = {key(x) for x in a.injected + a.unaudited}
    unaudited = {key(x) for x in a.unaudited}
    inj_msgs = [m for n in EVENT_STREAMS for m in streams[n] if (n, m["seq"]) in injected]
    check(len(inj_msgs) == len(injected), "injected messages: found %d of %d" % (len(inj_msgs), len(injected)))
    foreign = {oid(m) for m in inj_msgs if isinstance(oid(m), str)}
    known = set(accepted)
    for m in (m for n in EVENT_STREAMS for m in streams[n] if (n, m["seq"]) not in injected):
        check(oid(m) not in foreign, "%s seq %d: %s of the injected order %s"
              % (m["stream"], m["seq"], m["subject"], oid(m)))
    for name in EVENT_STREAMS:
        ids = collections.Counter(msg_id(m) for m in streams[name])
        dups = [i for i, c in ids.items() if c > 1]
        check(not dups, "%s: %d message ids twice, e.g. %s" % (name, len(dups), dups[:3]))
        check(None not in ids, "%s: a message without Nats-Msg-Id" % name)
        for m in streams[name]:
            d = m["doc"]
            if (name, m["seq"]) in injected:
                continue
            if not check(isinstance(d, dict), "%s seq %d: payload is not a JSON object" % (name, m["seq"])):
                continue
            check(d.get("message_id") == msg_id(m),
                  "%s seq %d: message_id %r, Nats-Msg-Id %r" % (name, m["seq"], d.get("message_id"), msg_id(m)))
            check(oid(m) in known, "%s seq %d: %s of unknown order %r" % (name, m["seq"], m["subject"], oid(m)))
        counts[name.lower() + "_events"] = len(streams[name])

    by = collections.defaultdict(lambda: collections.defaultdict(list))  # subject -> order -> [msg]
    for name in EVENT_STREAMS:
        for m in streams[name]:
            if (name, m["seq"]) not in injected:
                by[m["subject"]][oid(m)].append(m)

    def n_of(subject, o):
        return len(by[subject].get(o, ()))

    created = by["orders.created.v1"]
    counts["created"] = len(created)
    twice = {o: len(ms) for o, ms in created.items() if len(ms) > 1}
    counts["duplicate_created"] = len(twice)
    check(not twice, "%d order ids with more than one orders.created.v1, e.g. %s"
          % (len(twice), list(twice.items())[:3]))
    counts["confirmed"] = len(by["orders.confirmed.v1"])
    counts["cancelled"] = len(by["orders.cancelled.v1"])
    missing = [o for o in accepted if n_of("orders.created.v1", o) != 1]
    check(not missing, "%d accepted orders without exactly one orders.created.v1, e.g. %s" % (len(missing), missing[:3]))
    check(len(created) == len(accepted), "%d orders.created.v1 for %d accepted" % (len(created), len(accepted)))
    wrong = []
    for o, (dec, why) in accepted.items():
        c, x = n_of("orders.confirmed.v1", o), n_of("orders.cancelled.v1", o)
        if c + x != 1:
            wrong.append("%s: %d confirmed + %d cancelled" % (o, c, x))
            continue
        got = "confirmed" if c else "cancelled"
        got_why = "" if c else by["orders.cancelled.v1"][o][0]["doc"].get("reason", "")
        if (got, got_why) != (dec, why):
            wrong.append("%s: stream says %s %s, load saw %s %s" % (o, got, got_why, dec, why))
    check(not wrong, "%d orders not decided exactly once as load saw: %s" % (len(wrong), wrong[:3]))
    reasons = collections.Counter(ms[0]["doc"].get("reason") for ms in by["orders.cancelled.v1"].values())
    counts["cancelled_by_reason"] = dict(reasons)

    for o in created:
        pc, pf = n_of("payments.completed.v1", o), n_of("payments.failed.v1", o)
        ir, ij = n_of("inventory.reserved.v1", o), n_of("inventory.rejected.v1", o)
        check(pc + pf <= 1, "%s: %d payments.completed + %d payments.failed" % (o, pc, pf))
        check(ir + ij <= 1, "%s: %d inventory.reserved + %d inventory.rejected" % (o, ir, ij))
        check(n_of("payments.refunded.v1", o) <= 1, "%s: refunded %d times" % (o, n_of("payments.refunded.v1", o)))
        if n_of("orders.confirmed.v1", o):
            check(pc == 1 and ir == 1, "%s confirmed without payment (%d) and reservation (%d)" % (o, pc, ir))
    paid = set(by["payments.completed.v1"])
    refunded = set(by["payments.refunded.v1"])
    should_refund = paid & set(by["orders.cancelled.v1"])
    counts["paid"] = len(paid)
    counts["payment_failed"] = len(by["payments.failed.v1"])
    counts["refunded"] = len(refunded)
    counts["cancelled_after_payment"] = len(should_refund)
    counts["reserved"] = len(by["inventory.reserved.v1"])
    counts["rejected_for_stock"] = len(by["inventory.rejected.v1"])
    check(refunded == should_refund,
          "refunds: %d refunded, %d cancelled after payment (missing %s, extra %s)"
          % (len(refunded), len(should_refund), sorted(should_refund - refunded)[:3], sorted(refunded - should_refund)[:3]))

    # -- Redis
    host, port = a.redis.rsplit(":", 1)
    r = Redis(host, int(port))
    ckeys = r.scan("pay:charge_count:*")
    cvals = r.cmd("MGET", *ckeys) if ckeys else []
    charge = {k[len("pay:charge_count:"):]: int(v) for k, v in zip(ckeys, cvals)}
    dup = {o: n for o, n in charge.items() if n != 1}
    counts["charge_counters"] = len(charge)
    counts["duplicate_charges"] = len(dup)
    check(not dup, "orders charged more than once: %s" % list(dup.items())[:3])
    check(set(charge) == paid, "charged orders in Redis (%d) differ from payments.completed.v1 (%d)" % (len(charge), len(paid)))
    ct, rt = r.cmd("MGET", "pay:charges_total", "pay:refunds_total")
    check(int(ct or 0) == len(paid), "pay:charges_total %s, %d payments.completed.v1" % (ct, len(paid)))
    check(int(rt or 0) == len(refunded), "pay:refunds_total %s, %d payments.refunded.v1" % (rt, len(refunded)))
    sold_want = collections.Counter()
    for o in by["orders.confirmed.v1"]:
        for line in created[o][0]["doc"]["items"]:
            sold_want[line["sku"]] += int(line["qty"])
    skus = sorted(k[len("inv:initial:"):] for k in r.scan("inv:initial:*"))
    stock = {}
    for sku in skus:
        av, res, sold, init = (int(v or 0) for v in r.cmd(
            "MGET", "inv:stock:" + sku, "inv:reserved:" + sku, "inv:sold:" + sku, "inv:initial:" + sku))
        stock[sku] = {"available": av, "reserved": res, "sold": sold, "initial": init}
        check(av >= 0, "%s: available %d < 0" % (sku, av))
        check(res == 0, "%s: %d still reserved after every order was decided" % (sku, res))
        check(av + res + sold == init, "%s: %d + %d + %d != initial %d" % (sku, av, res, sold, init))
        check(sold == sold_want[sku], "%s: sold %d, confirmed orders hold %d" % (sku, sold, sold_want[sku]))
    check(set(sold_want) <= set(skus), "sold SKUs without stock: %s" % (set(sold_want) - set(skus)))
    counts["skus"] = stock

    # -- audit
    recs = []
    for seg in sorted(glob.glob(os.path.join(a.audit, "audit-*.jsonl"))):
        with open(seg) as f:
            recs += [json.loads(line) for line in f if line.endswith("\n")]
    seen = collections.Counter((x["stream"], x["seq"]) for x in recs)
    events = {(m["stream"], m["seq"]): m for n in EVENT_STREAMS for m in streams[n]
              if (n, m["seq"]) not in unaudited}
    twice = [k for k, c in seen.items() if c > 1]
    absent = [k for k in events if k not in seen]
    extra = [k for k in seen if k not in events]
    counts["audit_records"] = len(recs)
    counts["events"] = len(events)
    check(not twice, "audit: %d events recorded twice, e.g. %s" % (len(twice), twice[:3]))
    check(not absent, "audit: %d events missing, e.g. %s" % (len(absent), absent[:3]))
    check(not extra, "audit: %d records of no event (or of one it must refuse), e.g. %s"
          % (len(extra), extra[:3]))
    counts["unaudited"] = len(unaudited)
    ids = collections.Counter((x["stream"], x["message_id"]) for x in recs)
    check(all(c == 1 for c in ids.values()), "audit: a message id recorded twice")
    for x in recs:
        m = events.get((x["stream"], x["seq"]))
        if m is None:
            continue
        if not check(x["subject"] == m["subject"] and x["message_id"] == msg_id(m) and x["data"] == m["doc"],
                     "audit record %d differs from %s seq %d" % (x["n"], x["stream"], x["seq"])):
            break

    # -- dead letters
    counts["dead_letters"] = len(streams["DLQ"])
    check(len(streams["DLQ"]) == a.letters,
          "%d dead letters, want %d: %s" % (len(streams["DLQ"]), a.letters,
                                           [m["headers"].get("Jetway-Error") for m in streams["DLQ"][:3]]))

    print(json.dumps(counts))
    for b in bad[:20]:
        print("orders_check: " + b, file=sys.stderr)
    if len(bad) > 20:
        print("orders_check: ... %d more" % (len(bad) - 20), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
