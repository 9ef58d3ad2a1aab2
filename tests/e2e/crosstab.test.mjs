// Every tab agrees, and every record reaches the server: several pages in one context.
import { test } from "node:test";
import assert from "node:assert/strict";
import { suite } from "./suite.mjs";
import { openHarness, gotoHarness, events, sleep, waitFor } from "./lib.mjs";

const env = suite({ shared: true });
const state = (p) => p.evaluate(() => window.session.state);

test("activity in tab A keeps tab B alive past its own idle deadline", async () => {
  const ctx = await env.browser.newContext();
  const o = { idleTimeoutMs: 2000, warnBeforeMs: 0 };
  const a = await openHarness(ctx, env.server.url, o);
  const b = await openHarness(ctx, env.server.url, o);
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
  const ctx = await env.browser.newContext();
  const o = { idleTimeoutMs: 60_000 };
  const [a, b, c] = [await openHarness(ctx, env.server.url, o), await openHarness(ctx, env.server.url, o), await openHarness(ctx, env.server.url, o)];
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
  const ctx = await env.browser.newContext();
  const o = { idleTimeoutMs: 3000, warnBeforeMs: 0 };
  const a = await openHarness(ctx, env.server.url, o);
  await sleep(1500);
  await a.reload();
  await a.waitForFunction(() => window.ready === true);
  const left = await a.evaluate(() => window.session.remainingMs());
  assert.ok(left <= 1600, `reload restarted the clock: ${left} ms left`);
  await waitFor(async () => (await state(a)) === "locked", { timeout: 3000 });
  const late = await openHarness(ctx, env.server.url, o);
  assert.equal(await state(late), "locked");
  assert.equal(await late.evaluate(() => !!document.querySelector("#autologoff-overlay[open]")), true);
  await ctx.close();
});

test("with 5 tabs open for 5 simulated minutes the server sees no more keepalives than one tab would send", env.only(["chromium", "firefox"], "Playwright page.clock"), async () => {
  const { s, ctx } = await env.setup();
  const real0 = Date.now();
  try {
    // One fake clock for every page of the context (installed before any page opens).
    // BroadcastChannel, localStorage, Web Locks and the fetches to the server stay real.
    await ctx.clock.install();
    // Its timer ids start at 10^12: the SDK must keep them as JS numbers (it once cut them
    // to 32 bits, cleared nothing, and a dropped timer fired into a freed closure).
    assert.ok((await ctx.request.post(s.url + "/login", { data: { user: "dr-test" } })).ok());
    const KEEP = 30_000, POLL = 60_000, SIM = 5 * 60_000, STEP = 1000, INPUT_EVERY = 10_000;
    const o = { idleTimeoutMs: 60_000, warnBeforeMs: 0, server: { url: "/session", keepaliveIntervalMs: KEEP, pollIntervalMs: POLL } };
    const tabs = [];
    for (let i = 0; i < 5; i++) tabs.push(await openHarness(ctx, s.url, o));
    await ctx.clock.runFor(STEP); // init's own zero-delay timers
    await sleep(200); // the initial GETs land and a leader holds the Web Lock
    const before = await s.api("/__test/stats");
    const sim0 = await tabs[0].evaluate(() => Date.now());
    // Trusted input rotates through the tabs every 10 simulated seconds; the clock moves
    // 1 s at a time so the real responses land about when they would.
    let inputs = 0;
    for (let t = 0; t < SIM; t += STEP) {
      if (t % INPUT_EVERY === 0) {
        const tab = tabs[inputs % tabs.length];
        await tab.bringToFront();
        await tab.mouse.move(20 + (inputs % 7) * 15, 40 + (inputs % 3) * 10);
        await tab.mouse.move(60 + (inputs % 5) * 10, 90);
        inputs++;
      }
      await ctx.clock.runFor(STEP);
    }
    await sleep(200);
    const simMs = (await tabs[0].evaluate(() => Date.now())) - sim0;
    const st = await s.api("/__test/stats");
    const keeps = st.keepalives - before.keepalives;
    const gets = st.gets - before.gets;
    const oneTabKeeps = Math.ceil(simMs / KEEP) + 1; // one at the first input, then one per interval
    const oneTabGets = Math.ceil(simMs / POLL) + 1;
    const states = await Promise.all(tabs.map(state));
    console.log(`# keepalives: ${keeps} from 5 tabs in ${simMs} simulated ms (one tab: <= ${oneTabKeeps}); polls: ${gets} (one tab: <= ${oneTabGets}); ${inputs} inputs; ${Date.now() - real0} real ms`);
    assert.deepEqual(states, Array(5).fill("active"), "input in any tab kept every tab alive");
    assert.ok(simMs >= SIM, `only ${simMs} simulated ms passed`);
    assert.ok(keeps > 0, "activity for 5 minutes sent no keepalive at all");
    assert.ok(keeps <= oneTabKeeps, `${keeps} keepalives from 5 tabs; one tab would send <= ${oneTabKeeps}`);
    assert.ok(gets <= oneTabGets, `${gets} polls from 5 tabs; one tab would send <= ${oneTabGets}`);
    // the leader closes: another tab takes over polling within one interval
    const g1 = (await s.api("/__test/stats")).gets;
    for (const t of tabs.slice(0, 4)) await t.close();
    await sleep(300); // the Web Lock passes to the remaining tab (real time)
    const last = tabs[4];
    let waited = 0;
    while (waited <= POLL + 2 * STEP && (await s.api("/__test/stats")).gets === g1) {
      if (waited % INPUT_EVERY === 0) await last.mouse.move(20 + (waited / INPUT_EVERY) * 10, 50); // still in use
      await ctx.clock.runFor(STEP);
      waited += STEP;
    }
    assert.equal(await state(last), "active");
    assert.ok((await s.api("/__test/stats")).gets > g1, `the remaining tab did not poll within ${waited} simulated ms`);
    await ctx.close();
  } finally {
    s.stop();
  }
});

