#!/usr/bin/env bash
# Builds the npm package into pkg/: the core as a release wasm (plain
# exported functions, no imports, no bindings generator), wasm-opt from the
# npm binaryen package (never Debian's /usr/bin one, which silently breaks
# this Rust's output), the JS shell and page-level modules (with the tables
# they share with the core, generated into js/ by `cargo run --bin
# generate`), types and package.json; then prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."

# The shipped wasm is built with a pinned nightly that rebuilds std for it
# with panics as plain traps (-Z build-std, -C panic=immediate-abort) and
# no source file names (-Z location-detail=none), so
# std's panic formatting machinery is left out. A panic was already an
# uncaught trap with nothing printed (panic = "abort"), so nothing
# observable is lost. scripts/setup.sh installs the toolchain (pinned in
# scripts/lib/size-toolchain.sh); without it the stable build is used, and
# this says so.
source scripts/lib/size-toolchain.sh
if size_toolchain_ready; then
  echo "wasm: $SIZE_TOOLCHAIN, -Z build-std, panic=immediate-abort"
  RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
    cargo "+$SIZE_TOOLCHAIN" build -Z build-std=std,panic_abort \
    --release --target wasm32-unknown-unknown --lib --target-dir target/size
  raw=target/size/wasm32-unknown-unknown/release/analytics_wasm.wasm
else
  echo "warning: $SIZE_TOOLCHAIN with rust-src not found (run scripts/setup.sh): building with stable, larger" >&2
  cargo build --release --target wasm32-unknown-unknown --lib
  raw=target/wasm32-unknown-unknown/release/analytics_wasm.wasm
fi
# What shipped, before wasm-opt (the bench's size breakdown reads it).
mkdir -p target/shipped && cp "$raw" target/shipped/analytics_wasm.wasm
rm -rf pkg && mkdir -p pkg
# --converge repeats -Oz while it still shrinks; the target-features section
# is only read by tools, not by browsers. --low-memory-unused lets wasm-opt
# fold constant offsets into loads and stores (-114 B gzip): it holds, as
# Rust lays the stack out first, from 1 MiB down, and the data above it, so
# nothing lives in the low 1 KiB unless the stack is 1 MiB deep. A second
# round on control flow rebuilt from flat IR (--flatten --rereloop, then
# -Oz again) is 93 B fewer.
# --reorder-functions puts the most called first, with the smallest
# indices, and one more -Oz round after it gains from them (-97 B gzip in
# all). Then, on their own so the map is printed once, the
# exports get one-letter names (--minify-imports-and-exports, -94 B):
# scripts/lib/export-names.mjs gives core.js the same names below.
features="--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals"
./node_modules/.bin/wasm-opt -Oz --flatten --rereloop -Oz --converge --low-memory-unused --reorder-functions -Oz \
  --strip-debug --strip-producers --strip-target-features $features "$raw" -o target/shipped/optimized.wasm
./node_modules/.bin/wasm-opt --minify-imports-and-exports $features target/shipped/optimized.wasm \
  -o pkg/analytics-core.wasm > target/shipped/export-names.json

# The same core compiled to JavaScript, for where WebAssembly cannot run (no
# WebAssembly, a CSP without 'wasm-unsafe-eval'): an MVP build of the crate
# (wasm2js takes no post-MVP features), wasm-opt, wasm2js, and a script that
# makes a fresh instance per call (scripts/lib/wasm2js-module.mjs, below).
if size_toolchain_ready; then
  RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Ctarget-cpu=mvp" \
    cargo "+$SIZE_TOOLCHAIN" build -Z build-std=std,panic_abort \
    --release --target wasm32-unknown-unknown --lib --target-dir target/mvp
else
  RUSTFLAGS="-Ctarget-cpu=mvp" cargo build --release --target wasm32-unknown-unknown --lib --target-dir target/mvp
fi
./node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
  target/mvp/wasm32-unknown-unknown/release/analytics_wasm.wasm -o target/mvp/optimized.wasm
./node_modules/.bin/wasm-opt --minify-imports-and-exports target/mvp/optimized.wasm \
  -o target/mvp/analytics-core-mvp.wasm > target/mvp/export-names.json
./node_modules/.bin/wasm2js -Oz target/mvp/analytics-core-mvp.wasm -o target/mvp/analytics-core.wasm2js.js

version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
for file in js/*.js js/index.d.ts; do
  case "$file" in
    js/context.js | js/asset-keys.js) sed "s/__VERSION__/$version/" "$file" > "pkg/${file#js/}" ;;
    *) cp "$file" pkg/ ;;
  esac
done
# core.js calls the wasm's exports by the short names wasm-opt gave them.
node scripts/lib/export-names.mjs target/shipped/export-names.json target/mvp/export-names.json pkg/core.js
# The two entries as one module each; the two scripts index.js loads by URL:
# the recorder, its driver and leaves, and the core compiled to JavaScript.
node scripts/lib/bundle.mjs pkg
node scripts/lib/wasm2js-module.mjs target/mvp/analytics-core.wasm2js.js pkg/analytics-core.js pkg
# The package's page on the registry shows its README; both licences ship.
cp README.md LICENSE-MIT LICENSE-APACHE pkg/
node -e '
  const fs = require("fs");
  const manifest = JSON.parse(fs.readFileSync("js/package.json", "utf8"));
  manifest.version = process.argv[1];
  fs.writeFileSync("pkg/package.json", JSON.stringify(manifest, null, 2) + "\n");
' "$version"

node scripts/sizes.mjs pkg/analytics-core.wasm pkg/*.js
