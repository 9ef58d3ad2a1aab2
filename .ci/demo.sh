#!/usr/bin/env bash
# npm run demo: build the package and serve www-demo on 127.0.0.1:${PORT:-8080}.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-${npm_config_port:-8080}}"
bash .ci/build.sh --if-missing
cargo build -q -p autologoff-demo-server
echo "autologoff demo: open http://127.0.0.1:${PORT}/ (log in, then wait for the warning and the lock)"
exec target/debug/autologoff-demo-server --port "$PORT" --root www-demo --pkg pkg \
  --idle-secs "${DEMO_SERVER_IDLE_SECS:-120}" --audit-file "${DEMO_AUDIT_FILE:-www-demo/audit.jsonl}"
