// The hospital's identity provider in front of the legacy ward app (GATEWAY.md "Signing in",
// CONTRACT.md "Signing in again without losing the page", "The same clinician"), in Chromium:
// panva's oidc-provider (tests/oidc/provider.mjs, with a password form) as the IdP, the
// gateway with --oidc-issuer in front of www-demo/gateway/ward.mjs. Sign in with a password,
// lock at the idle deadline, "Sign in again" opens the provider in a popup that asks for the
// password again although its SSO session is alive, and the page comes back unlocked with its
// draft; a different clinician signing in there gets a fresh page, never the previous one's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../services.mjs";
import { SERVER_BIN, startGateway, startProvider, startWard, launchChromium } from "./lib.mjs";

const IDLE_S = 5;
const SECRET = "ward-secret-e2e-5b1d";
const DRAFT = "Bed 7: synthetic patient settled, recheck obs at 02:00 (UNSAVED)";
let dir, op, app, gateway, browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "alo-oidc-e2e-"));
  writeFileSync(join(dir, "secret"), SECRET + "\n", { mode: 0o600 });
  // The redirect URI is registered at the provider before the gateway starts on that port.
  const gwPort = await freePort();
  op = await startProvider({ redirectUri: `http://127.0.0.1:${gwPort}/.autologoff/callback`, secret: SECRET });
  const appPort = await freePort();
  // WARD_SDK=app: the page's own SDK, told where to sign in again (zero code, where the
  // gateway sets that itself, is tests/gateway/inject.test.mjs).
  app = await startWard(appPort, { IDLE_MS: String(IDLE_S * 1000), WARD_SDK: "app", SIGNIN: "/.autologoff/login?reauth=1&rd=/.autologoff/done" });
  const env = { ...process.env };
  delete env.AUTOLOGOFF_OIDC_CLIENT_SECRET;
  gateway = await startGateway(["--upstream", `http://127.0.0.1:${appPort}`,
    "--oidc-issuer", op.issuer, "--oidc-client-id", "ward", "--oidc-client-secret-file", join(dir, "secret"),
    "--public", "/pkg", "--public", "/public", "--idle-secs", String(IDLE_S), "--audit", `sqlite:${join(dir, "audit.db")}`],
  SERVER_BIN, { listen: `127.0.0.1:${gwPort}`, env });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await gateway?.close();
  await op?.close();
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The server's own records (type, reason, user), oldest first. */
function serverRecords() {
  const out = execFileSync(SERVER_BIN, ["audit", "export", "--audit", `sqlite:${join(dir, "audit.db")}`, "--source", "server"], { encoding: "utf8" });
  return out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)).map((r) => `${r.type}/${r.reason ?? ""}/${r.user}`);
}

const covered = (page) => page.evaluate(() => ({
  marker: window.marker ?? null,
  overlay: !!document.querySelector("#autologoff-overlay[open]"),
  inert: !!document.body?.inert,
  user: document.getElementById("user")?.textContent ?? null,
  draft: document.getElementById("draft")?.value ?? null,
}));

/** The ward page locked at the idle deadline (overlay open). */
const lockedByIdle = (page) => page.waitForFunction(() => !!document.querySelector("#autologoff-overlay[open]")
  && document.getElementById("state").textContent.startsWith("locked"), null, { timeout: (IDLE_S + 10) * 1000 });

/** "Sign in again" (a real click) and the popup it opens, its callback URLs collected. */
async function signInAgain(page, callbacks) {
  const [popup] = await Promise.all([page.waitForEvent("popup"), page.click("#autologoff-overlay button")]);
  popup.on("request", (r) => { if (r.url().includes("/.autologoff/callback")) callbacks.push(new URL(r.url())); });
  return popup;
}

/** The provider's form: it must be shown (visible password field), then submitted. */
async function typePassword(page, user) {
  await page.waitForSelector("#op-login input[name=password]", { state: "visible", timeout: 10_000 });
  await page.fill("#op-login input[name=login]", user);
  await page.fill("#op-login input[name=password]", "demo");
  await page.click("#op-login button");
}

