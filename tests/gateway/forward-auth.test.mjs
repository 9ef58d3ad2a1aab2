// Forward auth beside real proxies: the README's nginx `auth_request` and Caddy
// `forward_auth` configurations, run as written (only the ports moved) in front of a plain
// app, with `autologoff-server gateway` (no --upstream) answering /.autologoff/auth.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../services.mjs";
import { startGateway, startEchoApp, startNginx, startCaddy, readmeBlock, ported, call, sessionCookie } from "./lib.mjs";

let app, gateway;
before(async () => {
  app = await startEchoApp();
  gateway = await startGateway(["--demo-login", "--idle-secs", "60"]);
});
after(async () => {
  await gateway?.close();
  await app?.close();
});

const proxies = {
  nginx: { block: "nginx", start: startNginx },
  caddy: { block: "caddyfile", start: startCaddy },
};

for (const [name, { block, start }] of Object.entries(proxies)) {
  test(`${name}: the README's forward-auth configuration guards the app`, async (t) => {
    const proxy = await start(ported(readmeBlock(block), { app: app.port, gateway: gateway.port, proxy: await freePort() }));
    t.after(() => proxy.close());
    const p = proxy.port;
    const before = app.seen.length;

    // No session: a navigation goes to the sign-in with rd, a fetch gets 401; the app sees neither.
    const nav = await call(p, "GET", "/chart?id=1", { "sec-fetch-mode": "navigate", accept: "text/html" });
    assert.equal(nav.status, 302, nav.text);
    assert.equal(nav.headers.location, "/.autologoff/login?rd=/chart%3Fid%3D1");
    const api = await call(p, "GET", "/api/vitals", { "sec-fetch-mode": "cors", accept: "application/json" });
    assert.equal(api.status, 401);
    assert.equal(typeof api.json?.error, "string", api.text);
    assert.equal(app.seen.length, before, "the app was reached without a session");

    // Sign in through the proxy (/.autologoff/ is routed to the gateway).
    const signed = await call(p, "POST", "/.autologoff/demo-login", { "content-type": "application/json" }, JSON.stringify({ user: `dr-${name}` }));
    assert.equal(signed.status, 204, signed.text);
    const cookie = sessionCookie(signed);
    assert.ok(cookie, JSON.stringify(signed.headers));

    // Live: forwarded with the gateway's identity (the client's copy replaced), no-store.
    const ok = await call(p, "GET", "/chart?id=1", { cookie, "x-autologoff-user": "mallory", "x-autologoff-expires": "1" });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.user, `dr-${name}`);
    const seen = app.seen.at(-1).headers;
    assert.equal(seen["x-autologoff-user"], `dr-${name}`);
    assert.ok(Number(seen["x-autologoff-expires"]) > Date.now(), seen["x-autologoff-expires"]);
    assert.equal(ok.headers["cache-control"], "no-store");
    assert.equal(ok.headers["session-expires"], seen["x-autologoff-expires"]);

    // Requests through the proxy never extend the session.
    const status = await call(p, "GET", "/.autologoff/session", { cookie });
    assert.equal(status.status, 200);
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 3; i++) assert.equal((await call(p, "GET", "/poll", { cookie })).status, 200);
    const again = await call(p, "GET", "/.autologoff/session", { cookie });
    assert.equal(again.json.expiresAt, status.json.expiresAt, "a proxied request extended the session");

    // DELETE through the proxy: the next request is refused before the app.
    const del = await call(p, "DELETE", "/.autologoff/session", { cookie });
    assert.equal(del.status, 204);
    const n = app.seen.length;
    assert.equal((await call(p, "GET", "/chart", { cookie, "sec-fetch-mode": "cors" })).status, 401);
    const back = await call(p, "GET", "/chart", { cookie, "sec-fetch-mode": "navigate" });
    assert.equal(back.status, 302);
    assert.equal(app.seen.length, n, "an ended session reached the app");
  });
}

test("the gateway's log has method, path and status, never a query, cookie or session id", () => {
  const log = gateway.log();
  assert.match(log, /GET \/.autologoff\/auth 200 [\d.]+ms/);
  assert.match(log, /POST \/.autologoff\/demo-login 204 /);
  assert.doesNotMatch(log, /\?/, "a query string was logged");
  assert.doesNotMatch(log, /[0-9a-f]{64}/, "a session id was logged");
  assert.doesNotMatch(log, /dr-nginx|dr-caddy/, "a user name was logged");
});
