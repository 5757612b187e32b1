#!/usr/bin/env bash
# Runs the container stack's exact commands and environment, without
# containers, against the local PostgreSQL and Redis:
#
# 1. deploy/compose/init-secrets.sh writes every secret file (into a temp dir);
# 2. `docker-compose config` resolves docker-compose.yml; from it each Rampart
#    container's command and environment are taken as they are, with only
#    the host names (postgres, redis, auth, ... and 0.0.0.0 listeners) turned
#    into 127.0.0.1, the container paths (the pki volume, the settings file,
#    /run/secrets/*) into the temp dir, and the database name made unique;
# 3. pki init and migrate run to completion, then the five `rampart serve`
#    processes start in depends_on order, each waited for with its own health
#    check (grpc_health_probe's flags, asked in Python with grpcio over the
#    same mutual TLS; the gateway's /readyz on its admin listener);
# 4. real requests through the edge, over HTTPS verified against the
#    generated edge CA: GET /v1/openapi.json, and GET /v1/admin/tenants with
#    the generated admin key; then everything is stopped with SIGTERM and
#    must exit cleanly.
#
# Uses target/debug/rampart (RAMPART_BIN overrides), built by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${RAMPART_BIN:-target/debug/rampart}"
[ -x "$bin" ] || cargo build -p rampart --locked
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

venv=.ci/.venv
if ! "$venv/bin/python" -c 'import yaml, grpc, grpc_health.v1' 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q pyyaml grpcio grpcio-health-checking
fi
command -v docker-compose >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/secrets"
RAMPART="$bin" ENV_FILE="$work/env" deploy/compose/init-secrets.sh "$work/secrets" >/dev/null
set -a; . "$work/env"; set +a
docker-compose -f docker-compose.yml config >"$work/compose.yml"

exec "$venv/bin/python" - "$work" "$bin" <<'PY'
"""The smoke run itself; see the comment at the top of .ci/compose-smoke.sh."""
import json, os, re, signal, socket, ssl, subprocess, sys, time, urllib.request, uuid
import grpc, yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

work, binary = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 110
compose = yaml.safe_load(open(os.path.join(work, "compose.yml")))
services = compose["services"]
names = set(services)
database = f"rampart_smoke_{uuid.uuid4().hex[:12]}"

def fail(message):
    print(f"compose-smoke: {message}", file=sys.stderr)
    sys.exit(1)

# Container paths -> the temp dir. Volumes (pki, the settings file) first,
# then compose secrets at /run/secrets/<name>.
paths = {}
for spec in services["gateway"].get("volumes", []) + services["pki"].get("volumes", []):
    if isinstance(spec, dict):
        source, target = spec.get("source"), spec["target"]
    else:
        source, target = spec.split(":")[0], spec.split(":")[1]
    paths[target] = os.path.join(work, os.path.basename(target))
    if target.endswith(".toml"):
        with open(source) as settings:
            text = settings.read()
        with open(paths[target], "w") as copy:
            copy.write(text)
for name, secret in compose.get("secrets", {}).items():
    paths[f"/run/secrets/{name}"] = os.path.join(work, "secrets", os.path.basename(secret["file"]))

def rewrite(value):
    value = str(value)
    for container, local in sorted(paths.items(), key=lambda kv: -len(kv[0])):
        value = value.replace(container, local)
    # Host names: compose service names in URLs and addresses, and listeners
    # on every interface.
    value = re.sub(r"(?<=[/@])(%s)(?=:\d)" % "|".join(map(re.escape, names)), "127.0.0.1", value)
    value = value.replace("0.0.0.0:", "127.0.0.1:")
    if value.startswith("postgres://"):
        value = re.sub(r"/[A-Za-z0-9_]+(\?|$)", f"/{database}\\1", value, count=1)
    return value

# The settings file names hosts too.
for container, local in paths.items():
    if local.endswith(".toml"):
        text = rewrite(open(local).read())
        if "[services." not in text or "0.0.0.0" in text:
            fail(f"{container}: the settings file did not come through the rewrite:\n{text}")
        open(local, "w").write(text)

def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql],
                   check=True, stdout=subprocess.DEVNULL)

def local_command(name):
    spec = services[name]
    env = {k: rewrite(v) for k, v in (spec.get("environment") or {}).items()}
    return [binary] + [rewrite(a) for a in spec.get("command") or []], env

def order():
    done, out = set(), []
    def visit(n):
        if n in done:
            return
        done.add(n)
        for dep in services[n].get("depends_on") or {}:
            visit(dep)
        out.append(n)
    for n in sorted(names):
        visit(n)
    return [n for n in out if str(services[n].get("image", "")).startswith("rampart")]

