#!/bin/bash
# A plugin built out of tree with the `make install`ed header and
# pkg-config file loads and runs; so does the installed example plugin
# (share/jetway/examples/shipping), built with its own Makefile, described
# by `jetway plugin describe`, publishing events that match its schema.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

make -s install BUILD="$JW_BUILD" PREFIX="$T/prefix" >"$T/install.log" 2>&1 ||
    fail "make install failed: $(tail -n 5 "$T/install.log")"
export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
pkg-config --exists jetway-plugin || fail "jetway-plugin.pc not installed"
mkdir -p "$T/plugins" && chmod 0755 "$T/plugins"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags jetway-plugin) \
    -o "$T/plugins/hello.so" tests/outoftree/hello.c $(pkg-config --libs jetway-plugin) ||
    fail "out-of-tree build failed"
chmod 0644 "$T/plugins/hello.so"

start_nats
cat >"$T/jw.yaml" <<YAML
service: {name: hello}
nats: {servers: ["$NATS_URL"]}
plugins: {dir: $T/plugins, instances: [{name: hello, file: hello.so}]}
streams:
  - {name: IN, subjects: ["in.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
consumers:
  - {name: greeter, stream: IN, filter_subject: "in.greet", handler: hello, dead_letter: dlq.greeter}
YAML
"$T/prefix/bin/jetway" version | grep -q "plugin ABI 1" || fail "installed binary"
JW="$T/prefix/bin/jetway"
jw_start jw "$T/jw.yaml"
jw_wait_running jw
"$JW" pub -s "$NATS_URL" -q in.greet '{"message_id":"g-%d"}' --count 3 --id 'g-%d' || fail pub
wait_for 30 si_eq IN messages 6 ||
    fail "hello.so did not publish 3 greetings"
grep -q 'hello from in.greet' "$T/jw.log" || fail "no log line from the plugin"
jw_stop jw || fail "non-zero exit"

# The installed example: copy, build with its Makefile (pkg-config names
# cJSON: the plugin parses JSON), describe, run against the order streams.
EX="$T/prefix/share/jetway/examples/shipping"
[ -f "$EX/Makefile" ] && [ -f "$EX/shipping.c" ] || fail "the example is not installed"
[ -f "$T/prefix/include/jetway/plugin_util.h" ] || fail "plugin_util.h not installed"
pkg-config --libs jetway-plugin | grep -q -- -lcjson || fail "jetway-plugin.pc does not link cJSON"
cp -r "$EX" "$T/ex"
make -C "$T/ex" JETWAY="$JW" >"$T/ex-build.log" 2>&1 || fail "example build: $(tail -n 5 "$T/ex-build.log")"
make -s -C "$T/ex" check JETWAY="$JW" >"$T/describe.out" 2>&1 || fail "describe: $(cat "$T/describe.out")"
grep -q '^plugin   shipping$' "$T/describe.out" && grep -q '^abi      1\.' "$T/describe.out" &&
    grep -Eq '^  carrier +string +post +carrier named' "$T/describe.out" ||
    fail "describe output: $(cat "$T/describe.out")"
start_redis
"$JW" provision -c config/all-in-one.yaml >"$T/prov.out" 2>&1 || fail "provision: $(cat "$T/prov.out")"
chmod 0755 "$T/ex"
jw_start ship "$T/ex/shipping.yaml" SHIPPING_PLUGIN_DIR="$T/ex" SHIPPING_HTTP="127.0.0.1:$(free_port)"
jw_wait_running ship
for i in 1 2 3; do
    "$JW" pub -q orders.confirmed.v1 \
        "{\"message_id\":\"orders.confirmed:o-$i\",\"order_id\":\"o-$i\",\"ts\":\"2026-01-01T00:00:00.000Z\"}" \
        --id "orders.confirmed:o-$i" || fail "pub"
done
"$JW" pub -q orders.confirmed.v1 '{"message_id":"orders.confirmed:x","ts":"2026-01-01T00:00:00.000Z"}' \
    --id orders.confirmed:x || fail "pub"
wait_for 30 sh -c "[ \"\$(\"$JW\" pub --stream-info SHIPPING | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"messages\"])')\" = 3 ]" ||
    fail "shipping.so did not publish 3 events"
wait_for 30 sh -c "[ \"\$(\"$JW\" pub --stream-info DLQ | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"messages\"])')\" = 1 ]" ||
    fail "the event without order_id was not dead-lettered"
jw_stop ship || fail "shipping role: non-zero exit"
"$JW_BUILD/tests/tools/stream_dump" "$NATS_URL" SHIPPING >"$T/SHIPPING.jsonl" || fail "dump"
mkdir -p "$T/schemas" && cp "$EX/shipping.scheduled.v1.json" "$T/schemas/"
python3 tests/lib/schema_check.py "$T/schemas" -- "$T/SHIPPING.jsonl" >/dev/null 2>"$T/schema.err" ||
    fail "shipping events do not match their schema: $(cat "$T/schema.err")"
ls "$T/prefix/share/jetway/schemas/orders.created.v1.json" >/dev/null || fail "event schemas not installed"
echo "RESULT outoftree greetings=3 shipping=3 dead_letters=1"
