// The clinician's return (CONTRACT.md "Signing in again without losing the page" and "The
// same clinician"), against the real server: the sign-in popup of `server.signin`, and a
// different user never seeing the previous one's page. Asserted on what a user sees: the
// draft in the field, the cover, and screenshots (nurse-a's chart is a solid red block in
// the harness, anyone else's blue).
import { test } from "node:test";
import assert from "node:assert/strict";
import { suite } from "./suite.mjs";
import { events, sleep, waitFor } from "./lib.mjs";
import { decodePng, countColor } from "./png.mjs";

const env = suite({ shared: true });
const RED = [255, 0, 0];
const BLUE = [0, 0, 255];
const OPTS = { idleTimeoutMs: 600_000, warnBeforeMs: 0, server: { url: "/session", signin: "/signin.html", pollIntervalMs: 60_000 } };
const DRAFT = "S: synthetic patient resting. P: recheck at 06:00 (UNSAVED)";
const state = (p) => p.evaluate(() => window.session?.state ?? null).catch(() => null);

/** Sign in as `user` from a page of the origin (no SDK there), as another tab would. */
async function login(page, user) {
  await page.goto(`${env.server.url}/fixtures/other.html`);
  const status = await page.evaluate((u) => fetch("/login", { method: "POST", body: JSON.stringify({ user: u }) }).then((r) => r.status), user);
  assert.equal(status, 204);
}

/** The harness with the user's chart (`who`) and the fetch spy; `window.marker` tells a reload. */
async function openChart(page, opts = OPTS) {
  await page.goto(`${env.server.url}/fixtures/harness.html?who=1&spy=1#${encodeURIComponent(JSON.stringify(opts))}`);
  await page.waitForFunction(() => window.ready === true && !!document.getElementById("who"));
  await page.evaluate(() => {
    window.marker = "this document";
    // Kept across a reload (the purge erases only named keys): what the page did last.
    window.session.addEventListener("switch", () => localStorage.setItem("test:switch", String(Date.now())));
  });
}

/** The page's own session ended at the server (the lock's DELETE landed). */
async function lockAndWaitForDelete(page) {
  await page.evaluate(() => window.session.lock());
  await waitFor(() => page.evaluate(() => fetch("/api/whoami").then((r) => r.status === 401)), { timeout: 5000 });
}

const covered = (p) => p.evaluate(() => ({
  state: window.session.state,
  overlay: !!document.querySelector("#autologoff-overlay[open]"),
  inert: document.body.inert,
}));

/** Press the overlay's "Sign in again" (a real click) and return the popup it opens. */
async function signInAgain(ctx, page) {
  const click = () => page.click("#autologoff-overlay button");
  if (ctx.popupAfter) return ctx.popupAfter(click); // WebDriver (webdriver.mjs)
  const [popup] = await Promise.all([page.waitForEvent("popup"), click()]);
  return popup;
}

/** The sign-in page loaded, its module (the form's submit handler) run. */
const signinReady = () => document.readyState === "complete" && !!document.getElementById("signin-form");

/** Sign in as `user` in the demo's sign-in page (the popup). */
async function submitSignin(popup, user) {
  await popup.waitForFunction(signinReady);
  await popup.evaluate((u) => {
    document.getElementById("signin-user").value = u;
    document.getElementById("signin-form").requestSubmit();
  }, user);
}

/**
 * Screenshots of `pages` (and their DOM) for `ms`: no frame may show nurse-a's chart. A
 * frame passes when it has no red pixels and, in the DOM at that moment, the page is either
 * covered or no longer nurse-a's. Returns how many screenshots were checked. WebKitGTK paints
 * only the tab in front (a screenshot of another one never returns): there the other tabs
 * are checked through their DOM alone (`shots`).
 */
