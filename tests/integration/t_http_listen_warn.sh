#!/bin/bash
# t_http_listen_warn.sh -- http.listen on a non-loopback address (the
# endpoint has no access control) gets a startup warning; on 127.0.0.1 it
# does not (issue 16 item 5c).
source "$(dirname "$0")/../lib/harness.sh"
source "$(dirname "$0")/../lib/jetway.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
for addr in 0.0.0.0 127.0.0.1; do
    port=$(free_port)
    record_config "$T/$addr.yaml" "{name: listen}"
    cat >>"$T/$addr.yaml" <<YAML
consumers:
  - {name: worker, stream: WORK, handler: rec, dead_letter: dlq.worker}
http: {listen: "$addr:$port"}
YAML
    jw_start "jw-$addr" "$T/$addr.yaml"
    jw_wait_running "jw-$addr"
    wait_for 20 curl -sf "http://127.0.0.1:$port/healthz" || fail "$addr: no /healthz"
    jw_stop "jw-$addr" || fail "$addr: exit status"
done
grep '"level":"warn"' "$T/jw-0.0.0.0.log" | grep -q 'http: 0.0.0.0:[0-9]* is not a loopback address and the endpoint has no access control' ||
    fail "no warning for 0.0.0.0: $(grep http: "$T/jw-0.0.0.0.log")"
grep -q 'not a loopback address' "$T/jw-127.0.0.1.log" && fail "a warning for 127.0.0.1"
echo "RESULT http_listen_warn wildcard_warned=1 loopback_quiet=1"
