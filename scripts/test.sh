#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Debian's nfdump for the differential tests), then format, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nfcapd >/dev/null 2>&1 || need+=(nfdump)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} (apt-get install ${need[*]})" >&2
    exit 1
  fi
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
