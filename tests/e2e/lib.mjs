// Shared helpers for the Playwright tier: the real demo server and Debian Chromium.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const ROOT = new URL("../../", import.meta.url).pathname;
const SERVER_BIN = join(ROOT, "target/debug/autologoff-demo-server");

/** Start the reference server on a free loopback port. */
export async function startServer(args = []) {
  const dir = mkdtempSync(join(tmpdir(), "autologoff-e2e-"));
  const proc = spawn(SERVER_BIN, [
    "--port", "0", "--test-hooks", "--root", join(ROOT, "www-demo"), "--pkg", process.env.AUTOLOGOFF_PKG || join(ROOT, "pkg"),
    "--audit-file", join(dir, "audit.jsonl"), ...args,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1].replace(/\/$/, ""));
    });
    proc.on("exit", (c) => reject(new Error("server exited " + c)));
    setTimeout(() => reject(new Error("server did not start")), 10_000);
  });
  proc.stderr.on("data", () => {});
  return {
    url,
    async api(path, body) {
      const r = await fetch(url + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
      const t = await r.text();
      try { return JSON.parse(t); } catch { return t; }
    },
    /** The audit records the server stored (the one place tests read them from). */
    audit() { return this.api("/audit"); },
    stop() { proc.kill(); },
  };
}

export async function launch() {
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

export async function gotoHarness(page, base, opts, { login = false } = {}) {
  const q = login ? "?login=1" : "";
  const hash = opts === undefined ? "" : "#" + encodeURIComponent(JSON.stringify(opts));
  await page.goto(`${base}/fixtures/harness.html${q}${hash}`);
  await page.waitForFunction(() => window.ready === true);
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
