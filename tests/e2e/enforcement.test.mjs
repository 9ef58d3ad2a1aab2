// In-page enforcement, end to end against the real demo server, in each engine
// (AUTOLOGOFF_ENGINE); a test an engine cannot run says why it is skipped there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { suite } from "./suite.mjs";
import { openHarness, gotoHarness, events, sleep, waitFor, back } from "./lib.mjs";

const env = suite({ shared: true });

test("init → warn → lock in order; the page is covered, inert and unreachable by Tab", async () => {
  const ctx = await env.browser.newContext();
  const page = await openHarness(ctx, env.server.url, { idleTimeoutMs: 1500, warnBeforeMs: 500, crossTab: false });
  await page.evaluate(() => sessionStorage.setItem("patient", "Test Patient 01"));
  await waitFor(() => page.evaluate(() => window.session.state === "locked"), { timeout: 4000 });
  const seq = (await events(page)).filter((e) => e.type === "warn" || e.type === "lock").map((e) => e.type);
  assert.deepEqual(seq, ["warn", "lock"]);
  const st = await page.evaluate(() => ({
    filter: getComputedStyle(document.body).filter,
    inert: document.body.inert,
    hidden: document.body.getAttribute("aria-hidden"),
    modal: document.querySelector("#autologoff-overlay").matches(":modal"),
    focusInOverlay: document.querySelector("#autologoff-overlay").contains(document.activeElement),
    title: document.title,
    storage: sessionStorage.length,
  }));
  assert.match(st.filter, /blur\((\d+)px\)/);
  assert.ok(Number(st.filter.match(/blur\((\d+)px\)/)[1]) >= 16);
  assert.equal(st.inert, true);
  assert.equal(st.hidden, "true");
  assert.equal(st.modal, true);
  assert.equal(st.focusInOverlay, true);
  assert.equal(st.title, "Session locked");
  assert.equal(st.storage, 0);
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press("Tab");
    const inApp = await page.evaluate(() => document.getElementById("app").contains(document.activeElement));
    assert.equal(inApp, false, "Tab reached the app");
  }
  // a real click on the app lands on the overlay, not the Save button
  await page.mouse.click(20, 20);
  assert.equal(await page.evaluate(() => document.activeElement.closest("#app")), null);
  // "Sign in again" fires signin
  await page.getByRole("button", { name: "Sign in again" }).click();
  assert.equal((await events(page, "signin")).length, 1);
  await ctx.close();
});

test("nothing on the page changes before the lock deadline (the lock is made ready out of the document)", async () => {
  const ctx = await env.browser.newContext();
  const page = await openHarness(ctx, env.server.url, { idleTimeoutMs: 1500, warnBeforeMs: 0, crossTab: false });
  await page.evaluate(() => {
    window.changes = [];
    const seen = (type) => window.changes.push({ type, at: Date.now() });
    new MutationObserver((rs) => rs.forEach((r) => seen(r.type))).observe(document, {
      subtree: true, childList: true, attributes: true, characterData: true,
    });
    addEventListener("focusin", () => seen("focus"), true);
  });
  await waitFor(() => page.evaluate(() => window.session.state === "locked"), { timeout: 4000 });
  const [lock] = await events(page, "lock");
  const changes = await page.evaluate(() => window.changes);
  assert.ok(changes.some((c) => c.type === "attributes"), "the lock's own changes are seen");
  assert.ok(changes.some((c) => c.type === "focus"), "the overlay's focus is seen");
  assert.deepEqual(changes.filter((c) => c.at < lock.detail.at), [], "changed before the lock");
  await ctx.close();
});

