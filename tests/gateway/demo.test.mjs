// `npm run demo:gateway` in Chromium: the plain Node ward app behind the gateway, signed in
// through its own login page, here with WARD_SDK=app (the page loads the SDK itself and
// answers `Autologoff-Inject: off`, so the gateway's --inject-sdk leaves it alone; the
// zero-code mode is tests/gateway/inject.test.mjs). Left alone, the page locks at the idle
// deadline, its next poll is refused by the gateway, and its event stream and WebSocket
// deliver nothing more.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort } from "../services.mjs";
import { ROOT, startGateway, startWard, launchChromium } from "./lib.mjs";

const IDLE_S = 6;
let app, gateway, browser;

before(async () => {
  const port = await freePort();
  app = await startWard(port, { IDLE_MS: String(IDLE_S * 1000), WARD_SDK: "app" });
  gateway = await startGateway(["--upstream", `http://127.0.0.1:${port}`, "--login-from-upstream", "/login",
    "--public", "/pkg", "--public", "/public", "--idle-secs", String(IDLE_S),
    "--inject-sdk", "--sdk-dir", process.env.AUTOLOGOFF_PKG || join(ROOT, "pkg")]);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await gateway?.close();
  await app?.close();
});

test("the ward app locks at the idle deadline; the gateway refuses its poll and cuts its streams", async () => {
  const page = await browser.newPage();
  await page.goto(gateway.url + "/");
  assert.match(page.url(), /\/login\?rd=\//, "a navigation without a session goes to the app's login page");
  await page.fill("input[name=user]", "nurse.kim");
  await page.fill("input[name=password]", "demo");
  await Promise.all([page.waitForURL(gateway.url + "/"), page.click("button")]);
  assert.equal(await page.textContent("#user"), "nurse.kim");
  assert.equal(await page.locator('script[src^="/.autologoff/sdk/"]').count(), 0, "the app's own SDK only: not injected a second time");
  const count = async () => ({
    sse: Number(await page.textContent("#sse")), ws: Number(await page.textContent("#ws")),
  });
  await page.waitForFunction(() => Number(document.getElementById("sse").textContent) >= 2 && Number(document.getElementById("ws").textContent) >= 2, null, { timeout: 10_000 });
  // Left alone: locked at the idle deadline (the polls every 2 s did not extend it).
  await page.waitForFunction(() => document.getElementById("state").textContent.startsWith("locked"), null, { timeout: (IDLE_S + 5) * 1000 });
  const poll = await page.evaluate(async () => (await fetch("/api/vitals")).status);
  assert.equal(poll, 401, "the gateway refused the poll after the lock");
  await new Promise((r) => setTimeout(r, 1000));
  const atEnd = await count();
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(await count(), atEnd, "the stream or the socket delivered after the session's end");
});
