#!/usr/bin/env bash
# npm test [TIER ...]: every tier, or the named ones (npm run test:<tier>), installing and
# building only what those tiers need. Fails if any tier fails.
#   host     cargo test (pure core; autologoff-server against a real Redis and Postgres)
#   browser  wasm-bindgen-test (edges) in Chromium, Firefox ESR and WebKitGTK
#   types    tsc --strict over pkg/index.d.ts (with @ts-expect-error misuse lines)
#   packaging  npm pack of pkg/ installed into a Vite and a webpack 5 app (no wasm plugin), built, locking in
#            Chromium, Firefox ESR and WebKitGTK; a Vite + React app (Chromium); SSR import
#   server   two autologoff-server processes on one Redis and one Postgres (node:test)
#   gateway  autologoff-server gateway beside the real nginx (auth_request) and Caddy (forward_auth)
#            with the README's configurations (node:test; its Rust tests run in host); the ward app
#            in Chromium; zero code (--inject-sdk, tests/gateway/inject.test.mjs) in all three engines
#   e2e      node:test against autologoff-server, on the built pkg/, in each engine (AUTOLOGOFF_ENGINE):
#            Chromium and Firefox through Playwright, WebKitGTK through WebDriver (tests/e2e/webdriver.mjs)
#   size     what ships, against the budget (docs/size.md)
set -uo pipefail
cd "$(dirname "$0")/.."
export NO_PROXY="${NO_PROXY:-127.0.0.1,localhost}"
export no_proxy="$NO_PROXY"
ALL=(host browser types packaging server gateway e2e size)
if [ "$#" -gt 0 ]; then tiers=("$@"); else tiers=("${ALL[@]}"); fi
for t in "${tiers[@]}"; do
  [[ " ${ALL[*]} " == *" $t "* ]] || { echo "test.sh: unknown tier '$t' (tiers: ${ALL[*]})" >&2; exit 2; }
done
has() { [[ " ${tiers[*]} " == *" $1 "* ]]; }
any() { for t in "$@"; do has "$t" && return 0; done; return 1; }

set -e
# What the chosen tiers need, installed once.
any browser types packaging gateway e2e size && bash .ci/setup.sh rust
# host: the OIDC tests run the npm package oidc-provider as the identity provider.
any host types packaging gateway e2e size && bash .ci/setup.sh node
any browser packaging gateway e2e && bash .ci/setup.sh browser
any host server gateway e2e && bash .ci/setup.sh services
if any browser packaging gateway e2e; then
  if [ -z "${CHROMEDRIVER:-}" ]; then export CHROMEDRIVER="$(command -v chromedriver)"; fi
  if [ -z "${CHROME_PATH:-}" ]; then export CHROME_PATH="$(command -v chromium)"; fi
fi
# pkg/ (rebuilt when a source is newer than the wasm) for the tiers that use the package.
any types packaging gateway e2e size && bash .ci/build.sh --if-missing
# The e2e and server tiers drive the server clock through /__test/* (a test-only build feature).
any server gateway e2e && cargo build -q -p autologoff-server --features test-hooks
set +e
LOG="$(mktemp -d)"
summary=()
fail=0

count_cargo() { grep -E "^test result:" "$1" | awk '{p+=$4; f+=$6} END {print p+0, f+0}'; }

host_tier() {
  echo "== host: cargo test (core + autologoff-server with real Redis and Postgres)"
  cargo test --workspace 2>&1 | tee "$LOG/host" | grep -E "^test result|FAILED|panicked"
  rc=${PIPESTATUS[0]}; read -r p f < <(count_cargo "$LOG/host")
  summary+=("host $p passed/$f failed"); [ "$rc" = 0 ] || fail=1
}
has host && host_tier

