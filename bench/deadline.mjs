// node bench/deadline.mjs pkgDirA [pkgDirB …]: warn and lock event times against their deadlines (idleTimeoutMs 1500,
// warnBeforeMs 500, 200-row table page, 5 repetitions interleaved), when the timer callback started, and the
// first requestAnimationFrame after the lock (the page is covered by then: inert checked in the lock event).
import { resolve } from "node:path";
import { openTablePage } from "./trusted.mjs";
import { startServer, launch } from "../tests/e2e/lib.mjs";
const dirs = process.argv.slice(2).map((d) => resolve(d));
const server = await startServer();
const browser = await launch();
async function openPage() {
  const opened = await openTablePage(browser, server.url, dirs);
  await opened.page.evaluate(() => { sessionStorage.setItem("a", "1"); sessionStorage.setItem("b", "2"); });
  return opened;
}
const out = {};
for (let r = 0; r < 5; r++) for (let i = 0; i < dirs.length; i++) {
  const { ctx, page, cdp } = await openPage();
  const res = await page.evaluate(async ({ base, warn }) => {
    const ost = setTimeout; window.__tcb = [];
    window.setTimeout = function (cb, ms, ...a) { return ost.call(window, function () { window.__tcb.push(Date.now()); return cb.apply(this, arguments); }, ms, ...a); };
    const { init } = await import(`${base}/index.js`);
    const s = await init({ idleTimeoutMs: 1500, warnBeforeMs: warn });
    const t0 = Date.now();
    const deadline = t0 + s.remainingMs();
    const got = {};
    const frame = () => new Promise((res) => requestAnimationFrame(() => res(Date.now())));
    s.addEventListener("warn", () => { got.warn = Date.now(); got.warnDl = deadline - warn; got.warnTimer = window.__tcb.at(-1); });
    s.addEventListener("lock", () => { got.lock = Date.now(); got.lockTimer = window.__tcb.at(-1); got.lockCovered = document.body.hasAttribute("inert"); frame().then((t) => got.frame = t); });
    await new Promise((res) => { const iv = setInterval(() => { if (got.frame) { clearInterval(iv); res(); } }, 5); });
    return { warnTimer: got.warnTimer - got.warnDl, lockTimer: got.lockTimer - deadline, warn: got.warn - got.warnDl, lock: got.lock - deadline, frame: got.frame - deadline, covered: got.lockCovered };
  }, { base: `/pkg${i}`, warn: 500 });
  (out[i] ??= []).push(res);
  console.error(r, i, JSON.stringify(res));
  await ctx.close();
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[(s.length - 1) >> 1]; };
for (const i in out) console.log(dirs[i], ["warnTimer", "warn", "lockTimer", "lock", "frame"].map((k) => `${k} ${med(out[i].map((x) => x[k]))} [${Math.min(...out[i].map((x) => x[k]))}–${Math.max(...out[i].map((x) => x[k]))}] ms`).join(", "));
await browser.close(); server.stop();