test("trusted input keeps the session alive, synthetic never does, and activity ends the warning", async () => {
  const ctx = await env.browser.newContext();
  const page = await openHarness(ctx, env.server.url, { idleTimeoutMs: 2000, warnBeforeMs: 1000, crossTab: false });
  for (let i = 0; i < 10; i++) {
    await page.mouse.move(100 + i * 10, 200 + (i % 2) * 10);
    await sleep(300);
  }
  assert.equal(await page.evaluate(() => window.session.state), "active");
  assert.ok((await events(page, "activity")).every((e) => e.detail.source === "input"));
  await waitFor(() => page.evaluate(() => window.session.state === "warning"));
  await page.keyboard.press("Shift");
  assert.equal(await page.evaluate(() => window.session.state), "active", "keydown ended the warning");
  assert.equal(await page.evaluate(() => !!document.getElementById("autologoff-warning")), false);
  await waitFor(() => page.evaluate(() => window.session.state === "warning"));
  // the warning dialog is an accessible alertdialog with focus in it, and its button extends
  const w = await page.evaluate(() => {
    const d = document.getElementById("autologoff-warning");
    return { role: d.getAttribute("role"), focus: d.contains(document.activeElement), live: !!d.querySelector("[aria-live]") };
  });
  assert.deepEqual(w, { role: "alertdialog", focus: true, live: true });
  // (the mouse would end the warning by moving; the keyboard presses the button itself)
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => window.session.state), "active");
  const audits = (await events(page, "audit")).map((e) => e.detail.type);
  assert.ok(audits.includes("extend"));
  // only synthetic events from now on: the lock comes on time
  await page.evaluate(() => { window.synth = setInterval(() => document.body.dispatchEvent(new PointerEvent("pointermove", { bubbles: true })), 20); });
  await waitFor(() => page.evaluate(() => window.session.state === "locked"), { timeout: 4000 });
  await ctx.close();
});

test("input held back by the throttle moves the deadline before any warning: one warning, none flashed", async () => {
  const ctx = await env.browser.newContext();
  const page = await openHarness(ctx, env.server.url, { idleTimeoutMs: 3000, warnBeforeMs: 1500, crossTab: false });
  // moves every 100 ms for 2.5 s: the core hears of them about once a second, so the
  // newest ones are held back when the first warning instant comes
  let last = 0;
  for (let i = 0; i < 25; i++) {
    await page.mouse.move(50 + i * 3, 60 + (i % 2) * 5);
    last = await page.evaluate(() => Date.now());
    await sleep(100);
  }
  await waitFor(() => page.evaluate(() => window.session.state === "locked"), { timeout: 6000 });
  const warns = (await events(page, "warn")).map((e) => e.detail.deadline);
  const audits = (await events(page, "audit")).map((e) => e.detail.type);
  assert.equal(warns.length, 1, `warnings: ${warns.length} (${audits.join(",")})`);
  assert.ok(!audits.includes("extend"), audits.join(","));
  assert.ok(Math.abs(warns[0] - (last + 3000)) < 250, `deadline ${warns[0] - last} ms after the last move`);
  await ctx.close();
});

test("input held back by the throttle still counts: with no warning, and across destroy() + init()", async () => {
  const ctx = await env.browser.newContext();
  const o = { idleTimeoutMs: 3000, warnBeforeMs: 0 };
  const page = await openHarness(ctx, env.server.url, { ...o, crossTab: false });
  const twoClicks = async (p) => {
    await p.mouse.click(30, 30);
    await sleep(400);
    await p.mouse.click(30, 30); // within a second of the first: held back
    return p.evaluate(() => Date.now());
  };
  const last = await twoClicks(page);
  await waitFor(() => page.evaluate(() => window.session.state === "locked"), { timeout: 5000 });
  const lock = (await events(page, "lock"))[0].detail;
  assert.ok(Math.abs(lock.at - (last + 3000)) < 250, `locked ${lock.at - last} ms after the last click`);
  await ctx.close();
  // an app that re-inits (new settings) right after input: the new session keeps that input
  // (a context of its own: WebKitWebDriver hangs on input to a tab while another one is locked)
  const ctx2 = await env.browser.newContext();
  const p2 = await openHarness(ctx2, env.server.url, o);
  const last2 = await twoClicks(p2);
  await p2.evaluate(async (opts) => {
    window.session.destroy();
    const { init } = await import("/pkg/index.js");
    window.session = await init(opts);
    window.session.addEventListener("lock", (e) => window.events.push({ type: "lock", detail: e.detail }));
  }, o);
  await waitFor(() => p2.evaluate(() => window.session.state === "locked"), { timeout: 5000 });
  const lock2 = (await events(p2, "lock")).at(-1).detail;
  console.log(`# ${env.engine}: locked ${lock.at - last} ms after the last click; after destroy() + init() ${lock2.at - last2} ms`);
  // Kept: not 400 ms early (the held-back click lost: the first click's deadline). The upper bound
  // only rules out a deadline moved on: in Firefox the new session's timer fires up to ~290 ms after
  // the deadline it reported right after init (remainingMs; no input or event in between) in about
  // a third of runs, with this build and the one before it alike; Chromium and WebKit 0–4 ms.
  const d2 = lock2.at - (last2 + 3000);
  assert.ok(d2 > -250 && d2 < 600, `re-init: locked ${lock2.at - last2} ms after the last click`);
  await ctx2.close();
});