async function neverShowsA(pages, ms = 3000, shots = pages, minFrames = 6) {
  // At least `ms`, and on until `minFrames` screenshots were checked: a screenshot of a
  // page mid-reload may take seconds on a loaded machine (bounded: 20 s in all).
  const start = Date.now();
  let frames = 0;
  while (Date.now() - start < ms || (frames < minFrames && Date.now() - start < 20_000)) {
    for (const p of pages) {
      const shot = shots.includes(p) ? await p.screenshot({ timeout: 2000 }).catch(() => null) : null; // null: mid-reload
      if (shot) {
        const red = countColor(decodePng(shot), RED);
        assert.equal(red, 0, `frame ${frames}: ${red} pixels of nurse-a's chart on screen`);
        frames++;
      }
      const dom = await p.evaluate(() => ({
        who: document.getElementById("who")?.textContent ?? "",
        covered: !!document.querySelector("#autologoff-overlay[open]") && document.body.inert,
      })).catch(() => null);
      if (dom) assert.ok(dom.covered || !dom.who.includes("nurse-a"), `nurse-a's chart uncovered: ${JSON.stringify(dom)}`);
    }
  }
  return frames;
}

/** The page was reloaded and is nurse-b's, active, with a fresh document. */
async function reloadedAsB(page, { shot = true } = {}) {
  await waitFor(() => page.evaluate(() => window.ready === true && !window.marker && !!document.getElementById("who")).catch(() => false), { timeout: 10_000 });
  assert.equal(await page.evaluate(() => document.getElementById("who").textContent), "Chart of Patient nurse-b");
  assert.equal(await page.evaluate(() => performance.getEntriesByType("navigation")[0]?.type), "reload");
  await waitFor(async () => (await state(page)) === "active", { timeout: 3000 });
  const c = await covered(page);
  assert.deepEqual(c, { state: "active", overlay: false, inert: false });
  if (!shot) return;
  const img = decodePng(await page.screenshot());
  assert.ok(countColor(img, BLUE) > 1000, "nurse-b's chart is on screen");
  assert.equal(countColor(img, RED), 0);
}

test("server.signin: not a string is a TypeError, another origin or no URL a RangeError, both naming it", async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(`${env.server.url}/fixtures/other.html`);
    const errors = await page.evaluate(async () => {
      const { init } = await import("/pkg/index.js");
      const out = [];
      for (const signin of [5, "https://elsewhere.example/login", "http://[::1", "//elsewhere.example/x", " "]) {
        try {
          const s = await init({ server: { url: "/session", signin } });
          s.destroy();
          out.push("accepted");
        } catch (e) {
          out.push(`${e.name}: ${e.message}`);
        }
      }
      const s = await init({ server: { url: "/session", signin: "signin.html?x=1" } });
      s.destroy();
      return out;
    });
    assert.match(errors[0], /^TypeError: autologoff: server\.signin must be a string, got number 5$/);
    assert.match(errors[1], /^RangeError: autologoff: server\.signin \("https:\/\/elsewhere\.example\/login"\) must be a URL of this page's origin$/);
    assert.match(errors[2], /^RangeError: autologoff: server\.signin \("http:\/\/\[::1"\)/);
    assert.match(errors[3], /^RangeError: autologoff: server\.signin \("\/\/elsewhere\.example\/x"\)/);
    assert.match(errors[4], /^RangeError: autologoff: server\.signin \(" "\) must not be empty$/);
  } finally {
    await ctx.close();
  }
});

test("the lock's DELETE says why: {\"reason\": …} as JSON", async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    await login(page, "nurse-a");
    await openChart(page, { ...OPTS, idleTimeoutMs: 3000 });
    // On the wire too, where the automation shows a request's body: Chromium (CDP). Playwright
    // over WebDriver BiDi (Firefox) gives no postData, and classic WebDriver (WebKit) no requests.
    const wire = env.engine !== "chromium" ? null
      : page.waitForRequest((r) => r.method() === "DELETE" && r.url().endsWith("/session"), { timeout: 10_000 });
    await waitFor(async () => (await state(page)) === "locked", { timeout: 5000 });
    const deletes = () => page.evaluate(() => window.sent.filter((r) => r.method === "DELETE" && r.path === "/session"));
    await waitFor(async () => (await deletes()).length === 1);
    assert.deepEqual((await deletes()).map(({ body, type }) => ({ body, type })), [{ body: '{"reason":"idle"}', type: "application/json" }]);
    if (wire) {
      const r = await wire;
      assert.equal(r.postData(), '{"reason":"idle"}');
      assert.equal((await r.allHeaders())["content-type"], "application/json");
    }
  } finally {
    await ctx.close();
  }
  // a lock the app asks for says "manual"
  const ctx2 = await env.browser.newContext();
  try {
    const page = await ctx2.newPage();
    await login(page, "nurse-a");
    await openChart(page);
    await page.evaluate(() => window.session.lock("manual"));
    const deletes = () => page.evaluate(() => window.sent.filter((r) => r.method === "DELETE" && r.path === "/session"));
    await waitFor(async () => (await deletes()).length === 1);
    assert.deepEqual((await deletes()).map(({ body, type }) => ({ body, type })), [{ body: '{"reason":"manual"}', type: "application/json" }]);
  } finally {
    await ctx2.close();
  }
});

