// Bundles the peers with esbuild (in memory) and measures what each library ships.
//   - react-idle-timer: 5.x has no framework-free API (no createIdleTimer export; only the
//     useIdleTimer hook, withIdleTimer and IdleTimerProvider), so the page mounts useIdleTimer in a
//     React root on a detached <div>: React's own delegated listeners never see the page's events,
//     only the hook's document listeners do
//   - @ng-idle/core: the real Idle service, constructed by hand outside Angular's DI
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { pkgFiles } from "../.ci/pkg-files.mjs";
import * as esbuild from "esbuild";

const ROOT = new URL("../", import.meta.url).pathname;
const gz = (buf) => gzipSync(buf, { level: 9 }).length;

// @ng-idle/core is published in Angular's "partial compilation" form: its DI metadata
// (ɵɵngDeclareFactory/Injectable/NgModule/ClassMetadata) must be processed by Angular's linker
// in an Angular build, or by the JIT compiler at run time. The bench constructs Idle by hand,
// so it strips those declarations (the service's own code is left untouched).
const stripNgDeclare = {
  name: "strip-ng-declare",
  setup(build) {
    build.onLoad({ filter: /ng-idle-core\.mjs$/ }, (args) => {
      let src = readFileSync(args.path, "utf8");
      src = src.replace(/^\s*static \{ this\.ɵ(fac|prov|mod|inj) = i0\.ɵɵngDeclare\w+\(.*\); \}$/gm, "");
      src = src.replace(/^i0\.ɵɵngDeclareClassMetadata\([\s\S]*?\}\);\n\n/gm, "\n");
      if (/ɵɵngDeclare/.test(src)) throw new Error("bench: could not strip every ɵɵngDeclare* call from " + args.path);
      return { contents: src, loader: "js" };
    });
  },
};

// @ng-idle/core takes only isPlatformServer from @angular/common, whose other classes are also
// published partially compiled (they would need the JIT compiler): give it Angular's one-liner.
const commonShim = {
  name: "angular-common-shim",
  setup(build) {
    build.onResolve({ filter: /^@angular\/common$/ }, () => ({ path: "angular-common-shim", namespace: "shim" }));
    build.onLoad({ filter: /.*/, namespace: "shim" }, () => ({
      contents: 'export function isPlatformServer(platformId) { return platformId === "server"; }', loader: "js",
    }));
  },
};

async function bundle(contents, { external = [], plugins = [] } = {}) {
  const r = await esbuild.build({
    stdin: { contents, resolveDir: ROOT, sourcefile: "entry.mjs", loader: "js" },
    bundle: true, minify: true, format: "esm", target: "es2022", platform: "browser",
    define: { "process.env.NODE_ENV": '"production"', ngDevMode: "false" },
    legalComments: "none", write: false, logLevel: "silent", external, plugins,
  });
  const code = r.outputFiles[0].contents;
  return { code: Buffer.from(code), min: code.length, gz: gz(code) };
}

const REACT = ["react", "react-dom", "react/jsx-runtime"];
const ANGULAR = ["@angular/core", "@angular/common", "rxjs", "rxjs/operators", "tslib"];
const RIT_ENTRY = `
import { useIdleTimer } from "react-idle-timer";
import { createElement, useEffect } from "react";
import { createRoot } from "react-dom/client";
/** Resolves with the useIdleTimer API once the hook has started. */
export function createIdleTimer(props) {
  return new Promise((resolve) => {
    function Timer() {
      const api = useIdleTimer(props);
      useEffect(() => resolve(api), []);
      return null;
    }
    createRoot(document.createElement("div")).render(createElement(Timer));
  });
}`;
const RIT_OWN_ENTRY = 'export { useIdleTimer } from "react-idle-timer";';
const NG_ENTRY = 'export { Idle, SimpleExpiry, DocumentInterruptSource, DEFAULT_INTERRUPTSOURCES, AutoResume } from "@ng-idle/core";';

export function version(pkg) {
  return JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
}

