// npm run bench: one Chromium run, autologoff vs its peers; prints a table, asserts nothing, exits 0.
//   1. what each library ships (min + gzip -9)
//   2. main-thread cost of 10,000 trusted pointermove and 10,000 trusted keydown events (CDP Performance metrics)
//   3. deadline → covered / idle callback: visible tab, and after an (emulated) hidden tab is shown again
//   4. init → armed, cold
//   5. memory after one simulated hour of activity (page.clock)
// Env: AUTOLOGOFF_PKG (pkg dir served and measured, default pkg/), BENCH_N (events, default 10000),
//      BENCH_RUNS (event-cost repetitions, median, default 3), BENCH_PROFILE=1 (always profile autologoff).
import { join } from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { moves, keys } from "./trusted.mjs";
import { startServer, launch, ROOT } from "../tests/e2e/lib.mjs";
import { buildPeers, version, wasmFunctionNames } from "./bundle.mjs";
import { arm, waitIdle, hideTab, showTab } from "./page.mjs";

const N = Number(process.env.BENCH_N || 10_000);
const RUNS = Number(process.env.BENCH_RUNS || 3);
const PKG = process.env.AUTOLOGOFF_PKG || join(ROOT, "pkg");
const LIBS = ["autologoff", "react-idle-timer", "ng-idle", "none"];
const PEERS = LIBS.slice(0, 3);
const KINDS = ["pointermove", "keydown"];
const started = performance.now();
const log = (...a) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s]`, ...a);

const med = (a) => {
  const s = a.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const KB = (n) => (n / 1024).toFixed(1) + " KB";
const ms = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) + " ms" : "—");

// the reference server the e2e tier uses; `npm test` and `npm run demo` build it, a fresh clone may not have it
if (!existsSync(join(ROOT, "target/debug/autologoff-server"))) {
  log("building autologoff-server (cargo build -p autologoff-server)");
  const r = spawnSync("cargo", ["build", "-q", "-p", "autologoff-server"], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status || 1);
}
log("bundling peers with esbuild");
const sizes = await buildPeers(PKG);
const server = await startServer();
const browser = await launch();
const chromiumVersion = browser.version();

/** A fresh context on the demo server's blank page; /bench/*.js are the esbuild bundles. */
async function openPage({ clock = false } = {}) {
  const ctx = await browser.newContext();
  await ctx.route(`${server.url}/bench/**`, (route) => {
    const name = new URL(route.request().url()).pathname.slice("/bench/".length);
    const body = sizes.served[name];
    return body ? route.fulfill({ status: 200, contentType: "text/javascript", body }) : route.fulfill({ status: 404 });
  });
  if (clock) {
    await ctx.addInitScript(() => {
      window.__realNow = performance.now.bind(performance);
      window.__RealDate = Date;
      window.__realSetTimeout = setTimeout;
    });
  }
  const page = await ctx.newPage();
  if (clock) await page.clock.install();
  await page.goto(`${server.url}/fixtures/other.html`);
  const cdp = await ctx.newCDPSession(page);
  return { ctx, page, cdp };
}

const send = (cdp, kind, n) => (kind === "pointermove" ? moves(cdp, n) : keys(cdp, n));

async function metrics(cdp) {
  return Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
}

// ---------------------------------------------------------------------------------------------
// 2. event cost: per run, each library in a fresh context: N moves, then N key presses
async function eventCost(lib) {
  const { ctx, page, cdp } = await openPage();
  await page.evaluate(arm, { lib, timeoutMs: 3_600_000 });
  await cdp.send("Performance.enable");
  const out = {};
  for (const kind of KINDS) {
    await send(cdp, kind, 200); // warm-up: first-event lazy paths, JIT
    await page.evaluate(() => 0);
    const m0 = await metrics(cdp);
    const t0 = performance.now();
    await send(cdp, kind, N);
    await page.evaluate(() => 0);
    const wall = performance.now() - t0;
    const m1 = await metrics(cdp);
    out[kind] = { task: (m1.TaskDuration - m0.TaskDuration) * 1000, script: (m1.ScriptDuration - m0.ScriptDuration) * 1000, wall };
  }
  const active = await page.evaluate(() => window.__active());
  await ctx.close();
  for (const kind of KINDS) out[kind].active = active;
  return out;
}

/** Every pointermove / keydown sent is its own trusted DOM event on a blank page. */
async function deliveryCheck() {
  const { ctx, page, cdp } = await openPage();
  await page.evaluate(() => {
    window.c = { pointermove: 0, mousemove: 0, keydown: 0, untrusted: 0 };
    for (const t of ["pointermove", "mousemove", "keydown"]) {
      document.addEventListener(t, (e) => { c[t]++; if (!e.isTrusted) c.untrusted++; });
    }
  });
  await moves(cdp, 1000);
  await keys(cdp, 1000);
  const c = await page.evaluate(() => window.c);
  await ctx.close();
  return c;
}

