#!/usr/bin/env python3
"""mkseeds.py -- (re)write the committed seed corpora of tests/fuzz/corpus/.

Small, meaningful inputs per target, in each target's input format (see the
comment at the top of tests/fuzz/fuzz_TARGET.c). Run from anywhere; it
writes next to itself. The audit seeds carry real SHA-256 chains, which is
why they are generated rather than typed.
"""
import glob
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def put(t, name, data):
    d = os.path.join(HERE, "corpus", t)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin1")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def hdr(*kv):
    return "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kv) + "\r\n"


# fuzz_config: the repository's own configs, and one using ${VAR}s.
for f in sorted(glob.glob(f"{ROOT}/config/*.yaml")) + sorted(glob.glob(f"{ROOT}/tests/configs/*.yaml")):
    with open(f, "rb") as fp:
        put("fuzz_config", os.path.basename(f), fp.read())
put("fuzz_config", "vars.yaml", """service:
  name: ${JW_FUZZ_NAME:-svc}
  shutdown_grace: ${JW_FUZZ_DUR}
nats:
  servers: ["nats://${JW_FUZZ_HOST}:${JW_FUZZ_PORT}"]
  password: ${JW_FUZZ_SECRET}
redis:
  url: redis://user:${JW_FUZZ_SECRET}@127.0.0.1:6379/2
  timeout: 1500ms
streams:
  - name: ORDERS
    subjects: ["orders.>"]
    max_bytes: 1GiB
    max_age: 72h
    duplicate_window: 2m
""")

# fuzz_config_values: selector byte + text (two texts split by NUL).
vals = [(0, "250ms"), (0, "1h30m"), (0, "72h"), (0, "9223372036854775807"), (0, "1.5s"),
        (1, "512KiB"), (1, "4MiB"), (1, "1GB"), (1, "18446744073709551615"),
        (2, "2024-05-01T12:00:00.123Z"), (2, "2024-05-01T12:00:00+02:00"),
        (3, "redis://user:pw@127.0.0.1:6379/3"), (3, "rediss://[::1]:6380"),
        (3, "unix:///run/redis.sock?db=2"),
        (4, "127.0.0.1:8080"), (4, "[::1]:9090"), (4, "localhost:65536"),
        (5, "${JW_FUZZ_A} ${NOPE:-dflt} $${literal} ${JW_FUZZ_EMPTY:-e}"), (5, "${"),
        (6, "nats://u:p@host:4222"), (7, "orders_v1"), (8, "orders.*.v1"), (8 | 0x80, "orders.>"),
        (9, "orders.*.v1\0orders.created.v1"), (10, "orders.>\0orders.*.v1"),
        (11, "kitten\0sitting")]
for i, (b, t) in enumerate(vals):
    put("fuzz_config_values", f"v{i:02d}", bytes([b]) + t.encode())

