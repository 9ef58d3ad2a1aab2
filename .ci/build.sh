#!/usr/bin/env bash
# npm run build: Rust -> wasm (release) -> wasm-bindgen --target web -> wasm-opt -Oz -> pkg/
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--if-missing" ] && [ -f pkg/autologoff_bg.wasm ] && [ pkg/autologoff_bg.wasm -nt src ]; then
  newest_src="$(find src pkg-template Cargo.toml -newer pkg/autologoff_bg.wasm | head -1)"
  [ -z "$newest_src" ] && exit 0
fi
bash .ci/setup.sh rust
bash .ci/setup.sh node
cargo build --release --target wasm32-unknown-unknown -p autologoff
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name autologoff --no-typescript \
  --remove-name-section --remove-producers-section \
  target/wasm32-unknown-unknown/release/autologoff.wasm
node_modules/.bin/wasm-opt -Oz pkg/autologoff_bg.wasm -o pkg/autologoff_bg.wasm
cp pkg-template/index.js pkg-template/index.d.ts pkg-template/package.json pkg-template/README.md pkg/
cp src/web/glue.js pkg/glue.js
echo "build: pkg/ ready ($(wc -c < pkg/autologoff_bg.wasm) bytes of wasm)" >&2
