#!/usr/bin/env bash
# Builds the npm package into pkg/: release wasm, wasm-bindgen --target web,
# wasm-opt from the npm binaryen package (never Debian's /usr/bin one, which
# silently breaks this Rust's output), the JS entry, types and package.json,
# then prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --target wasm32-unknown-unknown --lib
rm -rf pkg && mkdir -p pkg
wasm-bindgen --target web --out-dir pkg --no-typescript \
  --remove-name-section --remove-producers-section \
  target/wasm32-unknown-unknown/release/analytics_wasm.wasm
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