# fuzz_http: requests; 0xFF marks where the client splits its writes.
reqs = ["GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD /healthz HTTP/1.0\r\n\r\n",
        "GET /readyz?x=1 HTTP/1.1\r\n\r\n", "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "GET /nope HTTP/2.0\r\n\r\n", "GET / HTTP/1.1\n\n", "GET\xff /metrics HTTP/1.1\r\n\xff\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nX: " + "a" * 9000 + "\r\n\r\n", "GET  HTTP/1.1\r\n\r\n"]
for i, r in enumerate(reqs):
    put("fuzz_http", f"r{i}", r)

# fuzz_msgid: mode byte, header block NUL payload.
put("fuzz_msgid", "hdr", b"\x01" + hdr(("Nats-Msg-Id", "o-1")).encode() + b'\0{"message_id":"x"}')
put("fuzz_msgid", "json", b'\x00\0{"message_id":"o-2","x":1}')
put("fuzz_msgid", "num", b'\x02\0{"id":12345678901234567890}')
put("fuzz_msgid", "replay",
    b"\x01" + hdr(("Nats-Msg-Id", "o-1"), ("Jetway-Replay", "DLQ:7#2")).encode() + b"\0{}")
put("fuzz_msgid", "nohdr", b'\x00{"message_id":"plain"}')

# fuzz_jsmeta: reply subjects.
for i, r in enumerate(["$JS.ACK.ORDERS.payment.1.42.17.1700000000000000000.3",
                       "$JS.ACK.domain.hash.ORDERS.payment.2.42.17.1700000000000000000.0.rand",
                       "$JS.ACK.S.c.1.1.1.0.0", "_INBOX.x",
                       "$JS.ACK.S.c.18446744073709551616.1.1.1.1"]):
    put("fuzz_jsmeta", f"r{i}", r)

# fuzz_trace: traceparent NUL tracestate, or a header block.
tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
put("fuzz_trace", "raw", tp + "\0rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
put("fuzz_trace", "future", "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra\0")
put("fuzz_trace", "hdr", hdr(("traceparent", tp), ("tracestate", "a=1,b=2")))
put("fuzz_trace", "zero", "00-00000000000000000000000000000000-b7ad6b7169203331-01")

# fuzz_dlq_letter: header block NUL payload.
put("fuzz_dlq_letter", "letter",
    hdr(("Jetway-Original-Subject", "orders.created.v1"), ("Jetway-Stream", "ORDERS"),
        ("Jetway-Sequence", "42"), ("Jetway-Deliveries", "5"), ("Jetway-Consumer", "payment"),
        ("Jetway-Error", "handler: boom"), ("Jetway-Message-Id", "o-1"),
        ("Nats-Msg-Id", "payment:ORDERS:42"), ("traceparent", tp), ("X-Custom", "v"))
    + '\0{"order_id":"o-1"}')
put("fuzz_dlq_letter", "noid",
    hdr(("Jetway-Original-Subject", "orders.created.v1"), ("Nats-Expected-Stream", "X")) + "\0")
put("fuzz_dlq_letter", "foreign", hdr(("X", "y")) + "\0payload")

# fuzz_plugin_options: a `config:` block.
put("fuzz_plugin_options", "full", """name: svc
label: "quoted"
count: 7
ratio: 1.25
enabled: false
timeout: 1h30m
limit: 512KiB
skus: [A, B, 3]
stock: {A: 5, B: {nested: true}}
""")
put("fuzz_plugin_options", "min", "name: ${JW_FUZZ_A}\n")
put("fuzz_plugin_options", "bad", "name: [1]\ncount: x\nunknown: 1\ntimeout: -5s\n")


# fuzz_audit_chain: flags byte, segment 1 (NUL segment 2).
def rec(n, prev, data, stream="ORDERS", mid="o-1"):
    body = ('{"n":%d,"ts":"2024-05-01T12:00:00.123Z","subject":"orders.created.v1","stream":%s,'
            '"seq":%d,"message_id":%s,"data":%s,"prev":"%s"'
            % (n, json.dumps(stream) if stream else "null", n, json.dumps(mid) if mid else "null",
               data, prev))
    h = hashlib.sha256((body + "}").encode()).hexdigest()
    return body + ',"hash":"%s"}\n' % h, h


z = "0" * 64
l1, h1 = rec(1, z, '{"a":1}')
l2, h2 = rec(2, h1, '{"b":[1,2]}', mid=None)
l3, h3 = rec(3, h2, "{}", stream=None)
put("fuzz_audit_chain", "intact", b"\x00" + (l1 + l2).encode())
put("fuzz_audit_chain", "two", b"\x02" + (l1 + l2).encode() + b"\0" + l3.encode())
put("fuzz_audit_chain", "torn", b"\x00" + (l1 + l2[:50]).encode())
put("fuzz_audit_chain", "seal", b"\x01" + (l1 + l2).replace(h1, "f" * 64).encode())
put("fuzz_audit_chain", "empty", b"\x00")

# The plugins: byte 0 subject and flags, byte 1 the fake Redis replies, payload.
order_req = ('{"customer_id":"c-1","items":[{"sku":"SKU-1","qty":2},{"sku":"SKU-2","qty":1}],'
             '"total_amount":59.9,"currency":"EUR"}')
ev = ('{"order_id":"o-1","message_id":"m-1","customer_id":"c-1","items":[{"sku":"SKU-1","qty":2}],'
      '"total_amount":59.9,"currency":"EUR","reason":"x"}')
put("fuzz_order", "create", bytes([8, 0]) + order_req.encode())
put("fuzz_order", "create_fail", bytes([8 | 16, 0]) + order_req.encode())
for i in range(1, 6):
    put("fuzz_order", f"ev{i}", bytes([i, i * 5 % 64]) + ev.encode())
put("fuzz_order", "bad", bytes([8, 0]) + b'{"items":[]}')
for i in range(3):
    put("fuzz_payment", f"ev{i}", bytes([i, (i * 9) % 64]) + ev.encode())
put("fuzz_payment", "noamount", bytes([0, 1]) + b'{"order_id":"o-2"}')
for i in range(4):
    put("fuzz_inventory", f"ev{i}", bytes([i, (i * 6) % 64]) + ev.encode())
put("fuzz_inventory", "many", bytes([0, 1]) + b'{"order_id":"o-3","items":[{"sku":"A","qty":1},'
    b'{"sku":"A","qty":2},{"sku":"SKU-2","qty":1}]}')
put("fuzz_audit", "ev", b"\x00" + ev.encode())
put("fuzz_audit", "ws", b"\x09" + b' { "a" : [ 1 , "x y" , {"\\"q" : null} ] } ')
put("fuzz_audit", "bad", b"\x1f" + b'{"a":"\x01"}')
put("fuzz_audit", "noid", b"\x07" + b'"just a string"')
