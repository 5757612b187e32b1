#!/usr/bin/env bash
# A short cargo-fuzz run of the Twilio webhook parsers and verifiers
# (fuzz/fuzz_targets/twilio_webhook.rs) on the nightly toolchain. Any crash
# fails CI; its input is left in fuzz/artifacts/. Longer runs on demand:
#   FUZZ_SECONDS=3600 .ci/fuzz-telephony.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
echo "ci: fuzzing the Twilio webhook parsers for ${seconds} s"
cargo +nightly fuzz run twilio_webhook "$corpus" fuzz/seeds/twilio_webhook -- \
  -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 2>&1 | tail -n 20
