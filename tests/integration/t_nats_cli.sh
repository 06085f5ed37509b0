#!/bin/bash
# t_nats_cli.sh -- a NATS user's habits (issue 15, item 5): pub, dlq,
# provision and jetway-orders-load take --user/--password, --nkey, --creds
# and --tlscert/--tlskey/--tlsca, and honour NATS_URL, NATS_USER/
# NATS_PASSWORD, NATS_NKEY, NATS_CREDS, NATS_CERT/NATS_KEY/NATS_CA, against
# a server that requires a password or an NKey and a client certificate. A
# config file's settings win over the environment; a flag wins over both.
. tests/lib/harness.sh
SEED=SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY
PUB=UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4

# A CA and one certificate for 127.0.0.1 used by the server and the client.
(
    cd "$T" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=jetway-test-ca -keyout ca.key -out ca.crt 2>/dev/null || exit 1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=nats \
        -keyout c.key -out c.csr 2>/dev/null || exit 1
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >ext
    openssl x509 -req -in c.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
        -extfile ext -out c.crt 2>/dev/null
) || fail "certificates"
cat >"$T/nats.conf" <<CONF
tls { cert_file: "$T/c.crt", key_file: "$T/c.key", ca_file: "$T/ca.crt", verify: true }
authorization {
  users = [
    { user: alice, password: "pw-alice-7" }
    { nkey: $PUB }
  ]
}
CONF
start_nats -c "$T/nats.conf"
URL="tls://127.0.0.1:$NATS_PORT"
printf '%s\n' "$SEED" >"$T/user.nk"
chmod 600 "$T/user.nk"
unset NATS_URL # each case says where the server is
TLS=(--tlscert "$T/c.crt" --tlskey "$T/c.key" --tlsca "$T/ca.crt")
TLSENV=(NATS_CERT="$T/c.crt" NATS_KEY="$T/c.key" NATS_CA="$T/ca.crt")
n=0
ok() { n=$((n + 1)); }

cat >"$T/cfg.yaml" <<YAML
service: {name: cli}
nats: {servers: ["$URL"]}
streams:
  - {name: WORK, subjects: ["work.>"]}
  - {name: DLQ, subjects: ["dlq.>"]}
consumers:
  - {name: w, stream: WORK, handler: x, dead_letter: dlq.w}
plugins: {dir: "$T", instances: [{name: x, file: x.so}]}
YAML

# 1. no credentials: refused, saying so
"$JW" pub -s "$URL" "${TLS[@]}" work.a x >"$T/out" 2>&1 && fail "pub without credentials connected"
grep -qi "authorization" "$T/out" || fail "no reason given: $(cat "$T/out")"
ok

# 2. provision with flags (the config names the server only)
"$JW" provision -c "$T/cfg.yaml" --user alice --password pw-alice-7 "${TLS[@]}" >"$T/out" 2>&1 ||
    fail "provision with --user/--password/--tls*: $(cat "$T/out")"
grep -q '^stream WORK: created$' "$T/out" || fail "provision: $(cat "$T/out")"
ok

# 3. pub with flags; with the environment only (NATS_URL too)
"$JW" pub -s "$URL" --user alice --password pw-alice-7 "${TLS[@]}" -q work.a '{"message_id":"a"}' \
    >"$T/out" 2>&1 || fail "pub with flags: $(cat "$T/out")"
env NATS_URL="$URL" NATS_USER=alice NATS_PASSWORD=pw-alice-7 "${TLSENV[@]}" \
    "$JW" pub -q work.a '{"message_id":"b"}' >"$T/out" 2>&1 || fail "pub with NATS_*: $(cat "$T/out")"
ok

# 4. an NKey seed: flag and NATS_NKEY
"$JW" pub -s "$URL" --nkey "$T/user.nk" "${TLS[@]}" -q work.a '{"message_id":"c"}' >"$T/out" 2>&1 ||
    fail "pub --nkey: $(cat "$T/out")"
