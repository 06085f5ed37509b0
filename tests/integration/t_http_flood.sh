#!/bin/bash
# t_http_flood.sh -- the HTTP endpoint survives slow and hostile clients
# (issue 16 item 4): 80 connections each sending one byte of a request head
# every 2 s (more than the 64-connection cap), reopened as the server closes
# them, plus a client that reopens 16 silent connections as soon as they
# close; meanwhile /healthz probes, one new connection each, must every one
# be answered 200. Then the flood's connections must have been cut by the
# server (head deadline or make-room), and the endpoint still answers.
# Served by tests/tools/obs_check (the same core/obs/http.c as jetway).
source "$(dirname "$0")/../lib/harness.sh"

OBS="$JW_BUILD/tests/tools/obs_check"
[ -x "$OBS" ] || fail "missing $OBS (make all)"

mkfifo "$T/ctl"
exec 3<>"$T/ctl"
bg obs "$OBS" http "$T/port" "$T/ctl" 3>&-
wait_for 30 test -s "$T/port" || fail "obs_check did not start serving"
PORT=$(cat "$T/port")

python3 - "$PORT" >"$T/flood.out" <<'PY' || fail "flood: $(cat "$T/flood.out")"
import select, socket, sys, threading, time

port = int(sys.argv[1])
SLOW, SILENT, PROBES = 80, 16, 30
HEAD = b"GET /healthz HTTP/1.1\r\nHost: flood\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
stop = threading.Event()
lock = threading.Lock()
counts = {"opened": 0, "cut": 0, "max_open": 0, "answered_flood": 0}

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setblocking(False)
    with lock:
        counts["opened"] += 1
    return s

def flood():
    slow = {conn(): 0 for _ in range(SLOW)}   # socket -> bytes of HEAD sent
    silent = [conn() for _ in range(SILENT)]
    next_byte = time.monotonic()
    while not stop.is_set():
        with lock:
            counts["max_open"] = max(counts["max_open"], len(slow) + len(silent))
        socks = list(slow) + silent
        r, _, _ = select.select(socks, [], [], 0.05)
        for s in r:
            try:
                d = s.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                d = b""
            if d.startswith(b"HTTP/"):
                with lock:
                    counts["answered_flood"] += 1
            s.close()
            with lock:
                counts["cut"] += 1
            if s in slow:
                del slow[s]
                slow[conn()] = 0          # reopen as connections close
            else:
                silent.remove(s)
                silent.append(conn())     # at once, sending nothing
        if time.monotonic() >= next_byte:
            next_byte += 2.0
            for s, n in list(slow.items()):
                try:
                    s.send(HEAD[n:n + 1])
                    slow[s] = n + 1
                except OSError:
                    pass                  # the select above sees it closed
    for s in list(slow) + silent:
        s.close()

t = threading.Thread(target=flood)
t.start()
time.sleep(1.0)  # let the flood fill the cap first (not an assertion)
ok = failed = 0
errors = []
for i in range(PROBES):
    try:
        p = socket.create_connection(("127.0.0.1", port), timeout=10)
        p.settimeout(10)
        p.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\n\r\n")
        got = b""
        while True:
            d = p.recv(4096)
            if not d:
                break
            got += d
        p.close()
        if got.startswith(b"HTTP/1.1 200 "):
            ok += 1
        else:
            failed += 1
            errors.append(repr(got[:60]))
    except OSError as e:
        failed += 1
        errors.append(str(e))
    time.sleep(0.3)
stop.set()
t.join()
print("probes=%d ok=%d failed=%d opened=%d cut=%d max_open=%d answered_flood=%d errors=%s" %
      (PROBES, ok, failed, counts["opened"], counts["cut"], counts["max_open"],
       counts["answered_flood"], errors[:3]))
if ok != PROBES:
    sys.exit("not every probe was answered")
if counts["max_open"] < 64 + 1:
    sys.exit("the flood never exceeded the cap")
if counts["cut"] == 0:
    sys.exit("the server cut no flood connection")
PY
cat "$T/flood.out"
curl -s --max-time 10 "http://127.0.0.1:$PORT/healthz" | grep -q ok || fail "no answer after the flood"
echo "quit" >&3
wait_for 30 sh -c "! kill -0 $(pid_of obs) 2>/dev/null" || fail "obs_check did not exit on quit"
wait "$(pid_of obs)" || fail "obs_check exited non-zero"
echo "RESULT http_flood $(cat "$T/flood.out")"
