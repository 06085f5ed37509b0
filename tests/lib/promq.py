#!/usr/bin/env python3
"""promq.py -- evaluate jetway's dashboard and alert rules on a real Prometheus.

  promq.py dashboard URL DASH.json   every panel query and variable query of
                                     the Grafana dashboard returns >= 1 series
                                     (variables substituted with the values
                                     their own queries return); exit 1 naming
                                     each query that fails or returns nothing
  promq.py conditions URL RULES.yml DASH.json
                                     evaluates every alert expression and
                                     every dashboard annotation now; prints
                                     "alert NAME" / "annotation NAME" for
                                     each that returns series, and "ALERTS
                                     NAME" for each alert Prometheus itself
                                     has pending or firing; exit 2 if an
                                     expression does not evaluate (syntax)
  promq.py names RULES.yml DASH.json the lines `conditions` can print
  promq.py has URL EXPR              exit 0 iff EXPR returns >= 1 series
  promq.py count URL EXPR            the number of series EXPR returns
  promq.py value URL EXPR            the value of EXPR's one series
  promq.py rules_ok URL N            Prometheus loaded N rules, all healthy

Grafana's own variables: $__rate_interval and $__interval become RATE
(default 10s: 4 scrapes at the tests' 1 s interval, plus margin),
$__range the RANGE (default 5m).
"""
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

RATE = os.environ.get("PROMQ_RATE", "10s")
RANGE = os.environ.get("PROMQ_RANGE", "5m")


def query(url, expr):
    """(ok, result or error text)"""
    q = urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen("%s/api/v1/query?%s" % (url, q), timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        try:
            body = json.load(e)
        except ValueError:
            return False, "HTTP %d" % e.code
    except (OSError, ValueError) as e:
        return False, str(e)
    if body.get("status") != "success":
        return False, "%s: %s" % (body.get("errorType"), body.get("error"))
    return True, body["data"]["result"]


def grafana_builtins(expr):
    expr = expr.replace("$__rate_interval", RATE).replace("$__interval", RATE)
    return expr.replace("$__range", RANGE)


def substitute(expr, values):
    expr = grafana_builtins(expr)
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${%s}" % name, values[name]).replace("$" + name, values[name])
    return expr


def regex_literal(value):
    """value as a regex inside a PromQL double-quoted string (as Grafana does)"""
    return "".join("\\\\" + c if c in "\\.^$*+?()[]{}|" else c for c in value)


def panels_of(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []):  # collapsed rows
            yield q


def label_values_query(q):
    m = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*", q)
    if not m:
        raise SystemExit("unsupported variable query: %s" % q)
    return "count by (%s) (%s)" % (m.group(2), m.group(1)), m.group(2)


def cmd_dashboard(url, path):
    dash = json.load(open(path))
    values, bad, n = {}, [], 0
    # Variables in order (later ones use earlier ones), each given every
    # value its query returns, as Grafana does for "All" without allValue.
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        expr, label = label_values_query(substitute(q, values))
        n += 1
        ok, res = query(url, expr)
        if not ok or not res:
            bad.append("variable $%s: %s -> %s" % (v["name"], expr, res if not ok else "no series"))
            values[v["name"]] = "NO-VALUE"
            continue
        vals = sorted(r["metric"].get(label, "") for r in res)
        values[v["name"]] = "(" + "|".join(regex_literal(x) for x in vals) + ")"
        print("  .. $%s = %s" % (v["name"], ", ".join(vals)), file=sys.stderr)
    for p in panels_of(dash):
        for t in p.get("targets", []):
            if "expr" not in t:
                continue
            expr = substitute(t["expr"], values)
            n += 1
            if "$" in expr:
                bad.append("panel %r: variable left in %s" % (p.get("title"), expr))
                continue
            ok, res = query(url, expr)
            if not ok:
                bad.append("panel %r: %s: %s" % (p.get("title"), expr, res))
            elif not res:
                bad.append("panel %r: no series: %s" % (p.get("title"), expr))
    for b in bad:
        print("BAD " + b)
    print("%d dashboard queries, %d bad" % (n, len(bad)))
    return 1 if bad or n == 0 else 0


def rules_of(path):
    for g in yaml.safe_load(open(path))["groups"]:
        for r in g["rules"]:
            yield r


def annotations_of(dash):
    for a in dash.get("annotations", {}).get("list", []):
        if "expr" in a:
            yield a


def cmd_names(rules, dash):
    for r in rules_of(rules):
        if "alert" in r:
            print("alert " + r["alert"])
            print("ALERTS " + r["alert"])
    for a in annotations_of(json.load(open(dash))):
        print("annotation " + a["name"])
    return 0


def cmd_conditions(url, rules, dash):
    rc = 0
    d = json.load(open(dash))
    # Annotations: the dashboard's variables as "all" (.*).
    allv = {v["name"]: ".*" for v in d.get("templating", {}).get("list", [])}
    items = [("alert", r["alert"], r["expr"]) for r in rules_of(rules) if "alert" in r]
    items += [("annotation", a["name"], substitute(a["expr"], allv)) for a in annotations_of(d)]
    for kind, name, expr in items:
        ok, res = query(url, expr)
        if not ok:
            print("ERROR %s %s: %s" % (kind, name, res), file=sys.stderr)
            rc = 2
        elif res:
            print("%s %s" % (kind, name))
    ok, res = query(url, "count by (alertname) (ALERTS)")
    if ok:
        for r in res:
            print("ALERTS " + r["metric"]["alertname"])
    return rc


def cmd_rules_ok(url, n):
    with urllib.request.urlopen(url + "/api/v1/rules", timeout=10) as r:
        body = json.load(r)
    rules = [x for g in body["data"]["groups"] for x in g["rules"]]
    bad = [x["name"] for x in rules if x.get("health") not in ("ok", "unknown") or x.get("lastError")]
    if len(rules) != int(n) or bad:
        print("rules loaded %d (want %s), unhealthy %s" % (len(rules), n, bad))
        return 1
    return 0


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    c = argv[1]
    if c == "dashboard":
        return cmd_dashboard(argv[2], argv[3])
    if c == "conditions":
        return cmd_conditions(argv[2], argv[3], argv[4])
    if c == "names":
        return cmd_names(argv[2], argv[3])
    if c == "has":
        ok, res = query(argv[2], argv[3])
        return 0 if ok and res else 1
    if c == "count":
        ok, res = query(argv[2], argv[3])
        if not ok:
            print(res, file=sys.stderr)
            return 2
        print(len(res))
        return 0
    if c == "value":
        ok, res = query(argv[2], argv[3])
        if not ok or len(res) != 1:
            print(res if not ok else "%d series" % len(res), file=sys.stderr)
            return 1
        print(res[0]["value"][1])
        return 0
    if c == "rules_ok":
        return cmd_rules_ok(argv[2], argv[3])
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
