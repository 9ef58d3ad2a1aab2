// autologoff-server as a deployment: two processes sharing one Redis and one Postgres,
// the stores going away and coming back, bad input, bad flags, and the auditor's export.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { startServer, SERVER_BIN, waitFor } from "../e2e/lib.mjs";
import { startRedis, startPostgres } from "../services.mjs";

let redis, pg, A, B;
const shared = () => ["--store", redis.url, "--audit", pg.url, "--idle-secs", "60"];

before(async () => {
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  [A, B] = await Promise.all([startServer(shared()), startServer(shared())]);
});
after(async () => {
  await Promise.all([A?.close(), B?.close()]);
  redis?.close();
  pg?.close();
});

/** One HTTP call with an explicit cookie jar (a string). */
async function call(server, method, path, { cookie, body } = {}) {
  const headers = cookie ? { cookie } : {};
  const res = await fetch(server.url + path, { method, headers, body });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, json, text, headers: res.headers, cookies: res.headers.getSetCookie() };
}

async function login(server, user) {
  const r = await call(server, "POST", "/login", { body: JSON.stringify({ user }) });
  assert.equal(r.status, 204, r.text);
  return r.cookies.find((c) => /^sid=[0-9a-f]{64};/.test(c)).split(";")[0];
}

const record = (tab, seq, extra = {}) => ({ seq, type: "lock", at: "2026-12-03T06:51:00.000Z", reason: "idle", tab, ...extra });

test("a keepalive on A moves the deadline B reports; API requests move nothing", async () => {
  const sid = await login(A, "dr-ab");
  const first = (await call(B, "GET", "/session", { cookie: sid })).json;
  for (let i = 0; i < 5; i++) {
    const r = await call(B, "GET", "/api/whoami", { cookie: sid });
    assert.equal(r.status, 200);
    assert.equal(Number(r.headers.get("session-expires")), first.expiresAt, "an API request extended the session");
  }
  await new Promise((r) => setTimeout(r, 30));
  const kept = (await call(A, "POST", "/session", { cookie: sid, body: JSON.stringify({ lastActivityAgoMs: 0 }) })).json;
  assert.ok(kept.expiresAt > first.expiresAt, `${kept.expiresAt} > ${first.expiresAt}`);
  assert.equal((await call(B, "GET", "/session", { cookie: sid })).json.expiresAt, kept.expiresAt);
});

test("a DELETE on B makes A answer 401 at once", async () => {
  const sid = await login(A, "dr-del");
  assert.equal((await call(A, "GET", "/api/whoami", { cookie: sid })).status, 200);
  assert.equal((await call(B, "DELETE", "/session", { cookie: sid })).status, 204);
  for (const [m, p] of [["GET", "/api/whoami"], ["GET", "/session"], ["POST", "/session"]]) {
    const r = await call(A, m, p, { cookie: sid, body: m === "POST" ? "{}" : undefined });
    assert.equal(r.status, 401, `${m} ${p}`);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(typeof r.json.error, "string");
  }
});

test("a keepalive racing a DELETE on the other replica never revives the session (300 races)", async () => {
  let keptFirst = 0;
  for (let i = 0; i < 300; i++) {
    const sid = await login(i % 2 ? A : B, "dr-race");
    const [k] = await Promise.all([
      call(A, "POST", "/session", { cookie: sid, body: "{}" }),
      call(B, "DELETE", "/session", { cookie: sid }),
    ]);
    if (k.status === 200) keptFirst++;
    for (const s of [A, B]) {
      assert.equal((await call(s, "GET", "/session", { cookie: sid })).status, 401, `race ${i}: revived`);
    }
  }
  // Both orders happened (otherwise this raced nothing).
  assert.ok(keptFirst > 0 && keptFirst < 300, `keepalive first in ${keptFirst} of 300`);
});

test("the same audit batch sent to A and B is stored once, attributed to the user", async () => {
  const sid = await login(A, "dr-audit");
  const tab = "tab-" + Math.random().toString(36).slice(2);
  const batch = JSON.stringify([1, 2, 3, 4, 5].map((n) => record(tab, n)));
  const [ra, rb] = await Promise.all([
    call(A, "POST", "/audit", { cookie: sid, body: batch }),
    call(B, "POST", "/audit", { cookie: sid, body: batch }),
  ]);
  assert.equal(ra.status, 200);
  assert.equal(rb.status, 200);
  assert.equal(ra.json.accepted + rb.json.accepted, 5);
  assert.equal(ra.json.duplicates + rb.json.duplicates, 5);
  const stored = (await B.audit()).filter((r) => r.tab === tab);
  assert.equal(stored.length, 5);
  assert.ok(stored.every((r) => r.user === "dr-audit"));
});

