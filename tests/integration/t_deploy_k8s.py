#!/usr/bin/env python3
"""Structural checks of deploy/k8s against config/ and deploy/nats (used by
t_deploy_k8s.sh). Usage: t_deploy_k8s.py ROOT; prints one line per problem
and exits 1 when there is any, else prints a summary line."""
import os
import re
import sys

import yaml

ROOT = sys.argv[1]
K8S = os.path.join(ROOT, "deploy", "k8s")
problems = []
counts = {"documents": 0, "workloads": 0, "env_checked": 0, "refs": 0, "perms": 0}


def bad(msg):
    problems.append(msg)


def load_all(path):
    try:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        bad("%s: does not parse: %s" % (path, e))
        return []
    counts["documents"] += len(docs)
    return docs


def duration_ms(s):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", str(s))
    if not m:
        return None
    return int(m.group(1)) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}[m.group(2)]


kust = load_all(os.path.join(K8S, "kustomization.yaml"))[0]
objs = []
for res in kust.get("resources", []):
    p = os.path.join(K8S, res)
    if not os.path.exists(p):
        bad("kustomization: resource %s does not exist" % res)
        continue
    for d in load_all(p):
        for k in ("apiVersion", "kind"):
            if k not in d:
                bad("%s: a document without %s" % (res, k))
        if not d.get("metadata", {}).get("name"):
            bad("%s: a %s without metadata.name" % (res, d.get("kind")))
        objs.append(d)

by_kind = {}
for o in objs:
    by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o

# ConfigMaps come from the generator: name -> {key: file text}. Their
# names must not carry a content hash, or a change would roll the pods
# instead of being reloaded in place (run --watch-config).
configmaps = {}
for g in kust.get("configMapGenerator", []):
    if not (g.get("options") or {}).get("disableNameSuffixHash"):
        bad("configMapGenerator %s: no options.disableNameSuffixHash: true (a hashed name "
            "rolls the pods on every change)" % g["name"])
    files = {}
    for f in g.get("files", []):
        key, _, src = f.partition("=") if "=" in f else (os.path.basename(f), "", f)
        p = os.path.join(K8S, src)
        if not os.path.exists(p):
            bad("configMapGenerator %s: file %s does not exist" % (g["name"], src))
            continue
        files[key] = open(p).read()
        load_all(p)
    configmaps[g["name"]] = files
for name, cm in by_kind.get("ConfigMap", {}).items():
    configmaps[name] = cm.get("data", {})

secrets = {}
for name, s in by_kind.get("Secret", {}).items():
    secrets[name] = set(s.get("stringData", {})) | set(s.get("data", {}))
pvcs = set(by_kind.get("PersistentVolumeClaim", {}))

# What the image provides (Containerfile ENV) counts as set.
image_env = {}
cf = os.path.join(ROOT, "Containerfile")
if os.path.exists(cf):
    for m in re.finditer(r"^ENV\s+(\w+)=(\S+)", open(cf).read(), re.M):
        image_env[m.group(1)] = m.group(2)

VAR_RE = re.compile(r"\$\{(\w+)(:-([^}]*))?\}")
INNER_VAR_RE = re.compile(r"\$\{(\w+)(:-([^${}]*))?\}")


def var_refs(text, outer=()):
    """Every ${NAME} / ${NAME:-default} of text, nested defaults included
    (${ORDER_HTTP:-${JETWAY_HTTP:-127.0.0.1:9101}}), as (name, default or
    None, the names whose defaults enclose it)."""
    out = []
    i = 0
    while True:
        m = re.compile(r"\$\{(\w+)(:-)?").search(text, i)
        if not m:
            return out
        if not m.group(2):
            out.append((m.group(1), None, outer))
            i = m.end()
            continue
        depth, j = 1, m.end()
        while j < len(text) and depth:
            if text.startswith("${", j):
                depth, j = depth + 1, j + 2
                continue
            depth -= text[j] == "}"
            j += 1
        default = text[m.end():j - 1]
        out.append((m.group(1), default, outer))
        out.extend(var_refs(default, outer + (m.group(1),)))
        i = j


def resolve_vars(text, env):
    """Substitute innermost references first, as jetway's cfg_subst does."""
    while True:
        new = INNER_VAR_RE.sub(lambda m: env.get(m.group(1)) or m.group(3) or "", text)
        if new == text:
            return new
        text = new
