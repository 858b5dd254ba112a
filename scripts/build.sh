#!/usr/bin/env bash
# Builds the npm package into pkg/: release wasm, wasm-bindgen --target web,
# wasm-opt from the npm binaryen package (never Debian's /usr/bin one, which
# silently breaks this Rust's output), the JS entry, types and package.json,
# then prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."

# The shipped wasm is built with a pinned nightly that rebuilds std for it
# with panics as plain traps (-Z build-std, -C panic=immediate-abort): 15 %
# less gzip, because std's panic formatting machinery is left out. A panic
# was already an uncaught trap with nothing printed (panic = "abort", and
# stderr goes nowhere on wasm32-unknown-unknown), so nothing observable is
# lost. scripts/setup.sh installs the toolchain (pinned in scripts/lib/size-toolchain.sh); without it the stable
# build is used, and this says so.
source scripts/lib/size-toolchain.sh
if size_toolchain_ready; then
  echo "wasm: $SIZE_TOOLCHAIN, -Z build-std, panic=immediate-abort"
  RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
    cargo "+$SIZE_TOOLCHAIN" build -Z build-std=std,panic_abort \
    --release --target wasm32-unknown-unknown --lib --target-dir target/size
  raw=target/size/wasm32-unknown-unknown/release/analytics_wasm.wasm
else
  echo "warning: $SIZE_TOOLCHAIN with rust-src not found (run scripts/setup.sh): building with stable, about 15 % larger" >&2
  cargo build --release --target wasm32-unknown-unknown --lib
  raw=target/wasm32-unknown-unknown/release/analytics_wasm.wasm
fi
# What shipped, before wasm-bindgen (the bench's size breakdown reads it).
mkdir -p target/shipped && cp "$raw" target/shipped/analytics_wasm.wasm
rm -rf pkg && mkdir -p pkg
wasm-bindgen --target web --out-dir pkg --no-typescript \
  --remove-name-section --remove-producers-section \
  target/shipped/analytics_wasm.wasm
./node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-reference-types \
  --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-multivalue \
  pkg/analytics_wasm_bg.wasm -o pkg/analytics_wasm_bg.wasm

cargo run --quiet --example config_rules > pkg/config-rules.js
version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
cp js/index.js js/index.d.ts js/config.js js/identity.js js/page-store.js js/session.js pkg/
sed "s/__VERSION__/$version/" js/context.js > pkg/context.js
node -e '
  const fs = require("fs");
  const manifest = JSON.parse(fs.readFileSync("js/package.json", "utf8"));
  manifest.version = process.argv[1];
  fs.writeFileSync("pkg/package.json", JSON.stringify(manifest, null, 2) + "\n");
' "$version"

node scripts/sizes.mjs pkg/analytics_wasm_bg.wasm pkg/analytics_wasm.js pkg/index.js pkg/config.js pkg/config-rules.js pkg/context.js pkg/identity.js pkg/page-store.js pkg/session.js
