#!/usr/bin/env python3
"""promtext.py -- a strict checker and reader of the Prometheus text
exposition format (version 0.0.4) for the integration tests; it runs
whether or not promtool is installed.

  promtext.py check FILE
      Exit 1 with the reasons when FILE is not well-formed:
      * every line is "# HELP name text", "# TYPE name type", another
        comment, or a sample "name{l="v",...} value [timestamp]";
      * metric and label names are legal; label values are quoted with only
        \\\\, \\" and \\n escapes; values are floats (or +Inf/-Inf/NaN);
      * at most one HELP and one TYPE per family, both before its samples;
        a family's samples are contiguous; every sample has a TYPE;
      * no series appears twice; counters are >= 0;
      * histograms: only _bucket (with le), _sum and _count samples; per
        series the le bounds increase, bucket counts never decrease, the
        last le is +Inf and equals _count;
      * the text ends with a newline.
  promtext.py get FILE NAME [LABEL=VALUE...]
      Print the sum of the samples named NAME whose labels include the given
      ones (an integer when it is one); exit 1 when none matches.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_value(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    return float(s)


def parse_sample(line):
    """-> (name, [(label, value)], value) or raises ValueError."""
    m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
    if not m:
        raise ValueError("bad metric name")
    name = m.group(1)
    i = m.end()
    labels = []
    if i < len(line) and line[i] == "{":
        i += 1
        while True:
            while i < len(line) and line[i] == " ":
                i += 1
            if i < len(line) and line[i] == "}":
                i += 1
                break
            m = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"").match(line, i)
            if not m:
                raise ValueError("bad label at column %d" % i)
            key = m.group(1)
            i = m.end()
            val = []
            while True:
                if i >= len(line):
                    raise ValueError("unterminated label value")
                c = line[i]
                if c == "\\":
                    nxt = line[i + 1:i + 2]
                    if nxt not in ("\\", '"', "n"):
                        raise ValueError("bad escape \\%s" % nxt)
                    val.append({"n": "\n"}.get(nxt, nxt))
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    break
                val.append(c)
                i += 1
            labels.append((key, "".join(val)))
            if i < len(line) and line[i] == ",":
                i += 1
                continue
            if i < len(line) and line[i] == "}":
                i += 1
                break
            raise ValueError("expected , or } at column %d" % i)
    rest = line[i:]
    if not rest.startswith(" "):
        raise ValueError("no space before the value")
    parts = rest.split()
    if len(parts) not in (1, 2):
        raise ValueError("expected value [timestamp]")
    value = parse_value(parts[0])
    if len(parts) == 2:
        int(parts[1])
    return name, labels, value


def family_of(name, types):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf):
            base = name[: -len(suf)]
            if types.get(base) in ("histogram", "summary"):
                return base
    return name


def read(path):
    text = open(path).read()
    return text, text.split("\n")


def check(path):
    text, lines = read(path)
    errs = []
    if not text.endswith("\n"):
        errs.append("does not end with a newline")
    types, helps = {}, {}
    seen_series = set()
    done_families = set()
    current = None
    hist = {}  # (family, labels without le) -> list of (le, count), sum, count
    for n, line in enumerate(lines[:-1] if text.endswith("\n") else lines, 1):
        where = "line %d" % n
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME.match(fam):
                    errs.append("%s: bad family name %r" % (where, fam))
                if fam in done_families or (fam == current and parts[1] == "TYPE"
                                            and fam in types):
                    errs.append("%s: %s of %s after its samples or twice" % (where, parts[1], fam))
                table = helps if parts[1] == "HELP" else types
                if fam in table:
                    errs.append("%s: second %s for %s" % (where, parts[1], fam))
                if parts[1] == "TYPE":
                    t = parts[3].strip() if len(parts) > 3 else ""
                    if t not in TYPES:
                        errs.append("%s: bad type %r" % (where, t))
                    table[fam] = t
                else:
                    table[fam] = parts[3] if len(parts) > 3 else ""
            continue
        try:
            name, labels, value = parse_sample(line)
        except ValueError as e:
            errs.append("%s: %s: %r" % (where, e, line))
            continue
        fam = family_of(name, types)
        if fam not in types:
            errs.append("%s: sample of %s without a TYPE" % (where, fam))
        if fam != current:
            if fam in done_families:
                errs.append("%s: samples of %s are not contiguous" % (where, fam))
            if current:
                done_families.add(current)
            current = fam
        keys = [k for k, _ in labels]
        if len(set(keys)) != len(keys):
            errs.append("%s: repeated label" % where)
        series = (name, tuple(sorted(labels)))
        if series in seen_series:
            errs.append("%s: duplicate series %s" % (where, line))
        seen_series.add(series)
        t = types.get(fam)
        if t == "counter" and not (value >= 0):
            errs.append("%s: negative counter" % where)
        if t == "histogram":
            base = tuple(sorted((k, v) for k, v in labels if k != "le"))
            h = hist.setdefault((fam, base), {"b": [], "sum": None, "count": None})
            if name == fam + "_bucket":
                le = dict(labels).get("le")
                if le is None:
                    errs.append("%s: bucket without le" % where)
                    continue
                h["b"].append((parse_value(le), value))
            elif name == fam + "_sum":
                h["sum"] = value
            elif name == fam + "_count":
                h["count"] = value
            else:
                errs.append("%s: %s in histogram %s" % (where, name, fam))
    for (fam, base), h in hist.items():
        b = h["b"]
        what = "%s%s" % (fam, dict(base))
        if not b or b[-1][0] != math.inf:
            errs.append("%s: no +Inf bucket last" % what)
            continue
        if any(b[i][0] >= b[i + 1][0] for i in range(len(b) - 1)):
            errs.append("%s: le bounds do not increase" % what)
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            errs.append("%s: bucket counts decrease" % what)
        if h["count"] is None or h["sum"] is None:
            errs.append("%s: _sum or _count missing" % what)
        elif h["count"] != b[-1][1]:
            errs.append("%s: _count %s != +Inf bucket %s" % (what, h["count"], b[-1][1]))
    for e in errs[:20]:
        print("promtext: %s: %s" % (path, e), file=sys.stderr)
    return 1 if errs else 0


def get(path, name, filters):
    want = dict(f.split("=", 1) for f in filters)
    _, lines = read(path)
    total, hits = 0.0, 0
    for line in lines:
        if not line or line.startswith("#"):
            continue
        n, labels, value = parse_sample(line)
        if n != name:
            continue
        d = dict(labels)
        if all(d.get(k) == v for k, v in want.items()):
            total += value
            hits += 1
    if not hits:
        print("promtext: no sample %s%s in %s" % (name, want, path), file=sys.stderr)
        return 1
    print(int(total) if total == int(total) else total)
    return 0


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == "check":
        return check(a[1])
    if len(a) >= 3 and a[0] == "get":
        return get(a[1], a[2], a[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