test("a burst of 10,000 trusted pointermove events reaches the policy core about once a second", env.only(["chromium"], "CDP Input.dispatchMouseEvent"), async () => {
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  await gotoHarness(page, env.server.url, { idleTimeoutMs: 600_000, crossTab: false });
  // The raw handle behind the session (the harness keeps it) carries the diagnostic counter.
  await page.evaluate(() => {
    window.h = window.handle;
    window.moves = 0;
    addEventListener("pointermove", (e) => { if (e.isTrusted) window.moves++; }, { capture: true, passive: true });
  });
  const cdp = await ctx.newCDPSession(page);
  const N = 10_000, BATCH = 500;
  const t0 = Date.now();
  for (let done = 0; done < N; done += BATCH) {
    const sent = [];
    for (let k = done; k < done + BATCH; k++) {
      // alternating Shift keeps Chromium from coalescing the moves
      sent.push(cdp.send("Input.dispatchMouseEvent", { type: "mouseMoved", x: 20 + (k % 400), y: 20 + ((k * 7) % 300), modifiers: k % 2 ? 8 : 0 }));
    }
    await Promise.all(sent);
  }
  const secs = (Date.now() - t0) / 1000;
  const r = await page.evaluate(() => ({ moves: window.moves, core: window.h.__coreInputs, state: window.h.state }));
  console.log(`# ${r.moves} trusted pointermove in ${secs.toFixed(1)} s -> ${r.core} core calls`);
  assert.ok(r.moves >= 9_000, `the burst arrived (${r.moves} events)`);
  assert.ok(r.core >= 1, "input reached the core");
  assert.ok(r.core <= Math.ceil(secs) + 1, `${r.core} core calls for ${secs.toFixed(1)} s of input`);
  assert.equal(r.state, "active");
  await page.evaluate(() => window.h.destroy());
  await ctx.close();
});

test("a page hidden while the clock jumps 2 h is locked before it is shown, with no stale warning", env.only(["chromium", "firefox"], "Playwright page.clock"), async () => {
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  await page.clock.install();
  await gotoHarness(page, env.server.url, { idleTimeoutMs: 15 * 60_000, crossTab: false });
  // Headless Chromium keeps every page "visible", so the hide/show is emulated (the
  // visibilityState getter and the event); the clock jump and the SDK's handling are real.
  await page.evaluate(() => {
    window.__vis = "hidden";
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => window.__vis });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__vis === "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  // the wall clock jumps (sleep / throttled tab): no timer fires on the way
  await page.clock.setSystemTime(Date.now() + 2 * 3600_000);
  assert.equal(await page.evaluate(() => window.session.state), "active", "nothing ran yet");
  await page.evaluate(() => { window.__vis = "visible"; document.dispatchEvent(new Event("visibilitychange")); });
  const shown = await page.evaluate(() => window.lifecycle.filter((l) => l.type === "visibility" && l.visible === "visible").at(-1));
  assert.equal(shown.state, "locked", "locked in the same task that made it visible");
  assert.equal(shown.inert, true);
  assert.equal(shown.overlay, true);
  const types = (await events(page)).map((e) => e.type);
  assert.ok(types.includes("lock") && !types.includes("warn"), types.join(","));
  await ctx.close();
});