def healthy(name):
    test = services[name]["healthcheck"]["test"]
    argv = [rewrite(a) for a in test[1:]]
    if argv[0] == "httpcheck":
        try:
            with urllib.request.urlopen(argv[1], timeout=2) as response:
                return 200 <= response.status < 300
        except Exception:
            return False
    if argv[0] == "grpc_health_probe":
        flags = dict(a.lstrip("-").split("=", 1) for a in argv[1:] if "=" in a)
        if "-tls" not in argv:
            fail(f"{name}: the health check does not use TLS")
        read = lambda key: open(flags[key], "rb").read()
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read("tls-ca-cert"),
            private_key=read("tls-client-key"),
            certificate_chain=read("tls-client-cert"))
        options = [("grpc.ssl_target_name_override", flags["tls-server-name"])]
        try:
            with grpc.secure_channel(flags["addr"], credentials, options) as channel:
                answer = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=2)
                return answer.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False
    fail(f"{name}: no local equivalent of the health check {test}")

def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0

for port in (8443, 9464, 7001, 7002, 7003, 7004):
    if not port_free(port):
        fail(f"port {port} is taken on 127.0.0.1; the stack's ports must be free")

psql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rampart') "
     f"THEN CREATE ROLE rampart LOGIN; END IF; END $$")
psql(f'CREATE DATABASE "{database}" OWNER rampart')
running, unclean = [], []
try:
    for name in order():
        argv, env = local_command(name)
        log = open(os.path.join(work, f"{name}.log"), "w")
        print(f"compose-smoke: {name}: {' '.join(argv[1:])}")
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        if name in ("pki", "migrate"):
            if process.wait(timeout=max(1, deadline - time.monotonic())) != 0:
                fail(f"{name} exited {process.returncode}:\n{open(log.name).read()}")
            continue
        running.append((name, process, log.name))
        while not healthy(name):
            if process.poll() is not None:
                fail(f"{name} exited {process.returncode}:\n{open(log.name).read()[-4000:]}")
            if time.monotonic() > deadline:
                fail(f"{name} not healthy in time:\n{open(log.name).read()[-4000:]}")
            time.sleep(0.3)
        # The settings file was read: the service listens where it says
        # (its 0.0.0.0 turned into 127.0.0.1), not on a built-in default.
        listening = []
        for line in open(log.name):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "listening" and entry.get("service") == name:
                listening.append(entry.get("addr", ""))
        if not listening or not all(a.startswith("127.0.0.1:") for a in listening):
            fail(f"{name} listens on {listening}, not where the settings file says")
        print(f"compose-smoke: {name} is healthy, listening on {', '.join(listening)}")

    edge = ssl.create_default_context(cafile=paths["/var/lib/rampart/pki"] + "/edge-ca.pem")
    published = services["gateway"]["ports"][0]
    port = published["published"] if isinstance(published, dict) else published.split(":")[0]
    url = f"https://127.0.0.1:{port}/v1/openapi.json"
    with urllib.request.urlopen(url, context=edge, timeout=5) as response:
        document = json.load(response)
    if response.status != 200 or not document.get("openapi", "").startswith("3."):
        fail(f"GET {url} answered {response.status} without an OpenAPI document")
    if "/v1/crm/customers" not in document.get("paths", {}):
        fail("the OpenAPI document through the edge lacks /v1/crm/customers")
    print(f"compose-smoke: GET {url} over TLS (edge CA verified): {len(document['paths'])} paths")
    # An authenticated call that crosses the mesh: the gateway asks auth to
    # verify the admin key (from the compose secret auth reads), then reads
    # the tenants from PostgreSQL.
    admin_key = open(paths["/run/secrets/admin_api_key"]).read().strip()
    request = urllib.request.Request(f"https://127.0.0.1:{port}/v1/admin/tenants",
                                     headers={"X-Admin-API-Key": admin_key})
    with urllib.request.urlopen(request, context=edge, timeout=5) as response:
        tenants = json.load(response)
    print(f"compose-smoke: GET /v1/admin/tenants with the admin key: {response.status}, "
          f"{type(tenants).__name__}")
finally:
    stopped = []
    for name, process, log in reversed(running):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            stopped.append((name, process, log))
    for name, process, log in stopped:
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            code = "killed after 15 s"
        if code != 0:
            print(f"compose-smoke: {name} did not stop cleanly ({code}):\n{open(log).read()[-2000:]}",
                  file=sys.stderr)
            unclean.append(name)
    psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
if unclean:
    fail(f"{', '.join(unclean)} did not stop cleanly on SIGTERM")
print("compose-smoke: ok")
PY
