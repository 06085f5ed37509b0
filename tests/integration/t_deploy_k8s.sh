#!/bin/bash
# t_deploy_k8s.sh -- deploy/k8s against the code and configs it deploys:
# the role configs are in sync with config/, every manifest parses, every
# ConfigMap/Secret/PVC reference and secret key exists, the env sets every
# ${VAR} the configs use (and nothing they don't), probes, grace period,
# HPA metric, NATS permissions of each role (t_deploy_k8s.py); each role
# config passes `jetway check` (plugins loaded) with its Deployment's env;
# Deployments run --watch-config on a stable ConfigMap name; and the
# checker itself fails on six injected drifts (and sync-configs on one).
. "$(dirname "$0")/../lib/harness.sh"
ROOT=$(pwd)
CHECK="$ROOT/tests/integration/t_deploy_k8s.py"
python3 -c 'import yaml' || fail "python3-yaml is missing (scripts/deps)"

deploy/k8s/sync-configs --check || fail "deploy/k8s/config is out of date with config/"
python3 "$CHECK" "$ROOT" >"$T/check.out" || fail "manifest problems: $(cat "$T/check.out")"
summary=$(tail -n 1 "$T/check.out")
note "$summary"

# `jetway check` each role config with the env its Deployment sets
# (paths of the pod mapped to test paths). A plugin not built in this tree
# is skipped, and said so.
plugin_dir "$T/plugins" "$JW_BUILD"/plugins/*.so
echo "not a real CA, check does not read it" >"$T/ca.crt"
mkdir -p "$T/audit"
checked=0
for role in order payment inventory audit; do
    if [ ! -f "$T/plugins/$role.so" ]; then
        note "$role.so is not built here: jetway check of $role skipped"
        continue
    fi
    envs=$(python3 - "$role" <<'PY'
import sys, yaml
role = sys.argv[1]
for d in yaml.safe_load_all(open("deploy/k8s/%s.yaml" % role)):
    if d["kind"] == "Deployment":
        for e in d["spec"]["template"]["spec"]["containers"][0]["env"]:
            print("%s=%s" % (e["name"], e.get("value", "secret-" + e["name"].lower())))
PY
    )
    # shellcheck disable=SC2086
    env -i PATH="$PATH" $envs JETWAY_PLUGIN_DIR="$T/plugins" NATS_CA_FILE="$T/ca.crt" \
        AUDIT_DIR="$T/audit" "$JW" check -c "deploy/k8s/config/$role.yaml" >"$T/$role.check" 2>&1 ||
        fail "jetway check of deploy/k8s/config/$role.yaml: $(cat "$T/$role.check")"
    # A role binds to the streams all-in-one.yaml owns (manage: false): their
    # replicas are the owner's. Every stream a config owns is R3 by default.
    python3 - "$T/$role.check" <<'PY' || fail "$role: owned streams are not R3 by default: $(cat "$T/$role.check")"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
owned = [s for s in doc["streams"] if s.get("manage", True)]
assert all(s.get("replicas") == 3 for s in owned), owned
PY
    checked=$((checked + 1))
done
[ $checked -ge 3 ] || fail "only $checked role configs checked"
# The owner of the streams (the provisioning Job's config) makes them R3.
[ "$(grep -c 'replicas: ${JETWAY_STREAM_REPLICAS:-3}' deploy/k8s/config/all-in-one.yaml)" -eq 4 ] ||
    fail "all-in-one.yaml does not make its four streams R3"

# The checker must catch drift. Each case: a fresh copy, one change, the
# expected complaint.
mutate()
{
    rm -rf "$T/m"
    mkdir -p "$T/m/core/obs"
    cp -r config deploy "$T/m/"
    cp core/obs/metrics_render.c "$T/m/core/obs/"
    [ -f Containerfile ] && cp Containerfile "$T/m/"
    (cd "$T/m" && eval "$1") || fail "mutation failed: $1"
    if python3 "$CHECK" "$T/m" >"$T/m.out" 2>&1; then
        fail "the checker accepted: $1"
    fi
    grep -qF -- "$2" "$T/m.out" || fail "after '$1' expected '$2', got: $(cat "$T/m.out")"
}
# a renamed variable in config/ (then synced)
mutate "sed -i 's/ORDER_HTTP/ORDER_LISTEN/' config/order.yaml && deploy/k8s/sync-configs" \
    "env ORDER_HTTP is not used"
# a secret key the env refers to
mutate "sed -i 's/^  password: CHANGE-ME-redis/  pass: CHANGE-ME-redis/' deploy/k8s/secrets.yaml" \
    "Secret jetway-redis has no key password"
# a role permission dropped
mutate "sed -i '/JS.ACK.ORDERS.payment-orders/d' deploy/nats/auth.conf" \
    'user payment may not publish $JS.ACK.ORDERS.payment-orders'
# a grace period shorter than the drain
mutate "sed -i 's/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 20/' deploy/k8s/inventory.yaml" \
    "terminationGracePeriodSeconds 20 is not above shutdown_grace"
# a Deployment that would not reload its ConfigMap in place
mutate "sed -i 's|/etc/jetway/payment.yaml, --watch-config\]|/etc/jetway/payment.yaml]|' deploy/k8s/payment.yaml" \
    "want [run, -c, FILE, --watch-config]"
mutate "sed -i '0,/disableNameSuffixHash: true/s//disableNameSuffixHash: false/' deploy/k8s/kustomization.yaml" \
    "configMapGenerator jetway-order: no options.disableNameSuffixHash"
# and the sync check sees an unsynced change of config/
(cd "$T/m" && cp -r "$ROOT/deploy" "$ROOT/config" . && sed -i 's/concurrency: 8/concurrency: 9/' config/payment.yaml &&
    deploy/k8s/sync-configs --check >/dev/null) && fail "sync-configs --check missed a change"
echo "RESULT t_deploy_k8s $summary; jetway check of $checked role configs; 7 drifts caught"