test("a restart of A loses no session", async () => {
  const sid = await login(A, "dr-restart");
  const before = (await call(A, "GET", "/session", { cookie: sid })).json;
  await A.close();
  A = await startServer(shared());
  const r = await call(A, "GET", "/session", { cookie: sid });
  assert.equal(r.status, 200);
  assert.equal(r.json.expiresAt, before.expiresAt);
});

test("bad input: a clear 4xx naming what was wrong, and nothing stored", async () => {
  const sid = await login(A, "dr-bad");
  const clientRows = async () => (await A.audit()).filter((r) => r.source === "client").length;
  const storedBefore = await clientRows();
  const huge = JSON.stringify(Array.from({ length: 3000 }, (_, i) => record("tab-huge", i)));
  const tenK = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({ seq: i })));
  const cases = [
    ["GET", "/api/whoami", { cookie: "sid=not-an-id" }, 401, /malformed/],
    ["GET", "/api/whoami", { cookie: "sid=" + "f".repeat(64) }, 401, /ended|expired/],
    // A header is not a payload: 431 (RFC 6585) with the JSON error, on every route.
    ["GET", "/api/whoami", { cookie: "x=" + "y".repeat(9000) }, 431, /Cookie/],
    ["GET", "/session", { cookie: "x=" + "y".repeat(9000) }, 431, /Cookie/],
    ["POST", "/session", { cookie: "x=" + "y".repeat(9000), body: "{}" }, 431, /Cookie/],
    ["DELETE", "/session", { cookie: "x=" + "y".repeat(9000) }, 431, /Cookie/],
    ["POST", "/login", { cookie: "x=" + "y".repeat(9000), body: '{"user":"dr-big"}' }, 431, /Cookie/],
    ["POST", "/audit", { cookie: "x=" + "y".repeat(9000), body: JSON.stringify([record("tab-431", 1)]) }, 431, /Cookie/],
    ["POST", "/session", { cookie: sid, body: '{"lastActivityAgoMs":-1}' }, 400, /lastActivityAgoMs/],
    ["POST", "/session", { cookie: sid, body: '{"lastActivityAgoMs":"10"}' }, 400, /lastActivityAgoMs/],
    ["POST", "/session", { cookie: sid, body: '{"ago":10}' }, 400, /ago/],
    ["POST", "/session", { cookie: sid, body: "x".repeat(5000) }, 413, /keepalive body/],
    ["POST", "/audit", { cookie: sid, body: huge }, 413, /audit body/],
    ["POST", "/audit", { cookie: sid, body: tenK }, 400, /10000 records/],
    ["POST", "/audit", { cookie: sid, body: '{"seq":1}' }, 400, /array/],
    ["POST", "/audit", { cookie: sid, body: JSON.stringify([record("t1", 1), { ...record("t1", 2), seq: "2" }]) }, 400, /record 1: seq/],
    ["POST", "/audit", { cookie: sid, body: JSON.stringify([{ ...record("t1", 1), type: undefined }]) }, 400, /type is missing/],
    ["POST", "/audit", { cookie: sid, body: JSON.stringify([{ ...record("t1", 1), at: "yesterday" }]) }, 400, /at must be/],
    ["POST", "/audit", { cookie: sid, body: JSON.stringify([{ ...record("t1", 1), tab: "a b" }]) }, 400, /tab must be/],
    ["POST", "/login", { body: JSON.stringify({ user: 42 }) }, 400, /user/],
    ["POST", "/login", { body: "{" }, 400, /JSON/],
    ["PUT", "/session", {}, 405, /method/],
  ];
  for (const [m, p, opts, status, says] of cases) {
    const r = await call(A, m, p, opts);
    assert.equal(r.status, status, `${m} ${p} ${String(opts.body ?? opts.cookie).slice(0, 60)}: ${r.text}`);
    assert.match(r.json?.error ?? "", says, `${m} ${p}: ${r.text}`);
  }
  assert.ok((await call(A, "PUT", "/session")).headers.get("allow").includes("DELETE"));
  assert.equal(await clientRows(), storedBefore, "a refused request stored something");

  // Extra fields a buggy client sent are dropped: found nowhere in the database.
  const phi = { patient: "Jane Testpatient", mrn: "SYN-0042", note: "chest pain since Tuesday" };
  assert.equal((await call(A, "POST", "/audit", { cookie: sid, body: JSON.stringify([record("tab-phi", 1, phi)]) })).status, 200);
  const dump = spawnSync(SERVER_BIN, ["audit", "export", "--audit", pg.url], { encoding: "utf8" });
  assert.equal(dump.status, 0, dump.stderr);
  assert.ok(dump.stdout.includes("tab-phi"));
  for (const v of Object.values(phi)) assert.ok(!dump.stdout.includes(v), `${v} was stored`);
});

