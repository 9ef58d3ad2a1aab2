// Zero code (GATEWAY.md "Zero code: --inject-sdk"): the legacy ward app (www-demo/gateway,
// no autologoff code) behind `autologoff-server gateway --inject-sdk`, in the engine of
// AUTOLOGOFF_ENGINE (chromium, firefox, webkit: tests/e2e/lib.mjs). The page warns, locks
// (covered, inert), sessionStorage is erased, Back shows no PHI, the audit trail holds the
// page's records as the server received them and the server's own; "Sign in again" signs in
// through the app's login page in a popup that ends at /.autologoff/done, and the page comes
// back with its unsaved note; a page under a strict nonce CSP locks too, with no CSP
// violation (securitypolicyviolation events; the console where the driver has one), and
// its amended policy differs from its own only by a nonce, 'wasm-unsafe-eval' and 'self'
// in connect-src.
//   AUTOLOGOFF_ENGINE=firefox node --test tests/gateway/inject.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../services.mjs";
import { launch, ENGINE, waitFor, sleep } from "../e2e/lib.mjs";
import { startGateway, startWard, call, sessionCookie, ROOT, SERVER_BIN } from "./lib.mjs";

const IDLE_S = 5;
const WARN_MS = 2500;
const USER = "nurse.kim";
const PHI = "Test Patient 01";
const DRAFT = "Bed 3: synthetic patient resting, recheck at 06:00";
// img-src: the browser's own favicon request (not the SDK's).
const STRICT = "default-src 'none'; script-src 'nonce-X' 'strict-dynamic'; style-src 'self'; img-src 'self'";

const dir = mkdtempSync(join(tmpdir(), "alo-inject-"));
const audit = join(dir, "audit.db");
writeFileSync(join(dir, "sdk-options.json"), JSON.stringify({ warnBeforeMs: WARN_MS }));
const gatewayArgs = (upstream, login) => [
  "--upstream", upstream, ...login, "--idle-secs", String(IDLE_S), "--audit", `sqlite:${audit}`,
  "--inject-sdk", "--sdk-dir", join(ROOT, "pkg"), "--sdk-options", join(dir, "sdk-options.json"),
];

let ward, wardGateway, strictApp, strictGateway, browser;

before(async () => {
  const port = await freePort();
  ward = await startWard(port, { IDLE_MS: String(IDLE_S * 1000) });
  wardGateway = await startGateway(gatewayArgs(`http://127.0.0.1:${port}`, ["--login-from-upstream", "/login", "--public", "/public"]));
  // A page of its own under a strict nonce policy (the SDK's nonce is added by the gateway).
  strictApp = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-security-policy": STRICT });
    res.end(`<!doctype html><html><head><title>Strict</title>
<script nonce="X">window.violations = []; document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective + " " + e.blockedURI));</script>
</head><body><p id=phi>${PHI}</p></body></html>`);
  });
  await new Promise((r) => strictApp.listen(0, "127.0.0.1", r));
  strictGateway = await startGateway(gatewayArgs(`http://127.0.0.1:${strictApp.address().port}`, ["--demo-login"]));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await wardGateway?.close();
  await strictGateway?.close();
  strictApp?.close();
  await ward?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the page shows of the lock. */
const lockState = (page) => page.evaluate(() => ({
  warning: !!document.querySelector("#autologoff-warning[open]"),
  overlay: !!document.querySelector("#autologoff-overlay[open]"),
  inert: document.body?.inert ?? false,
  first: document.head?.firstElementChild?.getAttribute("src") ?? null,
  stored: sessionStorage.length,
  url: location.pathname,
}));

/** The ward app's own login form, as a user fills it. */
async function wardSignIn(page) {
  await page.waitForFunction(() => !!document.querySelector("form input[name=user]"));
  await page.evaluate((user) => {
    const f = document.querySelector("form");
    f.user.value = user;
    f.password.value = "demo";
    setTimeout(() => f.submit(), 0);
  }, USER);
  await page.waitForFunction((user) => document.getElementById("user")?.textContent === user, USER);
}

/** Whether the gateway served its done page (its request log: method, path, status). */
const doneServed = (gw) => /GET \/\.autologoff\/done 200/.test(gw.log());

/** Playwright's console (Chromium, Firefox); the WebDriver client has none. */
function consoleOf(page) {
  const lines = [];
  page.on?.("console", (m) => lines.push(m.text()));
  return lines;
}

