#!/bin/bash
# t_deploy_auth.sh -- the order system under the NATS permissions of
# deploy/nats/auth.conf, over TLS, with the Kubernetes role configs of
# deploy/k8s/config: the admin user provisions, order/payment/inventory run
# each as its own user (password_env; payment from a password_file), and
# `jetway-orders-load` gets every order decided with no permission violation on the
# server. A role cannot publish another role's events; a wrong password
# fails start-up with a clear error that does not contain the password.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
for r in order payment inventory; do
    [ -f "$JW_BUILD/plugins/$r.so" ] || fail "$r.so is not built"
done

# A CA and a server certificate for 127.0.0.1.
make_certs "$T" srv

# One node (the cluster is t_deploy_cluster's): deploy/nats's auth.conf and
# client TLS block, unchanged.
cp deploy/nats/auth.conf "$T/auth.conf"
sed -n '/^tls {/,/^}/p' deploy/nats/nats.conf >"$T/tls.conf"
grep -q 'cert_file: \$NATS_TLS_CERT' "$T/tls.conf" || fail "no client tls block in deploy/nats/nats.conf"
cat >"$T/nats.conf" <<CONF
include ./tls.conf
include ./auth.conf
CONF
export NATS_TLS_CERT="$T/srv.crt" NATS_TLS_KEY="$T/srv.key" NATS_TLS_CA="$T/ca.crt"
for u in SYS ADMIN ORDER PAYMENT INVENTORY AUDIT; do
    export "NATS_PW_$u=pw-$u-$RANDOM$RANDOM"
done
start_nats -c "$T/nats.conf"
NATS_TLS_URL="tls://127.0.0.1:$NATS_PORT"
REDIS_PW="redis-pw-$RANDOM"
start_redis --requirepass "$REDIS_PW"
rcli() { redis-cli -p "$REDIS_PORT" -a "$REDIS_PW" --no-auth-warning "$@"; }
plugin_dir "$T/plugins" "$JW_BUILD"/plugins/{order,payment,inventory}.so

# The env of a pod, with test paths.
penv=(NATS_URL="$NATS_TLS_URL" REDIS_URL="$REDIS_URL" REDIS_PASSWORD="$REDIS_PW"
    JETWAY_PLUGIN_DIR="$T/plugins" NATS_CA_FILE="$T/ca.crt" JETWAY_STREAM_REPLICAS=1)

env "${penv[@]}" NATS_USER=admin NATS_PASSWORD="$NATS_PW_ADMIN" \
    "$JW" provision -c deploy/k8s/config/all-in-one.yaml >"$T/provision.out" 2>&1 ||
    fail "provisioning as admin failed: $(cat "$T/provision.out")"
grep -q 'stream ORDERS: created' "$T/provision.out" || fail "ORDERS not created: $(cat "$T/provision.out")"

# payment reads its password from a file instead (test copy, one line).
printf '%s\n' "$NATS_PW_PAYMENT" >"$T/payment.pw"
chmod 600 "$T/payment.pw"
sed "s|password_env: NATS_PASSWORD|password_file: $T/payment.pw|" deploy/k8s/config/payment.yaml \
    >"$T/payment.yaml"
grep -q "password_file: $T/payment.pw" "$T/payment.yaml" || fail "payment.yaml: no password_env line"

pw_of() { v="NATS_PW_$(echo "$1" | tr a-z A-Z)"; echo "${!v}"; }
jw_start order deploy/k8s/config/order.yaml "${penv[@]}" NATS_USER=order \
    NATS_PASSWORD="$NATS_PW_ORDER" ORDER_HTTP="127.0.0.1:$(free_port)"
jw_start payment "$T/payment.yaml" "${penv[@]}" NATS_USER=payment \
    PAYMENT_HTTP="127.0.0.1:$(free_port)"
jw_start inventory deploy/k8s/config/inventory.yaml "${penv[@]}" NATS_USER=inventory \
    NATS_PASSWORD="$NATS_PW_INVENTORY" INVENTORY_HTTP="127.0.0.1:$(free_port)"
for r in order payment inventory; do jw_wait_running $r; done

