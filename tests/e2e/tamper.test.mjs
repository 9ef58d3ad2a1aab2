// Hiding the lock overlay while locked (issue 14): whatever a script of the page does to make
// the overlay or its button not visible or not clickable is undone at once and recorded as
// `tamper`, and a real (trusted) click on "Sign in again" then fires `signin`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { suite } from "./suite.mjs";
import { openHarness, events, sleep, waitFor } from "./lib.mjs";

const env = suite({ shared: true });
const BUTTON = "#autologoff-overlay button";

/** "shown" when the overlay covers the viewport and its button is visible, on top and in view. */
const shown = (page) => page.evaluate(() => {
  const d = document.getElementById("autologoff-overlay");
  const b = d && d.querySelector("button");
  if (!b || !d.contains(b)) return "missing";
  if (!d.matches(":modal")) return "not modal";
  for (let e = b; e; e = e.parentElement) {
    const cs = getComputedStyle(e);
    if (cs.display === "none" || cs.contentVisibility === "hidden" || Number(cs.zoom) < 0.5) return `${e.tagName}: display ${cs.display}, content-visibility ${cs.contentVisibility}, zoom ${cs.zoom}`;
    if (e.closest("dialog") && Number(cs.opacity) < 1) return `${e.tagName}: opacity ${cs.opacity}`;
  }
  const cs = getComputedStyle(b);
  if (cs.visibility !== "visible" || cs.pointerEvents === "none") return `button: visibility ${cs.visibility}, pointer-events ${cs.pointerEvents}`;
  if (b.disabled || b.inert || d.inert) return "disabled or inert";
  const r = b.getBoundingClientRect();
  if (r.width < 20 || r.height < 10 || r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight) return `button at ${JSON.stringify(r)}`;
  const o = d.getBoundingClientRect();
  if (o.left > 0 || o.top > 0 || o.right < innerWidth || o.bottom < innerHeight) return `overlay at ${JSON.stringify(o)}`;
  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  return hit === b ? "shown" : `button covered by ${hit && hit.outerHTML.slice(0, 80)}`;
  // (Another top-layer element above the overlay is allowed: the app's re-authentication
  // dialog opens there on `signin`. None is opened here, so the button must be hit.)
});

// Each runs in the locked page: `d` the overlay dialog, `b` its button.
const WAYS = {
  "display:none !important on the dialog, filter:none !important on <body>": () => {
    d.style.setProperty("display", "none", "important");
    document.body.style.setProperty("filter", "none", "important");
  },
  "display:none !important on the element that hosts it (<html>)": () =>
    document.documentElement.style.setProperty("display", "none", "important"),
  "moved into a hidden element": () => {
    const x = document.createElement("div");
    x.style.setProperty("display", "none", "important");
    document.body.append(x);
    x.append(d);
  },
  "a class whose stylesheet rule hides it": () => {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(".gone { display: none !important; opacity: 0 !important; visibility: hidden !important; }");
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    for (const e of [d, b.parentElement, b]) e.classList.add("gone");
  },
  "the hidden attribute": () => { d.hidden = true; b.hidden = true; },
  "opacity 0": () => {
    d.style.setProperty("opacity", "0", "important");
    b.style.setProperty("opacity", "0", "important");
  },
  "zero size": () => {
    for (const p of ["width", "height", "max-width", "max-height"]) d.style.setProperty(p, "0", "important");
    d.style.setProperty("overflow", "hidden", "important");
    b.style.setProperty("width", "0", "important");
    b.style.setProperty("height", "0", "important");
    b.style.setProperty("padding", "0", "important");
    b.style.setProperty("font-size", "0", "important");
  },
  "moved off-screen": () => {
    d.style.setProperty("transform", "translateX(-300vw)", "important");
    b.style.setProperty("position", "fixed", "important");
    b.style.setProperty("left", "-9999px", "important");
  },
  "the button disabled, the dialog inert": () => { b.disabled = true; d.inert = true; },
};

for (const [way, hide] of Object.entries(WAYS)) {
  test(`tamper: ${way} is undone at once and audited; a real click on "Sign in again" fires signin`, async () => {
    const ctx = await env.browser.newContext();
    const page = await openHarness(ctx, env.server.url, { idleTimeoutMs: 60_000, warnBeforeMs: 0 });
    await page.evaluate(() => window.session.lock("manual"));
    assert.equal(await shown(page), "shown", "before tampering");
    await page.evaluate(`(() => {
      const d = document.getElementById("autologoff-overlay"), b = d.querySelector("button");
      (${hide.toString()})();
    })()`);
    await sleep(100);
    assert.equal(await shown(page), "shown", `overlay after: ${way}`);
    assert.match(await page.evaluate(() => getComputedStyle(document.body).filter), /blur/);
    assert.ok((await events(page, "audit")).some((e) => e.detail.type === "tamper"), "no tamper record");
    await page.click(BUTTON, { timeout: 3000 }); // trusted mouse click, after Playwright's actionability checks
    await waitFor(async () => (await events(page, "signin")).length === 1, { timeout: 2000 });
    assert.equal(await page.evaluate(() => window.session.state), "locked");
    // unlock leaves nothing of the repair behind on <html>
    assert.equal(await page.evaluate(() => window.session.unlock()), true);
    assert.deepEqual(await page.evaluate(() => [document.getElementById("autologoff-overlay"),
      ["display", "zoom", "content-visibility"].map((p) => document.documentElement.style.getPropertyValue(p) === "revert").some(Boolean)]), [null, false]);
    await ctx.close();
  });
}
