// The ward app beside nginx `auth_request` and Caddy `forward_auth`, in Chromium: the
// README's configurations as written (only the ports moved), the gateway answering
// /.autologoff/auth with no --upstream, the app calling the SDK itself (WARD_SDK=app: in this
// mode the proxy owns the answers, so nothing is injected). Signed in through the gateway's
// demo form, then left alone: the page that polls every 2 s through the proxy is locked at
// the idle deadline, covered and inert, and its next poll is refused by the proxy on the
// gateway's word. (Streams end with the session only with the gateway in front of the app,
// as the README says: the proxy keeps an open stream open.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../services.mjs";
import { startGateway, startWard, launchChromium, startNginx, startCaddy, readmeBlock, ported } from "./lib.mjs";

const IDLE_S = 6;
let app, appPort, gateway, browser;

before(async () => {
  appPort = await freePort();
  app = await startWard(appPort, { IDLE_MS: String(IDLE_S * 1000), WARD_SDK: "app" });
  gateway = await startGateway(["--demo-login", "--idle-secs", String(IDLE_S)]);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await gateway?.close();
  await app?.close();
});

const proxies = {
  nginx: { block: "nginx", start: startNginx },
  caddy: { block: "caddyfile", start: startCaddy },
};

for (const [name, { block, start }] of Object.entries(proxies).filter(([n]) => !process.env.ONLY || n === process.env.ONLY)) {
  test(`${name}: the ward app's polling page locks at the idle deadline and its next poll is refused`, async (t) => {
    const proxy = await start(ported(readmeBlock(block), { app: appPort, gateway: gateway.port, proxy: await freePort() }));
    const ctx = await browser.newContext();
    // The page's event stream and WebSocket first: Caddy's shutdown waits for open connections.
    t.after(async () => { await ctx.close(); await proxy.close(); });
    const origin = `http://127.0.0.1:${proxy.port}`;
    const page = await ctx.newPage();
    await page.goto(origin + "/");
    assert.equal(new URL(page.url()).pathname, "/.autologoff/login", "a navigation without a session goes to the sign-in");
    await page.fill("input[name=user]", `nurse.${name}`);
    await Promise.all([page.waitForURL(origin + "/"), page.click("button")]);
    assert.equal(await page.textContent("#user"), `nurse.${name}`, "the app got the user from the proxy");
    // The page polls every 2 s through the proxy; every poll passes the gateway's check.
    const polls = [];
    page.on("response", (r) => { if (new URL(r.url()).pathname === "/api/vitals") polls.push({ at: Date.now(), status: r.status() }); });
    const started = Date.now();
    await page.waitForFunction(() => document.getElementById("state").textContent.startsWith("locked"), null, { timeout: (IDLE_S + 6) * 1000 });
    const lockedAfter = Date.now() - started;
    assert.ok(polls.filter((p) => p.status === 200).length >= 2, `polls before the lock: ${JSON.stringify(polls)}`);
    // Covered and inert: what the user sees.
    const cover = await page.evaluate(() => ({
      overlay: !!document.querySelector("#autologoff-overlay[open]"),
      inert: document.body.inert,
    }));
    assert.deepEqual(cover, { overlay: true, inert: true });
    // The polls did not keep the session alive: the gateway, asked by the proxy, refuses.
    const poll = await page.evaluate(async () => (await fetch("/api/vitals")).status);
    assert.equal(poll, 401, "the proxy refused the poll after the lock");
    const session = await page.evaluate(async () => (await fetch("/.autologoff/session")).status);
    assert.equal(session, 401, "the session is over at the gateway");
    t.diagnostic(`${name}: locked ${lockedAfter} ms after the page was live (idle ${IDLE_S} s), ${polls.length} polls before`);
  });
}