test("audit: 100 lock/unlock cycles in 3 tabs, offline spell and a reload: every record at the server once, in seq order", env.only(["chromium", "firefox"], "Playwright setOffline (no offline mode over classic WebDriver)"), async () => {
  const { s, ctx } = await env.setup();
  const real0 = Date.now();
  try {
    const o = { idleTimeoutMs: 60_000, audit: { url: "/audit" } };
    const tabs = [await openHarness(ctx, s.url, o), await openHarness(ctx, s.url, o), await openHarness(ctx, s.url, o)];
    // PHI-looking title, URL query and storage values in every tab: none may reach a record.
    const fed = ["Chart: Jane Testpatient, MRN SYN-0007", "?mrn=SYN-0007&name=Jane+Testpatient",
      "Jane Testpatient, DOB 1970-01-01", "Jane Testpatient reports chest pain"];
    const phi = async (p) => p.evaluate(([title, query, chart, note]) => {
      document.title = title;
      history.replaceState(null, "", location.pathname + query + location.hash);
      sessionStorage.setItem("chart", chart);
      localStorage.setItem("draft:note", note);
    }, fed);
    for (const t of tabs) await phi(t);
    const made = new Map(); // "tab/seq" -> record, from every page's audit events
    const order = new Map(); // tab id -> seqs in the order the events fired
    const collect = async (pages) => {
      for (const p of pages) {
        for (const { detail: r } of await events(p, "audit")) {
          const k = `${r.tab}/${r.seq}`;
          if (made.has(k)) continue;
          made.set(k, r);
          order.set(r.tab, [...(order.get(r.tab) ?? []), r.seq]);
        }
      }
    };
    const allActive = async () => (await Promise.all(tabs.map(state))).every((x) => x === "active");
    let n = 0;
    const stuck = []; // cycles after which a tab stayed locked though unlock() resolved true
    const cycle = async () => {
      const i = n++;
      const t = tabs[i % 3];
      await t.evaluate(() => window.session.lock("manual"));
      assert.equal(await t.evaluate(() => window.session.unlock()), true);
      // every tab follows (remote lock, then remote unlock) before the next cycle
      try {
        await waitFor(allActive, { timeout: 2000, every: 10 });
      } catch {
        const st = await Promise.all(tabs.map(async (p) => `${await state(p)}(${(await events(p, "lock")).at(-1)?.detail.reason})`));
        stuck.push(`cycle ${i} (tab ${i % 3}): ${st.join(" ")}`);
        // unlock the stuck tabs so that the next cycle's lock() is a real lock
        for (const p of tabs) if ((await state(p)) === "locked") await p.evaluate(() => window.session.unlock());
        await waitFor(allActive, { timeout: 3000, every: 10 });
      }
    };
    const CYCLES = 100, OFFLINE_AT = 25, RELOAD_AT = 50;
    while (n < OFFLINE_AT) await cycle();
    await ctx.setOffline(true);
    while (n < RELOAD_AT) await cycle();
    // back online and at once a reload in the middle: the reloaded tab's records are kept
    // (saved here first, its events die with the page) and its queue survives the reload
    await collect(tabs);
    await ctx.setOffline(false);
    await tabs[1].reload();
    await tabs[1].waitForFunction(() => window.ready === true);
    await phi(tabs[1]);
    while (n < CYCLES) await cycle();
    await collect(tabs);
    const manualLocks = [...made.values()].filter((r) => r.type === "lock" && r.reason === "manual").length;
    assert.equal(manualLocks, CYCLES, "one manual lock record per cycle");
    await waitFor(async () => (await s.audit("client")).length >= made.size, { timeout: 40_000, every: 500 });
    await sleep(1500); // late duplicates (a re-sent batch) would land now
    const stored = await s.audit("client");
    const keys = stored.map((r) => `${r.tab}/${r.seq}`);
    const left = await tabs[0].evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("autologoff:audit:")).length);
    console.log(`# audit: ${CYCLES} cycles, ${made.size} records made in ${order.size} tab loads, ${stored.length} stored, ${left} queue(s) left in localStorage, ${stuck.length} cycle(s) left tabs locked; ${Date.now() - real0} real ms`);
    assert.equal(new Set(keys).size, keys.length, "no duplicates after de-duplication");
    for (const k of made.keys()) assert.ok(keys.includes(k), `record ${k} missing at the server`);
    for (const k of keys) assert.ok(made.has(k), `record ${k} at the server was never made`);
    assert.equal(stored.length, made.size);
    for (const r of stored) {
      const m = made.get(`${r.tab}/${r.seq}`);
      assert.deepEqual([r.type, r.at, r.reason], [m.type, m.at, m.reason], `record ${r.tab}/${r.seq} altered`);
    }
    for (const [tab, seqs] of order) {
      assert.ok(seqs.every((x, i) => i === 0 || x > seqs[i - 1]), `tab ${tab} made seqs out of order: ${seqs}`);
    }
    // The server keeps arrival order (received_at, tab, seq), the order an auditor's export
    // prints; within each tab the records arrive in the order they were made.
    const arrived = new Map();
    for (const r of stored) arrived.set(r.tab, [...(arrived.get(r.tab) ?? []), r.seq]);
    for (const [tab, seqs] of arrived) {
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `tab ${tab}: records stored out of the order they were made`);
    }
    // No PHI: each field is a number, one of a closed set or a strict format, and no word
    // of the synthetic values fed in above is a whole token of any text field. (Not a substring test
    // over the whole record: the server's receivedAt, in unix ms, can contain "1970".)
    const words = (v) => String(v).split(/[^A-Za-z0-9-]+/).filter(Boolean);
    const phiWords = new Set(fed.flatMap(words).filter((w) => w !== "reports"));
    const TYPES = ["warn", "extend", "lock", "unlock", "tamper", "server-expired", "purge", "error"];
    for (const r of stored) {
      const id = `record ${JSON.stringify(r)}`;
      assert.deepEqual(Object.keys(r).filter((k) => !["seq", "type", "at", "reason", "tab", "user", "receivedAt", "source"].includes(k)), [], id);
      assert.equal(r.source, "client", id);
      assert.ok(Number.isInteger(r.seq) && r.seq >= 0, id);
      assert.ok(TYPES.includes(r.type), id);
      assert.match(r.tab, /^[0-9a-f]{16}$/, id);
      assert.equal(new Date(r.at).toISOString(), r.at, id);
      assert.ok(r.reason === undefined || /^[A-Za-z -]{1,40}$/.test(r.reason), id);
      assert.ok(r.receivedAt === undefined || Number.isFinite(r.receivedAt), id);
      assert.ok(r.user === undefined || r.user === null || r.user === "dr-test", id);
      for (const k of ["type", "at", "reason", "tab", "user"]) {
        if (r[k] !== undefined) for (const w of words(r[k])) assert.ok(!phiWords.has(w), `${id}: ${k} carries "${w}"`);
      }
    }
    // last, so that the audit checks above still report: the cross-tab contract for every cycle
    assert.deepEqual(stuck, [], `unlock() in one tab resolved true but tabs stayed locked after ${stuck.length} of ${CYCLES} cycles`);
    await ctx.close();
  } finally {
    s.stop();
  }
});