env NATS_URL="$URL" NATS_NKEY="$T/user.nk" "${TLSENV[@]}" "$JW" pub -q work.a '{"message_id":"d"}' \
    >"$T/out" 2>&1 || fail "pub with NATS_NKEY: $(cat "$T/out")"
[ "$(env NATS_URL="$URL" NATS_NKEY="$T/user.nk" "${TLSENV[@]}" "$JW" pub --stream-info WORK |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')" = 4 ] ||
    fail "WORK does not hold the 4 messages"
ok

# 5. --creds and NATS_CREDS: the file is used (a missing one is named)
"$JW" pub -s "$URL" --creds "$T/nope.creds" "${TLS[@]}" work.a x >"$T/out" 2>&1 &&
    fail "a missing creds file connected"
grep -q "nope.creds" "$T/out" || fail "--creds error does not name the file: $(cat "$T/out")"
env NATS_URL="$URL" NATS_CREDS="$T/env.creds" "${TLSENV[@]}" "$JW" pub work.a x >"$T/out" 2>&1 &&
    fail "a missing NATS_CREDS file connected"
grep -q "env.creds" "$T/out" || fail "NATS_CREDS was not used: $(cat "$T/out")"
ok

# 6. dlq with flags and with the environment
"$JW" dlq ls -c "$T/cfg.yaml" --user alice --password pw-alice-7 "${TLS[@]}" >"$T/out" 2>&1 ||
    fail "dlq ls with flags: $(cat "$T/out")"
env NATS_NKEY="$T/user.nk" "${TLSENV[@]}" "$JW" dlq ls -c "$T/cfg.yaml" >"$T/out" 2>&1 ||
    fail "dlq ls with NATS_NKEY: $(cat "$T/out")"
ok

# 7. precedence: the config's auth beats the environment's; a flag beats the config
sed "s|servers: \[\"$URL\"\]|servers: [\"$URL\"], user: alice, password: pw-alice-7|" "$T/cfg.yaml" \
    >"$T/cfg-auth.yaml"
grep -q "user: alice" "$T/cfg-auth.yaml" || fail "cannot write cfg-auth.yaml"
env NATS_URL="nats://127.0.0.1:1" NATS_USER=mallory NATS_PASSWORD=nope "${TLSENV[@]}" \
    "$JW" provision -c "$T/cfg-auth.yaml" >"$T/out" 2>&1 ||
    fail "the environment overrode the config's server or user: $(cat "$T/out")"
"$JW" provision -c "$T/cfg-auth.yaml" --password wrong-pw "${TLS[@]}" >"$T/out" 2>&1 &&
    fail "--password did not override the config's"
grep -q "wrong-pw" "$T/out" && fail "the flag's password was printed"
ok

# 8. the example's load tool: same flags and variables (no order service
#    runs, so a connected tool then fails for want of responders, not auth)
"$ORDERS_LOAD" -s "$URL" "${TLS[@]}" --orders 1 --timeout 1 >"$T/out" 2>&1 &&
    fail "orders-load connected without credentials"
grep -qi "connect.*authorization" "$T/out" || fail "orders-load: $(cat "$T/out")"
"$ORDERS_LOAD" -s "$URL" --user alice --password pw-alice-7 "${TLS[@]}" --orders 1 --timeout 1 \
    >"$T/out" 2>&1
grep -qi "connect" "$T/out" && fail "orders-load with flags did not connect: $(cat "$T/out")"
env NATS_URL="$URL" NATS_NKEY="$T/user.nk" "${TLSENV[@]}" "$ORDERS_LOAD" --orders 1 --timeout 1 \
    >"$T/out" 2>&1
grep -qi "connect" "$T/out" && fail "orders-load with NATS_* did not connect: $(cat "$T/out")"
"$ORDERS_LOAD" --help | grep -q -- "--creds FILE" || fail "orders-load --help lacks --creds"
for c in pub dlq provision; do
    "$JW" "$c" --help | grep -q -- "--tlsca FILE" || fail "jetway $c --help lacks --tlsca"
done
ok

echo "RESULT t_nats_cli ok ($n checks)"
