# Sourced by setup.sh and build.sh: the pinned nightly that builds the
# shipped wasm (see build.sh for why), and whether it is ready to use.
SIZE_TOOLCHAIN=nightly-2026-05-20

size_toolchain_ready() {
  local sysroot
  sysroot=$(rustup run "$SIZE_TOOLCHAIN" rustc --print sysroot 2>/dev/null) || return 1
  [ -d "$sysroot/lib/rustlib/src/rust/library" ] && [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]
}