test("Back after leaving: the cached page was covered, and after expiry comes back locked", async () => {
  const ctx = await env.browser.newContext();
  const page = await openHarness(ctx, env.server.url, { idleTimeoutMs: 2500, warnBeforeMs: 0 });
  await page.evaluate(() => sessionStorage.setItem("chart", "Test Patient 01"));
  const before = await page.evaluate(() => window.lifecycle.length);
  await page.click("#other");
  await page.waitForURL(/other\.html/);
  await sleep(3000);
  await back(page);
  const life = await page.evaluate(() => window.lifecycle);
  const show = life.filter((l) => l.type === "pageshow").at(-1);
  const state = await page.evaluate(() => window.session.state);
  assert.equal(state, "locked");
  assert.equal(await page.evaluate(() => document.body.inert), true);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("chart")), null);
  if (show && show.persisted) {
    // restored from the bfcache: it left covered and came back locked
    const hide = life.slice(before).find((l) => l.type === "pagehide");
    assert.equal(hide.inert, true, "covered at pagehide");
    assert.equal(show.state, "locked", "locked within pageshow");
  }
  console.log(`# bfcache restore: ${show?.persisted ? "yes" : "no (reloaded; shared state locked it)"}`);
  await ctx.close();
});

test("Back while the session is still live uncovers the page", async () => {
  const ctx = await env.browser.newContext();
  const page = await openHarness(ctx, env.server.url, { idleTimeoutMs: 60_000 });
  await page.click("#other");
  await page.waitForURL(/other\.html/);
  await back(page);
  await sleep(100);
  assert.equal(await page.evaluate(() => window.session.state), "active");
  assert.equal(await page.evaluate(() => document.body.inert), false);
  await ctx.close();
});

test("removing the overlay or the blur from script is undone and audited", async () => {
  const ctx = await env.browser.newContext();
  const page = await openHarness(ctx, env.server.url, { crossTab: false });
  await page.evaluate(() => window.session.lock());
  await page.evaluate(() => {
    document.getElementById("autologoff-overlay").remove();
    document.body.style.filter = "none";
    document.body.removeAttribute("inert");
  });
  const st = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r({
    overlay: !!document.querySelector("#autologoff-overlay[open]"),
    filter: getComputedStyle(document.body).filter,
    inert: document.body.inert,
  }))));
  assert.equal(st.overlay, true);
  assert.match(st.filter, /blur/);
  assert.equal(st.inert, true);
  assert.ok((await events(page, "audit")).some((e) => e.detail.type === "tamper"));
  await ctx.close();
});

test("Escape pressed 5 times while locked: the overlay stays open and nothing is audited as tamper", async () => {
  const ctx = await env.browser.newContext();
  const page = await openHarness(ctx, env.server.url, { crossTab: false });
  await page.evaluate(() => {
    window.session.lock();
    document.querySelector("#autologoff-overlay").addEventListener("close", () => { window.closes = (window.closes ?? 0) + 1; });
  });
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press("Escape");
    await sleep(100);
  }
  const st = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r({
    open: document.querySelector("#autologoff-overlay").open,
    modal: document.querySelector("#autologoff-overlay").matches(":modal"),
    closes: window.closes ?? 0,
    tamper: window.events.filter((e) => e.type === "audit" && e.detail.type === "tamper").length,
  }))));
  console.log(`# ${env.engine}: 5 × Escape while locked -> overlay open ${st.open}, tamper records ${st.tamper}`);
  assert.deepEqual(st, { open: true, modal: true, closes: 0, tamper: 0 });
  // real tampering still is: closing the dialog from script reopens it and is audited
  await page.evaluate(() => document.querySelector("#autologoff-overlay").close());
  await waitFor(() => page.evaluate(() => window.events.some((e) => e.type === "audit" && e.detail.type === "tamper")));
  assert.equal(await page.evaluate(() => document.querySelector("#autologoff-overlay").open), true);
  await ctx.close();
});

