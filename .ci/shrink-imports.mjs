// Build step: give the wasm's JS imports and exports short names, in the .wasm and in the JS
// glue alike. wasm-bindgen names each import `__wbg_<method>_<16 hex digits>`; ~150 of them
// cost ~8 KB raw (hashes don't compress) in the import section and again as object keys in
// the glue. The functions of src/web/glue/*.js (one module "g") and the exports (`wasm.<name>` in the glue:
// closure invokes carry a hash too) get short names the same way.
// usage: node .ci/shrink-imports.mjs pkg/autologoff_bg.wasm pkg/autologoff.js
import { readFileSync, writeFileSync } from "node:fs";
import { readLeb, encLeb } from "./leb128.mjs";

const [wasmPath, jsPath] = process.argv.slice(2);
const b = readFileSync(wasmPath);
let js = readFileSync(jsPath, "utf8");

let p = 8;
const leb = () => {
  const [v, next] = readLeb(b, p);
  p = next;
  return v;
};
const enc = encLeb;
const str = (s) => { const t = Buffer.from(s, "utf8"); return Buffer.concat([enc(t.length), t]); };

const out = [b.subarray(0, 8)];
const renamed = new Map();
let short = 0;
/** The glue's modules as the wasm names them (`./snippets/<crate>/src/web/glue/<edge>.js`). */
const snippets = new Set();
let bg = null;
/** A glue function -> its short import name (module "g"). */
const glueNames = new Map();
/** A glue function -> the module it is exported by. */
const glueModule = new Map();
/** export -> its short name. */
const exported = new Map();
const name = (i) => {
  // a, b, …, z, A, …, Z, aa, ab, …: valid JS identifiers, never a reserved word of two letters or less
  const abc = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  let s = "";
  do { s = abc[i % abc.length] + s; i = Math.floor(i / abc.length) - 1; } while (i >= 0);
  return ["do", "if", "in"].includes(s) ? "_" + s : s;
};
while (p < b.length) {
  const start = p;
  const id = b[p++];
  const size = leb();
  const bodyStart = p;
  const end = p + size;
  if (id === 7) {
    const n = leb();
    const parts = [enc(n)];
    for (let i = 0; i < n; i++) {
      const l = leb(); const field = b.subarray(p, p + l).toString(); p += l;
      const descStart = p;
      p++; leb();
      exported.set(field, name(i));
      parts.push(str(name(i)), b.subarray(descStart, p));
    }
    if (p !== end) throw new Error("export section parse mismatch");
    const body = Buffer.concat(parts);
    out.push(Buffer.from([7]), enc(body.length), body);
    continue;
  }
  if (id !== 2) { out.push(b.subarray(start, end)); p = end; continue; }
  const n = leb();
  const parts = [enc(n)];
  for (let i = 0; i < n; i++) {
    const ml = leb(); const mod = b.subarray(p, p + ml).toString(); p += ml;
    const fl = leb(); const field = b.subarray(p, p + fl).toString(); p += fl;
    const descStart = p;
    const kind = b[p++];
    if (kind === 0) leb();
    else if (kind === 1) { p++; const f = b[p++]; leb(); if (f & 1) leb(); }
    else if (kind === 2) { const f = b[p++]; leb(); if (f & 1) leb(); }
    else if (kind === 3) { p += 2; }
    else throw new Error("unknown import kind " + kind);
    let f = field;
    if (/^__wbg_|^__wbindgen_/.test(field) && mod.endsWith("_bg.js")) {
      if (!renamed.has(field)) renamed.set(field, name(short++));
      f = renamed.get(field);
    }
    // The glue's modules (src/web/glue/*.js) are imported under long hashed module names: all
    // of them are "g" (their function names are unique across them).
    // …and wasm-bindgen's own import module ("./autologoff_bg.js", ~70 times): "b".
    const m = /\/snippets\/[^/]+\/src\/web\/glue\/[a-z]+\.js$/.test(mod) ? "g" : mod.endsWith("_bg.js") ? "b" : mod;
    if (m === "b") bg = mod;
    if (m === "g") {
      snippets.add(mod);
      if (glueModule.has(field) && glueModule.get(field) !== mod) throw new Error(`shrink-imports: ${field} is exported by two glue modules`);
      glueModule.set(field, mod);
      if (!glueNames.has(field)) glueNames.set(field, name(glueNames.size));
      f = glueNames.get(field);
    }
    parts.push(str(m), str(f), b.subarray(descStart, p));
  }
  if (p !== end) throw new Error("import section parse mismatch");
  const body = Buffer.concat(parts);
  out.push(Buffer.from([2]), enc(body.length), body);
  void bodyStart;
}

// Rename the keys in the glue: each old name must occur exactly once, as `name:` in the imports object.
for (const [from, to] of renamed) {
  const re = new RegExp(`\\b${from}\\b`, "g");
  const hits = js.match(re)?.length ?? 0;
  if (hits !== 1) throw new Error(`shrink-imports: ${from} occurs ${hits} times in ${jsPath}`);
  js = js.replace(re, to);
}
// …and so are the glue modules' keys in the glue's imports object (one per `import * as` of a
// module, once per Rust block): one "g", a plain object of the namespaces' members (a bundler
// resolves each one; no namespace object is built).
if (snippets.size) {
  const ns = new Map();
  for (const mod of snippets) {
    const key = JSON.stringify(mod);
    const vars = [...js.matchAll(new RegExp(`^\\s*${key.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: (import\\d+),\\n`, "gm"))];
    if (!vars.length) throw new Error(`shrink-imports: ${key} is not a key in ${jsPath}`);
    ns.set(mod, vars[0][1]);
    for (const [line, v] of vars) {
      js = js.replace(line, "");
      if (v !== vars[0][1]) js = js.replace(new RegExp(`^import \\* as ${v} from .*\\n`, "m"), "");
    }
  }
  const members = [...glueNames].map(([from, to]) => `${to}: ${ns.get(glueModule.get(from))}.${from}`).join(", ");
  // Put in the imports object, before wasm-bindgen's own module (renamed "b" below).
  const at = js.indexOf(JSON.stringify(bg) + ":");
  if (at < 0) throw new Error(`shrink-imports: no imports object in ${jsPath}`);
  js = js.slice(0, at) + `"g": { ${members} },\n        ` + js.slice(at);
}
if (bg) {
  const key = JSON.stringify(bg) + ":";
  if (js.split(key).length !== 2) throw new Error(`shrink-imports: ${key} is not a key of ${jsPath} once`);
  js = js.replace(key, '"b":');
}
// Exports: the glue reads each one as `wasm.<name>`.
for (const [from, to] of exported) {
  js = js.replace(new RegExp(`\\bwasm\\.${from}\\b`, "g"), `wasm.${to}`);
}
const left = [...js.matchAll(/\bwasm\.([A-Za-z_$][\w$]*)/g)].map((x) => x[1]).filter((x) => !/^[A-Za-z]{1,2}$|^_(do|if|in)$/.test(x));
if (left.length) throw new Error(`shrink-imports: ${jsPath} reads exports it does not have: ${[...new Set(left)].join(", ")}`);
writeFileSync(wasmPath, Buffer.concat(out));
writeFileSync(jsPath, js);
console.error(`shrink-imports: ${renamed.size + glueNames.size} imports and ${exported.size} exports renamed`);
