#!/bin/bash
# t_deploy_bare.sh -- the README's first commands on a bare Debian 12 machine.
#
# A container of the minimal Debian 12 image that scripts/debian-base
# bootstraps locally (debootstrap --variant=minbase: no compiler, no make,
# no -dev package, no package lists) gets a clean clone of this repository
# at HEAD (committed work only) in /root/jetway. There, as a new user would
# (root), it installs make (the one thing the README asks first) and runs:
#
#   make demo              first run: must install its own packages through
#                          scripts/deps, build, and pass -- once, not twice
#   make unit              the cmocka tests, in the same tree
#   tests/integration/run.sh $BARE_TESTS   a named subset against the
#                          servers the first run installed (the whole suite
#                          would double the time of `make test`)
#
# Any step failing fails the test. Checks that the first run did install
# packages (or it proved nothing) and that the demo printed its summary.
# Prints the time of each step. Needs podman (scripts/deps-container
# installs it) and root.
#
#   BARE_ORDERS (ORDERS= for the demo; default: none, the README's plain
#   `make demo` with its 10,000 orders), BARE_TESTS (integration tests,
#   names without .sh), BARE_IMAGE (base image), JW_KEEP=1 keeps the
#   container and its log.
. "$(dirname "$0")/../lib/harness.sh"
start_all=$(date +%s)
BARE_IMAGE=${BARE_IMAGE:-localhost/jetway-debian:bookworm}
BARE_ORDERS=${BARE_ORDERS:-}
BARE_TESTS=${BARE_TESTS:-t_check t_core_flow t_outoftree t_otlp t_orders_e2e}
[ "$(id -u)" = 0 ] || fail "needs root (podman, debootstrap)"
git rev-parse --git-dir >/dev/null 2>&1 || fail "not in a git checkout: nothing to clone"

# The engine and the base image (cached: only the first run bootstraps).
scripts/deps-container >"$T/deps.log" 2>&1 || fail "scripts/deps-container: $(tail -n 5 "$T/deps.log")"
# shellcheck source=../../scripts/podman-env
. scripts/podman-env
t0=$(date +%s)
scripts/debian-base "$BARE_IMAGE" >"$T/base.log" 2>&1 || fail "scripts/debian-base: $(tail -n 20 "$T/base.log")"
base_s=$(($(date +%s) - t0))
note "$(tail -n 1 "$T/base.log")"

# A clean clone of HEAD: what a user gets, without this tree's build/ or
# untracked files.
head=$(git rev-parse HEAD)
git clone -q --no-checkout "$(git rev-parse --show-toplevel)" "$T/src" || fail "git clone"
git -C "$T/src" checkout -q --detach "$head" || fail "git checkout $head"
rm -rf "$T/src/.git/hooks"

# What runs inside: each step's output to the log, a marker with its status
# and time after it. Stops at the first failure.
cat >"$T/first-run.sh" <<'SH'
#!/bin/bash
set -u
cd /root/jetway || exit 1
step()
{
    name=$1
    shift
    echo "==== step $name: $*"
    s=$(date +%s)
    "$@"
    rc=$?
    echo "==== done $name rc=$rc secs=$(($(date +%s) - s))"
    [ $rc -eq 0 ] || exit $rc
}
export DEBIAN_FRONTEND=noninteractive
step make-pkg sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null'
step demo make demo ${BARE_ORDERS:+ORDERS="$BARE_ORDERS"}
step unit make unit
tests=""
for t in $BARE_TESTS; do tests="$tests tests/integration/$t.sh"; done
# shellcheck disable=SC2086
step integration env JETWAY_BUILD=build tests/integration/run.sh $tests
SH

CNAME="jw-bare-$$-$(date +%s)"
trap 'rc=$?; [ -n "${JW_KEEP:-}" ] || podman rm -f -t 0 "$CNAME" >/dev/null 2>&1; (exit $rc); harness_cleanup' EXIT
podman create -q --name "$CNAME" --hostname bare -w /root \
    -e BARE_ORDERS="$BARE_ORDERS" -e BARE_TESTS="$BARE_TESTS" \
    "$BARE_IMAGE" bash /root/first-run.sh >/dev/null 2>"$T/create.err" ||
    fail "podman create: $(cat "$T/create.err")"
podman cp "$T/src" "$CNAME:/root/jetway" || fail "podman cp of the clone"
podman cp "$T/first-run.sh" "$CNAME:/root/first-run.sh" || fail "podman cp of the script"

t0=$(date +%s)
podman start -a "$CNAME" >/dev/null 2>&1
rc=$?
run_s=$(($(date +%s) - t0))
# (the log from podman, kept with the container: complete even when a step
# has crashed the attached stream, and there to read with JW_KEEP=1)
mkdir -p "$T"
podman logs "$CNAME" >"$T/bare.log" 2>&1 || fail "podman logs $CNAME"
[ -n "${JW_KEEP:-}" ] && note "container $CNAME kept; log $T/bare.log"

secs_of() { sed -n "s/^==== done $1 rc=0 secs=\([0-9]*\)$/\1/p" "$T/bare.log"; }
for s in make-pkg demo unit integration; do
    grep -q "^==== done $s rc=0 " "$T/bare.log" && continue
    failed=$(sed -n 's/^==== done \([^ ]*\) rc=\([1-9][0-9]*\).*/\1 (exit \2)/p' "$T/bare.log")
    fail "on the bare machine, step ${failed:-$s (did not finish; container exit $rc)} failed"
done
[ $rc -eq 0 ] || fail "the container exited $rc"

# The first run installed the packages itself (else it proved nothing) and
# built before the demo ran; the demo printed its summary and checks.
grep -q '^scripts/deps: installing.* libcjson-dev' "$T/bare.log" ||
    fail "make demo did not install the packages (was the image bare?)"
n_install=$(grep -c '^scripts/deps: installing' "$T/bare.log")
[ "$n_install" = 1 ] || fail "scripts/deps installed packages $n_install times (want once, on the first run)"
grep -qi 'error:' <(sed -n '/^==== step demo/,/^==== done demo/p' "$T/bare.log") &&
    fail "the first make demo printed compiler errors: $(grep -i 'error:' "$T/bare.log" | head -n 3)"
sed -n '/^==== step demo/,/^==== done demo/p' "$T/bare.log" >"$T/demo.log"
grep -q '^== jetway order-processing demo ==' "$T/demo.log" || fail "make demo printed no summary"
demo_line=$(grep -E '^  (confirmed|undecided|orders per second) ' "$T/demo.log" | tr -s ' ' | tr '\n' ';')
integ=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed' "$T/bare.log" | tail -n 1)
n_tests=$(echo "$BARE_TESTS" | wc -w)
echo "$integ" | grep -q "^integration: $n_tests passed, 0 failed" || fail "integration subset: $integ"
units=$(grep -c '^== build/tests/unit/' "$T/bare.log")
[ "$units" -ge 1 ] || fail "make unit ran no test"

note "base image ${base_s}s, container ${run_s}s: apt make $(secs_of make-pkg)s," \
    "make demo $(secs_of demo)s, make unit $(secs_of unit)s, $n_tests integration tests $(secs_of integration)s"
note "demo: $demo_line"
echo "RESULT t_deploy_bare first_run_installs=1 demo_s=$(secs_of demo) unit_binaries=$units" \
    "integration=$n_tests/$n_tests container_s=$run_s total_s=$(($(date +%s) - start_all))"
