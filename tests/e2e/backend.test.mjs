// The SDK and autologoff-server as one: only user activity keeps the server session, both
// halves agree on the deadline, and a store that goes away never unlocks or loses a record.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { suite } from "./suite.mjs";
import { openHarness, events, sleep, waitFor } from "./lib.mjs";
import { startRedis, startPostgres } from "../services.mjs";

const { setup } = suite();
const services = [];
after(() => services.forEach((s) => s.close()));
const SERVER = (extra = {}) => ({ url: "/session", pollIntervalMs: 60_000, keepaliveIntervalMs: 1000, ...extra });
const lockOf = async (page) => (await events(page, "lock")).at(-1)?.detail;
const status = (page, url, init) => page.evaluate(async ([u, i]) => (await fetch(u, i)).status, [url, init]);
const serverSession = async (s) => (await s.api("/__test/stats")).sessions.at(-1);

test("a dashboard polling every 2 s with no input: locked, and the server session ends at the same deadline (< 1 s apart)", async () => {
  const { s, ctx } = await setup(["--idle-secs", "5"]);
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 5000, warnBeforeMs: 0, crossTab: false, server: SERVER() }, { login: true });
  const expiresAt = (await serverSession(s)).expiresAt;
  await page.evaluate(() => { window.polls = []; setInterval(() => fetch("/api/vitals").then((r) => window.polls.push(r.status)), 2000); });
  await waitFor(() => lockOf(page), { timeout: 9000, every: 100 });
  const lock = await lockOf(page);
  console.log(`# polling page: locked (${lock.reason}) ${lock.at - expiresAt} ms from the server session's expiry`);
  assert.ok(Math.abs(lock.at - expiresAt) < 1000, `client locked ${lock.at - expiresAt} ms from the server's expiry`);
  const polls = await page.evaluate(() => window.polls);
  assert.ok(polls.filter((p) => p === 200).length >= 2, `the polls were answered: ${polls}`);
  // The polls never moved the server's deadline, and the session is over there too.
  assert.equal((await serverSession(s)).live, false);
  assert.equal(await status(page, "/api/whoami"), 401);
  await ctx.close();
});

test("after a burst of typing that stops, client and server deadlines differ by under 1 s", async () => {
  const { s, ctx } = await setup(["--idle-secs", "60"]);
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 60_000, warnBeforeMs: 0, crossTab: false, server: SERVER({ keepaliveIntervalMs: 4000 }) }, { login: true });
  await page.click("#note");
  await page.keyboard.type("BP stable, resting.", { delay: 30 });
  const typedAt = Date.now();
  // The keepalive for that burst goes out up to 4 s after the last key.
  const k0 = (await s.api("/__test/stats")).keepalives;
  await waitFor(async () => (await s.api("/__test/stats")).keepalives > k0 || Date.now() - typedAt > 5000, { timeout: 6000, every: 100 });
  await sleep(4500);
  const client = await page.evaluate(() => Date.now() + window.session.remainingMs());
  const server = (await serverSession(s)).expiresAt;
  assert.ok((await s.api("/__test/stats")).keepalives >= 1, "a keepalive was sent");
  console.log(`# after typing stopped: client deadline − server deadline = ${client - server} ms; server idle clock starts ${server - 60_000 - typedAt} ms from the last key`);
  assert.ok(Math.abs(client - server) < 1000, `client ${client} vs server ${server}: ${server - client} ms apart`);
  assert.ok(Math.abs(server - (typedAt + 60_000)) < 1000, `the server's idle clock starts at the last key: ${server - typedAt - 60_000} ms off`);
  await ctx.close();
});

test("Redis stopped mid-run: the page never unlocks; Redis back: sign-in and unlock work again", async () => {
  const redis = await startRedis();
  services.push(redis);
  const { s, ctx } = await setup(["--store", redis.url]);
  const page = await openHarness(ctx, s.url, { crossTab: false, server: SERVER() }, { login: true });
  await page.evaluate(() => window.session.lock());
  await waitFor(async () => !(await ctx.cookies()).some((c) => c.name === "sid"));
  redis.stop();
  assert.equal(await status(page, "/login", { method: "POST", body: JSON.stringify({ user: "dr-test" }) }), 503);
  assert.equal(await page.evaluate(() => window.session.unlock()), false);
  assert.equal(await page.evaluate(() => [window.session.state, document.body.inert].join()), "locked,true");
  await redis.resume();
  await waitFor(async () => (await status(page, "/healthz")) === 200, { timeout: 10_000 });
  assert.equal(await status(page, "/login", { method: "POST", body: JSON.stringify({ user: "dr-test" }) }), 204);
  assert.equal(await page.evaluate(() => window.session.unlock()), true);
  assert.equal(await page.evaluate(() => document.body.inert), false);
  await ctx.close();
});

