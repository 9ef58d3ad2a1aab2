// Every tab agrees, and every record reaches the server: several pages in one context.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, openHarness, gotoHarness, events, sleep, waitFor } from "./lib.mjs";

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
});
const state = (p) => p.evaluate(() => window.session.state);

test("activity in tab A keeps tab B alive past its own idle deadline", async () => {
  const ctx = await browser.newContext();
  const o = { idleTimeoutMs: 2000, warnBeforeMs: 0 };
  const a = await openHarness(ctx, server.url, o);
  const b = await openHarness(ctx, server.url, o);
  await a.bringToFront();
  for (let i = 0; i < 14; i++) {
    await a.mouse.move(50 + (i % 5) * 20, 60);
    await sleep(300);
  }
  assert.equal(await state(b), "active", "B was kept alive by A's input");
  assert.ok((await events(b, "activity")).some((e) => e.detail.source === "remote"));
  await waitFor(async () => (await state(b)) === "locked", { timeout: 4000 });
  await ctx.close();
});

test("a lock in A locks B and C within 1 s (reason remote); unlock in A unlocks them", async () => {
  const ctx = await browser.newContext();
  const o = { idleTimeoutMs: 60_000 };
  const [a, b, c] = [await openHarness(ctx, server.url, o), await openHarness(ctx, server.url, o), await openHarness(ctx, server.url, o)];
  await b.evaluate(() => sessionStorage.setItem("chart", "Test Patient 01"));
  const t0 = Date.now();
  await a.evaluate(() => window.session.lock("manual"));
  await waitFor(async () => (await state(b)) === "locked" && (await state(c)) === "locked", { timeout: 1000 });
  assert.ok(Date.now() - t0 < 1000);
  assert.equal((await events(b, "lock")).at(-1).detail.reason, "remote");
  assert.equal(await b.evaluate(() => sessionStorage.length), 0, "each tab purged its own sessionStorage");
  assert.equal(await b.evaluate(() => document.body.inert), true);
  assert.equal(await a.evaluate(() => window.session.unlock()), true);
  await waitFor(async () => (await state(b)) === "active" && (await state(c)) === "active", { timeout: 1000 });
  assert.equal(await c.evaluate(() => document.body.inert), false);
  await ctx.close();
});

test("a reload keeps the idle clock and a tab opened after the deadline starts locked", async () => {
  const ctx = await browser.newContext();
  const o = { idleTimeoutMs: 3000, warnBeforeMs: 0 };
  const a = await openHarness(ctx, server.url, o);
  await sleep(1500);
  await a.reload();
  await a.waitForFunction(() => window.ready === true);
  const left = await a.evaluate(() => window.session.remainingMs());
  assert.ok(left <= 1600, `reload restarted the clock: ${left} ms left`);
  await waitFor(async () => (await state(a)) === "locked", { timeout: 3000 });
  const late = await openHarness(ctx, server.url, o);
  assert.equal(await state(late), "locked");
  assert.equal(await late.evaluate(() => !!document.querySelector("#autologoff-overlay[open]")), true);
  await ctx.close();
});

test("five tabs active for five seconds send no more keepalives than one tab would", async () => {
  const s = await startServer([]);
  try {
    const ctx = await browser.newContext();
    const o = { idleTimeoutMs: 60_000, server: { url: "/session", pollIntervalMs: 1000, keepaliveIntervalMs: 1000 } };
    const tabs = [];
    await (await ctx.request.post(s.url + "/login", { data: "{}" })).ok();
    for (let i = 0; i < 5; i++) tabs.push(await openHarness(ctx, s.url, o));
    await s.api("/__test/reset", {}).catch(() => {});
    await (await ctx.request.post(s.url + "/login", { data: "{}" })).ok();
    const before = await s.api("/__test/stats");
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      for (const t of tabs) await t.mouse.move(10 + Math.random() * 100, 10 + Math.random() * 100);
      await sleep(100);
    }
    const st = await s.api("/__test/stats");
    const keeps = st.keepalives - before.keepalives;
    const gets = st.gets - before.gets;
    assert.ok(keeps >= 3 && keeps <= 7, `${keeps} keepalives in 5 s from 5 tabs (one tab: ~5)`);
    assert.ok(gets <= 8, `${gets} polls in 5 s from 5 tabs (one tab: ~5)`);
    // the leader closes: another tab takes over polling within one interval
    const g1 = (await s.api("/__test/stats")).gets;
    for (const t of tabs.slice(0, 4)) await t.close();
    await sleep(2500);
    assert.ok((await s.api("/__test/stats")).gets > g1, "the remaining tab polls");
    await ctx.close();
  } finally {
    s.stop();
  }
});

test("audit: lock/unlock cycles in 3 tabs, offline spell and a reload: every record at the server once, in seq order", async () => {
  const s = await startServer([]);
  try {
    const ctx = await browser.newContext();
    const o = { idleTimeoutMs: 60_000, audit: { url: "/audit" } };
    const tabs = [await openHarness(ctx, s.url, o), await openHarness(ctx, s.url, o), await openHarness(ctx, s.url, o)];
    const made = new Map();
    const collect = async () => {
      for (const t of tabs) for (const e of await events(t, "audit")) made.set(`${e.detail.tab}/${e.detail.seq}`, e.detail);
    };
    const cycle = async (n) => {
      for (let i = 0; i < n; i++) {
        const t = tabs[i % 3];
        await t.evaluate(() => window.session.lock("manual"));
        await t.evaluate(() => window.session.unlock());
      }
    };
    await cycle(12);
    await ctx.setOffline(true);
    await cycle(12);
    await collect();
    // back online and at once a reload in the middle: the queue survives in localStorage
    await ctx.setOffline(false);
    await tabs[1].reload();
    await tabs[1].waitForFunction(() => window.ready === true);
    await cycle(12);
    await collect();
    await waitFor(async () => (await s.api("/audit")).length >= made.size, { timeout: 30_000, every: 500 });
    await sleep(1500);
    const stored = await s.api("/audit");
    const keys = stored.map((r) => `${r.tab}/${r.seq}`);
    assert.equal(new Set(keys).size, keys.length, "no duplicates after de-duplication");
    for (const k of made.keys()) assert.ok(keys.includes(k), `record ${k} missing at the server`);
    const seqs = stored.map((r) => r.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "served in seq order");
    // no PHI: records carry only seq/type/at/reason/tab
    for (const r of stored) {
      assert.deepEqual(Object.keys(r).filter((k) => !["seq", "type", "at", "reason", "tab", "receivedAt"].includes(k)), []);
      assert.doesNotMatch(JSON.stringify(r), /Patient|MRN|SYN-/);
    }
    console.log(`# audit: ${made.size} records made, ${stored.length} stored`);
    await ctx.close();
  } finally {
    s.stop();
  }
});