test("audit export: a user's lock, purge and unlock records with their name, in JSONL and CSV", async () => {
  const sid = await login(A, "dr-export");
  const tab = "tab-export";
  const rows = [
    { seq: 1, type: "lock", at: "2026-12-03T06:51:00.000Z", reason: "idle", tab },
    { seq: 2, type: "purge", at: "2026-12-03T06:51:00.001Z", tab },
  ];
  assert.equal((await call(A, "POST", "/audit", { cookie: sid, body: JSON.stringify(rows) })).status, 200);
  // The lock's DELETE clears the session cookie; what the browser sends after it is still hers.
  const del = await call(A, "DELETE", "/session", { cookie: sid });
  const ended = del.cookies.find((c) => /^sid_ended=[0-9a-f]{64};/.test(c)).split(";")[0];
  const unlock = [{ seq: 3, type: "unlock", at: "2026-12-03T06:59:00.000Z", tab }];
  assert.equal((await call(B, "POST", "/audit", { cookie: ended, body: JSON.stringify(unlock) })).status, 200);

  const out = (format) => spawnSync(SERVER_BIN, ["audit", "export", "--audit", pg.url, "--user", "dr-export", "--source", "client", "--format", format], { encoding: "utf8" });
  const jsonl = out("jsonl");
  assert.equal(jsonl.status, 0, jsonl.stderr);
  const got = jsonl.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(got.map((r) => [r.type, r.reason, r.user]), [["lock", "idle", "dr-export"], ["purge", null, "dr-export"], ["unlock", null, "dr-export"]]);
  assert.deepEqual(Object.keys(got[0]), ["tab", "seq", "type", "at", "reason", "user", "received_at", "source"]);
  assert.ok(got.every((r) => r.source === "client"));
  assert.match(got[0].received_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const csv = out("csv");
  assert.equal(csv.status, 0, csv.stderr);
  const lines = csv.stdout.trim().split("\n");
  assert.equal(lines[0], "tab,seq,type,at,reason,user,received_at,source");
  assert.deepEqual(lines.slice(1).map((l) => l.split(",").slice(2, 3)[0]), ["lock", "purge", "unlock"]);
  // --since is inclusive, --until exclusive, both on received_at.
  const first = got[0].received_at;
  const since = spawnSync(SERVER_BIN, ["audit", "export", "--audit", pg.url, "--user", "dr-export", "--source", "client", "--until", first], { encoding: "utf8" });
  assert.equal(since.stdout.trim(), "");
  const from = spawnSync(SERVER_BIN, ["audit", "export", "--audit", pg.url, "--user", "dr-export", "--source", "client", "--since", first], { encoding: "utf8" });
  assert.equal(from.stdout.trim().split("\n").length, 3);
  // The server's own records of that user: the login and the DELETE's logout.
  const server = spawnSync(SERVER_BIN, ["audit", "export", "--audit", pg.url, "--user", "dr-export", "--source", "server"], { encoding: "utf8" });
  const mine = server.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(mine.map((r) => [r.type, r.reason, r.tab, r.source]), [["login", "demo", "", "server"], ["logout", "request", "", "server"]]);
});

/** Server timeouts stored for users whose name starts with `prefix`. */
async function timeoutsOf(server, prefix) {
  return (await server.audit()).filter((r) => r.type === "timeout" && r.user?.startsWith(prefix));
}

async function until(what, check, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out: " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("sessions left alone, no browser at all: one timeout each within 5 s, exactly once across replicas, also when a replica is SIGKILLed mid-sweep", async () => {
  const [C, D] = await Promise.all([startServer(shared()), startServer(shared())]);
  try {
    // 100 sessions expiring in the same second, on two replicas; nothing ever asks for them again.
    const sids = [];
    for (let i = 0; i < 100; i++) sids.push(await login(i % 2 ? C : D, `sweep-${String(i).padStart(3, "0")}`));
    const expiresAt = (await call(C, "GET", "/session", { cookie: sids[0] })).json.expiresAt;
    const offset = 61_000;
    await Promise.all([C, D].map((s) => s.api("/__test/clock", { offsetMs: offset })));
    const expiredAt = Date.now();
    const rows = await until("100 timeouts", async () => { const t = await timeoutsOf(C, "sweep-"); return t.length >= 100 && t; });
    const took = Date.now() - expiredAt;
    assert.ok(took < 5000, `took ${took} ms`);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await timeoutsOf(D, "sweep-")).length, 100, "exactly one timeout per session");
    const first = rows.find((r) => r.user === "sweep-000");
    assert.equal(first.reason, "idle");
    assert.equal(first.tab, "");
    assert.equal(first.source, "server");
    assert.equal(Date.parse(first.at), expiresAt, "at is the session's expiresAt");
    console.log(`# 100 sessions on two replicas: 100 timeouts stored within ${took} ms of the expiry (at − expiresAt = ${Date.parse(first.at) - expiresAt} ms), 100 after 2.5 s more`);

    // C alone claims the next 100, holds them without writing, and is SIGKILLed.
    await D.close();
    await C.api("/__test/sweeper", { stallMs: 600_000 });
    for (let i = 0; i < 100; i++) await login(C, `killed-${String(i).padStart(3, "0")}`);
    await C.api("/__test/clock", { offsetMs: 2 * offset });
    const held = () => Number(spawnSync("redis-cli", ["-p", String(redis.port), "ZCARD", "alo:claims"], { encoding: "utf8" }).stdout.trim());
    await until("C claimed the 100", () => held() === 100);
    process.kill(C.pid, "SIGKILL");
    await C.close();
    // A replica started after that takes the claims over when their lease ends.
    const E = await startServer(shared());
    try {
      await E.api("/__test/clock", { offsetMs: 2 * offset });
      const killedAt = Date.now();
      await until("the 100 taken over", async () => (await timeoutsOf(E, "killed-")).length >= 100);
      console.log(`# replica SIGKILLed holding 100 claims: the next replica wrote all 100 ${Date.now() - killedAt} ms after the kill`);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal((await timeoutsOf(E, "killed-")).length, 100, "none lost, none doubled");
      assert.equal(held(), 0);
    } finally {
      await E.close();
    }
  } finally {
    await Promise.all([C.close(), D.close()]);
  }
});

