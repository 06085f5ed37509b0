#!/usr/bin/env python3
"""otlp_sink.py -- a tiny OTLP/HTTP JSON receiver for the integration tests.

Listens on 127.0.0.1 (a free port, written to --port-file once bound),
accepts POST /v1/traces with Content-Type application/json, appends each
request body as one JSON line to --out and answers 200 "{}". Anything else
gets 404/415/400. It runs until killed (the test harness kills it by PID).
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

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

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
