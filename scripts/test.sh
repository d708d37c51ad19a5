#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Debian's nfdump for the differential tests, chromium for the rendered
# report, Python's aiosmtpd for the real SMTP exchange of the notices), then
# format, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nfcapd >/dev/null 2>&1 || need+=(nfdump)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} (apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  python3 -m pip install -q aiosmtpd 2>/dev/null ||
    python3 -m pip install -q --break-system-packages aiosmtpd
fi

# One build cache outside the clone, reused between runs.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/flowhound/target}"
mkdir -p "$CARGO_TARGET_DIR"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The tests on real captures and registries read ../shared beside the clone;
# here its absence is a failure, not a skip.
export FLOWHOUND_REQUIRE_SHARED=1
cargo test --workspace
# The rule pack's precision and recall on the generated day, from the
# scenario test that just passed.
cat "$CARGO_TARGET_DIR/tmp/precision_recall.txt" 2>/dev/null || true