ENVKEY_RE = re.compile(r"^\s*\w+_env:\s*(\w+)\s*$", re.M)
LOCAL_DEFAULT = re.compile(r"127\.0\.0\.1|localhost|\.\./|^/tmp")

# auth.conf: user -> (publish allows, subscribe allows)
auth_path = os.path.join(ROOT, "deploy", "nats", "auth.conf")
auth_text = open(auth_path).read() if os.path.exists(auth_path) else ""
if not auth_text:
    bad("deploy/nats/auth.conf is missing")
auth_users = {}
for m in re.finditer(r"\{\s*user:\s*(\w+),\s*password:\s*\$(\w+)(.*?)(?=\n\s*\{ user:|\n\s*\]\s*\n\s*\})",
                     auth_text, re.S):
    body = m.group(3)
    pub = re.search(r"publish:\s*\{\s*allow:\s*\[(.*?)\]", body, re.S)
    sub = re.search(r"subscribe:\s*\{\s*allow:\s*\[(.*?)\]", body, re.S)
    auth_users[m.group(1)] = (
        re.findall(r'"([^"]+)"', pub.group(1)) if pub else None,
        re.findall(r'"([^"]+)"', sub.group(1)) if sub else None,
    )


def subject_matches(pattern, subject):
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


def allowed(allows, subject):
    return allows is not None and any(subject_matches(a, subject) for a in allows)


workloads = []
for kind in ("Deployment", "Job"):
    for name, o in by_kind.get(kind, {}).items():
        workloads.append((kind, name, o))
if len(by_kind.get("Deployment", {})) < 4:
    bad("expected a Deployment per role (order, payment, inventory, audit), found %s"
        % sorted(by_kind.get("Deployment", {})))

