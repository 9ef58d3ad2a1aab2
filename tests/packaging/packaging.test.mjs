// Packaging tier: the package as users get it. `npm pack` of pkg/ (or $AUTOLOGOFF_PKG),
// the tarball installed into a tiny Vite app and a tiny webpack 5 app (no wasm plugin or
// loader in either), each built, served over loopback and opened in each engine (Chromium,
// Firefox ESR, WebKitGTK), where the idle lock must really happen; a Vite + React app in
// Chromium; plus an SSR import in a bare Node process.
// The projects are copied to a temp dir first, so the work tree is never modified.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, relative, sep } from "node:path";
import { promisify } from "node:util";
import { ENGINES, ROOT, launch, waitFor } from "../e2e/lib.mjs";

const run = promisify(execFile);
const HERE = new URL(".", import.meta.url).pathname;
const PKG = process.env.AUTOLOGOFF_PKG || join(ROOT, "pkg");
const BIN = join(ROOT, "node_modules/.bin");
const OPTS = { idleTimeoutMs: 1500, warnBeforeMs: 500, crossTab: false };

let work, tarball, packed, unpacked, browser;
/** One browser per engine, launched when first needed (`browser` is Chromium's). */
const browsers = new Map();
async function browserOf(engine) {
  if (!browsers.has(engine)) browsers.set(engine, engine === "chromium" ? browser : await launch(engine));
  return browsers.get(engine);
}

/** Run a command; on failure the error carries its stdout and stderr. */
async function sh(cmd, args, cwd, env = {}) {
  try {
    return await run(cmd, args, { cwd, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...env }, maxBuffer: 64 << 20, timeout: 120_000 });
  } catch (e) {
    e.message += `\n--- stdout\n${e.stdout}\n--- stderr\n${e.stderr}`;
    throw e;
  }
}

function filesUnder(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

/** Copy a project (without node_modules/dist) into the temp dir and install the tarball there. */
async function prepare(name) {
  const dir = join(work, name);
  cpSync(join(HERE, name), dir, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|dist)([\\/]|$)/.test(relative(HERE, src)),
  });
  mkdirSync(join(dir, "src"), { recursive: true });
  cpSync(join(HERE, "app/main.js"), join(dir, "src/main.js"));
  await sh("npm", ["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--ignore-scripts", tarball], dir);
  assert.ok(existsSync(join(dir, "node_modules/autologoff/package.json")), "the tarball installed");
  return dir;
}

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
};

