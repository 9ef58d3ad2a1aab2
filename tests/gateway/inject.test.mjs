// Zero code (GATEWAY.md "Zero code: --inject-sdk"): the legacy ward app (www-demo/gateway,
// no autologoff code) behind `autologoff-server gateway --inject-sdk`, in the engine of
// AUTOLOGOFF_ENGINE (chromium, firefox, webkit: tests/e2e/lib.mjs). The page warns, locks
// (covered, inert), sessionStorage is erased, Back shows no PHI, the audit trail holds the
// page's records as the server received them; a page under a strict nonce CSP locks too,
// with no CSP violation.
//   AUTOLOGOFF_ENGINE=firefox node --test tests/gateway/inject.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { freePort } from "../services.mjs";
import { launch, ENGINE, waitFor, sleep } from "../e2e/lib.mjs";
import { startGateway, ROOT, SERVER_BIN } from "./lib.mjs";

const IDLE_S = 5;
const WARN_MS = 2500;
const USER = "nurse.kim";
const PHI = "Test Patient 01";
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

async function waitForPort(port) {
  const until = Date.now() + 15_000;
  for (;;) {
    const open = await new Promise((r) => { const c = connect(port, "127.0.0.1", () => { c.end(); r(true); }); c.on("error", () => r(false)); });
    if (open) return;
    if (Date.now() > until) throw new Error(`nothing on port ${port}`);
    await sleep(25);
  }
}

before(async () => {
  const port = await freePort();
  ward = spawn(process.execPath, [join(ROOT, "www-demo/gateway/ward.mjs"), String(port)], { stdio: "ignore", env: { ...process.env, IDLE_MS: String(IDLE_S * 1000) } });
  await waitForPort(port);
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
  ward?.kill();
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
  await waitFor(() => {
    const rows = exported().filter((r) => r.user === USER);
    // The server's idle deadline (from the sign-in) and the page's (from its load) are
    // close: the lock's reason is either.
    return ["warn", "lock", "purge"].every((t) => rows.some((r) => r.type === t && r.received_at));
  }, { timeout: 10_000, every: 250 }).catch((e) => { throw new Error(`${e.message}\nstored: ${JSON.stringify(exported())}`); });
});

test(`${ENGINE}: "Sign in again" opens the app's login in a popup; the page comes back unlocked, not reloaded`, { timeout: 60_000 }, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(`${wardGateway.url}/`);
    await wardSignIn(page);
    await page.evaluate(() => { window.notReloaded = true; });
    await waitFor(async () => (await lockState(page)).overlay, { timeout: IDLE_S * 1000 + 3000 });
    // auto.js gives the SDK server.signin = the app's login page (?reauth=1): a popup.
    const click = () => page.click("#autologoff-overlay button");
    let popup;
    if (ctx.popupAfter) popup = await ctx.popupAfter(click); // WebDriver (webdriver.mjs)
    else [popup] = await Promise.all([page.waitForEvent("popup"), click()]);
    await wardSignIn(popup);
    await popup.close(); // closed: the SDK asks the server, which has the same user's new session
    await waitFor(async () => {
      const st = await lockState(page);
      return !st.overlay && !st.inert;
    }, { timeout: 8000 }).catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await lockState(page))}`); });
    assert.equal(await page.evaluate(() => window.notReloaded), true, "the page was uncovered, not reloaded");
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
    assert.deepEqual(lines.filter((l) => /Content.Security.Policy|CSP/i.test(l)), [], "console");
  } finally {
    await ctx.close();
  }
});
