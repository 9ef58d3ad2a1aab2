// npm run bench [-- --quick]: autologoff, its peers and the no-library page side by side in one
// headless Chromium run. Prints a markdown table (figure rows × library columns, median [min–max]
// over the repetitions) to stdout and bench/results/bench.md, progress to stderr; asserts nothing.
//
// Every repetition measures each figure for every library, the libraries interleaved (their order
// rotated per repetition), each in a fresh browser context on the same synthetic clinical page
// (bench/site.mjs). The no-library page is measured twice, as "none" and "none (A/A)": their
// difference is the noise of the run.
//   1. script time per trusted input: BENCH_N pointer moves + BENCH_KEYS key presses (CDP Input.*)
//   2./3. `warn` and `lock` (or the peer's callbacks) − their deadlines, visible tab; for autologoff
//      also the end of the first frame painted after the lock
//   4. init: script start → armed, cold (fresh context) and warm (third load, code cache)
//   5. JS heap after GC, after BENCH_ACTIVE_S simulated seconds of activity (page.clock)
//   6. shipped bytes (esbuild, min + gzip -9)
// Env: BENCH_RUNS (repetitions, default 5), BENCH_N (pointer moves, default 10000), BENCH_KEYS
// (key presses, default 2000), BENCH_ACTIVE_S (default 60), AUTOLOGOFF_PKG (default pkg/),
// BENCH_OUT (default bench/results/bench.md; bench-quick.md with --quick).
import { join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import { moves, keys } from "./trusted.mjs";
import { launch, ROOT } from "../tests/e2e/lib.mjs";
import { buildPeers, version } from "./bundle.mjs";
import { arm } from "./page.mjs";
import { serve } from "./site.mjs";

const QUICK = process.argv.includes("--quick");
const env = (name, full, quick) => Number(process.env[name] || (QUICK ? quick : full));
const RUNS = env("BENCH_RUNS", 5, 2);
const MOVES = env("BENCH_N", 10_000, 1000);
const KEYS = env("BENCH_KEYS", 2000, 200);
const ACTIVE_S = env("BENCH_ACTIVE_S", 60, 10);
const PKG = process.env.AUTOLOGOFF_PKG || join(ROOT, "pkg");
const OUT = process.env.BENCH_OUT || join(ROOT, "bench/results", QUICK ? "bench-quick.md" : "bench.md");

const LIBS = ["autologoff", "react-idle-timer", "ng-idle", "none", "none (A/A)"];
const HEAD = { autologoff: "autologoff", "react-idle-timer": "react-idle-timer", "ng-idle": "@ng-idle/core", none: "none", "none (A/A)": "none (A/A)" };
const PEERS = LIBS.slice(0, 3); // the ones with deadlines and an init
const isNone = (lib) => lib.startsWith("none");
/** The deadline test: lock 2 s after the last input, warning 1 s before (whole seconds for @ng-idle/core). */
const DEADLINE = { timeoutMs: 2000, warnMs: 1000 };

const started = performance.now();
const log = (...a) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

log(`${RUNS} repetitions; ${MOVES} moves + ${KEYS} key presses per page; ${ACTIVE_S} s of activity for the heap`);
log("bundling peers with esbuild");
const sizes = await buildPeers(PKG);
const site = await serve(PKG, { "/bench/rit.js": sizes.served["rit.js"], "/bench/ngidle.js": sizes.served["ngidle.js"] });
const browser = await launch();

/** A fresh context (cold caches) on the clinical page; with `clock`, page.clock drives its timers. */
async function openPage({ clock = false } = {}) {
  const ctx = await browser.newContext();
  if (clock) {
    await ctx.addInitScript(() => {
      window.__realNow = performance.now.bind(performance);
      window.__RealDate = Date;
    });
  }
  const page = await ctx.newPage();
  if (clock) await page.clock.install();
  await page.goto(site.url + "/");
  const cdp = await ctx.newCDPSession(page);
  return { ctx, page, cdp };
}
const baseLib = (lib) => (isNone(lib) ? "none" : lib);

// ---- 1. script time per trusted input ---------------------------------------------------------
async function metrics(cdp) {
  return Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
}
async function inputCost(lib) {
  const { ctx, page, cdp } = await openPage();
  await page.evaluate(arm, { lib: baseLib(lib), timeoutMs: 3_600_000 });
  await cdp.send("Performance.enable");
  await moves(cdp, 200); // warm-up: first-event paths, JIT
  await keys(cdp, 200);
  const m0 = await metrics(cdp);
  await moves(cdp, MOVES);
  await page.evaluate(() => 0); // every move handled
  const m1 = await metrics(cdp);
  await keys(cdp, KEYS);
  await page.evaluate(() => 0);
  const m2 = await metrics(cdp);
  const active = await page.evaluate(() => window.__active());
  await ctx.close();
  const us = (a, b, key, n) => ((b[key] - a[key]) * 1e6) / n;
  return {
    script: us(m0, m2, "ScriptDuration", MOVES + KEYS),
    task: us(m0, m2, "TaskDuration", MOVES + KEYS),
    move: us(m0, m1, "ScriptDuration", MOVES),
    key: us(m1, m2, "ScriptDuration", KEYS),
    active,
  };
}

/** Each move and key press sent is its own trusted DOM event (none coalesced). */
async function deliveryCheck() {
  const { ctx, page, cdp } = await openPage();
  await page.evaluate(() => {
    window.c = { pointermove: 0, keydown: 0, untrusted: 0 };
    for (const t of ["pointermove", "keydown"]) {
      document.addEventListener(t, (e) => { c[t]++; if (!e.isTrusted) c.untrusted++; });
    }
  });
  await moves(cdp, 1000);
  await keys(cdp, 1000);
  const c = await page.evaluate(() => window.c);
  await ctx.close();
  return c;
}

// ---- 2./3. warn and lock against their deadlines, visible tab ---------------------------------
async function deadlines(lib) {
  const { ctx, page } = await openPage();
  await page.evaluate(arm, { lib, ...DEADLINE });
  await sleep(DEADLINE.timeoutMs + 200);
  let got = null;
  for (let i = 0; i < 30 && !(got?.lock && got.frame); i++) {
    got = await page.evaluate(() => ({ ...window.__seen, dl: window.__deadlines }));
    if (!(got.lock && got.frame)) await sleep(100);
  }
  await ctx.close();
  return {
    warn: got.warn - got.dl.warn,
    lock: got.lock - got.dl.lock,
    frame: got.frame - got.dl.lock,
    coveredAtLock: !!got.coveredAtLock,
    coveredInFrame: !!got.coveredInFrame,
  };
}

// ---- 4. init: script start → armed ------------------------------------------------------------
// cold: a fresh context (no HTTP cache, no code cache); warm: the third load in that context
// (Chromium writes a script's code cache on its second load and reads it on the third)
async function initCost(lib) {
  const { ctx, page } = await openPage();
  const loads = [];
  for (let i = 0; i < 3; i++) {
    if (i) await page.goto(site.url + "/");
    loads.push(await page.evaluate(arm, { lib, timeoutMs: 900_000 }));
  }
  await ctx.close();
  return { cold: loads[0].totalMs, warm: loads[2].totalMs };
}

// ---- 5. memory after simulated activity -------------------------------------------------------
async function memory(lib) {
  const { ctx, page, cdp } = await openPage({ clock: true });
  await page.evaluate(arm, { lib: baseLib(lib), timeoutMs: 900_000 });
  for (let s = 0; s < ACTIVE_S; s++) {
    await moves(cdp, 20, 20); // a user moving the pointer every simulated second
    await page.clock.runFor(1000); // fires every timer due in that second
  }
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("HeapProfiler.collectGarbage");
  const heap = (await cdp.send("Runtime.getHeapUsage")).usedSize;
  // autologoff's linear memory lives outside the JS heap: every WebAssembly.Memory on the page
  // (CDP queryObjects; read after the heap figure, so the handles it makes are not counted)
  const wasm = lib !== "autologoff" ? NaN : await wasmMemory(cdp);
  const active = await page.evaluate(() => window.__active());
  await ctx.close();
  return { heap, wasm, active };
}

/** Bytes of linear memory of every WebAssembly.Memory alive on the page. */
async function wasmMemory(cdp) {
  const proto = await cdp.send("Runtime.evaluate", { expression: "WebAssembly.Memory.prototype" });
  const { objects } = await cdp.send("Runtime.queryObjects", { prototypeObjectId: proto.result.objectId });
  const { result } = await cdp.send("Runtime.callFunctionOn", {
    objectId: objects.objectId, returnByValue: true,
    functionDeclaration: "function () { return this.reduce((n, m) => n + m.buffer.byteLength, 0); }",
  });
  return result.value;
}

// ---- the run ----------------------------------------------------------------------------------
log("delivery check");
const delivered = await deliveryCheck();
const res = { input: {}, deadline: {}, init: {}, memory: {} };
for (const k in res) for (const lib of LIBS) res[k][lib] = new Array(RUNS).fill(null); // [repetition]
const inactive = new Set(); // "lib: figure" where a library went idle while it should not have
const failures = new Map(); // "lib: figure" → the error, printed under the table
/** Runs one measurement; a library that cannot be measured is noted (and left out), not fatal. */
async function attempt(lib, figure, fn) {
  try {
    return await fn(lib);
  } catch (e) {
    const msg = String(e?.message || e).split("\n")[0];
    failures.set(`${lib}: ${figure}`, msg);
    log(`  ${figure} ${lib} FAILED: ${msg}`);
    return null;
  }
}

for (let r = 0; r < RUNS; r++) {
  const order = LIBS.map((_, i) => LIBS[(i + r) % LIBS.length]);
  log(`repetition ${r + 1}/${RUNS}: ${order.join(", ")}`);
  for (const lib of order) {
    const c = await attempt(lib, "input", inputCost);
    if (!c) continue;
    if (!c.active) inactive.add(`${lib}: input`);
    res.input[lib][r] = c;
    log(`  input ${lib}: script ${c.script.toFixed(2)} µs, task ${c.task.toFixed(1)} µs per input`);
  }
  for (const lib of order.filter((l) => !isNone(l))) {
    const d = await attempt(lib, "deadline", deadlines);
    if (!d) continue;
    res.deadline[lib][r] = d;
    log(`  deadline ${lib}: warn ${d.warn} ms, lock ${d.lock} ms, frame ${d.frame} ms${d.coveredInFrame ? " (covered)" : ""}`);
  }
  for (const lib of order.filter((l) => !isNone(l))) {
    const i = await attempt(lib, "init", initCost);
    if (!i) continue;
    res.init[lib][r] = i;
    log(`  init ${lib}: cold ${i.cold.toFixed(1)} ms, warm ${i.warm.toFixed(1)} ms`);
  }
  for (const lib of order) {
    const m = await attempt(lib, "memory", memory);
    if (!m) continue;
    if (!m.active) inactive.add(`${lib}: activity`);
    res.memory[lib][r] = m;
    log(`  memory ${lib}: JS heap ${(m.heap / 1024).toFixed(0)} KB${Number.isFinite(m.wasm) ? `, wasm ${(m.wasm / 1024).toFixed(0)} KB` : ""}`);
  }
}
const chromium = browser.version();
await browser.close();
site.close();

// ---- the table --------------------------------------------------------------------------------
const med = (a) => {
  const s = a.filter(Number.isFinite).sort((x, y) => x - y);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** "median [min–max]" of the finite values, with `d` decimals; "—" when there are none. */
function stat(values, d = 1) {
  const v = values.filter(Number.isFinite);
  if (!v.length) return "—";
  const f = (x) => x.toFixed(d);
  return `${f(med(v))} [${f(Math.min(...v))}–${f(Math.max(...v))}]` + (v.length < values.length ? ` (${v.length}/${values.length} runs)` : "");
}
/** One figure of one library, per repetition (NaN where it could not be measured). */
const vals = (fig, lib, value) => res[fig][lib].map((x) => (x ? value(x) : NaN));
/** lib − none of the same repetition. */
const overNone = (fig, lib, value) => vals(fig, lib, value).map((x, r) => x - vals(fig, "none", value)[r]);
const KB = (n) => (n / 1024).toFixed(1);

const rows = [];
const row = (figure, cells) => rows.push([figure, ...LIBS.map((l) => cells(l) ?? "—")]);
const peersOnly = (f) => (lib) => (isNone(lib) ? undefined : f(lib));

row(`**1. extra script time per trusted input**, µs (lib − none, same repetition)`, (l) =>
  l === "none" ? "0 (baseline)" : stat(overNone("input", l, (x) => x.script), 2));
row(`  of which per pointer move`, (l) => (l === "none" ? undefined : stat(overNone("input", l, (x) => x.move), 2)));
row(`  of which per key press`, (l) => (l === "none" ? undefined : stat(overNone("input", l, (x) => x.key), 2)));
row(`  script time per input, as measured`, (l) => stat(vals("input", l, (x) => x.script), 2));
row(`  main-thread task time per input (the browser's own work included)`, (l) => stat(vals("input", l, (x) => x.task), 1));
row(`**2. \`warn\` − its deadline**, visible tab, ms`, peersOnly((l) => stat(vals("deadline", l, (x) => x.warn), 0)));
row(`**3. \`lock\` / idle callback − deadline**, visible tab, ms`, peersOnly((l) => stat(vals("deadline", l, (x) => x.lock), 0)));
row(`  first frame painted after the lock − deadline, ms`, (l) => (l === "autologoff" ? stat(vals("deadline", l, (x) => x.frame), 0) : undefined));
row(`  page covered in that frame`, (l) => (l === "autologoff"
  ? `${res.deadline[l].filter((x) => x?.coveredInFrame).length}/${RUNS} runs` : isNone(l) ? undefined : "covers nothing"));
row(`**4. init: script start → armed, cold**, ms`, peersOnly((l) => stat(vals("init", l, (x) => x.cold), 1)));
row(`  warm (third load: HTTP + code cache), ms`, peersOnly((l) => stat(vals("init", l, (x) => x.warm), 1)));
row(`**5. JS heap over the no-library page** after ${ACTIVE_S} s of activity, KB`, (l) =>
  l === "none" ? "0 (baseline)" : stat(overNone("memory", l, (x) => x.heap).map((b) => b / 1024), 0));
row(`  JS heap used after GC, as measured, KB`, (l) => stat(vals("memory", l, (x) => x.heap / 1024), 0));
row(`  wasm linear memory (outside the JS heap), KB`, (l) => (l === "autologoff" ? stat(vals("memory", l, (x) => x.wasm / 1024), 0) : undefined));
const a = sizes.autologoff;
const shipped = {
  autologoff: `${KB(a.wasmGz + a.jsMinGz)} (wasm ${KB(a.wasmGz)} + JS ${KB(a.jsMinGz)})`,
  "react-idle-timer": `${KB(sizes.ritOwn.gz)} (React external)`,
  "ng-idle": `${KB(sizes.ngOwn.gz)} (Angular, rxjs external)`,
};
row(`**6. shipped bytes, wasm + JS, min + gzip -9**, KB`, (l) => (isNone(l) ? "0" : shipped[l]));
const withDeps = {
  autologoff: `${KB(a.gzSum)} (pkg/ as shipped)`,
  "react-idle-timer": `${KB(sizes.rit.gz)} (+ react, react-dom)`,
  "ng-idle": `${KB(sizes.ng.gz)} (+ @angular/core, rxjs)`,
};
row(`  what the bench page loads, KB`, (l) => withDeps[l]);

const cols = ["figure", ...LIBS.map((l) => HEAD[l])];
const width = cols.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => "| " + cells.map((c, i) => c.padEnd(width[i])).join(" | ") + " |";
const pct = (n) => `${n}/1000`;
const secs = ((performance.now() - started) / 1000).toFixed(0);
const out = [
  `autologoff bench, ${new Date().toISOString()}: \`npm run bench${QUICK ? " -- --quick" : ""}\`, ${secs} s`,
  "",
  `Chromium ${chromium} headless, Node ${process.version}, playwright-core ${version("playwright-core")}, esbuild ${version("esbuild")}; ` +
    `react-idle-timer ${version("react-idle-timer")} (react ${version("react")}), @ng-idle/core ${version("@ng-idle/core")} (@angular/core ${version("@angular/core")}, rxjs ${version("rxjs")}); autologoff from ${PKG.replace(ROOT, "")}.`,
  `Median [min–max] over ${RUNS} repetitions, the libraries interleaved in each (order rotated), each in a fresh browser context on a synthetic clinical page with a 200-row table. ` +
    `Per page and repetition: ${MOVES.toLocaleString("en")} trusted pointer moves and ${KEYS.toLocaleString("en")} key presses (delivery check: 1000 moves → ${pct(delivered.pointermove)} pointermove, 1000 keys → ${pct(delivered.keydown)} keydown, ${delivered.untrusted} untrusted).`,
  "",
  line(cols),
  "|" + width.map((w) => "-".repeat(w + 2)).join("|") + "|",
  ...rows.map(line),
  "",
  "- none (A/A) is the no-library page measured a second time as if it were a library: its column is the noise of this run.",
  "- 1: CDP `Performance.getMetrics` ScriptDuration (JS + wasm on the main thread) over the moves and key presses, after 200 + 200 warm-up inputs, with a 1 h timeout. Input is sent as bench/trusted.mjs does: CDP `Input.dispatchMouseEvent` moves alternating Shift (so Chromium cannot coalesce them) and `rawKeyDown` presses of `a`.",
  `- 2, 3: idle timeout ${DEADLINE.timeoutMs / 1000} s, warning ${DEADLINE.warnMs / 1000} s before it (react-idle-timer \`promptBeforeIdle\` → onPrompt, onIdle; @ng-idle/core setIdle(1) → onIdleStart, setTimeout(1) → onTimeout), no input meanwhile; each deadline as the library reports it right after arming. The frame is timed by a task posted from the first \`requestAnimationFrame\` callback after the \`lock\` event (its style, layout and paint are done by then); "covered" = \`<body inert>\` in that callback.`,
  "- 4: from `import()` of the library's module to armed (autologoff: `init()` resolved, with the wasm fetch and compile; react-idle-timer: the hook's effect ran in a React root; @ng-idle/core: `watch()` returned). The page is served with `Cache-Control: max-age`.",
  `- 5: page.clock installed; ${ACTIVE_S} × (20 trusted moves, then \`clock.runFor(1 s)\`); then CDP \`HeapProfiler.collectGarbage\` ×2 and \`Runtime.getHeapUsage\` usedSize, the same for every page. The peers' figures include the framework they run in (React, Angular's DI-free service + rxjs), which an app has anyway.`,
  "- 6: esbuild bundles (minified, gzip -9). react-idle-timer 5.x has no framework-free API, so the page mounts its `useIdleTimer` hook in a React root on a detached `<div>`; @ng-idle/core's `Idle` is built by hand outside Angular's DI with a pass-through zone (no zone.js), its ɵɵngDeclare* metadata stripped (bench/bundle.mjs).",
];
for (const [what, msg] of failures) out.push(`- **Could not measure ${what}**: ${msg}`);
if (inactive.size) out.push(`- Went idle when it should have stayed active: ${[...inactive].join(", ")}.`);
const text = out.join("\n") + "\n";
process.stdout.write(text);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(OUT, text);
log(`wrote ${OUT.replace(ROOT, "")}`);