test("Redis stopped: guarded routes, /session and login answer 503, nothing live; Redis back: service resumes", async () => {
  const sid = await login(A, "dr-redis");
  redis.stop();
  for (const [m, p, body] of [["GET", "/api/whoami"], ["GET", "/session"], ["POST", "/session", "{}"], ["POST", "/login", '{"user":"x"}'], ["GET", "/healthz"]]) {
    const r = await call(A, m, p, { cookie: sid, body });
    assert.equal(r.status, 503, `${m} ${p}: ${r.text}`);
    assert.equal(r.headers.get("session-expires"), null);
  }
  await redis.resume();
  // Redis kept nothing (no persistence here): the old session is gone, a new login works.
  // Each replica reconnects on its own (a request in that moment is refused: 503, closed).
  for (const s of [A, B]) await waitFor(async () => (await call(s, "GET", "/healthz")).status === 200, { timeout: 10_000 });
  assert.equal((await call(A, "GET", "/api/whoami", { cookie: sid })).status, 401);
  const fresh = await login(B, "dr-redis");
  assert.equal((await call(A, "GET", "/api/whoami", { cookie: fresh })).json.user, "dr-redis");
});

test("Postgres stopped: /audit answers 503 and stores nothing; back: the same batch is stored once", async () => {
  const sid = await login(A, "dr-pg");
  const batch = JSON.stringify([record("tab-pg", 1), record("tab-pg", 2)]);
  pg.stop();
  assert.equal((await call(A, "POST", "/audit", { cookie: sid, body: batch })).status, 503);
  assert.equal((await call(A, "GET", "/healthz")).status, 503);
  await pg.resume();
  const r = await waitFor(async () => { const x = await call(A, "POST", "/audit", { cookie: sid, body: batch }); return x.status === 200 && x; }, { timeout: 15_000, every: 200 });
  assert.equal(r.json.accepted, 2);
  assert.equal((await A.audit()).filter((x) => x.tab === "tab-pg").length, 2);
});

test("bad flags and an unreachable store: a message naming the flag and value, exit 2", () => {
  for (const [args, says] of [
    [["--idle-secs", "0"], /--idle-secs.*0|0.*--idle-secs/],
    [["--idle-secs", "86401"], /--idle-secs/],
    [["--idle-secs", "600", "--absolute-secs", "300"], /--absolute-secs \(300\).*--idle-secs \(600\)/],
    [["--absolute-secs", "604801"], /--absolute-secs/],
    [["--store", "mysql://x"], /--store.*mysql:\/\/x|mysql:\/\/x.*--store/],
    [["--audit", "sqlite:"], /--audit/],
    [["--listen", "nowhere"], /--listen.*nowhere|nowhere.*--listen/],
    [["--store", "redis://127.0.0.1:1/0", "--audit", "none"], /--store redis:\/\/127\.0\.0\.1:1\/0/],
    [["--audit", "postgres://postgres@127.0.0.1:1/x"], /--audit postgres:\/\/postgres@127\.0\.0\.1:1\/x/],
    [["--bogus"], /--bogus/],
  ]) {
    const listen = args.includes("--listen") ? [] : ["--listen", "127.0.0.1:0"];
    const r = spawnSync(SERVER_BIN, [...listen, ...args], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 2, `${args.join(" ")}: exit ${r.status} ${r.stderr}`);
    assert.match(r.stderr, says, args.join(" "));
    assert.equal(r.stdout, "", "nothing on stdout: not listening");
  }
});