N=300
SSL_CERT_FILE="$T/ca.crt" "$ORDERS_LOAD" -s "tls://admin:$NATS_PW_ADMIN@127.0.0.1:$NATS_PORT" \
    --orders $N --timeout 60 --redis "redis://:$REDIS_PW@127.0.0.1:$REDIS_PORT" --json \
    >"$T/load.json" 2>"$T/load.err" || fail "load failed: $(cat "$T/load.json" "$T/load.err")"
decided=$(python3 -c "import json; s=json.load(open('$T/load.json')); assert s['ok']; print(int(s['confirmed'] + s['cancelled_total']))") ||
    fail "load summary: $(cat "$T/load.json")"
accepted=$(python3 -c "import json; print(int(json.load(open('$T/load.json'))['accepted']))")
[ "$accepted" -gt 0 ] && [ "$decided" = "$accepted" ] || fail "decided $decided of $accepted accepted"
viol=$(grep -c ' Violation ' "$T/nats.log" || true)
[ "$viol" = 0 ] || fail "permission violations: $(grep ' Violation ' "$T/nats.log" | head -5)"
note "$N orders, $accepted accepted, $decided decided, 0 permission violations"

# A role may not publish another role's events.
SSL_CERT_FILE="$T/ca.crt" "$JW" pub -s "tls://order:$NATS_PW_ORDER@127.0.0.1:$NATS_PORT" \
    payments.completed.v1 '{}' >"$T/pub.out" 2>&1 && fail "order published payments.completed.v1"
wait_for 30 grep -q 'Publish Violation - User "order", Subject "payments.completed.v1"' "$T/nats.log" ||
    fail "the server did not refuse order's publish"
# Without TLS: refused by the server.
"$JW" pub -s "nats://order:$NATS_PW_ORDER@127.0.0.1:$NATS_PORT" --stream-info ORDERS \
    >"$T/plain.out" 2>&1 && fail "a plaintext connection was accepted"

# A wrong password: jetway says so, is not ready meanwhile, exits 1 after
# nats.max_auth_failures (3) refusals in a row (Kubernetes restarts it with
# the reason in its log), and never prints the password.
BAD="wrong-pw-$RANDOM-XYZZY"
BADHTTP="127.0.0.1:$(free_port)"
jw_start badpw deploy/k8s/config/inventory.yaml "${penv[@]}" NATS_USER=inventory \
    NATS_PASSWORD="$BAD" INVENTORY_HTTP="$BADHTTP"
wait_for 30 grep -q 'Authorization Violation' "$T/badpw.log" ||
    fail "no clear error: $(tail -n 5 "$T/badpw.log")"
# HTTP is up before NATS: /readyz answers 503 with the reason while the
# refusals are counted; only once jetway has given up (exit 1) may the
# listener be gone. Anything else (200, a timeout, another curl error) fails.
cst=0
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$BADHTTP/readyz") || cst=$?
case "$cst:$code" in
0:503) ;;
7:000) kill -0 "$(pid_of badpw)" 2>/dev/null && fail "/readyz refused while jetway was still running"
    code=exited ;;
*) fail "/readyz with a wrong password: curl exit $cst, HTTP $code; want 503" ;;
esac
wait_for 30 sh -c "! kill -0 $(pid_of badpw) 2>/dev/null" || fail "jetway kept retrying a wrong password"
st=0
wait "$(pid_of badpw)" || st=$?
[ "$st" = 1 ] || fail "a wrong password exited $st, want 1"
grep -q 'authorization refused 3 times in a row' "$T/badpw.log" ||
    fail "no final error: $(tail -n 3 "$T/badpw.log")"
grep -q '"msg":"jetway running' "$T/badpw.log" && fail "running with a wrong password"
[ "$code" != 200 ] || fail "/readyz was 200 with a wrong password"
grep -qF "$BAD" "$T/badpw.log" && fail "the password was printed: $(grep -F "$BAD" "$T/badpw.log")"
badstate="exit $st, readyz=$code"
for r in order payment inventory; do
    grep -qF "$(pw_of $r)" "$T/$r.log" && fail "$r printed its password"
done
note "wrong password: $badstate, '$(grep -o '"msg":"[^"]*Authorization[^"]*' "$T/badpw.log" | head -n 1)'"

for r in order payment inventory; do jw_stop $r || fail "$r did not stop cleanly"; done
echo "RESULT t_deploy_auth orders=$N accepted=$accepted decided=$decided violations=0 wrong_password=\"$badstate\""
