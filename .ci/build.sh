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
# --no-default-features: the shipped crate is no_std with its own panic handler (src/api.rs).
cargo build --release --target wasm32-unknown-unknown -p autologoff --no-default-features
rm -rf pkg
# The name section stays until strip-fmt has read it; wasm-opt drops it.
wasm-bindgen --target web --out-dir pkg --out-name autologoff --no-typescript \
  --remove-producers-section \
  target/wasm32-unknown-unknown/release/autologoff.wasm
node .ci/strip-fmt.mjs pkg/autologoff_bg.wasm pkg/autologoff_bg.wasm
# The exported functions next to each other (V8's number-string cache: .ci/order-exports.mjs).
node .ci/order-exports.mjs pkg/autologoff_bg.wasm pkg/autologoff_bg.wasm
# --zero-filled-memory: the memory is the module's own (fresh pages are zero);
# --low-memory-unused: no address computation wraps into the first 1 KB (the stack's far end).
node_modules/.bin/wasm-opt -Oz --converge --zero-filled-memory --low-memory-unused \
  --strip-debug --strip-producers --strip-target-features \
  pkg/autologoff_bg.wasm -o pkg/autologoff_bg.wasm
node .ci/order-exports.mjs --check pkg/autologoff_bg.wasm
node .ci/shrink-imports.mjs pkg/autologoff_bg.wasm pkg/autologoff.js
cp pkg-template/index.js pkg-template/index.d.ts pkg-template/package.json pkg-template/README.md pkg/
# One copy of the glue (src/web/glue/, a module per edge), shared by the wasm-bindgen glue and
# index.js (not a second one under snippets/).
mkdir -p pkg/glue
cp src/web/glue/*.js pkg/glue/
sed -i -E "s#'\./snippets/[^']*/src/web/glue/([a-z]+)\.js'#'./glue/\1.js'#g" pkg/autologoff.js
# Imports that need no conversion are taken straight from a module (`import * as x from
# "./snippets/…"`): point that specifier at the same copy (the imports object keeps its key,
# the module name inside the wasm).
sed -i -E 's#from "\./snippets/[^"]*/src/web/glue/([a-z]+)\.js"#from "./glue/\1.js"#g' pkg/autologoff.js
! grep -q 'snippets/' pkg/autologoff.js || { echo "build: glue imports not rewritten" >&2; exit 1; }
rm -rf pkg/snippets
# Ship one minified ES module: index.js with the wasm-bindgen glue and the glue bundled in (one
# request, and one gzip stream is ~750 bytes smaller than three). `new URL("autologoff_bg.wasm",
# import.meta.url)` is left as it is, so an app's bundler still finds and emits the wasm.
node_modules/.bin/esbuild pkg/index.js --bundle --minify --format=esm --log-level=warning \
  --outfile=pkg/index.js --allow-overwrite
grep -q 'new URL("autologoff_bg.wasm",import.meta.url)' pkg/index.js || { echo "build: wasm URL lost in the bundle" >&2; exit 1; }
rm -r pkg/autologoff.js pkg/glue
echo "build: pkg/ ready ($(wc -c < pkg/autologoff_bg.wasm) bytes of wasm)" >&2
