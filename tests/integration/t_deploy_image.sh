#!/bin/bash
# t_deploy_image.sh -- the image, built and run for real.
#
# `podman build` of the Containerfile from a clean clone of HEAD, on the
# Debian 12 base scripts/debian-base makes locally (no registry). Then the
# order system from that image: nats-server and redis-server on the host
# (harness), one container per role (inventory, audit, payment, order;
# host network, read-only root filesystem, non-root, the audit log on a
# volume), each ready (/readyz 200 on its HTTP port); `jetway load` from
# the image sends orders and checks its invariants (every accepted order
# decided, no duplicate charge, stock balanced); `podman stop` drains every
# role and each exits 0; `jetway audit verify` from the image accepts the
# chain. Prints the build time.
#
#   IMAGE_ORDERS (default 2000), JW_KEEP=1 keeps containers and image.
. "$(dirname "$0")/../lib/harness.sh"
start_all=$(date +%s)
IMAGE_ORDERS=${IMAGE_ORDERS:-2000}
[ "$(id -u)" = 0 ] || fail "needs root (podman)"
git rev-parse --git-dir >/dev/null 2>&1 || fail "not in a git checkout: nothing to clone"
command -v curl >/dev/null || fail "curl missing (scripts/deps)"

scripts/deps-container >"$T/deps.log" 2>&1 || fail "scripts/deps-container: $(tail -n 5 "$T/deps.log")"
# shellcheck source=../../scripts/podman-env
. scripts/podman-env
scripts/debian-base >"$T/base.log" 2>&1 || fail "scripts/debian-base: $(tail -n 20 "$T/base.log")"

head=$(git rev-parse HEAD)
git clone -q --no-checkout "$(git rev-parse --show-toplevel)" "$T/src" || fail "git clone"
git -C "$T/src" checkout -q --detach "$head" || fail "git checkout $head"

TAG="$$-$(date +%s)"
IMG="localhost/jetway-test:$TAG"
ROLES="inventory audit payment order"
image_cleanup()
{
    [ -n "${JW_KEEP:-}" ] && return
    for r in $ROLES; do podman rm -f -t 0 "jw-$r-$TAG" >/dev/null 2>&1; done
    podman rmi -f "$IMG" >/dev/null 2>&1
}
trap 'rc=$?; image_cleanup; (exit $rc); harness_cleanup' EXIT

t0=$(date +%s)
podman build -t "$IMG" -f Containerfile "$T/src" >"$T/build.log" 2>&1 ||
    fail "podman build: $(grep -iE 'error|fatal' "$T/build.log" | head -n 5)"
build_s=$(($(date +%s) - t0))
[ "$(podman image inspect --format '{{.Config.User}}' "$IMG")" = 10001:10001 ] || fail "the image does not run as 10001"

start_nats
start_redis --appendonly yes --appendfsync everysec
mkdir -p "$T/audit"
chown 10001:10001 "$T/audit"
chmod 0750 "$T/audit"

# The streams are created in one place (config/all-in-one.yaml, as the
# Kubernetes provision Job does); the roles bind to them.
podman run --rm --network=host -e NATS_URL="$NATS_URL" "$IMG" provision -c /etc/jetway/all-in-one.yaml \
    >"$T/provision.log" 2>&1 || fail "provision from the image: $(tail -n 5 "$T/provision.log")"

for r in $ROLES; do
    port=$(free_port)
    var="$(echo "$r" | tr '[:lower:]' '[:upper:]')_HTTP"
    podman run -d -q --name "jw-$r-$TAG" --network=host --read-only \
        -e NATS_URL="$NATS_URL" -e REDIS_URL="$REDIS_URL" -e "$var=127.0.0.1:$port" \
        -v "$T/audit:/var/lib/jetway/audit" \
        "$IMG" run -c "/etc/jetway/$r.yaml" >/dev/null 2>"$T/run-$r.err" ||
        fail "podman run $r: $(cat "$T/run-$r.err")"
    wait_for 60 curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" || {
        podman logs "jw-$r-$TAG" 2>&1 | tail -n 20 >&2
        fail "$r in its container did not become ready on 127.0.0.1:$port"
    }
done
note "image built in ${build_s}s; four roles ready"

podman run --rm --network=host --entrypoint jetway-orders-load "$IMG" -s "$NATS_URL" --orders "$IMAGE_ORDERS" \
    --redis "$REDIS_URL" --json >"$T/load.json" 2>"$T/load.err" ||
    fail "jetway-orders-load from the image: $(tail -n 5 "$T/load.err") $(cat "$T/load.json")"
summary=$(python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
assert s["accepted"] == s["sent"] == int(sys.argv[2]), "accepted %s of %s" % (s["accepted"], s["sent"])
assert s["undecided"] == 0, "undecided %s" % s["undecided"]
assert s["redis"]["duplicate_charges"] == 0, "duplicate charges"
print("sent=%d confirmed=%d cancelled=%d" % (s["sent"], s["confirmed"], s["cancelled_total"]))' \
    "$T/load.json" "$IMAGE_ORDERS") || fail "load summary: $summary $(cat "$T/load.json")"

# podman stop: SIGTERM to jetway (PID 1), which drains and exits 0.
stops=""
for r in $ROLES; do
    podman stop -t 60 "jw-$r-$TAG" >/dev/null &
    stops="$stops $!"
done
for p in $stops; do wait "$p"; done # (not a bare wait: the servers are children too)
for r in $ROLES; do
    code=$(podman inspect --format '{{.State.ExitCode}}' "jw-$r-$TAG")
    [ "$code" = 0 ] || {
        podman logs "jw-$r-$TAG" 2>&1 | tail -n 20 >&2
        fail "$r exited $code on podman stop"
    }
done
podman run --rm -v "$T/audit:/var/lib/jetway/audit:ro" --entrypoint jetway-audit-verify "$IMG" /var/lib/jetway/audit \
    >"$T/verify.txt" 2>&1 || fail "audit verify: $(cat "$T/verify.txt")"

echo "RESULT t_deploy_image build_s=$build_s roles=4 $summary stopped_exit0=4" \
    "audit=$(head -n 1 "$T/verify.txt" | tr ' ' '_') total_s=$(($(date +%s) - start_all))"