// ---- with `server`, an unlock heard from another tab is only a hint (issue 14) ----

const SERVER = { idleTimeoutMs: 60_000, warnBeforeMs: 0, server: { url: "/session" } };

/** A tab of the origin with the SDK and `server`, signed in, then locked: the lock's DELETE ends the session. */
async function lockedTab(s, ctx) {
  const a = await openHarness(ctx, s.url, SERVER, { login: true });
  assert.equal(await state(a), "active");
  await a.evaluate(() => window.session.lock("manual"));
  await waitFor(async () => (await ctx.request.get(s.url + "/session")).status() === 401);
  return a;
}

/** Still covered: locked, overlay open, page inert, no unlock event or record. */
async function assertCovered(a, what) {
  const st = await a.evaluate(() => ({
    state: window.session.state,
    overlay: !!document.querySelector("#autologoff-overlay[open]"),
    inert: document.body.inert,
    filter: getComputedStyle(document.body).filter,
    unlocks: window.events.filter((e) => e.type === "unlock" || (e.type === "audit" && e.detail.type === "unlock")).length,
  }));
  assert.deepEqual(st, { state: "locked", overlay: true, inert: true, filter: st.filter, unlocks: 0 }, what);
  assert.match(st.filter, /blur/, what);
}

test("with server: a forged unlock posted on the channel or written to storage by another tab leaves the locked tab covered", async () => {
  const { s, ctx } = await env.setup();
  try {
    const a = await lockedTab(s, ctx);
    const gets0 = (await s.api("/__test/stats")).gets;
    // a passer-by opens another page of the app (no SDK) and forges the shared state
    const b = await ctx.newPage();
    await b.goto(s.url + "/fixtures/other.html");
    const forged = await b.evaluate(() => {
      const f = localStorage.getItem("autologoff:state").split("|");
      f[3] = "0"; // not locked
      f[5] = String(Number(f[5]) + 50); // lock_changed_at later than the lock
      const text = f.join("|");
      new BroadcastChannel("autologoff").postMessage(text);
      localStorage.setItem("autologoff:state", text);
      return text;
    });
    await sleep(1000);
    await assertCovered(a, `after the forged state ${forged}`);
    // the tab asked the server itself (and the answer, 401, kept it locked)
    assert.ok((await s.api("/__test/stats")).gets > gets0, "the locked tab did not check with the server");
    // a forged stamp far in the future changes nothing either
    await b.evaluate(() => {
      const f = localStorage.getItem("autologoff:state").split("|");
      f[3] = "0";
      f[5] = String(Date.now() + 365 * 24 * 3600_000);
      new BroadcastChannel("autologoff").postMessage(f.join("|"));
    });
    await sleep(500);
    await assertCovered(a, "after a far-future forged stamp");
    // a new load of the locked tab reads the stored state (its pagehide stored the real one
    // again; no sign-in this time), and a new tab with `server` loads into the forged one
    // written once more: its own first GET (401) locks it, and nothing unlocks A
    await gotoHarness(a, s.url, SERVER);
    assert.equal(await state(a), "locked");
    await b.evaluate((t) => localStorage.setItem("autologoff:state", t), forged);
    const c = await openHarness(ctx, s.url, SERVER);
    await waitFor(async () => (await state(c)) === "locked", { timeout: 3000 });
    assert.equal((await events(c, "lock")).at(-1).detail.reason, "server");
    await b.evaluate((t) => new BroadcastChannel("autologoff").postMessage(t), forged);
    await sleep(500);
    await assertCovered(a, "after a reload, and a new tab loaded into the forged stored state");
    await ctx.close();
  } finally {
    s.stop();
  }
});