# wasm-bindgen-test-runner gives the page 20 s to load and run every test (about 7 s here);
# on a slow moment of a shared machine that was not enough ("Failed to detect test as having
# been run"). A test's own time limits are in the tests, not this.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-120}"
# wasm-bindgen-test-runner picks its driver from the environment: one engine at a time.
browser_tier() {
  local engine="$1"; shift
  echo "== browser: wasm-bindgen-test in $engine"
  env -u CHROMEDRIVER -u GECKODRIVER -u SAFARIDRIVER "$@" \
    cargo test --target wasm32-unknown-unknown -p autologoff --test browser 2>&1 | tee "$LOG/browser-$engine" | grep -E "^test |^test result|panicked"
  rc=${PIPESTATUS[0]}
  # The runner could not get the page to load the tests (a renderer that never answered):
  # no test ran, so once more. A test that ran and failed is never retried.
  if [ "$rc" != 0 ] && grep -q "Failed to detect test as having been run" "$LOG/browser-$engine" && ! grep -q "^test " "$LOG/browser-$engine"; then
    echo "# browser[$engine]: the runner never loaded the tests; once more"
    env -u CHROMEDRIVER -u GECKODRIVER -u SAFARIDRIVER "$@" \
      cargo test --target wasm32-unknown-unknown -p autologoff --test browser 2>&1 | tee "$LOG/browser-$engine" | grep -E "^test |^test result|panicked"
    rc=${PIPESTATUS[0]}
  fi
  read -r p f < <(count_cargo "$LOG/browser-$engine")
  summary+=("browser[$engine] $p passed/$f failed"); [ "$rc" = 0 ] && [ "$p" -gt 0 ] || fail=1
}
if has browser; then
  browser_tier chromium CHROMEDRIVER="$CHROMEDRIVER"
  browser_tier firefox GECKODRIVER="$(command -v geckodriver)" GECKODRIVER_ARGS="--binary $(command -v firefox-esr)"
  browser_tier webkit SAFARIDRIVER="$(command -v WebKitWebDriver)" SAFARIDRIVER_ARGS="--host=127.0.0.1" LIBGL_ALWAYS_SOFTWARE=1 xvfb-run -a
fi

if has types; then
  echo "== types: tsc --strict"
  n=$(grep -c "@ts-expect-error" tests/types/usage.ts)
  if node_modules/.bin/tsc -p tests/types && node_modules/.bin/tsc -p tests/types/glue.tsconfig.json; then
    summary+=("types $n misuse checks + usage compiled, glue checked")
  else summary+=("types FAILED"); fail=1; fi
fi