test(`${ENGINE}: the legacy ward app warns, locks, purges and shows no PHI on Back`, { timeout: 60_000 }, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const lines = consoleOf(page);
    await page.goto(`${wardGateway.url}/`);
    await wardSignIn(page);
    const loaded = Date.now();
    await page.evaluate(() => sessionStorage.setItem("last-patient", "Test Patient 01"));
    let st = await lockState(page);
    assert.equal(st.first, "/.autologoff/sdk/auto.js", "the loader is the first child of <head>");
    assert.equal(await page.evaluate(() => document.querySelectorAll('script[src="/.autologoff/sdk/auto.js"]').length), 1);

    await waitFor(async () => (await lockState(page)).warning, { timeout: IDLE_S * 1000 + 3000 });
    const warnedAfter = Date.now() - loaded;
    await waitFor(async () => (await lockState(page)).overlay, { timeout: IDLE_S * 1000 + 3000 });
    const lockedAfter = Date.now() - loaded;
    st = await lockState(page);
    assert.equal(st.overlay, true, "covered");
    assert.equal(st.inert, true, "document.body is inert");
    assert.equal(st.stored, 0, "sessionStorage erased");
    console.log(`${ENGINE}: warned ${warnedAfter} ms, locked ${lockedAfter} ms after the page loaded (idle ${IDLE_S} s, warn ${WARN_MS} ms)`);

    // Another page, then Back: from the back/forward cache still covered, or reloaded
    // through the gateway, whose session has ended: the sign-in, no PHI.
    await page.goto(`${wardGateway.url}/public/ward.css`);
    await page.evaluate(() => { setTimeout(() => history.back(), 0); });
    await waitFor(async () => !/ward\.css/.test(await page.evaluate(() => location.href).catch(() => "ward.css")), { timeout: 10_000 });
    await sleep(500);
    const back = await page.evaluate((phi) => ({
      url: location.pathname,
      shown: document.body?.innerText.includes(phi) ?? false,
      covered: !!document.querySelector("#autologoff-overlay[open]") && document.body.inert,
    }), PHI);
    assert.ok(back.url === "/login" || back.covered, `Back shows PHI uncovered: ${JSON.stringify(back)}`);
    if (back.url === "/login") assert.equal(back.shown, false);
    console.log(`${ENGINE}: Back after the lock: ${back.url === "/login" ? "the sign-in page" : "the page, still covered"}`);
    const violations = lines.filter((l) => /Content.Security.Policy|CSP/i.test(l));
    assert.deepEqual(violations, []);
  } finally {
    await ctx.close();
  }

  // The page's records, as the server received them (user and received_at are the server's).
  const exported = () => execFileSync(SERVER_BIN, ["audit", "export", "--audit", `sqlite:${audit}`], { encoding: "utf8" })
    .split("\n").filter(Boolean).map((l) => JSON.parse(l));
  // The client's (the page's warn, lock, purge) and the server's own (the sign-in through
  // the app's login page; the session's end: its timeout, or the lock's DELETE first).
  await waitFor(() => {
    const rows = exported().filter((r) => r.user === USER);
    const client = rows.filter((r) => r.source === "client" && r.received_at).map((r) => r.type);
    const server = rows.filter((r) => r.source === "server").map((r) => r.type);
    // The server's idle deadline (from the sign-in) and the page's (from its load) are
    // close: the lock's reason is either.
    return ["warn", "lock", "purge"].every((t) => client.includes(t))
      && server.includes("login") && (server.includes("timeout") || server.includes("logout"));
  }, { timeout: 10_000, every: 250 }).catch((e) => { throw new Error(`${e.message}\nstored: ${JSON.stringify(exported())}`); });
});

