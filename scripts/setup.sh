#!/usr/bin/env bash
# Installs everything the build and tests need on a fresh machine of this
# kind, skipping what is already there. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== setup: %s\n' "$*"; }

step "Rust components and the wasm32 target"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown

step "The pinned nightly for the size-optimised wasm (see scripts/build.sh)"
source scripts/lib/size-toolchain.sh
if size_toolchain_ready; then
  echo "$SIZE_TOOLCHAIN already installed"
else
  # About 15 s and 770 MB; the build falls back to stable if this fails.
  rustup toolchain install "$SIZE_TOOLCHAIN" --profile minimal --component rust-src \
    --target wasm32-unknown-unknown --no-self-update \
    || echo "warning: could not install $SIZE_TOOLCHAIN; the wasm will be built with stable"
fi

step "From Debian: Chromium (+ChromeDriver), Firefox ESR, WebKitGTK's WebKitWebDriver, Xvfb, sqlite3, nats-server, postgresql, clickhouse-server, haproxy"
# Every browser and server the tests run comes from Debian's packages; nothing is
# downloaded at run time. Another apt process may hold the dpkg lock: wait.
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v firefox >/dev/null || need+=(firefox-esr)
command -v WebKitWebDriver >/dev/null || need+=(webkit2gtk-driver)
command -v Xvfb >/dev/null || need+=(xvfb)
# The sqlite3 command line: the tests and the demo read what the collector stored.
command -v sqlite3 >/dev/null || need+=(sqlite3)
# The collector's distributed roles' tests start these on 127.0.0.1 themselves
# (collector/tests/services): a JetStream cluster, Postgres (run as the
# postgres user), ClickHouse, and HAProxy in front of the ingest nodes.
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v clickhouse-server >/dev/null || [ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server clickhouse-client)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  apt="$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qq"
  $apt update && $apt install -y "${need[@]}"
fi
chromium --version 2>/dev/null | head -1
firefox --version 2>/dev/null | head -1
echo "WebKitWebDriver: $(command -v WebKitWebDriver)"
# Installing postgresql starts a cluster on port 5432 as a service; the tests
# run their own servers on free ports and need none of it.
echo "$(/usr/sbin/nats-server --version 2>/dev/null || true); $(/usr/lib/postgresql/15/bin/postgres --version 2>/dev/null || true); $(clickhouse-client --version 2>/dev/null | head -1 || true); $(haproxy -v 2>/dev/null | head -1 || true)"

step "npm packages"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules up to date"
fi
