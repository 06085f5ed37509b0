#!/bin/bash
# t_nats_auth.sh -- natsconn auth against a real server: an NKey user
# connects with only its seed file (the public key is derived), a wrong
# seed is refused, and a wrong password never appears in the error.
. tests/lib/harness.sh
SEED=SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY
PUB=UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4
cat >"$T/nats.conf" <<CONF
authorization {
  users = [
    { nkey: $PUB }
    { user: alice, password: "s3cret-pw" }
  ]
}
CONF
start_nats -c "$T/nats.conf"
TOOL="$JW_BUILD/tests/tools/prov_check"
printf '%s\n' "$SEED" >"$T/user.nk"
chmod 600 "$T/user.nk"

"$TOOL" "$NATS_URL" "nkey=$T/user.nk" >"$T/out" 2>&1 || fail "nkey connect failed: $(cat "$T/out")"
grep -q '^stream ORDERS: created$' "$T/out" || fail "nkey user did not provision"

# without credentials: refused
"$TOOL" "$NATS_URL" >"$T/out" 2>&1 && fail "connected without credentials"

# another (valid) seed: the derived key is not authorised
printf 'SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU\n' >"$T/other.nk"
"$TOOL" "$NATS_URL" "nkey=$T/other.nk" >"$T/out" 2>&1 && fail "a foreign nkey was accepted"

# a file without a seed: a clear error naming the file, not its content
echo "not a seed" >"$T/bad.nk"
"$TOOL" "$NATS_URL" "nkey=$T/bad.nk" >"$T/out" 2>&1 && fail "bad seed file accepted"
grep -q "bad.nk: no valid user seed" "$T/out" || fail "bad seed error: $(cat "$T/out")"

# user/password: good one works, a wrong one fails without printing it
"$TOOL" "$NATS_URL" user=alice password=s3cret-pw >"$T/out" 2>&1 || fail "password auth failed"
"$TOOL" "$NATS_URL" user=alice password=wrong-pw-XYZ >"$T/out" 2>&1 && fail "wrong password accepted"
grep -q 'wrong-pw-XYZ' "$T/out" && fail "the password leaked into the error: $(cat "$T/out")"
url_pw="nats://alice:s3cret-pw@127.0.0.1:$NATS_PORT"
"$JW" pub -s "nats://alice:leaky-pw-QQ@127.0.0.1:1" x y >"$T/out" 2>&1 && fail "connected to port 1"
grep -q 'leaky-pw-QQ' "$T/out" && fail "URL password leaked: $(cat "$T/out")"
"$JW" pub -s "$url_pw" orders.x y >/dev/null 2>&1 || fail "URL userinfo auth failed"
echo "RESULT t_nats_auth ok"
