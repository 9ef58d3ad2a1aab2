// The clinical demo app (www-demo/), driven the way a visitor uses it: its own sign-in form,
// patient list, note, "Session settings" and re-authentication dialog, in real Chromium
// against the reference server. Assertions are on what the user sees (visibility, hit
// testing, the accessibility tree, the title), not only on the SDK's state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { suite } from "./suite.mjs";
import { waitFor } from "./lib.mjs";

const env = suite({ shared: true });
// The demo is driven through Playwright locators (roles, labels, fill, visibility): the
// WebKitGTK WebDriver client (webdriver.mjs) does not offer them.
const UI = (opts) => env.only(["chromium", "firefox"], "Playwright locators (getByRole/getByLabel/fill), not in the WebKitGTK WebDriver client", opts);

const USER = "dr.rivera";
/** Replace a field's value as a user would (Playwright's fill over WebDriver BiDi, Firefox,
 *  appends to a field that already has a value, so it is emptied first). */
const fillAnew = async (field, value) => { await field.fill(""); await field.fill(value); };
const NOTE = "S: pt reports chest pain 3/10 overnight.\nP: repeat troponin at 06:00 — UNSAVED DRAFT";
// Short enough to keep each test a few seconds long, long enough that the warning is seen.
const IDLE_S = 4;
const WARN_S = 2;

/** Sign in through the page's own form, open the first patient's chart, type a note. */
async function signInAndOpenChart(page) {
  await page.goto(`${env.server.url}/`);
  const loginForm = page.locator("#login-form");
  await fillAnew(loginForm.getByLabel("User name"), USER);
  await loginForm.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#user-area").getByText(`Signed in as ${USER}`).waitFor();
  assert.equal(await page.locator("#login-view").isVisible(), false, "the sign-in form is gone");

  const patients = page.getByRole("navigation", { name: "Patients" }).getByRole("button");
  await patients.first().waitFor();
  assert.ok(await patients.count() >= 2, "the patient list is shown");
  const name = (await patients.first().locator(".p-name").textContent()).trim();
  assert.ok(name.length > 0);
  await patients.first().click();
  const chartHeading = page.getByRole("heading", { name, exact: true });
  await chartHeading.waitFor();
  assert.equal(await page.locator("#c-mrn").isVisible(), true, "the chart's facts are shown");
  assert.ok((await page.title()).includes(name), "the open chart puts the patient in the title");

  const note = page.getByRole("textbox", { name: "Progress note" });
  await fillAnew(note, NOTE);
  assert.equal(await note.inputValue(), NOTE);
  return { name, chartHeading, note };
}

/** Choose short timeouts with the page's own "Session settings" form (it re-arms the SDK).
 *  Returns the instant just before "Apply" was pressed (the new session starts after it). */
async function applyShortTimeouts(page) {
  const settings = page.getByRole("region", { name: "Session settings" });
  await fillAnew(settings.getByLabel("Idle timeout (s)"), String(IDLE_S));
  await fillAnew(settings.getByLabel("Warning before lock (s)"), String(WARN_S));
  const t0 = Date.now();
  await settings.getByRole("button", { name: "Apply" }).click();
  // From here on the test does not touch the page: the user has walked away.
  const armed = `Armed: lock after ${IDLE_S} s idle, warning ${WARN_S} s before`;
  await waitFor(async () => (await settings.locator("#settings-msg").textContent()).startsWith(armed));
  assert.equal(await page.locator("#st-config").textContent(), `idle ${IDLE_S} s · warn ${WARN_S} s · blur`);
  return t0;
}

/** Idle: the demo's warning countdown appears, then the page locks, on time (t0: Apply pressed). */
async function waitForWarningThenLock(page, t0) {
  const warn = page.getByRole("dialog", { name: "Still there?" });
  await warn.waitFor({ state: "visible", timeout: IDLE_S * 1000 });
  const warnedAfter = Date.now() - t0;
  const secs = Number(await warn.locator("#warn-secs").textContent());
  assert.ok(secs >= 1 && secs <= WARN_S, `the warning counts down from ${WARN_S} s: shows ${secs}`);
  assert.match(await warn.innerText(), /locks in \d+ seconds/);
  assert.equal(await page.locator("#st-state").textContent(), "warning");
  const countdown = Number((await page.locator("#st-countdown").textContent()).match(/^locks in (\d+) s$/)?.[1]);
  assert.ok(countdown >= 1 && countdown <= WARN_S, `the status bar counts down too: ${countdown}`);
  assert.ok(warnedAfter >= (IDLE_S - WARN_S) * 1000 - 100, `warning not before its time (${warnedAfter} ms)`);

  await page.locator("#autologoff-overlay[open]").waitFor({ state: "visible", timeout: (WARN_S + 2) * 1000 });
  const lockedAfter = Date.now() - t0;
  assert.ok(lockedAfter >= IDLE_S * 1000 - 100 && lockedAfter < IDLE_S * 1000 + 1500, `locked ${lockedAfter} ms after Apply`);
  assert.equal(await page.locator("#warn-dialog").isVisible(), false, "the warning is closed by the lock");
  console.log(`warning shown ${warnedAfter} ms, lock ${lockedAfter} ms after Apply (idle ${IDLE_S} s, warn ${WARN_S} s)`);
  return lockedAfter;
}

