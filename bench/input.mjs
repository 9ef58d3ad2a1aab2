// node bench/input.mjs [pkgDirA pkgDirB …]: per trusted input, side by side in one Chromium run.
// Each pkg dir (default: pkg/) and the no-library page ("none", twice: an A/A row for the noise)
// get BENCH_N trusted pointermoves and keydowns per repetition, BENCH_REPS repetitions
// interleaved (order rotated); prints script time per event (median [min–max]) and, with
// BENCH_PROFILE=1, a CDP CPU profile (self time) of each pkg over the same events.
import { join, resolve } from "node:path";
import { moves, keys, openTablePage } from "./trusted.mjs";
import { startServer, launch, ROOT } from "../tests/e2e/lib.mjs";

const N = Number(process.env.BENCH_N || 10_000);
const REPS = Number(process.env.BENCH_REPS || 5);
const dirs = process.argv.slice(2).map((d) => resolve(d));
if (!dirs.length) dirs.push(join(ROOT, "pkg"));
// "listener": one no-op passive capture listener on window for the same six event kinds, the
// floor for any library that listens (the browser makes a JS event object per dispatch).
const LIBS = [...dirs.map((_, i) => `pkg${i}`), "listener", "none", "none (A/A)"];

const server = await startServer();
const browser = await launch();

const openPage = () => openTablePage(browser, server.url, dirs);

const metrics = async (cdp) => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));

async function arm(page, lib) {
  if (lib === "listener") {
    return page.evaluate(() => {
      const on = () => {};
      for (const k of ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "scroll"]) addEventListener(k, on, { capture: true, passive: true });
    });
  }
  if (!lib.startsWith("pkg")) return;
  await page.evaluate(async (base) => {
    const { init } = await import(`${base}/index.js`);
    window.__s = await init({ idleTimeoutMs: 3_600_000 });
  }, `/${lib}`);
}

async function run(lib) {
  const { ctx, page, cdp } = await openPage();
  await arm(page, lib);
  await cdp.send("Performance.enable");
  await moves(cdp, 200); await keys(cdp, 200); // warm-up
  const m0 = await metrics(cdp);
  await moves(cdp, N); await keys(cdp, N);
  await page.evaluate(() => 0);
  const m1 = await metrics(cdp);
  const r = { script: ((m1.ScriptDuration - m0.ScriptDuration) * 1e6) / (2 * N), task: ((m1.TaskDuration - m0.TaskDuration) * 1e6) / (2 * N) };
  r.alive = lib.startsWith("pkg") ? await page.evaluate(() => window.__s.state) : null;
  await ctx.close();
  return r;
}

const res = Object.fromEntries(LIBS.map((l) => [l, []]));
for (let r = 0; r < REPS; r++) {
  for (let i = 0; i < LIBS.length; i++) {
    const lib = LIBS[(i + r) % LIBS.length];
    const x = await run(lib);
    res[lib].push(x);
    console.error(`rep ${r + 1} ${lib}: script ${x.script.toFixed(2)} µs/event, task ${x.task.toFixed(2)} µs/event ${x.alive ? JSON.stringify(x.alive) : ""}`);
  }
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const fmt = (a) => `${med(a).toFixed(2)} [${Math.min(...a).toFixed(2)}–${Math.max(...a).toFixed(2)}]`;
console.log(`per trusted input (${N} pointermove + ${N} keydown per repetition, ${REPS} repetitions interleaved, 200-row table page), µs: median [min–max]`);
console.log("| page | script time per input | task time per input |\n|---|---|---|");
for (const l of LIBS) console.log(`| ${l.startsWith("pkg") ? `${l} ${dirs[+l.slice(3)]}` : l} | ${fmt(res[l].map((x) => x.script))} | ${fmt(res[l].map((x) => x.task))} |`);

if (process.env.BENCH_PROFILE === "1") {
  for (let i = 0; i < dirs.length; i++) {
    const { ctx, page, cdp } = await openPage();
    await arm(page, `pkg${i}`);
    await moves(cdp, 200); await keys(cdp, 200);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 50 });
    await cdp.send("Profiler.start");
    await moves(cdp, N); await keys(cdp, N);
    const p = (await cdp.send("Profiler.stop")).profile;
    const dt = new Map();
    for (let k = 0; k < p.samples.length; k++) dt.set(p.samples[k], (dt.get(p.samples[k]) || 0) + (p.timeDeltas[k] || 0));
    const self = new Map();
    for (const nd of p.nodes) {
      const f = nd.callFrame, us = dt.get(nd.id) || 0;
      if (!us || ["(root)", "(idle)", "(program)"].includes(f.functionName)) continue;
      const key = `${f.functionName || "(anonymous)"} ${f.url.replace(server.url, "")}${f.url && !f.url.endsWith(".wasm") ? `:${f.lineNumber + 1}:${f.columnNumber + 1}` : ""}`;
      self.set(key, (self.get(key) || 0) + us);
    }
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    console.log(`\nprofile pkg${i} ${dirs[i]}: ${(total / 1000).toFixed(1)} ms self time in JS/wasm/GC over ${2 * N} inputs (${(total / (2 * N)).toFixed(2)} µs each)`);
    for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${(us / 1000).toFixed(1).padStart(7)} ms  ${k}`);
    await ctx.close();
  }
}
await browser.close();
server.stop();