test("Postgres stopped: /audit answers 503 and the SDK's queue delivers every record once it is back", async () => {
  const pg = await startPostgres();
  services.push(pg);
  const { s, ctx } = await setup(["--audit", pg.url]);
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 60_000, crossTab: false, audit: { url: "/audit" } }, { login: true });
  pg.stop();
  for (let i = 0; i < 5; i++) {
    await page.evaluate(() => window.session.lock());
    await page.evaluate(() => window.session.unlock());
  }
  const made = (await events(page, "audit")).map((e) => `${e.detail.tab}/${e.detail.seq}`);
  assert.ok(made.length >= 10, `${made.length} records made`);
  await sleep(6000);
  assert.ok(s.log().includes("POST /audit 503"), "the SDK tried while Postgres was down");
  await pg.resume();
  await waitFor(async () => (await s.audit("client")).length >= made.length, { timeout: 60_000, every: 500 });
  await sleep(1000);
  const stored = (await s.audit("client")).map((r) => `${r.tab}/${r.seq}`);
  assert.deepEqual([...stored].sort(), [...made].sort(), "every record once, none lost, none twice");
  // Each lock's DELETE cleared the session cookie before its records were sent: they are
  // still attributed to the user who was signed in (never to a name the client wrote).
  const users = new Set((await s.audit("client")).map((r) => r.user));
  assert.deepEqual([...users], ["dr-test"]);
  await ctx.close();
});

test("the lock's own audit records, sent after its DELETE cleared the cookie, are attributed to the user", async () => {
  const { s, ctx } = await setup([]);
  const page = await openHarness(ctx, s.url, { crossTab: false, server: SERVER(), audit: { url: "/audit" } }, { login: true });
  await page.evaluate(() => window.session.lock());
  await waitFor(async () => !(await ctx.cookies()).some((c) => c.name === "sid"));
  const stored = await waitFor(async () => {
    const rows = await s.audit("client");
    return rows.some((r) => r.type === "lock") && rows.some((r) => r.type === "purge") && rows;
  }, { timeout: 10_000, every: 200 });
  assert.ok(s.log().indexOf("DELETE /session 204") < s.log().lastIndexOf("POST /audit 200"), "records arrived after the DELETE");
  assert.deepEqual(stored.filter((r) => r.type === "lock").map((r) => [r.reason, r.user]), [["manual", "dr-test"]]);
  assert.ok(stored.every((r) => r.user === "dr-test"), JSON.stringify(stored));
  await ctx.close();
});

test("a shift at one browser: the export holds the server's login, logout (idle), reauth, logout, switch and the client's records, attributed, in order", async () => {
  const { s, ctx } = await setup(["--idle-secs", "60"]);
  const page = await openHarness(ctx, s.url, { idleTimeoutMs: 3000, warnBeforeMs: 0, crossTab: false, server: SERVER(), audit: { url: "/audit" } }, { login: true });
  const signIn = (user) => page.evaluate((u) => fetch("/login", { method: "POST", body: JSON.stringify({ user: u }) }).then((r) => r.status), user);
  const sidGone = () => waitFor(async () => !(await ctx.cookies()).some((c) => c.name === "sid"));
  // Walked away: the idle lock ends the server session (its DELETE says why).
  await waitFor(() => lockOf(page), { timeout: 8000, every: 100 });
  await sidGone();
  // The same clinician signs in again and the page is unlocked; then locks it by hand.
  assert.equal(await signIn("dr-test"), 204);
  assert.equal(await page.evaluate(() => window.session.unlock()), true);
  await page.evaluate(() => window.session.lock());
  await sidGone();
  // Another clinician signs in at that browser.
  assert.equal(await signIn("dr-next"), 204);
  const rows = await waitFor(async () => {
    const all = await s.audit();
    const locks = all.filter((r) => r.source === "client" && r.type === "lock").length;
    return locks >= 2 && all.filter((r) => r.source === "server").length >= 5 && all;
  }, { timeout: 15_000, every: 250 });
  console.log("# shift export (received order):\n" + rows.map((r) => `#   ${r.source.padEnd(6)} ${r.tab ? r.tab.slice(0, 8) : "-".padEnd(8)} ${String(r.seq).padStart(3)} ${r.type.padEnd(14)} ${(r.reason ?? "").padEnd(8)} ${r.user}`).join("\n"));
  const server = rows.filter((r) => r.source === "server").map((r) => [r.type, r.reason, r.user]);
  assert.deepEqual(server, [
    ["login", "demo", "dr-test"],
    ["logout", "idle", "dr-test"],
    ["reauth", "demo", "dr-test"],
    ["logout", "manual", "dr-test"],
    ["switch", "demo", "dr-next"],
  ]);
  const client = rows.filter((r) => r.source === "client");
  assert.deepEqual(client.filter((r) => r.type === "lock").map((r) => [r.reason, r.user]), [["idle", "dr-test"], ["manual", "dr-test"]]);
  assert.ok(client.every((r) => r.user === "dr-test"), "every client record is the first clinician's");
  // In order: the export is sorted by arrival, and the server's seq grows with it.
  const received = rows.map((r) => r.receivedAt);
  assert.deepEqual(received, [...received].sort((a, b) => a - b));
  const seqs = rows.filter((r) => r.source === "server").map((r) => r.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  await ctx.close();
});
