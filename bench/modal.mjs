// node bench/modal.mjs [runs]: the floor under the lock's task on the bench page — a bare
// `showModal()` of a dialog like the lock overlay, no library on the page, built beforehand and
// already in the document; first and second opening (closed in between, frames apart), on the
// 200-row table page (bench/trusted.mjs) and on the same page without its table. Headless
// Chromium; performance.now() around the call (0.1 ms resolution).
import { openTablePage } from "./trusted.mjs";
import { startServer, launch } from "../tests/e2e/lib.mjs";

const RUNS = Number(process.argv[2] || 5);
const server = await startServer();
const browser = await launch();
const out = { table: [], plain: [] };
for (let r = 0; r < RUNS; r++) for (const kind of ["table", "plain"]) {
  const { ctx, page } = await openTablePage(browser, server.url, []);
  out[kind].push(await page.evaluate(async (plain) => {
    if (plain) document.querySelector("table").remove();
    const frame = () => new Promise((res) => requestAnimationFrame(() => setTimeout(res, 50)));
    const el = (tag, css, text) => {
      const e = document.createElement(tag);
      e.style.cssText = css;
      if (text) e.textContent = text;
      return e;
    };
    const d = el("dialog", "all:initial!important;position:fixed!important;inset:0!important;display:flex!important;" +
      "align-items:center!important;justify-content:center!important;background:rgba(15,23,42,.88)!important");
    const card = el("div", "all:revert!important;background:#fff!important;padding:24px 28px!important;font:16px/1.5 system-ui,sans-serif!important");
    card.append(el("h2", "", "Session locked"), el("p", "", "Your session was locked to protect patient information."),
      el("button", "all:revert!important;font:inherit!important", "Sign in again"));
    d.append(card);
    document.documentElement.append(d);
    await frame();
    let t = performance.now();
    d.showModal();
    const first = performance.now() - t;
    await frame();
    d.close();
    await frame();
    t = performance.now();
    d.showModal();
    return [first, performance.now() - t];
  }, kind === "plain"));
  await ctx.close();
}
const med = (a) => [...a].sort((x, y) => x - y)[(a.length - 1) >> 1].toFixed(1);
const rng = (a) => `[${Math.min(...a).toFixed(1)}–${Math.max(...a).toFixed(1)}]`;
for (const k of ["table", "plain"]) {
  const f = out[k].map((x) => x[0]), s = out[k].map((x) => x[1]);
  console.log(`${k === "table" ? "200-row table page" : "same page, no table"}: showModal() first ${med(f)} ms ${rng(f)}, second ${med(s)} ms ${rng(s)}`);
}
await browser.close();
server.stop();
