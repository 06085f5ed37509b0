#!/bin/bash
# A plugin built out of tree with the `make install`ed header and
# pkg-config file loads and runs.
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
echo "RESULT outoftree greetings=3"