test("locked with a typed draft: the same user signs in again in the popup; uncovered without a reload, the draft intact", async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    await login(page, "nurse-a");
    await openChart(page);
    await page.click("#note");
    await page.keyboard.type(DRAFT);
    assert.equal(await page.evaluate(() => document.getElementById("note").value), DRAFT);
    await lockAndWaitForDelete(page);
    assert.deepEqual(await covered(page), { state: "locked", overlay: true, inert: true });

    const popup = await signInAgain(ctx, page);
    assert.equal((await events(page, "signin")).length, 1, "signin fired first");
    assert.equal(await popup.evaluate(() => !!window.opener), true, "the popup keeps window.opener");
    await submitSignin(popup, "nurse-a");
    await waitFor(async () => (await state(page)) === "active", { timeout: 5000 });
    assert.deepEqual(await covered(page), { state: "active", overlay: false, inert: false });
    assert.equal(await page.evaluate(() => window.marker), "this document", "not reloaded");
    assert.equal(await page.evaluate(() => document.getElementById("note").value), DRAFT, "the draft is still in the field");
    assert.equal((await events(page, "switch")).length, 0);
    await waitFor(() => popup.isClosed(), { timeout: 3000 }); // the SDK closed it
    // what the user sees: nurse-a's own chart again
    const shot = decodePng(await page.screenshot());
    assert.ok(countColor(shot, RED) > 1000, "the chart is on screen again");
  } finally {
    await ctx.close();
  }
});

test("the popup closed without signing in: the SDK asks the server and the page stays locked", async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    await login(page, "nurse-a");
    await openChart(page);
    await lockAndWaitForDelete(page);
    const popup = await signInAgain(ctx, page);
    await popup.waitForFunction(signinReady);
    const gets = () => page.evaluate(() => window.sent.filter((r) => r.method === "GET" && r.path === "/session").length);
    const before = await gets();
    await popup.close();
    // noticed by the opener's focus or its check every 2 s: unlock() asks the server (401)
    await waitFor(async () => (await gets()) > before, { timeout: 5000 });
    await sleep(300);
    assert.deepEqual(await covered(page), { state: "locked", overlay: true, inert: true });
    assert.equal((await events(page, "unlock")).length, 0);
    assert.equal(countColor(decodePng(await page.screenshot()), RED), 0);
  } finally {
    await ctx.close();
  }
});

test("a forged postMessage({autologoff: \"signed-in\"}) from the page itself unlocks nothing", async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    await login(page, "nurse-a");
    await openChart(page);
    await lockAndWaitForDelete(page);
    const popup = await signInAgain(ctx, page);
    await popup.waitForFunction(signinReady);
    const gets = () => page.evaluate(() => window.sent.filter((r) => r.method === "GET" && r.path === "/session").length);
    const before = await gets();
    await page.evaluate(() => window.postMessage({ autologoff: "signed-in" }, location.origin));
    await sleep(500);
    assert.equal(await gets(), before, "not even a request: the message did not come from the popup");
    assert.deepEqual(await covered(page), { state: "locked", overlay: true, inert: true });
    assert.equal(await popup.isClosed(), false, "the popup is still there to sign in");
    // and unlock() itself asks the server, which says the session is over
    assert.equal(await page.evaluate(() => window.session.unlock()), false);
    assert.deepEqual(await covered(page), { state: "locked", overlay: true, inert: true });
    assert.equal(countColor(decodePng(await page.screenshot()), RED), 0);
  } finally {
    await ctx.close();
  }
});

