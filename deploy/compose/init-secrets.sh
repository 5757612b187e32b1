#!/usr/bin/env bash
# Generates the secret files docker-compose.yml reads (compose `secrets:`),
# each owner-readable only, and the .env file holding the PostgreSQL password
# compose puts into DATABASE_URL. Files that already exist are kept, so a
# second run changes nothing.
#
#   deploy/compose/init-secrets.sh [DIR]     # default .rampart/compose/secrets
#
# The admin API key has a checksum only `rampart admin generate-key` makes:
# RAMPART names the command to run it (default: the image, through docker).
# ENV_FILE names the .env file (default: .env beside docker-compose.yml).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-$root/.rampart/compose/secrets}"
env_file="${ENV_FILE:-$root/.env}"
read -r -a rampart <<<"${RAMPART:-docker run --rm ${RAMPART_IMAGE:-rampart:dev}}"

command -v openssl >/dev/null || { echo "init-secrets: openssl is needed" >&2; exit 1; }
umask 077
mkdir -p "$dir"

# write NAME COMMAND...: the command's output into DIR/NAME, unless present.
write() {
  local name="$1"; shift
  [ -s "$dir/$name" ] && return 0
  "$@" >"$dir/$name.tmp"
  [ -s "$dir/$name.tmp" ] || { echo "init-secrets: $name came out empty" >&2; exit 1; }
  mv "$dir/$name.tmp" "$dir/$name"
  echo "init-secrets: wrote $dir/$name"
}
hex32() { openssl rand -hex 32; }

write postgres_password openssl rand -hex 24
write key_hash_secret hex32
write totp_encryption_key hex32
write crm_master_key sh -c 'printf "v1:%s\n" "$(openssl rand -base64 32)"'
write audit_signing_key openssl genpkey -algorithm ed25519
write admin_token hex32
write admin_sign_in_path sh -c 'printf "admin-%s\n" "$(openssl rand -hex 12)"'
write billing_webhook_secret sh -c 'printf "whsec_%s\n" "$(openssl rand -hex 32)"'
write admin_api_key "${rampart[@]}" admin generate-key

password="$(cat "$dir/postgres_password")"
if ! grep -q '^RAMPART_POSTGRES_PASSWORD=' "$env_file" 2>/dev/null; then
  echo "RAMPART_POSTGRES_PASSWORD=$password" >>"$env_file"
  echo "init-secrets: wrote RAMPART_POSTGRES_PASSWORD into $env_file"
fi
