#!/usr/bin/env bash
# npm run demo:gateway: a plain Node ward app (www-demo/gateway/ward.mjs, no autologoff code of
# its own) behind `autologoff-server gateway`, which signs in through the app's own login page
# and puts the SDK on its pages (zero code: --inject-sdk). WARD_SDK=app: the app loads the SDK
# itself instead (ward-sdk.js, Autologoff-Inject: off).
# Open http://127.0.0.1:${PORT:-8080}/ and sign in (any name, password "demo").
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-${npm_config_port:-8080}}"
APP_PORT="${APP_PORT:-3000}"
bash .ci/build.sh --if-missing
cargo build -q -p autologoff-server
IDLE_SECS="${DEMO_SERVER_IDLE_SECS:-120}"
if [ "${WARD_SDK:-}" = app ]; then sdk=(--public /pkg); else sdk=(--inject-sdk --sdk-dir pkg); fi
IDLE_MS=$((IDLE_SECS * 1000)) node www-demo/gateway/ward.mjs "$APP_PORT" &
app=$!
trap 'kill "$app" 2>/dev/null' EXIT
echo "autologoff gateway demo: open http://127.0.0.1:${PORT}/ (the ward app itself is on :${APP_PORT}, unguarded; do not expose it)"
target/debug/autologoff-server gateway --listen "127.0.0.1:${PORT}" --upstream "http://127.0.0.1:${APP_PORT}" \
  --login-from-upstream /login --public /public "${sdk[@]}" \
  --idle-secs "$IDLE_SECS" --audit "sqlite:${DEMO_AUDIT_DB:-www-demo/gateway-audit.db}"