/** Everything a locked page must show (and hide). */
async function assertLocked(page, { name, chartHeading }) {
  const overlay = page.locator("#autologoff-overlay");
  assert.equal(await overlay.isVisible(), true, "the lock overlay is shown");
  assert.match(await overlay.innerText(), /locked/i);
  assert.equal(await page.getByRole("button", { name: "Sign in again" }).isVisible(), true);
  const st = await page.evaluate(() => {
    const ov = document.getElementById("autologoff-overlay");
    // the nearest ancestor-or-self of the chart heading that is blurred
    let blur = null;
    for (let n = document.getElementById("chart-heading"); n; n = n.parentElement) {
      const m = getComputedStyle(n).filter.match(/blur\(([\d.]+)px\)/);
      if (m) { blur = Number(m[1]); break; }
    }
    // (Firefox scrolls the page while the note is typed: bring the heading back into view)
    document.getElementById("chart-heading").scrollIntoView({ block: "center" });
    const r = document.getElementById("chart-heading").getBoundingClientRect();
    const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    return {
      open: ov.open,
      modal: ov.matches(":modal"),
      inert: document.body.inert,
      ariaHidden: document.body.getAttribute("aria-hidden"),
      blur,
      hitOverlay: ov.contains(hit),
      hit: hit ? `${hit.tagName}#${hit.id} (${Math.round(r.x)},${Math.round(r.y)} ${innerWidth}x${innerHeight})` : `none at ${r.x},${r.y}`,
      title: document.title,
      state: document.getElementById("st-state").textContent,
    };
  });
  assert.equal(st.open, true);
  assert.equal(st.modal, true, "the overlay is a modal dialog (top layer)");
  assert.equal(st.inert, true, "document.body is inert");
  assert.equal(st.ariaHidden, "true");
  assert.ok(st.blur !== null && st.blur >= 16, `the chart is blurred (${st.blur}px)`);
  assert.equal(st.hitOverlay, true, `a click on the chart lands on the overlay (hit: ${st.hit})`);
  assert.ok(!st.title.includes(name), `the title no longer names the patient: "${st.title}"`);
  assert.equal(st.state, "locked");
  // Screen readers: the chart and the note are out of the accessibility tree.
  assert.equal(await chartHeading.count(), 0, "the patient's heading is hidden from assistive tech");
  assert.equal(await page.getByRole("textbox", { name: "Progress note" }).count(), 0);
  // A real click on the note and typing do not reach it.
  const box = await page.locator("#note").boundingBox();
  const before = await page.locator("#note").inputValue();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  assert.equal(await page.evaluate(() => document.getElementById("reauth-dialog").open), false, "(the click hit no button)");
  await page.keyboard.type("zz");
  assert.equal(await page.evaluate(() => document.activeElement?.id === "note"), false, "the note cannot take focus");
  assert.equal(await page.locator("#note").inputValue(), before, "typing does not reach the note");
}

/** Sign in, open a chart, type a note, choose short timeouts and walk away: warned, then
 *  locked on time, with the backend session ended (`DELETE` answered 204). */
async function lockAfterIdle(page) {
  const ui = await signInAndOpenChart(page);
  const deleted = lockDelete(page);
  const t0 = await applyShortTimeouts(page);
  await waitForWarningThenLock(page, t0);
  await assertLocked(page, ui);
  assert.equal((await deleted).status(), 204, "the lock ended the server session");
  return ui;
}