test("OIDC through the gateway: a real password on every re-authentication, the draft kept, another clinician gets a fresh page", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const callbacks = [];
  page.on("request", (r) => { if (r.url().includes("/.autologoff/callback")) callbacks.push(new URL(r.url())); });

  // 1. A navigation without a session goes to the hospital's sign-in; a password signs in.
  await page.goto(gateway.url + "/");
  assert.ok(page.url().startsWith(op.issuer + "/interaction/"), `at the provider: ${page.url()}`);
  await typePassword(page, "dr-a");
  await page.waitForURL(gateway.url + "/");
  assert.equal(await page.textContent("#user"), "dr-a");
  assert.equal(await op.logins(), 1);
  await page.fill("#draft", DRAFT);
  await page.evaluate(() => { window.marker = "this document"; });

  // 2. Left alone: locked at the idle deadline. The provider's SSO session is still alive.
  await lockedByIdle(page);
  const sso = (await context.cookies(op.issuer)).filter((c) => c.name.startsWith("_session"));
  assert.ok(sso.length > 0, "the provider's SSO session cookie is there");

  // 3. "Sign in again": the popup asks for the password again although SSO is alive.
  const popup = await signInAgain(page, callbacks);
  await popup.waitForSelector("#op-login input[name=password]", { state: "visible", timeout: 10_000 });
  assert.match(await popup.textContent("#again"), /sign in again/);
  console.log(`# popup at ${new URL(popup.url()).origin}${new URL(popup.url()).pathname.replace(/[^/]+$/, "…")} showed the password form again (SSO cookie ${sso.map((c) => c.name).join(",")} alive, logins so far ${await op.logins()})`);
  const closed = popup.waitForEvent("close");
  await typePassword(popup, "dr-a");
  await closed;
  assert.equal(await op.logins(), 2, "credentials were asked again");
  await page.waitForFunction(() => !document.querySelector("#autologoff-overlay[open]"), null, { timeout: 10_000 });
  const back = await covered(page);
  assert.deepEqual(back, { marker: "this document", overlay: false, inert: false, user: "dr-a", draft: DRAFT },
    "unlocked, the same document with its draft");
  console.log(`# back unlocked, not reloaded, draft kept: ${JSON.stringify(back.draft)}`);

  // 4. Locked again; another clinician signs in in the popup: the page is never uncovered
  //    for them, it reloads fresh under their session.
  await lockedByIdle(page);
  const popup2 = await signInAgain(page, callbacks);
  const samples = [];
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const s = await covered(page).catch(() => null);
      if (s) samples.push(s);
      if (s && s.marker === null && s.user === "dr-b") return;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  await typePassword(popup2, "dr-b");
  let timer;
  await Promise.race([watch, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error("no fresh page for dr-b in 20 s")), 20_000); })])
    .finally(() => { watching = false; clearTimeout(timer); });
  const old = samples.filter((s) => s.marker === "this document");
  assert.ok(old.length > 0, "the old document was watched");
  assert.ok(old.every((s) => s.overlay && s.inert), `the old page was uncovered: ${JSON.stringify(old.find((s) => !s.overlay || !s.inert))}`);
  const fresh = await covered(page);
  assert.equal(fresh.user, "dr-b");
  assert.equal(fresh.draft, "", "a fresh page: no draft of dr-a's");
  assert.equal(await op.logins(), 3);
  console.log(`# dr-b got a fresh page (reloaded; ${old.length} samples of dr-a's page, all covered)`);

  // 5. The server's own records: login, reauth and switch, each with reason oidc.
  let records = [];
  for (let i = 0; i < 50; i += 1) {
    records = serverRecords();
    if (records.includes("switch/oidc/dr-b")) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`# server records: ${records.join(" ")}`);
  assert.deepEqual(records.filter((r) => r.includes("/oidc/")), ["login/oidc/dr-a", "reauth/oidc/dr-a", "switch/oidc/dr-b"]);

  // 6. Nothing of a code, a state or a session id in the gateway's log.
  const log = gateway.log();
  assert.match(log, /GET \/\.autologoff\/callback 302/);
  assert.equal(callbacks.length, 3, "three callbacks");
  const sids = (await context.cookies(gateway.url)).filter((c) => c.name === "autologoff").map((c) => c.value);
  const secrets = [...callbacks.flatMap((u) => [u.searchParams.get("code"), u.searchParams.get("state")]), ...sids, SECRET];
  for (const s of secrets) assert.ok(s && !log.includes(s), "the gateway's log holds a code, state, session id or secret");
  assert.doesNotMatch(log, /code=|state=/);
  await context.close();
});
