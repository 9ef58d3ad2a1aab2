#!/usr/bin/env bash
# npm run demo: build the package and serve www-demo with autologoff-server on the embedded
# defaults (memory session store, SQLite audit file) at 127.0.0.1:${PORT:-8080}.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-${npm_config_port:-8080}}"
bash .ci/build.sh --if-missing
cargo build -q -p autologoff-server
echo "autologoff demo: open http://127.0.0.1:${PORT}/ (sign in, then wait for the warning and the lock)"
exec target/debug/autologoff-server --listen "127.0.0.1:${PORT}" --demo-login --static www-demo --pkg pkg \
  --idle-secs "${DEMO_SERVER_IDLE_SECS:-120}" --audit "sqlite:${DEMO_AUDIT_DB:-www-demo/audit.db}"