/** Press the overlay's "Sign in again" and sign in as `user` in the sign-in popup it opens. */
async function signInInPopup(page, user) {
  const [popup] = await Promise.all([page.waitForEvent("popup"), page.getByRole("button", { name: "Sign in again" }).click()]);
  await popup.waitForLoadState(); // its module has run: the form's submit handler is there
  await popup.getByRole("heading", { name: "Sign in again" }).waitFor();
  await fillAnew(popup.getByLabel("User name"), user);
  // A sign-in that works closes the popup, which can happen while the click still waits for
  // what it started: that error is the expected outcome, any other is not.
  await popup.getByRole("button", { name: "Sign in", exact: true }).click().catch((e) => {
    if (!popup.isClosed()) throw e;
  });
  return popup;
}

/** The same user signs in again in the popup: the page is uncovered and the popup closed. */
async function reauthenticate(page) {
  const popup = await signInInPopup(page, USER);
  await page.locator("#autologoff-overlay").waitFor({ state: "hidden", timeout: 5000 });
  await waitFor(() => popup.isClosed(), { timeout: 3000 });
}

/** The DELETE /session the lock sends (the backend session ends too). */
function lockDelete(page) {
  const p = page.waitForResponse((r) => r.url() === `${env.server.url}/session` && r.request().method() === "DELETE", { timeout: 15_000 });
  p.catch(() => {}); // awaited later; do not turn an earlier failure into an unhandled rejection
  return p;
}

async function assertUnlocked(page, { name, chartHeading }) {
  const st = await page.evaluate(() => ({
    overlayOpen: !!document.querySelector("#autologoff-overlay[open]"),
    inert: document.body.inert,
    ariaHidden: document.body.hasAttribute("aria-hidden"),
    filter: getComputedStyle(document.body).filter,
  }));
  assert.equal(st.overlayOpen, false, "the overlay is gone");
  assert.equal(st.inert, false, "document.body is not inert");
  assert.equal(st.ariaHidden, false);
  assert.doesNotMatch(st.filter, /blur/);
  await waitFor(async () => (await page.locator("#st-state").textContent()) === "active", { timeout: 2000 });
  assert.equal(await chartHeading.isVisible(), true, "the chart is back");
  assert.ok((await page.title()).includes(name), "the title is restored");
}

test("sign in, open a chart, type a note, walk away: warning, then a locked page that Back does not reveal", UI({ timeout: 20_000 }), async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    page.setDefaultTimeout(5000);
    const ui = await lockAfterIdle(page);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, "sessionStorage (last patient) purged");

    // Leave to another URL in the same tab, then come back with the browser's Back.
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.goto(`${env.server.url}/fixtures/other.html`);
    await page.getByText("Another page of the app.").waitFor();
    await page.goBack({ waitUntil: "commit" });
    // let the page settle: a fresh load has run app.js by readyState "complete"
    await waitFor(() => page.evaluate(() => document.readyState === "complete").catch(() => false));
    const nav = await page.evaluate(() => ({
      sameDocument: window.__sameDocument === true,
      type: performance.getEntriesByType("navigation")[0]?.type,
      url: location.pathname,
    }));
    assert.equal(nav.url, "/");
    const text = await page.evaluate(() => document.body.innerText);
    console.log(`Back: ${nav.sameDocument ? "restored from the back/forward cache" : "reloaded (not from the back/forward cache)"}`);
    if (nav.sameDocument) {
      // Restored from the bfcache: it must come back covered and locked.
      await assertLocked(page, ui);
    } else {
      // The demo serves its HTML with Cache-Control: no-store and its login sets an HttpOnly
      // cookie, so Chromium does not keep it in the bfcache: Back loads a fresh page, whose
      // memory (chart, note) is gone. It must show the sign-in form, nothing of the chart.
      assert.equal(nav.type, "back_forward");
      assert.equal(await page.getByRole("heading", { name: "Sign in", exact: true }).isVisible(), true, "the sign-in form is shown");
      assert.equal(await page.locator("#app-view").isVisible(), false, "the app view is hidden");
      assert.equal(await ui.chartHeading.count(), 0, "no chart heading");
      assert.equal(await page.locator("#note").isVisible(), false, "no note field");
      assert.ok(!text.includes(ui.name), "the patient's name is nowhere on screen");
      assert.ok(!text.includes("UNSAVED DRAFT"), "the note text is nowhere on screen");
      // nor in the DOM: the browser's form restoration must not put the draft back
      // (the note field has autocomplete="off")
      assert.equal(await page.locator("#note").inputValue(), "", "the draft is not restored into the hidden field");
      assert.ok(!(await page.title()).includes(ui.name), `title: ${await page.title()}`);

      // Signing in again on the fresh page does not reopen anything uncovered: the browser's
      // shared session state says "locked", so the demo starts locked and asks once more.
      const loginForm = page.locator("#login-form");
      await fillAnew(loginForm.getByLabel("User name"), USER);
      await loginForm.getByRole("button", { name: "Sign in" }).click();
      const dlg = page.getByRole("dialog", { name: "Confirm it is you" });
      await dlg.waitFor({ state: "visible" });
      assert.equal(await dlg.locator("#reauth-restored").isVisible(), true, "it explains the session was already locked");
      const st = await page.evaluate(() => ({
        overlay: document.querySelector("#autologoff-overlay")?.matches(":modal") ?? false,
        inert: document.body.inert,
        patients: document.querySelectorAll(".patient").length,
      }));
      assert.deepEqual(st, { overlay: true, inert: true, patients: 0 }, "started locked, no patient list loaded");
      await fillAnew(dlg.getByLabel("User name"), USER);
      await dlg.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.locator("#autologoff-overlay").waitFor({ state: "hidden", timeout: 5000 });
      await waitFor(async () => (await page.locator("#st-state").textContent()) === "active", { timeout: 2000 });
      assert.equal(await page.evaluate(() => document.body.inert), false);
      await page.getByRole("navigation", { name: "Patients" }).getByRole("button").first().waitFor();
      assert.equal(await page.locator("#chart-empty").isVisible(), true, "no chart is open on the fresh page");
    }
  } finally {
    await ctx.close();
  }
});