packaging_tier() {
  echo "== packaging: npm pack -> Vite and webpack 5 apps in Chromium, Firefox and WebKitGTK; React; SSR import"
  node --test --test-concurrency=1 --test-reporter=spec tests/packaging/*.test.mjs 2>&1 | tee "$LOG/packaging" | grep -vE "^\s+at "
  rc=${PIPESTATUS[0]}
  p=$(grep -E "ℹ pass" "$LOG/packaging" | awk '{print $3}'); f=$(grep -E "ℹ fail" "$LOG/packaging" | awk '{print $3}')
  # the apps that locked, per engine (subtests "<engine>: the <bundler> app locks")
  per=""
  for e in chromium firefox webkit; do per+="${per:+ }$e $(grep -cE "✔ $e: the .* app locks" "$LOG/packaging")/2"; done
  summary+=("packaging ${p:-0} passed/${f:-?} failed (apps locked: $per)"); [ "$rc" = 0 ] || fail=1
}
has packaging && packaging_tier

server_tier() {
  echo "== server: autologoff-server replicas on real Redis and Postgres"
  node --test --test-concurrency=1 --test-reporter=spec tests/server/*.test.mjs 2>&1 | tee "$LOG/server" | grep -vE "^\s+at "
  rc=${PIPESTATUS[0]}
  p=$(grep -E "ℹ pass" "$LOG/server" | awk '{print $3}'); f=$(grep -E "ℹ fail" "$LOG/server" | awk '{print $3}')
  summary+=("server ${p:-0} passed/${f:-?} failed"); [ "$rc" = 0 ] || fail=1
}
has server && server_tier

gateway_tier() {
  echo "== gateway: forward auth beside real nginx and Caddy; zero code (--inject-sdk) in each engine"
  node --test --test-concurrency=1 --test-reporter=spec tests/gateway/*.test.mjs 2>&1 | tee "$LOG/gateway" | grep -vE "^\s+at "
  rc=${PIPESTATUS[0]}
  for engine in firefox webkit; do
    AUTOLOGOFF_ENGINE="$engine" node --test --test-reporter=spec tests/gateway/inject.test.mjs 2>&1 | tee -a "$LOG/gateway" | grep -vE "^\s+at "
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  done
  p=$(grep -E "ℹ pass" "$LOG/gateway" | awk '{s+=$3} END {print s}'); f=$(grep -E "ℹ fail" "$LOG/gateway" | awk '{s+=$3} END {print s}')
  summary+=("gateway ${p:-0} passed/${f:-?} failed"); [ "$rc" = 0 ] || fail=1
}
has gateway && gateway_tier

# Every file runs in every engine: Chromium and Firefox through Playwright, WebKitGTK through
# tests/e2e/webdriver.mjs (no Playwright build for it). A test an engine cannot run is skipped
# there with its reason (CDP, page.clock, page.route, setOffline or print emulation; Playwright
# locators, which the WebDriver client lacks); skips are counted apart.
e2e_tier() {
  local engine="$1"; shift
  echo "== e2e: $engine against autologoff-server"
  AUTOLOGOFF_ENGINE="$engine" node --test --test-concurrency=1 --test-reporter=spec "$@" 2>&1 | tee "$LOG/e2e-$engine" | grep -vE "^\s+at "
  rc=${PIPESTATUS[0]}
  p=$(grep -E "ℹ pass" "$LOG/e2e-$engine" | awk '{print $3}'); f=$(grep -E "ℹ fail" "$LOG/e2e-$engine" | awk '{print $3}')
  k=$(grep -E "ℹ skipped" "$LOG/e2e-$engine" | awk '{print $3}')
  summary+=("e2e[$engine] ${p:-0} passed/${f:-?} failed (${k:-0} skipped)"); [ "$rc" = 0 ] || fail=1
}
if has e2e; then
  # AUTOLOGOFF_E2E_ENGINES="chromium" (say) runs the e2e tier in fewer engines.
  for engine in ${AUTOLOGOFF_E2E_ENGINES:-chromium firefox webkit}; do
    e2e_tier "$engine" tests/e2e/*.test.mjs
  done
fi

size_tier() {
  echo "== size: what ships (bytes are deterministic, so this is a check, not a timing)"
  # The budget and why: docs/size.md.
  guard="${AUTOLOGOFF_CI_BUDGET_KB:-36}"
  if AUTOLOGOFF_BUDGET_KB="$guard" node .ci/size.mjs --check | tee "$LOG/size" | tail -3; then
    summary+=("size $(grep -E '^wasm \+ JS total:' "$LOG/size" | awk '{print $5}') B gzip ≤ ${guard} KB (×1000) guard")
  else
    summary+=("size OVER the $guard KB guard"); fail=1
  fi
}
has size && size_tier

echo
if [ "$fail" = 0 ]; then
  echo "autologoff tests: ${summary[*]/%/ ·} — ALL GREEN"
else
  echo "autologoff tests: ${summary[*]/%/ ·} — FAILED"
fi
# One plain closing line for whoever reads only the last line.
total_p=0; total_f=0
for s in "${summary[@]}"; do
  if [[ "$s" =~ ([0-9]+)\ passed/([0-9?]+)\ failed ]]; then
    total_p=$((total_p + BASH_REMATCH[1]))
    [ "${BASH_REMATCH[2]}" = "?" ] && total_f=$((total_f + 1)) || total_f=$((total_f + BASH_REMATCH[2]))
  fi
done
[ "$fail" = 0 ] || [ "$total_f" -gt 0 ] || total_f=1
echo "tests: $total_p passed, $total_f failed"
exit $fail
