// Build step: the exported functions come first in the module, next to each other.
// V8 names an exported wasm function after its index (the JS API's ToString(funcIndex)) when
// it instantiates the module, through its number-to-string cache: 128 entries, slot
// `n & 127`, the numbers below 100 taken from a fixed table. The first time two numbers of
// 100 or more share a slot before the next full GC, the cache is replaced by its full size
// for good (64 KB of JS heap). wasm-bindgen's exports sat anywhere among ~400 functions
// (252 and 380 shared a slot); fewer than 128 in a row never do. (First rather than last:
// the module is also ~80 bytes smaller gzipped.)
// usage: node .ci/order-exports.mjs in.wasm out.wasm   (before wasm-opt, which keeps the order)
//        node .ci/order-exports.mjs --check pkg.wasm  (fails when two exports share a slot)
import binaryen from "binaryen";
import { readFileSync, writeFileSync } from "node:fs";
import { readLeb } from "./leb128.mjs";

const args = process.argv.slice(2);
if (args[0] === "--check") {
  const b = readFileSync(args[1]);
  let p = 8;
  const leb = () => { const [v, next] = readLeb(b, p); p = next; return v; };
  const slots = new Map();
  while (p < b.length) {
    const id = b[p++], size = leb(), end = p + size;
    if (id === 7) {
      for (let n = leb(); n > 0; n--) {
        const len = leb(), field = b.subarray(p, p + len).toString();
        p += len;
        const kind = b[p++], index = leb();
        if (kind !== 0 || index < 100) continue;
        const other = slots.get(index & 127);
        if (other) {
          console.error(`order-exports: exports ${other} and ${field} (function ${index}) share a slot of V8's number-string cache`);
          process.exit(1);
        }
        slots.set(index & 127, field);
      }
    }
    p = end;
  }
  process.exit(0);
}

const [inPath, outPath] = args;
binaryen.setDebugInfo(true); // keep the name section: wasm-opt drops it
const m = binaryen.readBinary(readFileSync(inPath));
const exported = new Set();
for (let i = 0; i < m.getNumExports(); i++) {
  const e = binaryen.getExportInfo(m.getExportByIndex(i));
  if (e.kind === binaryen.ExternalFunction) exported.add(e.value);
}
// Every other function moves behind them, in its order: re-added under the same name, with
// the same body (every call, export and table entry still refers to it).
const moved = [];
for (let i = 0; i < m.getNumFunctions(); i++) {
  const f = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
  if (!f.module && !exported.has(f.name)) moved.push(f);
}
for (const f of moved) {
  m.removeFunction(f.name);
  m.addFunction(f.name, f.params, f.results, f.vars, f.body);
}
if (!m.validate()) throw new Error("order-exports: the module no longer validates");
writeFileSync(outPath, m.emitBinary());
console.error(`order-exports: ${exported.size} exported functions first`);
