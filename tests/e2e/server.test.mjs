// Client and server agree: the expiry protocol against the real reference server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { suite } from "./suite.mjs";
import { openHarness, events, sleep, waitFor } from "./lib.mjs";

const { setup } = suite();
const SERVER = (extra = {}) => ({ url: "/session", pollIntervalMs: 60_000, keepaliveIntervalMs: 1000, ...extra });
const lockOf = async (page) => (await events(page, "lock")).at(-1)?.detail;
// The lock's DELETE has reached the server AND its answer (which clears the `sid` cookie)
// has reached the browser: logging in before that would have the new cookie wiped by it.
const deleteDone = (s, ctx) => waitFor(async () =>
  (await s.api("/__test/stats")).deletes >= 1 && !(await ctx.cookies()).some((c) => c.name === "sid"));
const pageFetch = (page, url, init) => page.evaluate(async ([u, i]) => (await fetch(u, i)).status, [url, init]);

test("the server's shorter timeout locks the page at the server's instant", async () => {
  const { s, ctx } = await setup(["--idle-secs", "3"]);
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 60_000, warnBeforeMs: 0, crossTab: false, server: SERVER() }, { login: true });
  const expiresAt = (await s.api("/__test/stats")).sessions[0].expiresAt;
  await waitFor(() => lockOf(page), { timeout: 6000 });
  const lock = await lockOf(page);
  assert.equal(lock.reason, "server");
  assert.ok(Math.abs(lock.at - expiresAt) < 1000, `locked ${lock.at - expiresAt} ms from the server's expiry`);
  await ctx.close();
});

test("typing a long note with no requests keeps client and server alive (keepalives seen)", async () => {
  const { s, ctx } = await setup(["--idle-secs", "3"]);
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 60_000, warnBeforeMs: 0, crossTab: false, server: SERVER() }, { login: true });
  const posts = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/session") posts.push([r.headers()["content-type"], r.postData()]);
  });
  await page.click("#note");
  const until = Date.now() + 7000;
  while (Date.now() < until) await page.keyboard.type("Patient resting comfortably. ", { delay: 40 });
  assert.equal(await page.evaluate(() => window.session.state), "active");
  const st = await s.api("/__test/stats");
  assert.ok(st.keepalives >= 3, `${st.keepalives} keepalives`);
  assert.ok(st.keepalives <= 9, `at most one a second: ${st.keepalives}`);
  assert.equal(await pageFetch(page, "/session"), 200, "the server session is alive after 7 s > its 3 s timeout");
  // each keepalive says how long ago the last input was: a key every 40 ms, so well under the 1 s interval
  // (read from the driver's network events: Playwright's; classic WebDriver has none, so
  // there the keepalive count at the server above is what is checked)
  if (page.networkEvents !== false) assert.ok(posts.length >= 3, `${posts.length} keepalive requests seen`);
  // (Playwright over WebDriver BiDi, Firefox, reports no request bodies: postData() is null)
  for (const [type, body] of posts.filter(([, b]) => b != null)) {
    assert.equal(type, "application/json");
    const b = JSON.parse(body);
    assert.deepEqual(Object.keys(b), ["lastActivityAgoMs"], body);
    assert.ok(Number.isInteger(b.lastActivityAgoMs) && b.lastActivityAgoMs >= 0 && b.lastActivityAgoMs < 1000, body);
  }
  await ctx.close();
});

test("a dashboard polling every 300 ms without input does not keep the session alive", async () => {
  const { s, ctx } = await setup(["--idle-secs", "60"]);
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 2000, warnBeforeMs: 0, crossTab: false, server: SERVER() }, { login: true });
  await page.evaluate(() => { setInterval(() => fetch("/api/vitals").catch(() => {}), 300); });
  await waitFor(() => lockOf(page), { timeout: 5000 });
  assert.equal((await lockOf(page)).reason, "idle");
  await waitFor(async () => (await s.api("/__test/stats")).deletes >= 1);
  assert.equal(await pageFetch(page, "/api/patients"), 401, "the backend ended the session too");
  assert.equal(await pageFetch(page, "/session"), 401);
  assert.equal((await s.api("/__test/stats")).keepalives, 0, "no keepalive without user activity");
  await ctx.close();
});

test("a same-origin 401 (stale cookie) locks at once with reason server", async () => {
  const { s, ctx } = await setup([]);
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 60_000, crossTab: false, server: SERVER() }, { login: true });
  await s.api("/__test/expire", {});
  const t0 = Date.now();
  assert.equal(await pageFetch(page, "/api/patients"), 401);
  await waitFor(() => lockOf(page), { timeout: 1000 });
  assert.equal((await lockOf(page)).reason, "server");
  assert.ok(Date.now() - t0 < 1000);
  const audits = (await events(page, "audit")).map((e) => e.detail.type);
  assert.ok(audits.includes("server-expired"), audits.join(","));
  await ctx.close();
});

test("after lock the old cookie is refused and unlock() waits for a new login", async () => {
  const { s, ctx } = await setup([]);
  const page = await openHarness(ctx, s.url, { crossTab: false, server: SERVER() }, { login: true });
  await page.evaluate(() => window.session.lock());
  await deleteDone(s, ctx);
  assert.equal(await pageFetch(page, "/api/patients"), 401);
  assert.equal(await page.evaluate(() => window.session.unlock()), false);
  assert.equal(await page.evaluate(() => window.session.state), "locked");
  assert.equal(await pageFetch(page, "/login", { method: "POST", body: JSON.stringify({ user: "dr-test" }) }), 204);
  assert.equal(await page.evaluate(() => window.session.unlock()), true);
  assert.equal(await page.evaluate(() => ({ s: window.session.state, inert: document.body.inert })).then((x) => x.s + x.inert), "activefalse");
  await ctx.close();
});

test("a server answering garbage, wrong fields, 500 or hanging never unlocks", async () => {
  const { s, ctx } = await setup([]);
  const page = await openHarness(ctx, s.url, { crossTab: false, server: SERVER() }, { login: true });
  await page.evaluate(() => window.session.lock());
  // the lock's DELETE (and its cookie-clearing answer) must land before the new login,
  // or it would end the new session
  await deleteDone(s, ctx);
  assert.equal(await pageFetch(page, "/login", { method: "POST", body: JSON.stringify({ user: "dr-test" }) }), 204);
  for (const mode of ["garbage", "badjson-fields", "500", "hang"]) {
    await s.api("/__test/mode", { mode });
    const ok = await page.evaluate(() => window.session.unlock());
    assert.equal(ok, false, mode);
    assert.equal(await page.evaluate(() => window.session.state), "locked", mode);
  }
  const errors = (await events(page, "audit")).filter((e) => e.detail.type === "error");
  assert.ok(errors.length >= 4, `${errors.length} error records`);
  await s.api("/__test/mode", { mode: "normal" });
  const t0 = Date.now();
  const back = await page.evaluate(() => window.session.unlock());
  const why = async () => JSON.stringify({
    ms: Date.now() - t0,
    tail: (await events(page)).slice(-6).map((e) => [e.type, e.detail.type || e.detail.reason || "", e.detail.reason || ""]),
    stats: await s.api("/__test/stats"),
  });
  assert.equal(back, true, `a live answer after the failures unlocks: ${back ? "" : await why()}`);
  await ctx.close();
});
