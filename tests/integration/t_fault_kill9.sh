#!/bin/bash
# kill -9 of jetway in the middle of 5,000 messages, then a restart: nothing
# lost, no effect committed twice except the ids caught in the crash window
# (effect written by the handler, done marker not yet written by the host),
# each of which is committed exactly once more, nothing dead-lettered.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so"
fault_config "$T/jw.yaml" "sleep: 2ms"

N=5000
"$JW" provision -c "$T/jw.yaml" >/dev/null || fail "provision failed"
fault_pub $N
jw_start jw "$T/jw.yaml"
jw_wait_running jw
wait_committed 1500 || fail "no progress: $(committed worker) committed"
kill -KILL "$(pid_of jw)"
wait_gone "$(pid_of jw)" || fail "jetway survived SIGKILL"
mid=$(committed worker)
note "killed after $mid of $N committed"
[ "$mid" -lt $N ] || fail "the run finished before the kill; the test proves nothing"
crash_window "$T/rerun"
note "crash window: $(wc -l <"$T/rerun") ids handled but not marked done"

jw_start jw2 "$T/jw.yaml"
jw_wait_running jw2
fault_check kill9 --rerun "$T/rerun" --extra "killed_at=$mid"
jw_stop jw2 || fail "the restarted jetway exited non-zero"
