#!/bin/bash
# 200 reloads alternating two configs whose handler is a different plugin
# file (record.so / record_v2.so), with messages flowing. Between reload 50
# and reload 200 (each time once the replaced instance is finalised) the
# open descriptors and the mapped plugin copies (memfd mappings) must not
# grow beyond a small constant; every message is committed exactly once;
# under the ASan build (ASAN_OPTIONS=detect_leaks=1 required) the exit
# status is 0, i.e. LeakSanitizer found nothing; without ASan the resident
# set may not grow by more than 2 MB between reload 50 and 200.
#
# JW_NO_DLCLOSE is removed from jetway's environment here: it keeps every
# unloaded plugin mapped (for symbolized leak reports), which is exactly
# the growth this test must not see. Leaks are still detected without it.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"

RELOADS=200
MSGS=2000

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so" "$JW_BUILD/tests/plugins/record_v2.so"
asan=0
ldd "$JW" | grep -q libasan && asan=1

# write_cfg FILE BACKOFF
write_cfg()
{
    cat >"$T/jw.yaml" <<YAML
service: {name: reload-leak, workers: 4, shutdown_grace: 20s}
nats: {servers: ["$NATS_URL"]}
redis: {url: "$REDIS_URL"}
plugins:
  dir: $T/plugins
  instances:
    - {name: rec, file: $1, config: {effects_file: "$T/effects"}}
streams:
  - {name: WORK, subjects: ["work.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
consumers:
  - {name: worker, stream: WORK, handler: rec, dead_letter: dlq.worker, concurrency: 2,
     backoff: [$2], ack_wait: 20s}
log: {level: info}
YAML
}

finalised()
{
    [ "$(count_in "plugin instance 'rec' finalised" "$T/jw.log")" -ge "$1" ]
}

# snapshot: "fds memfd_mappings rss_kb" of the running jetway.
snapshot()
{
    fds=$(ls "/proc/$jpid/fd" | wc -l)
    maps=$(grep -c memfd "/proc/$jpid/maps")
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$jpid/status")
    echo "$fds $maps $rss"
}

write_cfg record.so 100ms
jw_start jw "$T/jw.yaml" -u JW_NO_DLCLOSE
jw_wait_running jw
jpid=$(pid_of jw)
bg pub "$JW" pub -s "$NATS_URL" work.items '{"message_id":"m-%d"}' --id 'm-%d' --count $MSGS \
    --rate 200

t0=$(date +%s%N)
for i in $(seq 1 $RELOADS); do
    if [ $((i % 2)) -eq 1 ]; then write_cfg record_v2.so 150ms; else write_cfg record.so 100ms; fi
    out=$("$JW" reload --pid-file "$T/jw.pidfile" --timeout 30 2>&1) || fail "reload $i: $out"
    if [ $i = 50 ] || [ $i = $RELOADS ]; then
        wait_for 20 finalised $i || fail "after reload $i only $(count_in "plugin instance 'rec' finalised" "$T/jw.log") instances finalised"
        read -r fds maps rss <<<"$(snapshot)"
        eval "fds_$i=$fds maps_$i=$maps rss_$i=$rss"
        note "after reload $i: fds=$fds memfd_mappings=$maps rss_kb=$rss"
    fi
done
note "$RELOADS reloads in $((($(date +%s%N) - t0) / 1000000)) ms (asan=$asan)"
[ "$maps_50" -gt 0 ] || fail "no memfd mapping seen: is the plugin loaded from a memfd?"
[ "$maps_200" -le $((maps_50 + 2)) ] || fail "memfd mappings grew: $maps_50 -> $maps_200"
[ "$fds_200" -le $((fds_50 + 4)) ] || fail "descriptors grew: $fds_50 -> $fds_200"
# Leaks: LeakSanitizer under the ASan build (and it must be on), else the
# resident set: 150 reloads that each leaked an instance or a plugin copy
# would add megabytes; allocator noise stays well under 2 MB.
if [ $asan = 1 ]; then
    case "${ASAN_OPTIONS:-}" in
    *detect_leaks=1*) leakcheck=lsan ;;
    *) fail "ASan build without ASAN_OPTIONS=detect_leaks=1: the leak check would not run" ;;
    esac
else
    leakcheck=rss
    [ "$rss_200" -le $((rss_50 + 2048)) ] || fail "resident set grew by $((rss_200 - rss_50)) kB over 150 reloads"
fi
memfd_fds=$(find "/proc/$jpid/fd" -lname '*memfd*' | wc -l)
[ "$memfd_fds" -le 2 ] || fail "$memfd_fds memfd descriptors open with one plugin loaded"

wait "$(pid_of pub)" || fail "publisher failed: $(tail -n 2 "$T/pub.log")"
wait_drained WORK worker 60 || fail "not drained"
[ "$(committed worker)" = $MSGS ] || fail "committed $(committed worker), want $MSGS"
[ "$(dupcommits worker)" = 0 ] || fail "duplicate commits $(dupcommits worker)"
att=$(attempts "$T/effects")

rc=0
jw_stop jw || rc=$?
grep -q 'LeakSanitizer' "$T/jw.log" && fail "LeakSanitizer: $(grep -A12 'LeakSanitizer' "$T/jw.log" | head -n 30)"
grep -q 'AddressSanitizer' "$T/jw.log" && fail "AddressSanitizer: $(grep -A20 'AddressSanitizer' "$T/jw.log" | head -n 30)"
[ $rc = 0 ] || fail "jetway exited $rc"
fin=$(count_in "plugin instance 'rec' finalised" "$T/jw.log")
[ "$fin" = $((RELOADS + 1)) ] || fail "$fin instances finalised, want $((RELOADS + 1))"
echo "RESULT reload_leak asan=$asan leak_check=$leakcheck reloads=$RELOADS fds=$fds_50->$fds_200 memfd_maps=$maps_50->$maps_200 rss_kb=$rss_50->$rss_200 finalised=$fin published=$MSGS committed=$(committed worker) attempts=$att duplicates=0 exit=$rc"