test(`${ENGINE}: "Sign in again" opens the app's login in a popup; it ends at /.autologoff/done and the page comes back unlocked with its draft`, { timeout: 60_000 }, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(`${wardGateway.url}/`);
    await wardSignIn(page);
    await page.evaluate(() => { window.notReloaded = true; });
    await page.click("#draft");
    await page.keyboard.type(DRAFT);
    await waitFor(async () => (await lockState(page)).overlay, { timeout: IDLE_S * 1000 + 3000 });
    // auto.js gives the SDK server.signin = the app's login page with ?reauth=1 and
    // rd=/.autologoff/done: "Sign in again" opens it in a popup.
    const click = () => page.click("#autologoff-overlay button");
    let popup;
    if (ctx.popupAfter) popup = await ctx.popupAfter(click); // WebDriver (webdriver.mjs)
    else [popup] = await Promise.all([page.waitForEvent("popup"), click()]);
    await popup.waitForFunction(() => /^\/login\?reauth=1&rd=/.test(location.pathname + location.search)
      && !!document.querySelector("form input[name=user]"));
    await popup.evaluate((user) => {
      const f = document.querySelector("form");
      f.user.value = user;
      f.password.value = "demo";
      setTimeout(() => f.submit(), 0);
    }, USER);
    // The app's answer (Autologoff-Login, 303 to rd) leads to the gateway's done page, which
    // tells the page and closes: the page asks the server and is uncovered.
    await waitFor(() => popup.isClosed(), { timeout: 8000 });
    assert.ok(doneServed(wardGateway), "the popup went through /.autologoff/done");
    await waitFor(async () => {
      const st = await lockState(page);
      return !st.overlay && !st.inert;
    }, { timeout: 8000 }).catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await lockState(page))}`); });
    assert.equal(await page.evaluate(() => window.notReloaded), true, "the page was uncovered, not reloaded");
    assert.equal(await page.evaluate(() => document.getElementById("draft").value), DRAFT, "the draft is still in the field");
    assert.equal(await page.evaluate(() => document.getElementById("user").textContent), USER);
  } finally {
    await ctx.close();
  }
});

test(`${ENGINE}: a page under a strict nonce CSP locks, with no CSP violation`, { timeout: 60_000 }, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const lines = consoleOf(page);
    await page.goto(`${strictGateway.url}/.autologoff/healthz`);
    const signed = await page.evaluate(() => fetch("/.autologoff/demo-login", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "dr.strict" }),
    }).then((r) => r.status));
    assert.equal(signed, 204);
    await page.goto(`${strictGateway.url}/`);
    await page.waitForFunction(() => !!document.getElementById("phi"));
    assert.equal((await lockState(page)).first, "/.autologoff/sdk/auto.js");
    await waitFor(async () => (await lockState(page)).overlay, { timeout: IDLE_S * 1000 + 3000 });
    const st = await lockState(page);
    assert.equal(st.inert, true);
    assert.deepEqual(await page.evaluate(() => window.violations), [], "securitypolicyviolation events");
    const cspLines = () => lines.filter((l) => /Content.Security.Policy|CSP/i.test(l));
    assert.deepEqual(cspLines(), [], "console");
    // The control: a violation of the page's own (an image img-src 'self' refuses) is seen,
    // so the empty lists above mean something.
    await page.evaluate(() => { document.body.append(Object.assign(document.createElement("img"), { src: "data:image/gif;base64,R0lGODlhAQABAAAAACw=" })); });
    await waitFor(async () => (await page.evaluate(() => window.violations)).some((v) => /^img-src/.test(v)), { timeout: 5000 });
    if (page.on === undefined || ENGINE === "webkit") {
      console.log(`${ENGINE}: console not checked (classic WebDriver has no console); securitypolicyviolation events are the check`);
    } else {
      await sleep(300);
      console.log(`${ENGINE}: the control's violation ${cspLines().length ? "reached" : "did not reach"} the driver's console; securitypolicyviolation events are the check either way`);
    }
  } finally {
    await ctx.close();
  }
});

test("the amended policy differs from the page's only by a nonce, 'wasm-unsafe-eval' and 'self' in connect-src", {
  skip: ENGINE !== "chromium" && "the same HTTP answer in every engine: checked in the chromium run",
}, async () => {
  const signin = await call(strictGateway.port, "POST", "/.autologoff/demo-login", { "content-type": "application/json" }, JSON.stringify({ user: "dr.strict" }));
  assert.equal(signin.status, 204);
  const cookie = sessionCookie(signin);
  const page = await call(strictGateway.port, "GET", "/", { cookie, "sec-fetch-mode": "navigate", accept: "text/html" });
  const amended = page.headers["content-security-policy"];
  const nonce = page.text.match(/<script type="module" src="\/\.autologoff\/sdk\/auto\.js" nonce="([^"]+)"><\/script>/)?.[1];
  assert.ok(nonce, "the loader carries a nonce");
  const directives = (policy) => new Map(policy.split(";").map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...src]) => [name, src]));
  const before = directives(STRICT);
  const after = directives(amended);
  const added = {};
  for (const [name, src] of after) {
    const had = before.get(name) ?? [];
    assert.deepEqual(src.slice(0, had.length), had, `${name}: the page's own sources kept, in order`);
    if (src.length > had.length) added[name] = src.slice(had.length);
  }
  assert.deepEqual([...before.keys()].filter((n) => !after.has(n)), [], "no directive dropped");
  assert.deepEqual(added, { "script-src": [`'nonce-${nonce}'`, "'wasm-unsafe-eval'"], "connect-src": ["'self'"] });
  console.log(`page's policy:    ${STRICT}\nas sent (amended): ${amended}`);
});