test("locked for nurse-a, nurse-b signs in in the popup: never uncovered, both of nurse-a's tabs reload as nurse-b", async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    await login(page, "nurse-a");
    await openChart(page);
    const second = await ctx.newPage();
    await openChart(second);
    await page.bringToFront();
    assert.ok(countColor(decodePng(await page.screenshot()), RED) > 1000, "(the test can see nurse-a's chart)");
    const inFront = env.engine === "webkit" ? [page] : [page, second];
    await page.click("#note");
    await page.keyboard.type(DRAFT);
    await lockAndWaitForDelete(page);
    await waitFor(async () => (await state(second)) === "locked", { timeout: 2000 });

    const popup = await signInAgain(ctx, page);
    await submitSignin(popup, "nurse-b");
    const frames = await neverShowsA([page, second], 3000, inFront);
    assert.ok(frames >= 6, `${frames} frames`);
    await reloadedAsB(page);
    await reloadedAsB(second, { shot: inFront.includes(second) });
    assert.notEqual(await page.evaluate(() => localStorage.getItem("test:switch")), null, "switch fired before the reload");
    assert.equal(await page.evaluate(() => document.getElementById("note").value), "", "nurse-a's draft is gone");
  } finally {
    await ctx.close();
  }
});

test("locked for nurse-a, nurse-b signs in elsewhere: unlock() resolves false, never uncovered, reload as nurse-b", async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    await login(page, "nurse-a");
    await openChart(page);
    await lockAndWaitForDelete(page);
    const other = await ctx.newPage();
    await login(other, "nurse-b");
    await page.bringToFront();
    await page.evaluate(() => { window.session.unlock().then((ok) => localStorage.setItem("test:unlock", String(ok))); });
    const frames = await neverShowsA([page], 3000);
    assert.ok(frames >= 6, `${frames} frames`);
    await reloadedAsB(page);
    assert.equal(await page.evaluate(() => localStorage.getItem("test:unlock")), "false");
  } finally {
    await ctx.close();
  }
});

test("an active page whose answer names another user is covered at once and reloads", async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    await login(page, "nurse-a");
    await openChart(page, { ...OPTS, server: { ...OPTS.server, pollIntervalMs: 1000 } });
    const other = await ctx.newPage();
    await login(other, "nurse-b");
    await page.bringToFront();
    // (until its next poll the page is nurse-a's as before: the server told it nothing yet)
    await reloadedAsB(page);
    assert.notEqual(await page.evaluate(() => localStorage.getItem("test:switch")), null, "switch fired before the reload");
  } finally {
    await ctx.close();
  }
});

test("preventDefault() on switch keeps the page locked and does not reload it", async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    await login(page, "nurse-a");
    await openChart(page);
    await page.evaluate(() => window.session.addEventListener("switch", (e) => e.preventDefault()));
    await lockAndWaitForDelete(page);
    const other = await ctx.newPage();
    await login(other, "nurse-b");
    await page.bringToFront();
    assert.equal(await page.evaluate(() => window.session.unlock()), false);
    await sleep(1500);
    assert.equal(await page.evaluate(() => window.marker), "this document", "not reloaded");
    assert.deepEqual(await covered(page), { state: "locked", overlay: true, inert: true });
    const sw = await events(page, "switch");
    assert.equal(sw.length, 1);
    assert.equal((await events(page, "audit")).filter((e) => e.detail.type === "switch").length, 1);
    assert.equal((await events(page, "unlock")).length, 0);
    assert.equal(countColor(decodePng(await page.screenshot()), RED), 0);
    // the origin is nurse-b's now: a new tab starts active under nurse-b, not locked
    const fresh = await ctx.newPage();
    await openChart(fresh);
    assert.equal(await state(fresh), "active");
    assert.equal(await fresh.evaluate(() => document.getElementById("who").textContent), "Chart of Patient nurse-b");
  } finally {
    await ctx.close();
  }
});
