// The app's own requests, as the contract's "Requests" section describes them, against
// the real reference server: a user-started request holds the lock (capped), a background
// one never does, XHR counts like fetch, and the expiry header moves the deadline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { suite } from "./suite.mjs";
import { openHarness, events, waitFor } from "./lib.mjs";

const { setup } = suite();
const lockOf = async (page) => (await events(page, "lock")).at(-1)?.detail;
const state = (page) => page.evaluate(() => window.session.state);

/** Start a request from page script without waiting for it; its end time lands in window.reqEnd. */
const startRequest = (page, url, kind = "fetch") =>
  page.evaluate(([u, k]) => {
    window.reqEnd = null;
    window.reqStart = Date.now();
    if (k === "xhr") {
      const x = new XMLHttpRequest();
      x.open("GET", u);
      x.onloadend = () => { window.reqEnd = Date.now(); };
      x.send();
    } else {
      fetch(u).then((r) => r.text()).finally(() => { window.reqEnd = Date.now(); });
    }
    return window.reqStart;
  }, [url, kind]);

test("a request started by the user holds the lock while in flight; the idle clock restarts at its end", async () => {
  const { s, ctx } = await setup();
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 1500, warnBeforeMs: 0, crossTab: false }, { login: true });
  await page.click("#save");
  const t0 = await startRequest(page, "/api/slow?ms=2500");
  // past the idle deadline (t0 + 1.5 s) with the request still running
  await waitFor(async () => (await page.evaluate(() => Date.now())) > t0 + 2000, { every: 20 });
  assert.equal(await state(page), "active", "locked during a user-started request");
  await waitFor(() => page.evaluate(() => window.reqEnd), { timeout: 4000 });
  const end = await page.evaluate(() => window.reqEnd);
  await waitFor(() => lockOf(page), { timeout: 4000 });
  const lock = await lockOf(page);
  assert.equal(lock.reason, "idle");
  assert.ok(Math.abs(lock.at - (end + 1500)) < 300, `locked ${lock.at - end} ms after the request ended`);
  const sources = (await events(page, "activity")).map((e) => e.detail.source);
  assert.ok(sources.includes("request"), sources.join(","));
  await ctx.close();
});

test("the hold is capped: a request that never ends is locked at the idle deadline plus idleTimeoutMs", async () => {
  const { s, ctx } = await setup();
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 1500, warnBeforeMs: 0, crossTab: false }, { login: true });
  await page.click("#save");
  const t0 = await startRequest(page, "/api/slow?ms=20000");
  await waitFor(() => lockOf(page), { timeout: 6000 });
  const lock = await lockOf(page);
  assert.equal(await page.evaluate(() => window.reqEnd), null, "the request was still in flight");
  assert.equal(lock.reason, "idle");
  // idle deadline = the click (~t0) + 1.5 s; cap = that + 1.5 s
  assert.ok(lock.at - t0 > 2700 && lock.at - t0 < 3400, `locked ${lock.at - t0} ms after the request started`);
  await ctx.close();
});

test("a background request (no input in the second before it) neither holds the lock nor counts", async () => {
  const { s, ctx } = await setup();
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 1500, warnBeforeMs: 0, crossTab: false }, { login: true });
  await page.click("#save");
  const click = await page.evaluate(() => Date.now());
  await waitFor(async () => (await page.evaluate(() => Date.now())) > click + 1100, { every: 20 });
  await startRequest(page, "/api/slow?ms=5000");
  await waitFor(() => lockOf(page), { timeout: 4000 });
  const lock = await lockOf(page);
  assert.equal(await page.evaluate(() => window.reqEnd), null, "the request was still in flight");
  assert.ok(Math.abs(lock.at - (click + 1500)) < 300, `locked ${lock.at - click} ms after the last input`);
  const sources = (await events(page, "activity")).map((e) => e.detail.source);
  assert.ok(!sources.includes("request"), sources.join(","));
  await ctx.close();
});

test("XMLHttpRequest is observed like fetch: a user-started XHR holds the lock", async () => {
  const { s, ctx } = await setup();
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 1500, warnBeforeMs: 0, crossTab: false }, { login: true });
  await page.click("#save");
  const t0 = await startRequest(page, "/api/slow?ms=2500", "xhr");
  await waitFor(async () => (await page.evaluate(() => Date.now())) > t0 + 2000, { every: 20 });
  assert.equal(await state(page), "active", "locked during a user-started XHR");
  await waitFor(() => page.evaluate(() => window.reqEnd), { timeout: 4000 });
  await waitFor(() => lockOf(page), { timeout: 4000 });
  const end = await page.evaluate(() => window.reqEnd);
  assert.ok(Math.abs((await lockOf(page)).at - (end + 1500)) < 300);
  await ctx.close();
});

test("the Session-Expires header of an app response moves the server deadline (skew-corrected)", async () => {
  // The server ends sessions after 3 s of its own idle time; the client's idle is 60 s.
  const { s, ctx } = await setup(["--idle-secs", "3"]);
  // The server's clock runs 2 h ahead: only a skew-corrected header gives the right instant.
  await s.api("/__test/clock", { offsetMs: 2 * 3600_000 });
  const page = await openHarness(ctx, s.url, {
    idleTimeoutMs: 60_000, warnBeforeMs: 0, crossTab: false,
    server: { url: "/session", pollIntervalMs: 60_000, keepaliveIntervalMs: 60_000 },
  }, { login: true });
  const loggedIn = await page.evaluate(() => Date.now());
  await waitFor(async () => (await page.evaluate(() => Date.now())) > loggedIn + 1500, { every: 20 });
  // a user-started API call 1.5 s later touches the session: its header says "3 s from now"
  await page.click("#save");
  const status = await page.evaluate(async () => {
    const r = await fetch("/api/patients");
    window.headerSeen = Date.now();
    return r.status;
  });
  assert.equal(status, 200);
  const seen = await page.evaluate(() => window.headerSeen);
  await waitFor(() => lockOf(page), { timeout: 6000 });
  const lock = await lockOf(page);
  assert.equal(lock.reason, "server");
  // without the header the lock would come at loggedIn + 3 s (the GET at init)
  assert.ok(Math.abs(lock.at - (seen + 3000)) < 400, `locked ${lock.at - seen} ms after the header (login + ${lock.at - loggedIn} ms)`);
  await ctx.close();
});