test("the unsaved note survives the idle lock and signing in again in the popup", UI({ timeout: 20_000 }), async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    page.setDefaultTimeout(5000);
    // (the lock's DELETE, whose answer clears the cookie, has landed before the user signs
    // in again, as it always has for a human at the keyboard)
    const ui = await lockAfterIdle(page);

    await page.evaluate(() => { window.__sameDocument = true; });
    await reauthenticate(page);
    await assertUnlocked(page, ui);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "not reloaded");
    assert.equal(await ui.note.inputValue(), NOTE, "the unsaved note is still in the textarea");
    // and the note is really usable again: a real click reaches it and typing appends
    await ui.note.click();
    await page.keyboard.press("ControlOrMeta+End");
    await page.keyboard.type(" +more");
    assert.equal(await ui.note.inputValue(), NOTE + " +more");
  } finally {
    await ctx.close();
  }
});

test("another nurse signing in at the locked demo gets a fresh page, never the chart or the draft", UI({ timeout: 25_000 }), async () => {
  const ctx = await env.browser.newContext();
  try {
    const page = await ctx.newPage();
    page.setDefaultTimeout(5000);
    const ui = await lockAfterIdle(page);
    await page.evaluate(() => { window.__sameDocument = true; });
    await signInInPopup(page, "nurse.other");
    // Until the reload, every look at the page finds the chart covered: never uncovered (the
    // reload can come before the first look; tests/e2e/return.test.mjs checks every frame).
    const end = Date.now() + 5000;
    for (;;) {
      const st = await page.evaluate(() => ({
        same: window.__sameDocument === true,
        covered: document.body.inert && !!document.querySelector("#autologoff-overlay[open]"),
      })).catch(() => null); // mid-navigation
      if (st && !st.same) break;
      if (st) assert.equal(st.covered, true, "the previous nurse's chart stays covered");
      assert.ok(Date.now() < end, "the page was not reloaded");
    }
    // the fresh page: the new nurse's, active, no chart and no draft of the previous one
    await page.locator("#user-area").getByText("Signed in as nurse.other").waitFor({ timeout: 10_000 });
    await waitFor(async () => (await page.locator("#st-state").textContent()) === "active", { timeout: 3000 });
    assert.equal(await page.evaluate(() => document.body.inert), false);
    assert.equal(await page.locator("#chart-empty").isVisible(), true, "no chart is open");
    assert.equal(await page.locator("#note").inputValue(), "", "no draft");
    const text = await page.evaluate(() => document.body.innerText);
    assert.ok(!text.includes("UNSAVED DRAFT"), "the draft is nowhere on screen");
    assert.ok(!text.includes(`Signed in as ${USER}`));
    assert.ok(!(await page.title()).includes(ui.name), `title: ${await page.title()}`);
    // and the vitals panel says when it was updated (the demo server's vitals carry a time)
    const patients = page.getByRole("navigation", { name: "Patients" }).getByRole("button");
    await patients.first().click();
    await waitFor(async () => /^\d\d:\d\d:\d\d$/.test(await page.locator("#v-at").textContent()), { timeout: 5000 });
  } finally {
    await ctx.close();
  }
});
