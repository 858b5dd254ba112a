#!/usr/bin/env bash
# Everything that proves analytics-wasm works; `npm test` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

step() { printf '\n== test: %s\n' "$*"; }

step "format"
cargo fmt --check

step "lint"
cargo clippy --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings

step "native tests of the core (unit, behaviour, 10,000-case property test)"
cargo test --all-targets

step "collector: format, lint, tests (the wire, one rule per test; faults, with the real binary killed and restarted under load; parser properties; the SQLite store; ingest and load over a JetStream cluster into Postgres and ClickHouse behind HAProxy, with nodes killed under load)"
cargo fmt -p analytics-collector --check
cargo clippy -p analytics-collector --all-targets -- -D warnings
cargo test -p analytics-collector

step "wasm release build and package"
bash scripts/build.sh

step "the collector's optimised build, for the tests that run it as users do"
bash scripts/build-collector.sh

step "size budget: what a Vite production app ships (size-budget.json)"
node scripts/shipped-size.mjs --check

step "package tests: config parity, the chunk-log property, wasm and JS core parity, server-side import; the JS API, leaves and workers in Chromium; reliability, tabs, the JS fallback and the SDK against the project's collector in Chromium, Firefox and WebKit (and on the JS core in Chromium); Segment's own libraries against the collector; npm start and its demo; consumers built with Vite, webpack, esbuild, Rollup, Parcel and Next.js from the packed tarball"
node --test --test-concurrency=1 tests/js/ tests/e2e/ tests/consumer/
