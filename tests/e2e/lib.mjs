// Shared helpers for the e2e tier: the real demo server and the three engines (Debian
// Chromium and Firefox ESR through Playwright, WebKitGTK through WebDriver: webdriver.mjs).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
// Firefox over WebDriver BiDi needs playwright-core 1.64.1 (1.65 fails in newContext()).
import { firefox } from "playwright-core-ff";
import { launchWebKit } from "./webdriver.mjs";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const SERVER_BIN = join(ROOT, "target/debug/autologoff-server");

/**
 * Start the reference server (autologoff-server) on a free loopback port, with the demo
 * login, the test hooks, and its own SQLite audit file unless `args` names an `--audit`.
 */
/** The newest modification time under `dir` (files only). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Refuses a server binary older than its sources: a test must never pass against old code. */
export function checkFresh() {
  if (process.env.AUTOLOGOFF_SERVER_BIN_ANY === "1") return;
  const built = existsSync(SERVER_BIN) ? statSync(SERVER_BIN).mtimeMs : 0;
  const sources = Math.max(newest(join(ROOT, "server/src")), newest(join(ROOT, "server/migrations")),
    statSync(join(ROOT, "server/Cargo.toml")).mtimeMs, statSync(join(ROOT, "Cargo.lock")).mtimeMs);
  if (built < sources) {
    throw new Error(`${SERVER_BIN} is ${built ? "older than its sources" : "missing"}: ` +
      "cargo build -p autologoff-server --features test-hooks (npm run test:e2e builds it)");
  }
}

export async function startServer(args = []) {
  checkFresh();
  const dir = mkdtempSync(join(tmpdir(), "autologoff-e2e-"));
  const audit = args.includes("--audit") ? [] : ["--audit", "sqlite:" + join(dir, "audit.db")];
  const proc = spawn(SERVER_BIN, [
    "--listen", "127.0.0.1:0", "--demo-login", "--test-hooks", "--static", join(ROOT, "www-demo"),
    "--pkg", process.env.AUTOLOGOFF_PKG || join(ROOT, "pkg"), ...audit, ...args,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stderr.on("data", (d) => { log = (log + d).slice(-20_000); });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1].replace(/\/$/, ""));
    });
    proc.on("exit", (c) => reject(new Error("server exited " + c + ": " + log.slice(-500))));
    setTimeout(() => reject(new Error("server did not start")), 10_000);
  });
  return {
    url,
    async api(path, body) {
      const r = await fetch(url + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
      const t = await r.text();
      try { return JSON.parse(t); } catch { return t; }
    },
    /** Every record the server stored (test hook), with its `user`, `receivedAt` and
     * `source`; `audit("client")` only the browsers' records, `audit("server")` only the server's own. */
    async audit(source) {
      const rows = await this.api("/__test/audit");
      return source ? rows.filter((r) => r.source === source) : rows;
    },
    /** The server's stderr so far (its request log). */
    log() { return log; },
    pid: proc.pid,
    stop() { proc.kill(); },
    /** Stops the process and waits until it is gone. */
    close() {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      return new Promise((r) => { proc.once("exit", r); proc.kill(); });
    },
  };
}

/** The engine the e2e files run in: `AUTOLOGOFF_ENGINE` = chromium (default), firefox, webkit. */
export const ENGINE = process.env.AUTOLOGOFF_ENGINE || "chromium";
export const ENGINES = ["chromium", "firefox", "webkit"];

/** A Playwright-like browser of `engine` (`browser.engine` names it, `browser.version()` too). */
export async function launch(engine = ENGINE) {
  let b;
  if (engine === "webkit") return launchWebKit();
  if (engine === "firefox") {
    b = await firefox.launch({ channel: "moz-firefox", executablePath: process.env.FIREFOX_PATH || "/usr/bin/firefox-esr", headless: true });
  } else if (engine === "chromium") {
    b = await launchChromium();
  } else throw new Error("unknown engine " + engine);
  b.engine = engine;
  return b;
}

export async function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROME_PATH || "/usr/bin/chromium",
    headless: true,
    // Playwright turns the back/forward cache off by default; we need it on.
    ignoreDefaultArgs: ["--disable-back-forward-cache"],
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Open the harness with these options and wait until init settled. */
export async function openHarness(context, base, opts, { login = false } = {}) {
  const page = await context.newPage();
  await gotoHarness(page, base, opts, { login });
  return page;
}

/** `fixture`: harness.html (PHI in its static HTML) or chart.html (PHI rendered after init). */
export async function gotoHarness(page, base, opts, { login = false, fixture = "harness" } = {}) {
  const q = login ? "?login=1" : "";
  const hash = opts === undefined ? "" : "#" + encodeURIComponent(JSON.stringify(opts));
  await page.goto(`${base}/fixtures/${fixture}.html${q}${hash}`);
  await page.waitForFunction(() => window.ready === true);
}

/**
 * Back, the way a user presses it, in every engine: `history.back()` from the page (Firefox
 * never resolves `page.goBack()` on a bfcache restore), then wait for the page to be shown.
 */
export async function back(page, re = /harness\.html/) {
  await page.evaluate(() => { setTimeout(() => history.back(), 0); });
  await waitFor(async () => re.test(await page.evaluate(() => location.href).catch(() => "")), { timeout: 10_000 });
  await page.waitForFunction(() => window.ready === true && !!window.session);
}

export const events = (page, type) =>
  page.evaluate((t) => window.events.filter((e) => !t || e.type === t), type);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(fn, { timeout = 5000, every = 50 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting: " + fn.toString());
    await sleep(every);
  }
}
