#!/usr/bin/env bash
# Installs what the build and the tests need, skipping what is already there.
#   setup.sh rust     wasm32 target + wasm-bindgen-cli at the version in Cargo.lock
#   setup.sh node     npm packages (package-lock.json)
#   setup.sh browser  Chromium + ChromeDriver, Firefox ESR, WebKitGTK's WebKitWebDriver + MiniBrowser,
#                     Xvfb (Debian packages), geckodriver (crates.io) for wasm-bindgen-test in Firefox
#   setup.sh services redis-server + PostgreSQL + nginx + Caddy (Debian packages), for the server
#                     half's tests and the gateway's forward auth beside real proxies
#   setup.sh bench    wrk (Debian package), for npm run bench:gateway (not part of "all")
#   setup.sh          all of them
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"

say() { echo "setup: $*" >&2; }

rust() {
  if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  local want
  want="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)"
  local have=""
  if command -v wasm-bindgen >/dev/null 2>&1; then
    have="$(wasm-bindgen --version | awk '{print $2}')"
  fi
  if [ "$have" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (have: ${have:-none})"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

node_pkgs() {
  if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/binaryen ] || [ ! -d node_modules/typescript ] || [ ! -d node_modules/esbuild ] || [ ! -d node_modules/oidc-provider ] \
     || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages"
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  fi
}

browser() {
  local need=()
  if [ -z "${CHROME_PATH:-}" ] || [ -z "${CHROMEDRIVER:-}" ]; then
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
  fi
  command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
  command -v WebKitWebDriver >/dev/null 2>&1 || need+=(webkit2gtk-driver)
  # xvfb-run comes with Xvfb (package xvfb) and needs xauth.
  { command -v Xvfb && command -v xvfb-run; } >/dev/null 2>&1 || need+=(xvfb)
  command -v xauth >/dev/null 2>&1 || need+=(xauth)
  if [ "${#need[@]}" -gt 0 ]; then
    say "installing Debian ${need[*]}"
    apt_install "${need[@]}"
  fi
  # wasm-bindgen-test drives Firefox through geckodriver (the e2e tier needs none: WebDriver BiDi).
  if ! command -v geckodriver >/dev/null 2>&1; then
    say "installing geckodriver (crates.io)"
    cargo install geckodriver --version 0.37.1 --locked
  fi
}

apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  if [ -z "${APT_UPDATED:-}" ]; then $sudo apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

services() {
  local need=()
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
  # The tests run their own nginx and Caddy on free loopback ports (tests/gateway/lib.mjs);
  # the services the packages enable are not used.
  command -v nginx >/dev/null 2>&1 || need+=(nginx)
  command -v caddy >/dev/null 2>&1 || need+=(caddy)
  if [ "${#need[@]}" -gt 0 ]; then
    say "installing Debian ${need[*]}"
    apt_install "${need[@]}"
  fi
}

case "$what" in
  rust) rust ;;
  node) node_pkgs ;;
  browser) browser ;;
  services) services ;;
  bench) command -v wrk >/dev/null 2>&1 || { say "installing Debian wrk"; apt_install wrk; } ;;
  all) rust; node_pkgs; browser; services ;;
  *) echo "usage: setup.sh [rust|node|browser|services|bench|all]" >&2; exit 2 ;;
esac
