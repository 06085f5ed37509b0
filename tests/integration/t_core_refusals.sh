#!/bin/bash
# Each bad plugin is refused at start with a clear reason and a non-zero
# exit: missing file, missing symbol, ABI major mismatch, failed descriptor
# checks, init failure, a file outside the plugin directory, a group- or
# world-writable file or directory, a text file named .so.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

start_nats
FIX="$JW_BUILD/tests/plugins"

# write_cfg DIR FILE -> $T/c.yaml declaring one consumer on plugin FILE
write_cfg()
{
    cat >"$T/c.yaml" <<YAML
service: {name: refusals}
nats: {servers: ["$NATS_URL"]}
plugins:
  dir: $1
  instances:
    - {name: p, file: "$2"}
streams:
  - {name: WORK, subjects: ["work.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
consumers:
  - {name: worker, stream: WORK, handler: p, dead_letter: dlq.worker}
YAML
}

# expect_refused DIR FILE PATTERN
expect_refused()
{
    write_cfg "$1" "$2"
    rc=0
    timeout 60 "$JW" run -c "$T/c.yaml" >"$T/out.log" 2>&1 || rc=$?
    [ $rc -ne 0 ] || fail "$2 was not refused"
    [ $rc -ne 124 ] || fail "$2: jetway hung instead of refusing"
    grep -q -- "$3" "$T/out.log" || fail "$2: reason '$3' not in: $(tail -n 3 "$T/out.log")"
    note "$2 refused: $(grep -o -- "$3[^\"]*" "$T/out.log" | head -n 1)"
}

plugin_dir "$T/p" "$FIX/no_symbol.so" "$FIX/abi_major2.so" "$FIX/bad_magic.so" \
    "$FIX/init_fails.so" "$FIX/ack.so" "$FIX/bad_sig.so"
echo "not an ELF file" >"$T/p/text.so"
chmod 0644 "$T/p/text.so"

expect_refused "$T/p" missing.so "missing.so"
expect_refused "$T/p" no_symbol.so "jw_plugin_query"
expect_refused "$T/p" abi_major2.so "ABI major 2"
expect_refused "$T/p" bad_magic.so "magic"
expect_refused "$T/p" bad_sig.so "build signature"
expect_refused "$T/p" init_fails.so "init refused by test"
expect_refused "$T/p" text.so "text.so"
expect_refused "$T/p" ../outside.so "outside.so"

cp "$FIX/ack.so" "$T/p/gw.so" && chmod 0664 "$T/p/gw.so"
expect_refused "$T/p" gw.so "group-writable"

plugin_dir "$T/ww" "$FIX/ack.so"
chmod 0777 "$T/ww"
expect_refused "$T/ww" ack.so "writable"

# And a good one starts.
plugin_dir "$T/good" "$FIX/ack.so"
write_cfg "$T/good" ack.so
jw_start ok "$T/c.yaml"
jw_wait_running ok
jw_stop ok || fail "good plugin: non-zero exit"
echo "RESULT refusals 10 refused, 1 accepted"
