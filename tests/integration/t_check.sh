#!/bin/bash
# t_check.sh -- `jetway check` on a good and a bad topology: exit codes,
# the normalized dump on stdout, every error located on stderr with the
# count, secrets never printed. Needs no servers.
source "$(dirname "$0")/../lib/harness.sh"

[ -x "$JW" ] || fail "no binary at $JW"
# check also loads the plugins (without running them) and validates their
# options: give the fixture config real plugins declaring those options.
CFG="$T/configs"
cp -r tests/configs "$CFG"
plugin_dir "$CFG/plugins"
install -m 0644 "$JW_BUILD/tests/plugins/opts.so" "$CFG/plugins/order.so"
install -m 0644 "$JW_BUILD/tests/plugins/ack.so" "$CFG/plugins/pay.so"

"$JW" check --help >"$T/help.out" || fail "check --help exited non-zero"
grep -q "usage: jetway check -c FILE" "$T/help.out" || fail "check --help: no usage line"

"$JW" check >/dev/null 2>&1
[ $? -eq 2 ] || fail "check without -c must exit 2"

# The good file: exit 0, the dump names every section with defaults filled.
"$JW" check -c "$CFG/good.yaml" >"$T/good.out" 2>"$T/good.err" || {
    cat "$T/good.err" >&2
    fail "good.yaml rejected"
}
[ -s "$T/good.err" ] && fail "good.yaml: unexpected stderr: $(cat "$T/good.err")"
for want in "^service:" "^  name: orders" "^  request_timeout: 5s" "^streams:" "^consumers:" \
    "^    max_ack_pending: 64" "^      lease: 20s" "^  dir: $CFG/plugins" "^tracing:"; do
    grep -q -- "$want" "$T/good.out" || fail "good.yaml dump lacks '$want'"
done
note "good.yaml: $(wc -l <"$T/good.out") lines of normalized topology"

# --quiet: nothing on success.
"$JW" check -q -c "$CFG/good.yaml" >"$T/quiet.out" 2>&1 || fail "check -q failed"
[ -s "$T/quiet.out" ] && fail "check -q printed something"

# The dump is itself a valid config with the same topology.
"$JW" check -c "$CFG/good.yaml" | sed 1,2d >"$T/dump1.yaml"
"$JW" check -c "$T/dump1.yaml" | sed 1,2d >"$T/dump2.yaml" || fail "the dump does not load back"
cmp -s "$T/dump1.yaml" "$T/dump2.yaml" || fail "dump of the dump differs"

# The bad file: exit 1, five located errors, then the count.
"$JW" check -c "$CFG/five-mistakes.yaml" >"$T/bad.out" 2>"$T/bad.err"
rc=$?
[ $rc -eq 1 ] || fail "five-mistakes.yaml: exit $rc, want 1"
[ -s "$T/bad.out" ] && fail "five-mistakes.yaml: printed a topology"
n=$(grep -c "^$CFG/five-mistakes.yaml:[0-9]*:[0-9]*: " "$T/bad.err")
[ "$n" -eq 5 ] || { cat "$T/bad.err" >&2; fail "want 5 located errors, got $n"; }
[ "$(tail -n 1 "$T/bad.err")" = "5 errors" ] || fail "last line is not '5 errors'"
grep -q ":25:13: consumers\[0\].stream: unknown stream 'ORDER'" "$T/bad.err" ||
    fail "the unknown stream error is missing or misplaced"

# Secrets stay out of both outputs.
cat >"$T/secret.yaml" <<YAML
nats:
  user: app
  password: "hunter2-${T##*.}"
redis:
  url: redis://u:pw-in-url@127.0.0.1:6379
YAML
"$JW" check -c "$T/secret.yaml" >"$T/secret.out" 2>&1 || fail "secret.yaml rejected"
grep -q "hunter2\|pw-in-url" "$T/secret.out" && fail "a secret was printed"
grep -q '<redacted>' "$T/secret.out" || fail "no <redacted> in the dump"
printf 'nats:\n  password: "hunter2"\n  token: x\n  bogus: 1\n' >"$T/secret-bad.yaml"
"$JW" check -c "$T/secret-bad.yaml" >"$T/sb.out" 2>&1 && fail "secret-bad.yaml accepted"
grep -q "hunter2" "$T/sb.out" && fail "a secret was echoed in an error"

# A missing file is one error too.
"$JW" check -c "$T/nope.yaml" 2>"$T/nope.err" && fail "a missing file was accepted"
grep -q "nope.yaml: cannot read" "$T/nope.err" || fail "no 'cannot read' for a missing file"
echo "RESULT check: good accepted, 5/5 errors located, secrets redacted"
