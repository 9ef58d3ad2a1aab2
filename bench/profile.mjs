// node bench/profile.mjs [runs]: where the lock task's time goes, on the bench's clinical page
// (bench/site.mjs) in headless Chromium. Per run: autologoff armed (idle 2 s, warning 1 s), a
// CDP trace (devtools.timeline, V8 and wasm compilation, blink; the V8 sampling profiler) around the
// lock deadline; then the task that ran the `lock` listener, its nested trace events by self time,
// each forced style/layout update, and the JS functions the sampler saw in it. Prints the `lock` −
// deadline and frame − deadline of each run (inflated by the tracing itself: compare runs of this
// script with each other, not with npm run bench). AUTOLOGOFF_PKG: the pkg/ to profile.
import { join } from "node:path";
import { launch, ROOT } from "../tests/e2e/lib.mjs";
import { arm } from "./page.mjs";
import { serve } from "./site.mjs";

const RUNS = Number(process.argv[2] || 3);
const PKG = process.env.AUTOLOGOFF_PKG || join(ROOT, "pkg");
const site = await serve(PKG, {});
const browser = await launch();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// BENCH_SAMPLE=0: no JS sampler (its start-up lands in the task), stack traces of forced style/layout instead
const SAMPLE = process.env.BENCH_SAMPLE !== "0";
const CATS = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink.user_timing", "v8",
  "disabled-by-default-v8.compile", "v8.wasm", "disabled-by-default-v8.wasm.detailed", "blink", "disabled-by-default-blink.debug",
  SAMPLE ? "disabled-by-default-v8.cpu_profiler" : "disabled-by-default-devtools.timeline.stack"].join(",");

for (let run = 0; run < RUNS; run++) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(site.url + "/");
  const cdp = await ctx.newCDPSession(page);
  await page.evaluate(arm, { lib: "autologoff", timeoutMs: 2000, warnMs: 1000 });
  await page.evaluate(() => new Promise((r) => setTimeout(r, 1300)));
  const events = [];
  cdp.on("Tracing.dataCollected", (e) => events.push(...e.value));
  const done = new Promise((r) => cdp.once("Tracing.tracingComplete", r));
  await cdp.send("Tracing.start", { traceConfig: { includedCategories: CATS.split(","), enableSampling: true }, transferMode: "ReportEvents" });
  await sleep(1200);
  const seen = await page.evaluate(() => ({ ...window.__seen, dl: window.__deadlines }));
  await cdp.send("Tracing.end");
  await done;
  await ctx.close();
  report(run, events, seen);
}
await browser.close();
site.close();

function report(run, events, seen) {
  const lockMs = seen.lock - seen.dl.lock, frameMs = seen.frame - seen.dl.lock;
  // the renderer main thread: the one with the TimerFire of our timer
  const main = events.find((e) => e.name === "TimerFire")?.tid;
  const x = events.filter((e) => e.tid === main && e.ph === "X" && e.dur != null);
  // the task: the longest top-level RunTask containing a TimerFire near the end
  const tasks = x.filter((e) => e.name === "RunTask").sort((a, b) => b.dur - a.dur);
  const timers = events.filter((e) => e.tid === main && e.name === "TimerFire");
  const task = tasks.find((t) => timers.some((f) => f.ts >= t.ts && f.ts <= t.ts + t.dur) && t.dur > 1000) || tasks[0];
  const inside = x.filter((e) => e !== task && e.ts >= task.ts && e.ts + e.dur <= task.ts + task.dur + 1);
  // self time per event name (children subtracted)
  inside.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const self = new Map();
  const stack = [];
  for (const e of inside) {
    while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
    if (stack.length) stack.at(-1).self -= e.dur;
    e.self = e.dur;
    stack.push(e);
  }
  for (const e of inside) self.set(e.name, (self.get(e.name) || 0) + e.self);
  console.log(`\nrun ${run}: lock − deadline ${lockMs} ms, frame − deadline ${frameMs} ms, covered in frame ${seen.coveredInFrame}; task ${(task.dur / 1000).toFixed(1)} ms`);
  console.log("  trace events in the task, self time:");
  for (const [n, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`    ${(us / 1000).toFixed(2).padStart(7)} ms  ${n}`);
  for (const e of inside.filter((e) => /UpdateLayoutTree|Layout|RecalculateStyles|ParseAuthorStyleSheet/.test(e.name))) {
    const st = e.args?.beginData?.stackTrace || e.args?.data?.stackTrace || e.args?.stackTrace || [];
    console.log(`    ${e.name} ${(e.dur / 1000).toFixed(2)} ms elements ${e.args?.elementCount ?? e.args?.beginData?.dirtyObjects ?? "?"} at ${st.slice(0, 4).map((f) => `${f.functionName || "?"}@${(f.url || "").split("/").pop()}`).join(" < ")}`);
  }
  // JS sampling: ProfileChunk events carry nodes and samples
  const nodes = new Map();
  const samples = [];
  for (const e of events.filter((e) => e.name === "ProfileChunk")) {
    const d = e.args.data.cpuProfile || {};
    for (const n of d.nodes || []) nodes.set(n.id, n);
    (d.samples || []).forEach((s, i) => samples.push([s, e.args.data.timeDeltas[i]]));
  }
  const start = events.find((e) => e.name === "Profile")?.args?.data?.startTime;
  if (start == null || !samples.length) return;
  let t = start;
  const hits = new Map();
  for (const [s, dt] of samples) {
    t += dt;
    if (t < task.ts || t > task.ts + task.dur) continue;
    const n = nodes.get(s);
    const f = n?.callFrame;
    const name = f ? `${f.functionName || "(anon)"} ${f.url?.split("/").pop() || ""}:${f.lineNumber ?? ""}` : "?";
    hits.set(name, (hits.get(name) || 0) + 1);
  }
  console.log("  JS samples in the task (100 µs each, leaf frames):");
  for (const [n, c] of [...hits].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`    ${String(c).padStart(4)}  ${n}`);
}
