#!/usr/bin/env bash
# Schema-driven fuzzing of the REST edge: schemathesis (pinned, from PyPI,
# in a private venv) generates requests from the gateway's own OpenAPI
# document, valid and invalid, and fails on any 5xx answer.
#
# Usage: .ci/fuzz-openapi.sh [max-examples-per-operation]   (default 100)
#
# Starts a fresh `rampart dev` in a scratch folder on a free loopback port,
# creates a tenant, and sends every request with the dev admin key and that
# tenant's key, so the fuzzer reaches the handlers behind authentication.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
max_examples=${1:-100}
venv=${RAMPART_FUZZ_VENV:-target/fuzz-venv}

if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "fuzz: installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --locked -p rampart
target_dir=${CARGO_TARGET_DIR:-target}
rampart="$target_dir/debug/rampart"

scratch=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A security.txt valid for 30 days, so that route is exercised too.
expires=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) + d.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
cat >"$scratch/rampart.toml" <<TOML
[security_txt]
contact = ["mailto:security@example.com"]
expires = "$expires"
preferred_languages = ["en"]

# One client and one key send every case: limits out of its reach, so the
# fuzzer reaches the handlers instead of a held 429.
[rate_limits]
per_address_per_minute = 1000000
per_credential_per_minute = 1000000
TOML
"$rampart" --log-format json --config "$scratch/rampart.toml" dev --data-dir "$scratch/data" --listen "127.0.0.1:$port" --admin-listen 127.0.0.1:0 \
  >"$scratch/rampart.log" 2>&1 </dev/null &
rampart_pid=$!
cleanup() {
  kill "$rampart_pid" 2>/dev/null || true
  wait "$rampart_pid" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

base="https://127.0.0.1:$port"
ca="$scratch/data/pki/edge-ca.pem"
for _ in $(seq 1 120); do
  if [ -f "$ca" ] && curl -sf --cacert "$ca" "$base/readyz" >/dev/null; then break; fi
  kill -0 "$rampart_pid" 2>/dev/null || { cat "$scratch/rampart.log"; echo "fuzz: rampart dev exited" >&2; exit 1; }
  sleep 0.5
done
curl -sf --cacert "$ca" "$base/readyz" >/dev/null || { cat "$scratch/rampart.log"; echo "fuzz: rampart dev not ready" >&2; exit 1; }

admin_key=$(cat "$scratch/data/secrets/admin-api-key")
tenant_key=$(curl -sf --cacert "$ca" -X POST "$base/v1/admin/tenants" \
  -H "X-Admin-API-Key: $admin_key" -H 'Content-Type: application/json' \
  -d '{"name": "Fuzz Co"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')

echo "fuzz: schemathesis against $base/v1/openapi.json, at most $max_examples examples per operation"
status=0
# Run from the scratch folder: schemathesis keeps a cache in its working
# directory, which must not land in the repository.
st=$(cd "$venv/bin" && pwd)/st
# The handoff stream is left out: it answers for minutes by design, longer
# than a fuzz case may take; its own tests are in handoff_stream.rs.
(cd "$scratch" && "$st" run "$base/v1/openapi.json" \
  --checks not_a_server_error \
  --exclude-path /v1/handoffs/stream \
  --tls-verify "$ca" \
  --header "X-Admin-API-Key: $admin_key" \
  --header "X-API-Key: $tenant_key" \
  --max-examples "$max_examples" \
  --seed 4 \
  --workers 1 \
  --request-timeout 20 \
  --generation-database none \
  --no-color \
  --report-dir "$scratch/report") || status=$?

if grep -q '"status":5[0-9][0-9]' "$scratch/rampart.log"; then
  echo "fuzz: the gateway logged a 5xx answer:" >&2
  grep '"status":5[0-9][0-9]' "$scratch/rampart.log" | head -20 >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "fuzz: failed; the gateway's log follows" >&2
  tail -n 60 "$scratch/rampart.log" >&2
fi
exit "$status"
