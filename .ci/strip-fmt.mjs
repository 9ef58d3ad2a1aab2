// Build step: drop core::fmt from the wasm. The shipped crate never formats (its panic
// handler ignores the message: src/api.rs), yet a panic site's `fmt::Arguments` still holds
// pointers to `Display` impls, which keeps `Formatter::pad` and integer printing (~2 KB) in the
// table. Nothing can call them: a `Formatter` is only ever made by `core::fmt::write`, and the
// build fails if that is linked. Each such function's body becomes `unreachable`; wasm-opt
// then drops what only they used.
// usage: node .ci/strip-fmt.mjs in.wasm out.wasm   (in.wasm must still have its name section)
import { readFileSync, writeFileSync } from "node:fs";
import { readLeb, encLeb } from "./leb128.mjs";

const [inPath, outPath] = process.argv.slice(2);
const b = readFileSync(inPath);
let p = 8;
const leb = () => {
  const [v, next] = readLeb(b, p);
  p = next;
  return v;
};
const enc = encLeb;

// First pass: imported function count, code section bounds, function names.
const sections = [];
let nImports = 0, names = new Map();
while (p < b.length) {
  const start = p, id = b[p++], size = leb(), body = p, end = p + size;
  sections.push({ id, start, body, end });
  if (id === 2) {
    const n = leb();
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 2; j++) { const l = leb(); p += l; }
      const k = b[p++];
      if (k === 0) { leb(); nImports++; }
      else if (k === 1) { p++; const f = b[p++]; leb(); if (f & 1) leb(); }
      else if (k === 2) { const f = b[p++]; leb(); if (f & 1) leb(); }
      else if (k === 3) p += 2;
      else throw new Error("strip-fmt: unknown import kind " + k);
    }
  } else if (id === 0) {
    const l = leb(); const cname = b.subarray(p, p + l).toString(); p += l;
    if (cname === "name") {
      while (p < end) {
        const sid = b[p++], ss = leb(), se = p + ss;
        if (sid === 1) {
          const n = leb();
          for (let i = 0; i < n; i++) { const idx = leb(); const l2 = leb(); names.set(idx, b.subarray(p, p + l2).toString()); p += l2; }
        }
        p = se;
      }
    }
  }
  p = end;
}
if (names.size === 0) throw new Error("strip-fmt: no name section in " + inPath);
for (const n of names.values()) {
  if (/core(\[[0-9a-f]+\])?::fmt::write(::|$)/.test(n)) {
    throw new Error(`strip-fmt: ${n} is linked: the crate formats somewhere, core::fmt cannot be dropped`);
  }
}
const dead = (n) => /fmt::Formatter(\[[0-9a-f]+\])?>::pad|fmt::(Display|Debug|LowerHex|UpperHex)>::fmt$/.test(n);

const out = [b.subarray(0, 8)];
let stubbed = 0;
for (const s of sections) {
  if (s.id !== 10) { out.push(b.subarray(s.start, s.end)); continue; }
  p = s.body;
  const n = leb();
  const parts = [enc(n)];
  for (let i = 0; i < n; i++) {
    const size = leb(), from = p;
    p += size;
    if (dead(names.get(nImports + i) || "")) {
      parts.push(Buffer.from([3, 0, 0x00, 0x0b])); // no locals; unreachable; end
      stubbed++;
    } else {
      parts.push(enc(size), b.subarray(from, p));
    }
  }
  const body = Buffer.concat(parts);
  out.push(Buffer.from([10]), enc(body.length), body);
}
writeFileSync(outPath, Buffer.concat(out));
console.error(`strip-fmt: ${stubbed} formatting functions replaced by unreachable`);
