#!/usr/bin/env bash
# Builds the project's collector (collector/, a Cargo workspace member) into
# target/collector/analytics-collector, with the `collector` profile (fast
# code and unwinding; the root release profile is tuned for the wasm's size).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile collector -p analytics-collector --bins
echo "collector: target/collector/analytics-collector"