test("works under a strict CSP, and importing the package touches no window (SSR)", async () => {
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  const violations = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await gotoHarness(page, env.server.url, { crossTab: false });
  const csp = (await (await fetch(env.server.url + "/fixtures/harness.html")).headers.get("content-security-policy")) || "";
  assert.match(csp, /style-src 'self'/);
  await page.evaluate(() => window.session.lock());
  assert.match(await page.evaluate(() => getComputedStyle(document.body).filter), /blur/);
  assert.deepEqual(violations, []);
  const mod = await import(new URL("../../pkg/index.js", import.meta.url));
  assert.equal(typeof mod.init, "function");
  await ctx.close();
});

test("a page locked before its <body> was parsed is covered as soon as the body is inserted", env.only(["chromium", "webkit"], "Firefox runs the fixture's head script only after <body> is parsed (the case under test never arises)"), async () => {
  const ctx = await env.browser.newContext();
  // the slow script the fixture blocks on is an API call: it needs a session
  assert.ok((await ctx.request.post(env.server.url + "/login", { data: { user: "dr-test" } })).ok());
  const first = await openHarness(ctx, env.server.url, { idleTimeoutMs: 60_000 });
  await first.evaluate(() => window.session.lock()); // the origin is now locked
  const page = await ctx.newPage();
  await page.goto(`${env.server.url}/fixtures/early.html`, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.ready === true);
  const st = await page.evaluate(() => ({
    err: window.initError ?? null,
    bodyAtInit: window.bodyAtInit,
    stateAtInit: window.stateAtInit,
    inert: document.body.inert,
    filter: getComputedStyle(document.body).filter,
    modal: document.getElementById("autologoff-overlay")?.matches(":modal") ?? false,
    title: document.title,
  }));
  assert.equal(st.err, null);
  assert.equal(st.bodyAtInit, false, "init ran before the body existed (the case under test)");
  assert.equal(st.stateAtInit, "locked");
  assert.equal(st.inert, true, "the body is inert");
  assert.match(st.filter, /blur/);
  assert.equal(st.modal, true, "the overlay is open");
  assert.equal(st.title, "Session locked");
  // covered when <body> was inserted, before the parser reached any content of it
  assert.deepEqual(await page.evaluate(() => window.atBodyStart), { inert: true, blurred: true });
  await ctx.close();
});

test("a Rust panic inside the wasm leaves the page covered, storage empty and the session locked", async () => {
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  await gotoHarness(page, env.server.url, { idleTimeoutMs: 600_000, crossTab: false });
  await page.evaluate(() => sessionStorage.setItem("chart", "Test Patient 07"));
  assert.equal(await page.evaluate(() => window.session.state), "active");
  const r = await page.evaluate(async () => {
    let thrown = "none";
    try { window.handle.__panicForTest(); } catch (e) { thrown = e.constructor.name; }
    return {
      thrown,
      cover: !!document.getElementById("autologoff-failsafe"),
      inert: document.body.inert,
      storage: sessionStorage.length,
      state: window.session.state,
      remaining: window.session.remainingMs(),
      unlocked: await window.session.unlock(),
    };
  });
  assert.equal(r.thrown, "RuntimeError", "panic=abort ends in a wasm trap");
  assert.equal(r.cover, true, "the page is covered with plain DOM");
  assert.equal(r.inert, true);
  assert.equal(r.storage, 0, "sessionStorage erased");
  assert.equal(r.state, "locked");
  assert.equal(r.remaining, 0);
  assert.equal(r.unlocked, false, "unlock() cannot open a page that failed closed");
  // Input after the failure does not bring the page back.
  await page.mouse.move(40, 40);
  assert.equal(await page.evaluate(() => !!document.getElementById("autologoff-failsafe") && document.body.inert), true);
  await ctx.close();
});

test("a failed wasm load covers the page and rejects", env.only(["chromium", "firefox"], "Playwright page.route"), async () => {
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  await page.route("**/autologoff_bg.wasm", (r) => r.fulfill({ status: 500, body: "nope" }));
  await gotoHarness(page, env.server.url, { crossTab: false });
  const r = await page.evaluate(() => ({ err: window.initError, inert: document.body.inert, cover: !!document.getElementById("autologoff-failsafe") }));
  assert.match(r.err.message, /^autologoff:/);
  assert.equal(r.inert, true);
  assert.equal(r.cover, true);
  await ctx.close();
});
