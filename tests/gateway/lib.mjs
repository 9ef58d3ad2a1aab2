// Helpers for the gateway tier: the gateway binary, a small app behind it, nginx and Caddy
// on free loopback ports with the README's configurations, each stopped by PID (also when a
// test failed: the process exit hook).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { createServer, request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { freePort } from "../services.mjs";
import { checkFresh } from "../e2e/lib.mjs";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const SERVER_BIN = join(ROOT, "target/debug/autologoff-server");

const live = new Set();
process.on("exit", () => { for (const stop of live) try { stop(); } catch {} });

function track(proc, what) {
  let log = "";
  proc.stdout?.on("data", (d) => { log = (log + d).slice(-20_000); });
  proc.stderr?.on("data", (d) => { log = (log + d).slice(-20_000); });
  const stop = () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL"); };
  let exited = null;
  proc.on("exit", (code) => { exited = code ?? "signal"; });
  live.add(stop);
  return {
    pid: proc.pid,
    log: () => log,
    exited: () => exited,
    close() {
      live.delete(stop);
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      return new Promise((r) => { proc.once("exit", r); proc.kill("SIGTERM"); });
    },
    what,
  };
}

async function waitForPort(port, what, proc) {
  const until = Date.now() + 15_000;
  for (;;) {
    const open = await new Promise((r) => {
      const c = connect(port, "127.0.0.1", () => { c.end(); r(true); });
      c.on("error", () => r(false));
    });
    if (open) return;
    if (proc.exited() !== null) throw new Error(`${what} exited (${proc.exited()}): ${proc.log().slice(-800)}`);
    if (Date.now() > until) throw new Error(`${what} did not start on port ${port}: ${proc.log().slice(-800)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `autologoff-server gateway ARGS` on a free port; resolves once it printed where it listens. */
export async function startGateway(args, bin = SERVER_BIN, { quiet = false, listen = "127.0.0.1:0", env = process.env } = {}) {
  if (bin === SERVER_BIN) checkFresh();
  // quiet: the request log to /dev/null (a pipe nobody reads while a benchmark blocks the
  // event loop would fill, and the gateway would wait on its own log). listen: a port chosen
  // before (an OIDC redirect URI registered at the provider first).
  const proc = spawn(bin, ["gateway", "--listen", listen, ...args], { env, stdio: ["ignore", "pipe", quiet ? "ignore" : "pipe"] });
  const t = track(proc, "gateway");
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/^listening on (http:\/\/\S+)\n/);
      if (m) resolve(m[1].replace(/\/$/, ""));
    });
    proc.on("exit", (c) => reject(new Error("gateway exited " + c + ": " + t.log().slice(-500))));
    setTimeout(() => reject(new Error("gateway did not start")), 10_000).unref();
  });
  return { ...t, url, port: Number(new URL(url).port) };
}

/**
 * panva's oidc-provider (tests/oidc/provider.mjs) on a free port, as the hospital's identity
 * provider: one client (`ward`, `secret`) redirecting to `redirectUri`; `form`: its login
 * interactions show a user/password form (password `demo`).
 */
export async function startProvider({ redirectUri, secret, form = true }) {
  const port = await freePort();
  const proc = spawn("node", [join(ROOT, "tests/oidc/provider.mjs")], {
    env: { ...process.env, PORT: String(port), CLIENT_ID: "ward", CLIENT_SECRET: secret, REDIRECT_URI: redirectUri, LOGIN_FORM: form ? "1" : "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const t = track(proc, "oidc-provider");
  await waitForPort(port, "oidc-provider", t);
  const issuer = `http://127.0.0.1:${port}`;
  const logins = async () => (await (await fetch(`${issuer}/test/logins`)).json()).logins;
  return { ...t, port, issuer, logins };
}

/** A README code block (```lang … ```) under the gateway section. */
export function readmeBlock(lang) {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Any backend: the gateway"));
  const m = section.match(new RegExp("```" + lang + "\\n([\\s\\S]*?)```"));
  if (!m) throw new Error(`no ${lang} block in the README's gateway section`);
  return m[1];
}

/** The README's addresses moved to the test's ports. */
export const ported = (text, { app, gateway, proxy }) =>
  text.replaceAll("127.0.0.1:3000", `127.0.0.1:${app}`)
    .replaceAll("127.0.0.1:8080", `127.0.0.1:${gateway}`)
    .replaceAll("127.0.0.1:8000", `127.0.0.1:${proxy}`)
    .replaceAll("listen 127.0.0.1:8000", `listen 127.0.0.1:${proxy}`);

/** nginx with the README's server block. */
export async function startNginx(serverBlock, httpExtra = "") {
  const dir = mkdtempSync(join(tmpdir(), "alo-nginx-"));
  const port = Number(serverBlock.match(/listen 127\.0\.0\.1:(\d+)/)[1]);
  const root = process.getuid?.() === 0;
  writeFileSync(join(dir, "nginx.conf"), `daemon off;
${root ? "user root root;" : ""}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${httpExtra}
${serverBlock}
}
`);
  const proc = spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")], { stdio: ["ignore", "pipe", "pipe"] });
  const t = track(proc, "nginx");
  await waitForPort(port, "nginx", t);
  return { ...t, port, close: async () => { await t.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/** Caddy with the README's site block (no admin endpoint, state in a temp dir). */
export async function startCaddy(siteBlock) {
  const dir = mkdtempSync(join(tmpdir(), "alo-caddy-"));
  const port = Number(siteBlock.match(/127\.0\.0\.1:(\d+) \{/)[1]);
  writeFileSync(join(dir, "Caddyfile"), `{\n\tadmin off\n}\n${siteBlock}`);
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") };
  const proc = spawn("caddy", ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const t = track(proc, "caddy");
  await waitForPort(port, "caddy", t);
  return { ...t, port, close: async () => { await t.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * The demo's ward app (www-demo/gateway/ward.mjs) on `port`, with the built SDK at /pkg/;
 * `env`: IDLE_MS, WARD_SDK, SIGNIN. Stopped by PID, also when a test failed.
 */
export async function startWard(port, env = {}) {
  const pkg = process.env.AUTOLOGOFF_PKG || join(ROOT, "pkg");
  const proc = spawn(process.execPath, [join(ROOT, "www-demo/gateway/ward.mjs"), String(port), pkg], {
    env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"],
  });
  const t = track(proc, "ward app");
  await waitForPort(port, "ward app", t);
  return { ...t, port };
}

/** Headless Chromium (the system's), as the gateway tier's Chromium tests drive it. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROME_PATH || "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
}

/** A plain app: every request answered with what it saw, cacheable for an hour. */
export async function startEchoApp() {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=3600" });
    res.end(JSON.stringify({ url: req.url, user: req.headers["x-autologoff-user"] ?? null }));
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { port, seen, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) };
}

/** One request with full control of the headers (no cookie jar, no redirects followed). */
export function call(port, method, path, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let text = "";
      res.on("data", (d) => { text += d; });
      res.on("end", () => {
        let json = null;
        try { json = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** `autologoff=<id>` from a sign-in's Set-Cookie. */
export const sessionCookie = (res) =>
  (res.headers["set-cookie"] ?? []).find((c) => /^autologoff=[0-9a-f]{64};/.test(c))?.split(";")[0];
