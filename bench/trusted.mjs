// Trusted input and the pkg/ routes shared by the benches (run.mjs, input.mjs, deadline.mjs).
import { readFileSync, existsSync } from "node:fs";
import { join, extname } from "node:path";

// ---- trusted input through CDP (what page.mouse.move / page.keyboard.press send) ----
// Chromium dispatches mousemoves rAF-aligned and coalesces queued ones into one DOM event per
// frame; awaiting each move (page.mouse.move) waits a frame, ~17 ms, so 10,000 would take ~3 min
// per configuration. Consecutive moves with different modifiers cannot be coalesced, so moves are
// sent in pipelined batches alternating Shift: every one is its own trusted pointermove.
let moveSeq = 0;
export async function moves(cdp, n, batch = 1000) {
  for (let done = 0; done < n; done += batch) {
    const ps = [];
    for (let i = 0; i < Math.min(batch, n - done); i++) {
      const k = moveSeq++;
      ps.push(cdp.send("Input.dispatchMouseEvent", { type: "mouseMoved", x: 20 + (k % 400), y: 20 + ((k * 7) % 300), modifiers: k % 2 ? 8 : 0 }));
    }
    await Promise.all(ps);
  }
}
const KEY = { key: "a", code: "KeyA", windowsVirtualKeyCode: 65, nativeVirtualKeyCode: 65 };
// keydowns only (no library here listens to keyup; a keyup after each would only add the same
// baseline work to every configuration and double the time), released once at the end
export async function keys(cdp, n, batch = 1000) {
  for (let done = 0; done < n; done += batch) {
    const ps = [];
    for (let i = 0; i < Math.min(batch, n - done); i++) ps.push(cdp.send("Input.dispatchKeyEvent", { type: "rawKeyDown", ...KEY }));
    await Promise.all(ps);
  }
  await cdp.send("Input.dispatchKeyEvent", { type: "keyUp", ...KEY });
}

const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm" };
/** Serves `dirs[i]` at `/pkg<i>/` in this context, so several builds load side by side. */
export function routePkgs(ctx, base, dirs) {
  return ctx.route(`${base}/pkg*/**`, (route) => {
    const u = new URL(route.request().url()).pathname.split("/");
    const i = Number(u[1].slice(3));
    const f = join(dirs[i] ?? "", u.slice(2).join("/"));
    if (!dirs[i] || !existsSync(f)) return route.fulfill({ status: 404 });
    return route.fulfill({ status: 200, contentType: TYPES[extname(f)] || "application/octet-stream", body: readFileSync(f) });
  });
}

/**
 * A fresh context with `dirs` served at `/pkg<i>/` (routePkgs), on a page of the server's
 * origin holding the synthetic chart: a 200-row table. Returns `{ ctx, page, cdp }`.
 */
export async function openTablePage(browser, base, dirs) {
  const ctx = await browser.newContext();
  await routePkgs(ctx, base, dirs);
  const page = await ctx.newPage();
  await page.goto(`${base}/fixtures/other.html`);
  await page.evaluate(() => {
    const t = document.createElement("table");
    for (let r = 0; r < 200; r++) {
      const tr = t.insertRow();
      for (let c = 0; c < 6; c++) tr.insertCell().textContent = `r${r}c${c} 120/80 mmHg`;
    }
    document.body.append(t);
  });
  return { ctx, page, cdp: await ctx.newCDPSession(page) };
}