/** A minimal static file server on a free loopback port. */
async function serve(root) {
  const server = createServer((req, res) => {
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (path === "/favicon.ico") {
      res.writeHead(204).end(); // the browser asks for it on its own; the apps have none
      return;
    }
    if (path.endsWith("/")) path += "index.html";
    const file = normalize(join(root, path));
    if (!(file + sep).startsWith(root + sep) && file !== root) {
      res.writeHead(403).end();
      return;
    }
    let body;
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, {
      "Content-Type": MIME[extname(file)] || "application/octet-stream",
      "Content-Length": body.length,
      "Cache-Control": "no-store",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** What the build emitted: every file with its size, and the wasm/JS totals. */
function outputOf(dist) {
  const files = filesUnder(dist).map((f) => ({ path: relative(dist, f), bytes: statSync(f).size }));
  const sum = (ext) => files.filter((f) => f.path.endsWith(ext)).reduce((a, f) => a + f.bytes, 0);
  return { files, wasm: files.filter((f) => f.path.endsWith(".wasm")), wasmBytes: sum(".wasm"), jsBytes: sum(".js") };
}

/** Open the built app in each engine and check that the idle lock really happens. */
async function checkInBrowsers(t, dist, bundler) {
  for (const engine of ENGINES) await t.test(`${engine}: the ${bundler} app locks`, (t) => checkInBrowser(t, dist, bundler, engine));
}

async function checkInBrowser(t, dist, bundler, engine) {
  const server = await serve(dist);
  const ctx = await (await browserOf(engine)).newContext();
  try {
    const page = await ctx.newPage();
    const problems = [];
    // (Console and page errors are reported where the driver has them: not over WebDriver.)
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
    await page.goto(server.url + "/");
    await waitFor(() => page.evaluate(() => window.result && (window.result.ready || window.result.initError !== null)), { timeout: 10_000 });
    const first = await page.evaluate(() => ({ ...window.result }));
    assert.equal(first.initError, null, `init() rejected in the ${bundler} build in ${engine}; ${problems.join("; ")}`);
    assert.equal(first.bundler, bundler);
    assert.equal(first.ready, true, "init() resolved");

    // The wasm was fetched once, as its own file, from the bundler's output (resource timing:
    // the same in every engine), and that file is served as application/wasm.
    const wasm = await page.evaluate(() => performance.getEntriesByType("resource").map((e) => e.name).filter((u) => /\.wasm(\?|$)/.test(u)));
    assert.equal(wasm.length, 1, `one wasm fetch: ${JSON.stringify(wasm)}`);
    assert.ok(wasm[0].startsWith(server.url + "/"), wasm[0]);
    const r = await fetch(wasm[0]);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/wasm");

    // No input from here on: warn at ~1000 ms, lock at ~1500 ms.
    await waitFor(() => page.evaluate(() => window.result.locks.length > 0), { timeout: 6000 });
    const st = await page.evaluate(() => {
      const overlay = document.querySelector("#autologoff-overlay");
      return {
        result: window.result,
        state: window.session.state,
        inertAttr: document.body.hasAttribute("inert"),
        inert: document.body.inert,
        overlay: !!overlay,
        overlayOpen: !!overlay && overlay.open,
        modal: !!overlay && overlay.matches(":modal"),
        failsafe: !!document.getElementById("autologoff-failsafe"),
        title: document.title,
      };
    });
    assert.equal(st.result.warns.length, 1, "one warn before the lock");
    assert.equal(st.result.locks.length, 1);
    assert.equal(st.result.locks[0].reason, "idle");
    assert.equal(typeof st.result.locks[0].at, "number");
    assert.equal(st.state, "locked");
    assert.equal(st.inertAttr, true, "body has the inert attribute");
    assert.equal(st.inert, true);
    assert.equal(st.overlay, true, "#autologoff-overlay exists");
    assert.equal(st.overlayOpen, true, "#autologoff-overlay is open");
    assert.equal(st.modal, true, "#autologoff-overlay is modal (top layer)");
    assert.equal(st.failsafe, false, "the real lock, not the load-failure cover");
    assert.equal(st.title, "Session locked");
    assert.deepEqual(problems, []);
    t.diagnostic(`${bundler} in ${engine} ${await (await browserOf(engine)).version()}: init resolved, warn then lock(idle), body inert, overlay open and modal`);
  } finally {
    await ctx.close();
    await server.close();
  }
}

function report(t, bundler, out) {
  const lines = out.files.filter((f) => /\.(js|wasm|html)$/.test(f.path)).map((f) => `${f.path} ${f.bytes} B`);
  const msg = `${bundler} output: wasm ${out.wasmBytes} B (${kb(out.wasmBytes)}) + JS ${out.jsBytes} B (${kb(out.jsBytes)}) = ${kb(out.wasmBytes + out.jsBytes)} [${lines.join(", ")}]`;
  t.diagnostic(msg);
}

function checkOutput(out, dist, bundler) {
  assert.equal(out.wasm.length, 1, `${bundler} emitted exactly one .wasm file: ${JSON.stringify(out.wasm)}`);
  const ours = readFileSync(join(unpacked, "autologoff_bg.wasm"));
  assert.ok(readFileSync(join(dist, out.wasm[0].path)).equals(ours), "the emitted wasm is the package's, byte for byte");
  assert.ok(out.jsBytes > 0 && out.jsBytes < ours.length, "the wasm was not inlined into the JS");
}

before(async () => {
  assert.ok(existsSync(join(PKG, "package.json")), `no built package at ${PKG} (run npm run build)`);
  for (const b of ["vite", "webpack"]) {
    assert.ok(existsSync(join(BIN, b)), `${b} is not installed: run npm ci (bash .ci/setup.sh node)`);
  }
  work = mkdtempSync(join(tmpdir(), "autologoff-packaging-"));
  const { stdout } = await sh("npm", ["pack", PKG, "--json", "--pack-destination", work, "--ignore-scripts"], work);
  packed = JSON.parse(stdout)[0];
  tarball = join(work, packed.filename);
  // Everything below reads the tarball's copy: pkg/ may be rebuilt while this runs.
  mkdirSync(join(work, "unpacked"));
  await sh("tar", ["-xzf", tarball, "-C", join(work, "unpacked")], work);
  unpacked = join(work, "unpacked/package");
  browser = await launch("chromium");
});

after(async () => {
  for (const b of new Set([browser, ...browsers.values()])) await b?.close();
  if (work && !process.env.KEEP_PACKAGING_TMP) rmSync(work, { recursive: true, force: true });
});

test("npm pack: the tarball holds every file that the package's modules import or fetch", (t) => {
  const inTar = new Set(packed.files.map((f) => f.path));
  for (const f of ["package.json", "index.js", "index.d.ts", "README.md", "autologoff_bg.wasm"]) {
    assert.ok(inTar.has(f), `${f} is in the tarball`);
  }
  const pj = JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8"));
  assert.equal(pj.name, "autologoff");
  assert.equal(pj.type, "module");
  assert.equal(pj.sideEffects, false);
  assert.equal(Object.keys(pj.exports["."])[0], "types", "exports lists types first");
  for (const target of [pj.exports["."].types, pj.exports["."].import, pj.exports["."].default]) {
    assert.ok(inTar.has(target.replace(/^\.\//, "")), `exports target ${target} is in the tarball`);
  }
  // Follow every relative import / new URL(...) from index.js through the module graph.
  const seen = new Set();
  const queue = ["index.js"];
  while (queue.length) {
    const f = queue.shift();
    if (seen.has(f)) continue;
    seen.add(f);
    assert.ok(inTar.has(f), `${f} (referenced by the package) is in the tarball`);
    if (!f.endsWith(".js")) continue;
    const src = readFileSync(join(unpacked, f), "utf8");
    const refs = [
      ...src.matchAll(/(?:^|[\s;}])(?:import|export)\s*(?:[\w*{][^'"]*?from\s*)?['"](\.{1,2}\/[^'"]+)['"]/gm),
      ...src.matchAll(/import\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g),
      ...src.matchAll(/new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g),
    ].map((m) => m[1]);
    for (const r of refs) {
      queue.push(normalize(join(dirname(f), r.startsWith(".") ? r : "./" + r)).split(sep).join("/"));
    }
  }
  t.diagnostic(`tarball ${packed.filename}: ${packed.files.length} files, ${packed.size} B packed, ${packed.unpackedSize} B unpacked; module graph: ${[...seen].join(", ")}`);
});

test("SSR: importing autologoff in a bare Node process touches no window/document", async (t) => {
  const dir = await prepare("ssr");
  const { stdout } = await sh(process.execPath, [join(dir, "check.mjs")], dir);
  const out = JSON.parse(stdout.trim().split("\n").pop());
  t.diagnostic(`SSR: ${JSON.stringify(out)}`);
  assert.equal(out.importError, undefined, "import(\"autologoff\") does not throw");
  assert.deepEqual(out.touchedAtImport, [], "the import touched no browser global");
  assert.equal(out.initType, "function");
  assert.ok(out.exports.includes("init"));
  assert.equal(out.initReturnsPromise, true, "init() returns a promise, even outside a browser");
  assert.match(out.init, /^rejected Error: autologoff: init\(\) needs a browser page/, "init() rejects clearly outside a browser, covering nothing");
});

test("Vite: builds with no wasm plugin, emits the wasm as a file, and the page locks in every engine", async (t) => {
  const dir = await prepare("vite");
  await sh(process.execPath, [join(ROOT, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "warn"], dir);
  const out = outputOf(join(dir, "dist"));
  report(t, "vite", out);
  checkOutput(out, join(dir, "dist"), "vite");
  await checkInBrowsers(t, join(dir, "dist"), "vite");
});

test("webpack 5: builds with no wasm loader (asset/resource), emits the wasm as a file, and the page locks in every engine", async (t) => {
  const dir = await prepare("webpack");
  await sh(process.execPath, [join(ROOT, "node_modules/webpack-cli/bin/cli.js"), "--config", join(dir, "webpack.config.js"), "--no-color"], dir);
  cpSync(join(dir, "public"), join(dir, "dist"), { recursive: true });
  const out = outputOf(join(dir, "dist"));
  report(t, "webpack", out);
  checkOutput(out, join(dir, "dist"), "webpack");
  await checkInBrowsers(t, join(dir, "dist"), "webpack");
});

test("React (Vite): a detach lock and unlock keep React's state, a controlled input and its events", async () => {
  // The project brings its own src/main.js; React comes from the repository's devDependencies.
  const dir = join(work, "react");
  cpSync(join(HERE, "react"), dir, { recursive: true, filter: (src) => !/[\\/](node_modules|dist)([\\/]|$)/.test(relative(HERE, src)) });
  await sh("npm", ["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--ignore-scripts", tarball], dir);
  for (const m of ["react", "react-dom", "scheduler"]) symlinkSync(join(ROOT, "node_modules", m), join(dir, "node_modules", m));
  await sh(process.execPath, [join(ROOT, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "warn"], dir);
  const server = await serve(join(dir, "dist"));
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const problems = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    await page.goto(server.url + "/");
    await page.waitForFunction(() => window.ready === true || window.initError, null, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.initError ?? null), null);
    await page.fill("#note", "abc");
    await page.click("#inc");
    await page.click("#inc");
    const text = (sel) => page.locator(sel).textContent();
    assert.equal(await text("#inc"), "clicked 2");
    assert.equal(await text("#echo"), "note: abc");
    await page.evaluate(() => { window.rootNode = document.getElementById("root"); window.session.lock(); });
    assert.equal(await page.evaluate(() => document.body.childNodes.length), 0, "React's root left the document");
    assert.ok(!(await page.evaluate(() => document.documentElement.outerHTML)).includes("Jane Doe"));
    // React renders while locked, into the detached tree
    await page.evaluate(() => window.bump());
    assert.equal(await page.evaluate(() => window.rootNode.querySelector("#inc").textContent), "clicked 3");
    assert.equal(await page.evaluate(() => window.session.unlock()), true);
    assert.equal(await page.evaluate(() => document.getElementById("root") === window.rootNode), true, "the same root node");
    assert.equal(await text("#inc"), "clicked 3");
    assert.equal(await page.inputValue("#note"), "abc");
    // React's delegated events still reach it: a click and typing in the controlled input
    await page.click("#inc");
    assert.equal(await text("#inc"), "clicked 4");
    await page.type("#note", "d");
    assert.equal(await text("#echo"), "note: abcd");
    assert.deepEqual([...problems, ...(await page.evaluate(() => window.errors))], []);
  } finally {
    await ctx.close();
    await server.close();
  }
});