test("with server: a second SDK instance without server that calls unlock() leaves the locked tab covered; a real sign-in still unlocks it", async () => {
  const { s, ctx } = await env.setup();
  try {
    const a = await lockedTab(s, ctx);
    // another tab runs the SDK without `server`: it starts locked, and its unlock() needs nobody
    const b = await openHarness(ctx, s.url, { idleTimeoutMs: 60_000 });
    assert.equal(await state(b), "locked");
    assert.equal(await b.evaluate(() => window.session.unlock()), true);
    await sleep(1000);
    await assertCovered(a, "after unlock() in a tab without server");
    // a tab with `server` loading into that unlocked stored state: the server says 401, it locks
    const c = await openHarness(ctx, s.url, SERVER);
    await waitFor(async () => (await state(c)) === "locked", { timeout: 3000 });
    await sleep(300);
    await assertCovered(a, "after a new tab loaded into the unlocked stored state");
    // the user signs in again: now the same hint is confirmed by the server and A uncovers
    assert.ok((await ctx.request.post(s.url + "/login", { data: JSON.stringify({ user: "dr-test" }) })).ok());
    assert.equal(await c.evaluate(() => window.session.unlock()), true);
    await waitFor(async () => (await state(a)) === "active", { timeout: 3000 });
    assert.equal(await a.evaluate(() => document.body.inert), false);
    const rec = (await events(a, "audit")).filter((e) => e.detail.type === "unlock").map((e) => e.detail.reason);
    assert.deepEqual(rec, ["remote"]);
    await ctx.close();
  } finally {
    s.stop();
  }
});