/** The files served to the page, and the size rows. */
export async function buildPeers(pkgDir) {
  const rit = await bundle(RIT_ENTRY);                                   // what runs in the page
  const ritOwn = await bundle(RIT_OWN_ENTRY, { external: REACT });           // React left to the app
  const ng = await bundle(NG_ENTRY, { plugins: [stripNgDeclare, commonShim] }); // what runs in the page
  const ngOwn = await bundle(NG_ENTRY, { external: ANGULAR });           // as published, Angular+rxjs left out

  // autologoff: every .js/.wasm file of pkg/ (as `npm run size`), and a minified JS bundle + the wasm
  const files = pkgFiles(pkgDir);
  let raw = 0, gzSum = 0, wasmRaw = 0, wasmGz = 0;
  for (const f of files) {
    const b = readFileSync(f);
    raw += b.length; gzSum += gz(b);
    if (f.endsWith(".wasm")) { wasmRaw += b.length; wasmGz += gz(b); }
  }
  const alJs = await esbuild.build({
    entryPoints: [join(pkgDir, "index.js")], bundle: true, minify: true, format: "esm", target: "es2022",
    platform: "browser", write: false, logLevel: "silent", legalComments: "none",
  });
  const alMin = alJs.outputFiles[0].contents;
  return {
    served: { "rit.js": rit.code, "ngidle.js": ng.code },
    autologoff: { raw, gzSum, files: files.length, wasmRaw, wasmGz, jsMin: alMin.length, jsMinGz: gz(alMin) },
    rit, ritOwn, ng, ngOwn,
  };
}

/** V8 names wasm functions `wasm-function[i]` (pkg/ strips the name section): name them back
 *  where the binary says: exports by their export name, and tiny wrappers whose only call is
 *  to an import as "→ import" (a byte-level guess, good enough for small wrappers) (index space = imported functions first). */
export function wasmFunctionNames(path) {
  const b = readFileSync(path);
  let p = 8;
  const u32 = () => {
    let r = 0, shift = 0, x;
    do { x = b[p++]; r += (x & 0x7f) * 2 ** shift; shift += 7; } while (x & 0x80);
    return r;
  };
  const str = () => { const n = u32(); const s = b.toString("utf8", p, p + n); p += n; return s; };
  const limits = () => { const f = b[p++]; u32(); if (f & 1) u32(); };
  const names = new Map();
  const imports = [];
  while (p < b.length) {
    const id = b[p++];
    const size = u32();
    const end = p + size;
    if (id === 2) { // imports
      for (let n = u32(); n > 0; n--) {
        str();
        const field = str();
        const kind = b[p++];
        if (kind === 0) { u32(); imports.push(field); }
        else if (kind === 1) { p++; limits(); }
        else if (kind === 2) limits();
        else if (kind === 3) p += 2;
        else break;
      }
      imports.forEach((f, i) => names.set(i, "import " + f));
    } else if (id === 7) { // exports
      for (let n = u32(); n > 0; n--) {
        const name = str();
        const kind = b[p++];
        const idx = u32();
        if (kind === 0 && !names.has(idx)) names.set(idx, name);
      }
    } else if (id === 10) { // code: tiny bodies that call exactly one import
      const count = u32();
      for (let i = 0; i < count; i++) {
        const len = u32();
        const bodyEnd = p + len;
        const idx = imports.length + i;
        if (len < 48 && !names.has(idx)) {
          const called = new Set();
          for (let q = p; q < bodyEnd - 1; q++) {
            // a 0x10 byte that is an immediate (of i32/i64.const, or a load/store offset) is no call
            if (b[q - 1] === 0x41 || b[q - 1] === 0x42 || (b[q - 2] >= 0x28 && b[q - 2] <= 0x3e && b[q - 1] <= 3)) continue;
            if (b[q] === 0x10 && b[q + 1] < 0x80 && b[q + 1] < imports.length) called.add(b[q + 1]);
            else if (b[q] === 0x10 && b[q + 1] & 0x80 && b[q + 2] < 0x80) {
              const v = (b[q + 1] & 0x7f) | (b[q + 2] << 7);
              if (v < imports.length) called.add(v);
            }
          }
          if (called.size === 1) names.set(idx, "→ " + imports[[...called][0]]);
        }
        p = bodyEnd;
      }
    }
    p = end;
  }
  return names;
}
