#!/usr/bin/env python3
"""otlp_sink.py -- a tiny OTLP/HTTP JSON receiver for the integration tests.

Listens on 127.0.0.1 (a free port, written to --port-file once bound),
accepts POST /v1/traces with Content-Type application/json, appends each
request body as one JSON line to --out and answers 200 "{}". Anything else
gets 404/415/400. It runs until killed (the test harness kills it by PID).

  --hang   a collector that is stuck: read each request, never answer (each
           connection is served on its own thread, so every POST hangs until
           the client gives up). Nothing is written to --out.

otlp_sink.py --dump FILE prints the spans received in FILE (the --out of a
run), one JSON object a line, flattened for tests:
  {"service", "traceId", "spanId", "parentSpanId" ("" for a root), "name",
   "kind", "status", "attrs": {key: value}}
"""
import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer


def attr_value(v):
    for k in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if k in v:
            return int(v[k]) if k == "intValue" else v[k]
    return None


def dump(path):
    if not os.path.exists(path):
        return
    for line in open(path):
        for rs in json.loads(line).get("resourceSpans", []):
            rattrs = {a["key"]: attr_value(a["value"])
                      for a in rs.get("resource", {}).get("attributes", [])}
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    print(json.dumps({
                        "service": rattrs.get("service.name"),
                        "traceId": s["traceId"],
                        "spanId": s["spanId"],
                        "parentSpanId": s.get("parentSpanId", ""),
                        "name": s.get("name"),
                        "kind": s.get("kind"),
                        "status": s.get("status", {}).get("code", 0),
                        "attrs": {a["key"]: attr_value(a["value"])
                                  for a in s.get("attributes", [])},
                    }))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--dump":
        dump(sys.argv[2])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hang", action="store_true")
    args = ap.parse_args()
    forever = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def reply(self, code, body=b"{}"):
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            if args.hang:
                sys.stderr.write("otlp_sink: hanging on a POST of %d bytes\n" % n)
                forever.wait()
                return
            if self.path != "/v1/traces":
                return self.reply(404)
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                return self.reply(415)
            try:
                doc = json.loads(body)
            except ValueError:
                return self.reply(400)
            with open(args.out, "a") as f:
                f.write(json.dumps(doc) + "\n")
            self.reply(200)

        def log_message(self, fmt, *a):
            sys.stderr.write("otlp_sink: " + (fmt % a) + "\n")

    cls = ThreadingHTTPServer if args.hang else HTTPServer
    cls.daemon_threads = True
    srv = cls(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