for kind, name, o in workloads:
    counts["workloads"] += 1
    where = "%s/%s" % (kind, name)
    pod = o["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        bad("%s: securityContext.runAsNonRoot is not true" % where)
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for v in vols.values():
        if "configMap" in v:
            counts["refs"] += 1
            if v["configMap"]["name"] not in configmaps:
                bad("%s: volume %s: no ConfigMap %s" % (where, v["name"], v["configMap"]["name"]))
        if "secret" in v:
            counts["refs"] += 1
            if v["secret"]["secretName"] not in secrets:
                bad("%s: volume %s: no Secret %s" % (where, v["name"], v["secret"]["secretName"]))
        if "persistentVolumeClaim" in v:
            counts["refs"] += 1
            if v["persistentVolumeClaim"]["claimName"] not in pvcs:
                bad("%s: no PersistentVolumeClaim %s" % (where, v["persistentVolumeClaim"]["claimName"]))
    if len(pod["containers"]) != 1:
        bad("%s: expected one container" % where)
    c = pod["containers"][0]
    sc = c.get("securityContext", {})
    if sc.get("readOnlyRootFilesystem") is not True:
        bad("%s: readOnlyRootFilesystem is not true" % where)
    if sc.get("allowPrivilegeEscalation") is not False:
        bad("%s: allowPrivilegeEscalation is not false" % where)
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    for path, vname in mounts.items():
        if vname not in vols:
            bad("%s: mount %s uses volume %s, which is not declared" % (where, path, vname))
    if kind == "Deployment" and "emptyDir" not in vols.get(mounts.get("/tmp"), {}):
        bad("%s: /tmp is not an emptyDir" % where)
    res = c.get("resources", {})
    if not res.get("requests") or not res.get("limits"):
        bad("%s: resource requests and limits are required" % where)

    env = {}
    for e in c.get("env", []):
        if e["name"] in env:
            bad("%s: env %s set twice" % (where, e["name"]))
        if "valueFrom" in e:
            ref = e["valueFrom"].get("secretKeyRef") or e["valueFrom"].get("configMapKeyRef")
            counts["refs"] += 1
            if "secretKeyRef" in e["valueFrom"]:
                if ref["name"] not in secrets:
                    bad("%s: env %s: no Secret %s" % (where, e["name"], ref["name"]))
                elif ref["key"] not in secrets[ref["name"]]:
                    bad("%s: env %s: Secret %s has no key %s" % (where, e["name"], ref["name"], ref["key"]))
            env[e["name"]] = None
        else:
            env[e["name"]] = str(e.get("value", ""))

    # The config file the args name, found through the mounts.
    args = c.get("args", [])
    if len(args) < 3 or args[1] != "-c" or args[0] not in ("run", "provision"):
        bad("%s: args %s, want [run|provision, -c, FILE, ...]" % (where, args))
        continue
    if kind == "Deployment" and args[0] != "run":
        bad("%s: a Deployment must run `jetway run`" % where)
    # A Deployment reloads its ConfigMap in place: --watch-config, a stable
    # ConfigMap name, and a whole-volume mount (a subPath mount never updates).
    if kind == "Deployment" and args[3:] != ["--watch-config"]:
        bad("%s: args %s, want [run, -c, FILE, --watch-config]" % (where, args))
    if kind != "Deployment" and args[3:]:
        bad("%s: args %s, want [%s, -c, FILE]" % (where, args, args[0]))
    if any(m.get("subPath") for m in c.get("volumeMounts", [])):
        bad("%s: a subPath mount is never updated by the kubelet" % where)
    cfgdir, cfgfile = os.path.split(args[2])
    vol = vols.get(mounts.get(cfgdir), {})
    cmname = vol.get("configMap", {}).get("name")
    text = configmaps.get(cmname, {}).get(cfgfile)
    if text is None:
        bad("%s: %s is not in a mounted ConfigMap" % (where, args[2]))
        continue
    cfg = yaml.safe_load(text)
    role = os.path.splitext(cfgfile)[0]

    # Every variable of the config: set by the Deployment (or the image)
    # when it has no default or a default that points at the local machine.
    used = set()
    for var, default, outer in var_refs(text):
        used.add(var)
        counts["env_checked"] += 1
        if var in env or var in image_env:
            continue
        if any(o in env or o in image_env for o in outer):
            continue  # a fallback that a set variable around it never reaches
        if default is None:
            bad("%s: config %s needs ${%s}, which the env does not set" % (where, cfgfile, var))
        elif kind == "Deployment" and LOCAL_DEFAULT.search(default):
            bad("%s: config %s: ${%s} falls back to the local default '%s'" % (where, cfgfile, var, default))
    for var in ENVKEY_RE.findall(text):
        used.add(var)
        counts["env_checked"] += 1
        if var not in env:
            bad("%s: config %s reads a secret from $%s, which the env does not set" % (where, cfgfile, var))
        elif env[var] is not None:
            bad("%s: $%s is a secret but set as a plain value" % (where, var))
    for var in env:
        if var not in used:
            bad("%s: env %s is not used by %s (renamed in config/?)" % (where, var, cfgfile))

    # The HTTP endpoint: reachable by the kubelet, on the metrics port.
    http = resolve_vars(str(cfg.get("http", {}).get("listen", "")), env)
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    if kind == "Deployment":
        if not http or http.startswith("127.") or http.rsplit(":", 1)[-1] != str(ports.get("metrics")):
            bad("%s: http.listen resolves to '%s', not 0.0.0.0:<metrics port %s>" % (where, http, ports.get("metrics")))
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            g = c.get(probe, {}).get("httpGet", {})
            if g.get("path") != path or g.get("port") not in ("metrics", ports.get("metrics")):
                bad("%s: %s must GET %s on the metrics port" % (where, probe, path))
        grace = duration_ms(cfg.get("service", {}).get("shutdown_grace", "30s"))
        tgp = pod.get("terminationGracePeriodSeconds", 30)
        if grace is None or tgp * 1000 <= grace:
            bad("%s: terminationGracePeriodSeconds %s is not above shutdown_grace" % (where, tgp))
        if env.get("JETWAY_PLUGIN_DIR") != "/usr/lib/jetway/plugins":
            bad("%s: JETWAY_PLUGIN_DIR is not the image's /usr/lib/jetway/plugins" % where)

    # The NATS user of this role and its permissions in deploy/nats/auth.conf.
    for e in c.get("env", []):
        if e["name"] == "NATS_USER":
            ref = e["valueFrom"]["secretKeyRef"]
            sec = by_kind["Secret"].get(ref["name"], {})
            user = sec.get("stringData", {}).get(ref["key"])
            if user not in auth_users:
                bad("%s: NATS user %s is not in deploy/nats/auth.conf" % (where, user))
                continue
            pub, sub = auth_users[user]
            if pub is None and sub is None:
                continue  # an unrestricted user (admin)
            inbox = cfg.get("nats", {}).get("inbox_prefix")
            if not inbox or not allowed(sub, inbox + ".x"):
                bad("%s: user %s may not subscribe to its inbox prefix %s" % (where, user, inbox))
            for cons in cfg.get("consumers", []):
                s, n = cons["stream"], cons["name"]
                for subj in ("$JS.API.CONSUMER.MSG.NEXT.%s.%s" % (s, n),
                             "$JS.API.CONSUMER.INFO.%s.%s" % (s, n),
                             "$JS.ACK.%s.%s.1.2.3.4.5" % (s, n),
                             "$JS.API.STREAM.INFO.%s" % s):
                    counts["perms"] += 1
                    if not allowed(pub, subj):
                        bad("%s: user %s may not publish %s" % (where, user, subj))
                if cons.get("dead_letter"):
                    counts["perms"] += 2
                    if not allowed(pub, "$JS.API.STREAM.LIST"):
                        bad("%s: user %s may not list streams (dead_letter checks)" % (where, user))
                    if not allowed(pub, cons["dead_letter"]):
                        bad("%s: user %s may not publish dead letters to %s" % (where, user, cons["dead_letter"]))
                for subj in ("$JS.API.CONSUMER.CREATE.%s" % s, "$JS.API.STREAM.DELETE.%s" % s,
                             "$JS.API.STREAM.UPDATE.%s" % s, "_INBOX.x"):
                    counts["perms"] += 1
                    if allowed(pub, subj) or allowed(sub, subj):
                        bad("%s: user %s may use %s" % (where, user, subj))
            for svc in cfg.get("services", []):
                counts["perms"] += 1
                if not allowed(sub, svc["subject"]):
                    bad("%s: user %s may not subscribe to service subject %s" % (where, user, svc["subject"]))

for kind in ("PodDisruptionBudget",):
    for name, o in by_kind.get(kind, {}).items():
        sel = o["spec"]["selector"]["matchLabels"]
        hit = [d for d in by_kind.get("Deployment", {}).values()
               if sel.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        if not hit:
            bad("PodDisruptionBudget/%s selects no Deployment's pods" % name)
        elif hit[0]["spec"].get("replicas", 1) <= o["spec"].get("minAvailable", 0):
            bad("PodDisruptionBudget/%s: minAvailable blocks every eviction" % name)
if not by_kind.get("PodDisruptionBudget"):
    bad("no PodDisruptionBudget")

hpas = by_kind.get("HorizontalPodAutoscaler", {})
metrics_src = open(os.path.join(ROOT, "core", "obs", "metrics_render.c")).read()
for name, h in hpas.items():
    t = h["spec"]["scaleTargetRef"]
    if t["name"] not in by_kind.get(t["kind"], {}):
        bad("HorizontalPodAutoscaler/%s targets a missing %s/%s" % (name, t["kind"], t["name"]))
    for m in h["spec"]["metrics"]:
        mname = m.get(m["type"].lower(), {}).get("metric", {}).get("name")
        if mname and '"%s"' % mname not in metrics_src:
            bad("HorizontalPodAutoscaler/%s: jetway exports no metric %s" % (name, mname))
if "jetway-payment" not in [h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()]:
    bad("no HorizontalPodAutoscaler for payment")

svc = by_kind.get("Service", {}).get("jetway-metrics")
if svc is None:
    bad("no Service jetway-metrics")
else:
    ann = svc["metadata"].get("annotations", {})
    if ann.get("prometheus.io/scrape") != "true":
        bad("Service/jetway-metrics: no prometheus.io/scrape annotation")
    sel = svc["spec"]["selector"]
    pods = [d for d in by_kind.get("Deployment", {}).values()
            if sel.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
    if len(pods) != len(by_kind.get("Deployment", {})):
        bad("Service/jetway-metrics does not select every role's pods")
    if str(ann.get("prometheus.io/port")) != "9100":
        bad("Service/jetway-metrics: prometheus.io/port is not the metrics port")

for p in problems:
    print("PROBLEM " + p)
print("checked %(documents)d documents, %(workloads)d workloads, %(env_checked)d variables, "
      "%(refs)d references, %(perms)d permissions" % counts)
sys.exit(1 if problems else 0)
