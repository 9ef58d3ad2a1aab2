// node bench/locktask.mjs [runs] [pkgDir …]: the lock's task without tracing overhead. Every
// import the wasm calls (the JS glue) and every export is wrapped with a timer; per run, the task
// that dispatched `lock` (from its timer callback) as a timeline of the glue calls of ≥ 0.1 ms
// (start + duration, ms), and the median task length per package (idleTimeoutMs 1500,
// warnBeforeMs 500, 200-row table, headless Chromium). The wrapping adds a little to each call.
import { resolve } from "node:path";
import { openTablePage } from "./trusted.mjs";
import { startServer, launch } from "../tests/e2e/lib.mjs";

const RUNS = Number(process.argv[2] || 5);
const dirs = (process.argv.length > 3 ? process.argv.slice(3) : ["pkg"]).map((d) => resolve(d));
const server = await startServer();
const browser = await launch();
const tasks = dirs.map(() => []);
for (let r = 0; r < RUNS; r++) for (let i = 0; i < dirs.length; i++) {
  const { ctx, page } = await openTablePage(browser, server.url, dirs);
  const res = await page.evaluate(async ({ base }) => {
    let on = false, t0 = 0, depth = 0, line = [];
    const wrap = (name, f) => function (...a) {
      if (!on) return f.apply(this, a);
      const t = performance.now();
      depth++;
      try { return f.apply(this, a); } finally {
        depth--;
        const d = performance.now() - t;
        if (d >= 0.1) line.push(`${(t - t0).toFixed(1).padStart(5)} +${d.toFixed(1)}  ${name}`);
      }
    };
    const wrapImports = (imp) => Object.fromEntries(Object.entries(imp).map(([m, fs]) => [m, Object.fromEntries(Object.entries(fs).map(([k, f]) =>
      [k, typeof f === "function" ? wrap(`glue ${String(f).slice(0, 60).replace(/\s+/g, " ")}`, f) : f]))]));
    const wrapInst = (r) => {
      const inst = r.instance || r;
      const exports = Object.fromEntries(Object.entries(inst.exports).map(([k, f]) => [k, typeof f === "function" ? wrap(`wasm export ${k}`, f) : f]));
      return r.instance ? { module: r.module, instance: { exports } } : { exports };
    };
    const IS = WebAssembly.instantiateStreaming, I = WebAssembly.instantiate;
    WebAssembly.instantiateStreaming = async (s, imp) => wrapInst(await IS(s, wrapImports(imp)));
    WebAssembly.instantiate = async (b, imp) => wrapInst(await I(b, wrapImports(imp)));
    const st = setTimeout;
    window.setTimeout = function (cb, ms, ...a) {
      return st.call(window, function () {
        if (ms > 0) { on = true; t0 = performance.now(); line = []; }
        return cb.apply(this, arguments);
      }, ms, ...a);
    };
    const { init } = await import(`${base}/index.js`);
    const s = await init({ idleTimeoutMs: 1500, warnBeforeMs: 500 });
    const deadline = Date.now() + s.remainingMs();
    return await new Promise((res) => s.addEventListener("lock", () => {
      const out = { lock: Date.now() - deadline, task: performance.now() - t0, line };
      on = false;
      res(out);
    }));
  }, { base: `/pkg${i}` });
  tasks[i].push(res.task);
  console.log(`${dirs[i]} run ${r}: task ${res.task.toFixed(1)} ms, lock − deadline ${res.lock} ms\n  ${res.line.join("\n  ")}`);
  await ctx.close();
}
const med = (a) => [...a].sort((x, y) => x - y)[(a.length - 1) >> 1];
for (const i in dirs) console.log(`${dirs[i]}: lock task median ${med(tasks[i]).toFixed(1)} ms [${Math.min(...tasks[i]).toFixed(1)}–${Math.max(...tasks[i]).toFixed(1)}]`);
await browser.close();
server.stop();
