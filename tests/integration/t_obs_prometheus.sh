#!/bin/bash
# t_obs_prometheus.sh -- deploy/grafana/jetway.json and
# deploy/prometheus/rules.yml against a real Prometheus (Debian package
# prometheus) scraping two real jetway roles every second:
#   role "obs"   (dedup on): consumer work (record.so; rejects "please-reject")
#                and consumer slow (record.so sleeping 2.5 s, one at a time)
#   role "obs-b" (dedup off, no Redis): consumer acks (ack.so)
# 1. promtool check rules and promtool test rules pass.
# 2. Under load, once Prometheus has scraped a while, every dashboard query
#    (panels and variables; $role/$instance/$consumer take the values the
#    variable queries return) evaluates and returns series; the same check
#    fails on a copy of the dashboard naming a metric jetway does not export.
#    The rules Prometheus loaded are all healthy, and while all is well the
#    outage alerts' expressions return nothing.
# 3. Each alert's condition is then made true for real, and every alert
#    expression (and the dashboard's reload annotation) must return series,
#    and Prometheus's own ALERTS must show each alert pending or firing:
#    dead letters (rejected messages), a failed reload (broken config +
#    `jetway reload`), a lost lease (the claim key taken over in Redis while
#    the slow handler runs), a growing backlog (bursts to the slow
#    consumer), Redis stopped (RedisDown and NotReady, for "obs" only),
#    NATS stopped (NatsDown), role obs-b killed (JetwayDown).
# 4. With a rule naming a metric that does not exist, its alert no longer
#    evaluates to anything.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/harness.sh
. tests/lib/jetway.sh

command -v prometheus >/dev/null && command -v promtool >/dev/null ||
    fail "prometheus/promtool missing (Debian package prometheus; scripts/deps installs it)"
DASH=deploy/grafana/jetway.json
RULES=deploy/prometheus/rules.yml
PQ="python3 tests/lib/promq.py"

promtool check rules "$RULES" >"$T/check.out" 2>&1 || fail "promtool check rules: $(cat "$T/check.out")"
nrules=$(sed -n 's/.*SUCCESS: \([0-9]*\) rules found.*/\1/p' "$T/check.out")
[ "${nrules:-0}" -ge 8 ] || fail "rules.yml has ${nrules:-no} rules: $(cat "$T/check.out")"
(cd deploy/prometheus && promtool test rules rules_test.yml) >"$T/test.out" 2>&1 ||
    fail "promtool test rules: $(cat "$T/test.out")"
for a in $(sed -n 's/^ *- alert: //p' "$RULES"); do
    grep -qE "alertname: $a(,|\$)" deploy/prometheus/rules_test.yml || fail "no promtool test for $a"
done
python3 -m json.tool "$DASH" >/dev/null || fail "$DASH is not JSON"

start_nats
start_redis
plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/record.so" "$JW_BUILD/tests/plugins/ack.so"
A_PORT=$(free_port) B_PORT=$(free_port) P_PORT=$(free_port)
record_config "$T/a.yaml" "{name: obs, workers: 4, shutdown_grace: 5s}" \
    'reject_if_contains: "please-reject"' \
    "    - {name: slow, file: record.so, config: {effects_file: \"$T/effects.slow\", sleep: 2500ms}}"
cat >>"$T/a.yaml" <<YAML
consumers:
  - {name: work, stream: WORK, filter_subject: work.a, handler: rec, concurrency: 4, dead_letter: dlq.work}
  - {name: slow, stream: WORK, filter_subject: work.slow, handler: slow, concurrency: 1,
     max_ack_pending: 1, batch: 1, ack_wait: 30s, dead_letter: dlq.slow, dedup: {lease: 10s}}