log("delivery check");
const delivered = await deliveryCheck();
const cost = Object.fromEntries(KINDS.map((k) => [k, Object.fromEntries(LIBS.map((l) => [l, []]))])); // cost[kind][lib] = runs
for (let r = 0; r < RUNS; r++) {
  const order = LIBS.map((_, i) => LIBS[(i + r) % LIBS.length]); // rotate to spread drift
  for (const lib of order) {
    const c = await eventCost(lib);
    for (const kind of KINDS) {
      cost[kind][lib].push(c[kind]);
      log(`run ${r + 1}/${RUNS} ${kind} ${lib}: task ${c[kind].task.toFixed(1)} ms, script ${c[kind].script.toFixed(1)} ms, wall ${(c[kind].wall / 1000).toFixed(1)} s${c[kind].active ? "" : " (went idle!)"}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 3a. deadline → covered / idle callback, visible tab (1 s timeout, no warning)
const visible = Object.fromEntries(PEERS.map((l) => [l, []]));
for (let i = 0; i < 5; i++) {
  // the three libraries wait for their deadlines at the same time, each in its own context
  await Promise.all(PEERS.map(async (lib) => {
    const { ctx, page } = await openPage();
    await page.evaluate(arm, { lib, timeoutMs: 1000, warnMs: 0, traceTimers: true });
    const deadline = await page.evaluate(() => window.__deadline());
    const sig = await page.evaluate(waitIdle, 4000);
    visible[lib].push(sig ? { late: sig.wall - deadline, timer: sig.timerAt - deadline, work: sig.wall - sig.timerAt } : { late: NaN, timer: NaN, work: NaN });
    await ctx.close();
  }));
}
log("visible-tab latency done");

// 3b. the tab was hidden (emulated), the wall clock passed the deadline meanwhile (no timer ran,
// like a throttled or frozen tab or a sleeping laptop), then the tab is shown again
const hidden = Object.fromEntries(PEERS.map((l) => [l, []]));
for (let i = 0; i < 3; i++) {
  await Promise.all(PEERS.map(async (lib) => {
    const { ctx, page } = await openPage({ clock: true });
    await page.evaluate(arm, { lib, timeoutMs: 60_000, warnMs: 0 });
    await page.evaluate(hideTab);
    const fakeNow = await page.evaluate(() => Date.now());
    await page.clock.setSystemTime(fakeNow + 120_000); // 2 min hidden: past the 1 min deadline
    const early = await page.evaluate(() => window.__idle);
    const shown = await page.evaluate(showTab);
    const sig = await page.evaluate(waitIdle, 3000);
    const active = await page.evaluate(() => window.__active());
    hidden[lib].push({ early: !!early, ...shown, lateMs: sig ? sig.real - shown.t0 : NaN, active });
    await ctx.close();
  }));
}
log("hidden-tab latency done");

// ---------------------------------------------------------------------------------------------
// 4. init → armed, cold (fresh context: no HTTP or compiled-code cache)
const inits = Object.fromEntries(PEERS.map((l) => [l, []]));
for (let i = 0; i < 5; i++) {
  for (const lib of PEERS) {
    const { ctx, page } = await openPage();
    inits[lib].push(await page.evaluate(arm, { lib, timeoutMs: 900_000 }));
    await ctx.close();
  }
}
log("init done");

// ---------------------------------------------------------------------------------------------
// 5. one simulated hour: 60 × (60 trusted moves, then page.clock.runFor(60 s), which fires every
// timer due in between)
async function jsHeap(cdp) {
  await cdp.send("HeapProfiler.collectGarbage");
  return (await cdp.send("Runtime.getHeapUsage")).usedSize;
}
const wasmMemory = (page) => page.evaluate(async () => {
  // the wasm-bindgen glue (same module instance as pkg/index.js imports) returns the live exports
  const glue = await import("/pkg/autologoff.js");
  const w = await glue.default();
  return w.memory instanceof WebAssembly.Memory ? w.memory.buffer.byteLength : NaN;
});
const hour = {};
for (const lib of LIBS) {
  const { ctx, page, cdp } = await openPage({ clock: true });
  await page.evaluate(arm, { lib, timeoutMs: 900_000 });
  const heap0 = await jsHeap(cdp);
  const wasm0 = lib === "autologoff" ? await wasmMemory(page) : NaN;
  const t0 = performance.now();
  for (let step = 0; step < 60; step++) {
    await moves(cdp, 60, 60);
    await page.clock.runFor(60_000);
  }
  const heap1 = await jsHeap(cdp);
  const wasm1 = lib === "autologoff" ? await wasmMemory(page) : NaN;
  const active = await page.evaluate(() => window.__active());
  const simulated = await page.evaluate(() => performance.now());
  hour[lib] = { heap0, heap1, wasm0, wasm1, active, wall: performance.now() - t0, simulated };
  await ctx.close();
}
log("simulated hour done");

// ---------------------------------------------------------------------------------------------
// profile autologoff when its per-event cost is high (BENCH_PROFILE=1 forces it, =0 skips it)
const ratio = (kind, lib, key = "task") => med(cost[kind][lib].map((c) => c[key])) / med(cost[kind].none.map((c) => c[key]));
const why = [], whyLock = [];
for (const kind of KINDS) {
  const r = ratio(kind, "autologoff");
  if (r > 1.5) why.push(`${kind} task time ${r.toFixed(2)}× the blank page`);
}
const lockWork = med(visible.autologoff.map((v) => v.work));
if (lockWork > 16) whyLock.push(`the lock task took ${lockWork.toFixed(0)} ms (> one 60 Hz frame)`);
if (process.env.BENCH_PROFILE === "1") { why.push("BENCH_PROFILE=1"); whyLock.push("BENCH_PROFILE=1"); }
if (process.env.BENCH_PROFILE === "0") { why.length = 0; whyLock.length = 0; }

const wasmNames = wasmFunctionNames(join(PKG, "autologoff_bg.wasm"));
// wasm-bindgen's import shims are anonymous functions in autologoff.js, keyed by import name
// (hash-suffixed, or shortened by the build): label a frame by its key and the start of its body
const glueSrc = readFileSync(join(PKG, "autologoff.js"), "utf8");
const glueLineStart = [0];
for (let i = 0; i < glueSrc.length; i++) if (glueSrc[i] === "\n") glueLineStart.push(i + 1);
const glueKeys = [...glueSrc.matchAll(/([\w$]+|"[^"]+")\s*:\s*function\s*\([^)]*\)\s*\{/g)].map((m) => {
  const body = glueSrc.slice(m.index + m[0].length, m.index + m[0].length + 160)
    .replace(/^\s*return\s+[\w$]+\(function\s*\([^)]*\)\s*\{/, "") // handleError(function(...){ ... }, arguments)
    .replace(/\s+/g, " ").trim();
  return { at: m.index, key: m[1].replace(/"/g, ""), body: body.split("}")[0].slice(0, 60) };
});
const glueImport = new Map(glueKeys.map((k) => [k.key, k.body]));
const glueName = (line, col) => {
  const off = (glueLineStart[line] ?? 0) + col;
  let best = null;
  for (const k of glueKeys) if (k.at <= off && off - k.at < 400) best = k;
  return best ? `${best.key}: ${best.body}` : null;
};
for (const [i, n] of wasmNames) {
  const m = /^→ (.+)$/.exec(n);
  if (m && glueImport.has(m[1])) wasmNames.set(i, `→ import ${m[1]}: ${glueImport.get(m[1])}`);
}
function summarise(p) {
  const dt = new Map(); // node id → self µs
  for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) || 0) + (p.timeDeltas[i] || 0));
  const self = new Map(), byFile = new Map();
  let total = 0;
  for (const n of p.nodes) {
    const us = dt.get(n.id) || 0;
    const f = n.callFrame;
    if (["(root)", "(idle)", "(program)", "(garbage collector)"].includes(f.functionName) || !us) continue;
    const file = f.url ? f.url.replace(server.url, "") : "(native)";
    const wasmIdx = /^(?:wasm-function|\$func)\[?(\d+)\]?$/.exec(f.functionName);
    let fname = wasmIdx && wasmNames.has(+wasmIdx[1]) ? `${f.functionName} (${wasmNames.get(+wasmIdx[1])})` : f.functionName;
    if (f.url.endsWith("/autologoff.js") && (!fname || fname.length <= 2)) {
      const g = glueName(f.lineNumber, f.columnNumber);
      if (g) fname = `${fname || "(anonymous)"} [${g}]`;
    }
    const key = `${fname || "(anonymous)"}  ${file}${f.url && !f.url.endsWith(".wasm") ? `:${f.lineNumber + 1}:${f.columnNumber + 1}` : ""}`;
    self.set(key, (self.get(key) || 0) + us);
    byFile.set(file, (byFile.get(file) || 0) + us);
    total += us;
  }
  const gc = p.nodes.filter((n) => n.callFrame.functionName === "(garbage collector)").reduce((t, n) => t + (dt.get(n.id) || 0), 0);
  return { total, gc, top: [...self].sort((a, b) => b[1] - a[1]).slice(0, 12), files: [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 6) };
}
async function profiled(cdp, fn) {
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 50 });
  await cdp.send("Profiler.start");
  await fn();
  return summarise((await cdp.send("Profiler.stop")).profile);
}
const profiles = [];
if (why.length) {
  log("profiling autologoff's input handling: " + why.join("; "));
  const { ctx, page, cdp } = await openPage();
  await page.evaluate(arm, { lib: "autologoff", timeoutMs: 3_600_000 });
  await send(cdp, "pointermove", 200);
  await send(cdp, "keydown", 200);
  const PN = Math.min(N, 3000);
  profiles.push([`${PN.toLocaleString("en")} moves + ${PN.toLocaleString("en")} keydowns (${why.join("; ")})`, await profiled(cdp, async () => { await moves(cdp, PN); await keys(cdp, PN); })]);
  await ctx.close();
}
if (whyLock.length) {
  log("profiling autologoff's lock: " + whyLock.join("; "));
  const { ctx, page, cdp } = await openPage();
  await page.evaluate(arm, { lib: "autologoff", timeoutMs: 1000, warnMs: 0 });
  profiles.push([`one idle lock, visible tab, from arm to covered (${whyLock.join("; ")})`, await profiled(cdp, () => page.evaluate(waitIdle, 4000))]);
  await ctx.close();
}

await browser.close();
server.stop();

// ---------------------------------------------------------------------------------------------
// the table
const rows = [];
const row = (metric, vals) => rows.push([metric, ...LIBS.map((l) => vals[l] ?? "—")]);
const sep = () => rows.push(null);
const a = sizes.autologoff;
row("bundle: library's own code, min + gzip -9", {
  autologoff: `${KB(a.wasmGz + a.jsMinGz)} (wasm ${KB(a.wasmGz)} + JS ${KB(a.jsMinGz)})`,
  "react-idle-timer": `${KB(sizes.ritOwn.gz)} (React external)`,
  "ng-idle": `${KB(sizes.ngOwn.gz)} (Angular, rxjs external)`,
});
row("bundle: what the bench page loads, min + gzip -9", {
  autologoff: `${KB(a.gzSum)} (the ${a.files} .js/.wasm files of pkg/ as shipped)`,
  "react-idle-timer": `${KB(sizes.rit.gz)} (+ react, react-dom)`,
  "ng-idle": `${KB(sizes.ng.gz)} (+ @angular/core, common, rxjs)`,
});
row("bundle: raw bytes (min for the peers)", {
  autologoff: `${KB(a.raw)} raw (wasm ${KB(a.wasmRaw)}); JS min ${KB(a.jsMin)}`,
  "react-idle-timer": `${KB(sizes.ritOwn.min)} own / ${KB(sizes.rit.min)} with React`,
  "ng-idle": `${KB(sizes.ngOwn.min)} own / ${KB(sizes.ng.min)} with Angular`,
});
sep();
for (const kind of ["pointermove", "keydown"]) {
  const label = `${N.toLocaleString("en")} trusted ${kind}`;
  const tm = Object.fromEntries(LIBS.map((l) => [l, med(cost[kind][l].map((c) => c.task))]));
  const sm = Object.fromEntries(LIBS.map((l) => [l, med(cost[kind][l].map((c) => c.script))]));
  row(`${label}: main-thread task time`, Object.fromEntries(LIBS.map((l) => [l, ms(tm[l], 0)])));
  row(`  ratio to no library`, Object.fromEntries(LIBS.map((l) => [l, (tm[l] / tm.none).toFixed(2) + "×"])));
  row(`  added per event vs no library`, Object.fromEntries(PEERS.map((l) => [l, (((tm[l] - tm.none) / N) * 1000).toFixed(1) + " µs"])));
  row(`  of which JS + wasm (script) time, per event`, Object.fromEntries(LIBS.map((l) => [l, `${ms(sm[l], 0)}, ${((sm[l] / N) * 1000).toFixed(1)} µs`])));
  row(`  spread of task time over ${RUNS} runs`, Object.fromEntries(LIBS.map((l) => {
    const v = cost[kind][l].map((c) => c.task);
    return [l, `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)} ms`];
  })));
  row(`  still active after the events`, Object.fromEntries(PEERS.map((l) => [l, cost[kind][l].every((c) => c.active) ? "yes" : "NO"])));
}
sep();
row("deadline → covered / idle callback, visible tab (median of 5)", Object.fromEntries(PEERS.map((l) => [l, ms(med(visible[l].map((v) => v.late)))])));
row("  range", Object.fromEntries(PEERS.map((l) => {
  const v = visible[l].map((x) => x.late);
  return [l, `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)} ms`];
})));
row("  of which deadline → timer callback starts", Object.fromEntries(PEERS.map((l) => [l, ms(med(visible[l].map((v) => v.timer)))])));
row("  of which timer callback → covered / callback", Object.fromEntries(PEERS.map((l) => [l, ms(med(visible[l].map((v) => v.work)))])));
const hid = (l) => {
  const h = hidden[l];
  if (h.some((x) => x.early)) return "fired while hidden?";
  const sync = h.filter((x) => x.afterVis).length;
  const syncF = h.filter((x) => !x.afterVis && x.afterFocus).length;
  if (sync === h.length) return `same task (${ms(med(h.map((x) => x.visMs)), 2)} dispatch)`;
  if (syncF === h.length) return `in the focus dispatch (${ms(med(h.map((x) => x.focusMs)), 2)})`;
  const late = h.map((x) => x.lateMs);
  if (late.every((x) => !Number.isFinite(x))) return h.every((x) => x.active) ? "never (within 3 s): stayed active" : "never";
  return `${ms(med(late), 0)} later (${late.filter(Number.isFinite).length}/${h.length} runs)`;
};
row("shown again after deadline passed while hidden (median of 3)", Object.fromEntries(PEERS.map((l) => [l, hid(l)])));
sep();
row("init → armed, cold (median of 5)", Object.fromEntries(PEERS.map((l) => [l, ms(med(inits[l].map((x) => x.totalMs)))])));
row("  of which import() of the JS module", Object.fromEntries(PEERS.map((l) => [l, ms(med(inits[l].map((x) => x.importMs)))])));
row("  of which init() / construct + start (autologoff: + wasm fetch, compile, instantiate)", Object.fromEntries(PEERS.map((l) => [l, ms(med(inits[l].map((x) => x.constructMs)))])));
sep();
row("1 simulated hour (3,600 moves): wasm linear memory", {
  autologoff: `${KB(hour.autologoff.wasm0)} → ${KB(hour.autologoff.wasm1)}`,
});
row("  JS heap used after GC, start → end", Object.fromEntries(LIBS.map((l) => [l, `${KB(hour[l].heap0)} → ${KB(hour[l].heap1)}`])));
row("  still active at the end", Object.fromEntries(PEERS.map((l) => [l, hour[l].active ? "yes" : "NO"])));

const head = ["metric", "autologoff", "react-idle-timer", "@ng-idle/core", "none"];
const w = head.map((h, i) => Math.max(h.length, ...rows.filter(Boolean).map((r) => String(r[i]).length)));
const line = (cells) => "| " + cells.map((c, i) => String(c).padEnd(w[i])).join(" | ") + " |";
const bar = "|" + w.map((x) => "-".repeat(x + 2)).join("|") + "|";
const out = [];
out.push(`autologoff bench — ${new Date().toISOString()}`);
out.push(`Chromium ${chromiumVersion} (${process.env.CHROME_PATH || "/usr/bin/chromium"}, headless), Node ${process.version}, playwright-core ${version("playwright-core")}, esbuild ${version("esbuild")}`);
out.push(`autologoff pkg: ${PKG}; peers: react-idle-timer ${version("react-idle-timer")} (react ${version("react")}), @ng-idle/core ${version("@ng-idle/core")} (@angular/core ${version("@angular/core")}, rxjs ${version("rxjs")})`);
out.push(`event cost: median of ${RUNS} runs, each configuration in a fresh context; delivery check on a blank page: 1000 moves → ${delivered.pointermove} pointermove, 1000 keydowns → ${delivered.keydown} keydown events (${delivered.untrusted} untrusted)`);
out.push("");
out.push(line(head));
out.push(bar);
for (const r of rows) out.push(r ? line(r) : bar);
out.push("");
out.push("Notes:");
out.push("- autologoff covers the page (inert + blur + dialog) at its deadline; the peers only call back (react-idle-timer onIdle, @ng-idle/core onIdleStart) and cover nothing: their latency is to the callback.");
out.push("- Library options: autologoff defaults (crossTab, request tracking on) with idleTimeoutMs; react-idle-timer useIdleTimer defaults (eventsThrottle 200 ms) in a React root on a detached <div>; @ng-idle/core Idle + SimpleExpiry + DEFAULT_INTERRUPTSOURCES (500 ms throttle), built by hand outside Angular DI with a pass-through zone (no zone.js), its ɵɵngDeclare* DI metadata stripped (an Angular build links it AOT).");
out.push("- react-idle-timer 5.x has no framework-free createIdleTimer; the page mounts its useIdleTimer hook. Its 'own code' size leaves React out, as an app already has React; @ng-idle/core's leaves Angular and rxjs out likewise (esbuild cannot tree-shake Angular the way the Angular CLI does, so the 'with Angular' figure overstates what ng-idle adds to an Angular app).");
out.push("- Trusted input is sent through CDP Input.dispatchMouseEvent/dispatchKeyEvent (what page.mouse/page.keyboard use), pipelined; moves alternate the Shift modifier so that Chromium cannot coalesce them (checked above). Keys: rawKeyDown of 'a' (no text, so no keypress), one keyUp at the end.");
out.push("- Task time = CDP Performance.getMetrics TaskDuration delta of the page's main thread (includes Chromium's own input handling, hence 'none' is not zero).");
out.push("- Hidden tab: headless Chromium never hides a page, so visibilityState is overridden, untrusted visibilitychange/blur are dispatched, page.clock.setSystemTime jumps the wall clock 2 min past a 1 min deadline without running timers, then visibilitychange + focus are dispatched and timed on the real clock.");
out.push("- One simulated hour: page.clock installed, 60 × (60 trusted moves, then clock.runFor(60 s): the user is active every simulated minute). wasm memory is read from the wasm-bindgen glue (/pkg/autologoff.js default export returns the live exports).");
if (profiles.length) {
  out.push("");
  out.push("autologoff CPU profiles (50 µs sampling; self time; wasm functions named from the binary's exports/imports where it can tell):");
  for (const [what, p] of profiles) {
    out.push(`  ${what}: ${(p.total / 1000).toFixed(1)} ms in JS/wasm/DOM calls + ${(p.gc / 1000).toFixed(1)} ms GC; by file: ` +
      p.files.map(([f, us]) => `${f} ${((100 * us) / p.total).toFixed(0)}%`).join(", "));
    for (const [k, us] of p.top) out.push(`    ${(us / 1000).toFixed(1).padStart(7)} ms ${((100 * us) / p.total).toFixed(1).padStart(5)}%  ${k}`);
  }
}
out.push(`(bench wall time ${((performance.now() - started) / 1000).toFixed(0)} s)`);
console.log(out.join("\n"));
