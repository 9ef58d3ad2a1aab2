// npm run bench: prints numbers, asserts nothing. One Chromium run against the demo server.
//   - main-thread cost of 10,000 trusted pointermove events, SDK vs no library (CDP TaskDuration)
//   - init time to armed (wasm fetch + compile + arm)
//   - delay from the deadline to the page being covered, visible tab
import { startServer, launch, openHarness, sleep } from "../tests/e2e/lib.mjs";

const N = 10_000;
const server = await startServer();
const browser = await launch();
const rows = [];

async function eventCost(withSdk) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${server.url}/fixtures/other.html`);
  if (withSdk) {
    await page.evaluate(async () => {
      const { init } = await import("/pkg/index.js");
      window.session = await init({ idleTimeoutMs: 3_600_000, crossTab: false });
    });
  }
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Performance.enable");
  const metric = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
  const m0 = await metric();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    await page.mouse.move(10 + (i % 300), 10 + (i % 200));
  }
  const wall = performance.now() - t0;
  const m1 = await metric();
  await ctx.close();
  return { task: (m1.TaskDuration - m0.TaskDuration) * 1000, script: (m1.ScriptDuration - m0.ScriptDuration) * 1000, wall };
}

const base = await eventCost(false);
const sdk = await eventCost(true);
rows.push(["10k trusted pointermove: main-thread task time (no library)", base.task.toFixed(1) + " ms"]);
rows.push(["10k trusted pointermove: main-thread task time (autologoff)", sdk.task.toFixed(1) + " ms"]);
rows.push(["  ratio autologoff / none", (sdk.task / base.task).toFixed(2) + "×"]);
rows.push(["  script time (none → autologoff)", `${base.script.toFixed(1)} → ${sdk.script.toFixed(1)} ms`]);

// init to armed, and deadline → covered latency in a visible tab
const lat = [], inits = [];
for (let i = 0; i < 5; i++) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${server.url}/fixtures/other.html`);
  const r = await page.evaluate(async () => {
    const t0 = performance.now();
    const { init } = await import("/pkg/index.js");
    const s = await init({ idleTimeoutMs: 1000, warnBeforeMs: 0, crossTab: false });
    const armed = performance.now() - t0;
    const deadline = Date.now() + s.remainingMs();
    return await new Promise((res) => {
      const mo = new MutationObserver(() => {
        if (document.body.hasAttribute("inert")) { mo.disconnect(); res({ armed, late: Date.now() - deadline }); }
      });
      mo.observe(document.body, { attributes: true });
    });
  });
  inits.push(r.armed);
  lat.push(r.late);
  await ctx.close();
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
rows.push(["init → armed (median of 5, cold wasm each)", med(inits).toFixed(1) + " ms"]);
rows.push(["deadline → page covered, visible tab (median of 5)", med(lat).toFixed(1) + " ms"]);

await browser.close();
server.stop();
const w = Math.max(...rows.map((r) => r[0].length));
console.log("autologoff bench (Chromium " + (process.env.CHROME_PATH || "/usr/bin/chromium") + ")");
for (const [k, v] of rows) console.log(k.padEnd(w + 2) + v);