http: {listen: "127.0.0.1:$A_PORT"}
YAML
cat >"$T/b.yaml" <<YAML
service: {name: obs-b, workers: 2, shutdown_grace: 5s}
nats: {servers: ["$NATS_URL"]}
plugins: {dir: $T/plugins, instances: [{name: acker, file: ack.so}]}
streams:
  - {name: WORK, subjects: ["work.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
consumers:
  - {name: acks, stream: WORK, filter_subject: work.b, handler: acker, dead_letter: dlq.acks,
     dedup: {enabled: false}}
http: {listen: "127.0.0.1:$B_PORT"}
YAML
jw_start a "$T/a.yaml"
jw_wait_running a
jw_start b "$T/b.yaml"
jw_wait_running b

mkdir -p "$T/prom"
cat >"$T/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms}
rule_files: ["$(pwd)/$RULES"]
scrape_configs:
  - job_name: jetway-obs
    static_configs: [{targets: ["127.0.0.1:$A_PORT"]}]
  - job_name: jetway-obs-b
    static_configs: [{targets: ["127.0.0.1:$B_PORT"]}]
YAML
PURL="http://127.0.0.1:$P_PORT"
bg prometheus prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
    --web.listen-address="127.0.0.1:$P_PORT" --web.console.templates="$T/prom" \
    --web.console.libraries="$T/prom" --log.level=warn
wait_for 30 curl -sf "$PURL/-/ready" || fail "prometheus did not become ready"

# Load: both roles, all along phase 2 (pacing only, nothing is timed).
load()
{
    while :; do
        "$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"a-%d"}' --count 200 >/dev/null 2>&1
        "$JW" pub -s "$NATS_URL" -q work.b '{"message_id":"b-%d"}' --count 200 >/dev/null 2>&1
        sleep 0.2
    done
}
bg load load

# Enough scrapes for the rates: 8 samples of each target, traffic counted.
wait_for 45 $PQ has "$PURL" 'min(count_over_time(up{job=~"jetway-obs.*"}[1m])) >= 8 and on() min(count_over_time(jetway_messages_received_total[1m])) >= 8' ||
    fail "prometheus did not scrape both roles 8 times"
wait_for 20 $PQ has "$PURL" 'sum(rate(jetway_messages_received_total{consumer="work"}[10s])) > 0 and on() sum(rate(jetway_messages_received_total{consumer="acks"}[10s])) > 0' ||
    fail "no traffic seen by prometheus"
wait_for 20 $PQ rules_ok "$PURL" "$nrules" || fail "rules in prometheus: $($PQ rules_ok "$PURL" "$nrules")"

# Every dashboard query returns series.
wait_for 20 sh -c "$PQ dashboard '$PURL' '$DASH' >'$T/dash.out' 2>'$T/dash.err'" ||
    fail "dashboard queries: $(cat "$T/dash.out")"
nq=$(sed -n 's/^\([0-9]*\) dashboard queries, 0 bad$/\1/p' "$T/dash.out")
note "$(tr '\n' ' ' <"$T/dash.err")"
grep -q '\$role = obs, obs-b' "$T/dash.err" || fail "\$role does not list both roles: $(cat "$T/dash.err")"
# ... and a metric that does not exist is caught.
sed 's/jetway_consumer_pending_messages/jetway_consumer_pending_msgs/' "$DASH" >"$T/mutant.json"
$PQ dashboard "$PURL" "$T/mutant.json" >"$T/mutant.out" 2>/dev/null &&
    fail "a dashboard querying jetway_consumer_pending_msgs passed"
grep -q '^BAD .*no series.*jetway_consumer_pending_msgs' "$T/mutant.out" || fail "mutant not named: $(cat "$T/mutant.out")"

# While all is well the outage alerts are quiet (they could be always true).
$PQ conditions "$PURL" "$RULES" "$DASH" >"$T/healthy.out" || fail "alert expressions do not evaluate"
for a in JetwayDown JetwayNotReady JetwayNatsDown JetwayRedisDown JetwayReloadFailed JetwayLeaseLost JetwayDeadLetters; do
    grep -qx "alert $a" "$T/healthy.out" && fail "$a is true in a healthy system"
done

# Make every condition true. Seen names accumulate in $T/seen.
touch "$T/seen"
seen_all()
{
    $PQ conditions "$PURL" "$RULES" "$DASH" >"$T/cond.out" || return 1
    sort -u "$T/seen" "$T/cond.out" -o "$T/seen"
    for n in "$@"; do grep -qx "$n" "$T/seen" || return 1; done
}
"$JW" pub -s "$NATS_URL" -q work.a '{"message_id":"rej-%d","x":"please-reject"}' --count 3 --id 'rej-%d' ||
    fail "pub rejects"
cp "$T/a.yaml" "$T/a.good"
printf 'consumers: [\n' >>"$T/a.yaml"
"$JW" reload --pid-file "$T/a.pidfile" --timeout 30 >"$T/reload.out" 2>&1 &&
    fail "reload of a broken config succeeded"
grep -q 'reload failed' "$T/reload.out" || fail "reload: $(cat "$T/reload.out")"
cp "$T/a.good" "$T/a.yaml"
# A lost lease: while the slow handler runs, another token takes the claim.
"$JW" pub -s "$NATS_URL" -q work.slow '{"message_id":"lease-1"}' --id lease-1 || fail "pub lease-1"
wait_for 20 dedup_held slow lease-1 || fail "lease-1 never claimed"
rcli SET jw:slow:lease-1 'P|intruder' PX 60000 >/dev/null
# A growing backlog: bursts of 10 to the one-at-a-time slow consumer (one
# message per 2.5 s), each burst seen by Prometheus as a larger backlog than
# the last before the next.
prev=0
PS='jetway_consumer_pending_messages{consumer="slow"}'
for k in 1 2 3 4; do
    "$JW" pub -s "$NATS_URL" -q work.slow "{\"message_id\":\"s$k-%d\"}" --count 10 --id "s$k-%d" || fail "pub slow"
    wait_for 20 $PQ has "$PURL" "$PS > $prev" || fail "pending of slow did not grow above $prev"
    prev=$($PQ value "$PURL" "$PS") || fail "no pending of slow"
done
note "backlog of slow grew to $prev"
wait_for 30 seen_all "alert JetwayDeadLetters" "alert JetwayReloadFailed" "alert JetwayLeaseLost" \
    "alert JetwayConsumerPendingGrowing" "annotation Reloads" ||
    fail "conditions not all seen: $(tr '\n' ' ' <"$T/seen")"
grep -q 'claim lease lost' "$T/a.log" || fail "jetway did not log the lost lease"

stop_redis
wait_for 30 seen_all "alert JetwayRedisDown" "alert JetwayNotReady" ||
    fail "Redis down not seen: $(tr '\n' ' ' <"$T/seen")"
[ "$($PQ count "$PURL" 'jetway_redis_connected == 0 and on (job, instance) (sum by (job, instance) (jetway_dedup_total) > 0 or max_over_time(jetway_redis_connected[1d]) > 0)')" = 1 ] ||
    fail "RedisDown should name role obs only"
$PQ has "$PURL" 'ALERTS{alertname="JetwayRedisDown", service="obs-b"}' && fail "RedisDown for obs-b, which has no Redis"
kill "$(pid_of load)" 2>/dev/null
stop_nats
wait_for 30 seen_all "alert JetwayNatsDown" || fail "NATS down not seen: $(tr '\n' ' ' <"$T/seen")"
kill -KILL "$(pid_of b)"
wait_for 30 seen_all "alert JetwayDown" || fail "obs-b down not seen: $(tr '\n' ' ' <"$T/seen")"
# Prometheus's own rule evaluation had each alert pending or firing.
$PQ names "$RULES" "$DASH" | sort -u >"$T/names"
wait_for 20 sh -c "$PQ conditions '$PURL' '$RULES' '$DASH' >>'$T/seen'; sort -u '$T/seen' -o '$T/seen'; [ -z \"\$(comm -23 '$T/names' '$T/seen')\" ]" ||
    fail "never seen: $(comm -23 "$T/names" "$T/seen" | tr '\n' ' ')"

# A rule naming a metric jetway does not export evaluates to nothing.
grep -qx 'alert JetwayDeadLetters' "$T/cond.out" || $PQ conditions "$PURL" "$RULES" "$DASH" | grep -qx 'alert JetwayDeadLetters' ||
    fail "JetwayDeadLetters no longer true"
sed 's/jetway_dead_letters_total/jetway_dead_letterz_total/' "$RULES" >"$T/mutant.yml"
$PQ conditions "$PURL" "$T/mutant.yml" "$DASH" | grep -qx 'alert JetwayDeadLetters' &&
    fail "a rule on jetway_dead_letterz_total returned series"

nalerts=$(grep -c '^alert ' "$T/names")
echo "RESULT obs_prometheus rules=$nrules promtool_test=ok dashboard_queries=$nq alerts_made_true=$nalerts annotations=$(grep -c '^annotation ' "$T/names") mutants_caught=2"
