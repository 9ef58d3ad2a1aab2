// WebKitGTK for the e2e tier: stock WebKitWebDriver + MiniBrowser under Xvfb (no Playwright
// build exists for it), spoken to over classic W3C WebDriver. It offers the small part of
// Playwright's Browser / BrowserContext / Page API the e2e tests use, so one test body runs
// in every engine. Actions-API input is trusted. One WebDriver session (= context) at a time.
import { spawn } from "node:child_process";
import { createServer } from "node:net";

const MINIBROWSER = process.env.WEBKIT_MINIBROWSER || "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const KEYS = { Tab: "\uE004", Enter: "\uE007", Escape: "\uE00C", Shift: "\uE008", Control: "\uE009", Alt: "\uE00A", Meta: "\uE03D", Backspace: "\uE003" };

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); }).on("error", reject);
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Start Xvfb and WebKitWebDriver; resolves to a Playwright-like `browser`. */
export async function launchWebKit() {
  const procs = [];
  let display = process.env.AUTOLOGOFF_DISPLAY;
  if (!display) {
    const x = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"], { stdio: ["ignore", "ignore", "ignore", "pipe"] });
    procs.push(x);
    display = ":" + (await new Promise((resolve, reject) => {
      let buf = "";
      x.stdio[3].on("data", (d) => { buf += d; if (buf.includes("\n")) resolve(buf.trim()); });
      x.on("exit", (c) => reject(new Error("Xvfb exited " + c)));
    }));
  }
  const env = { ...process.env, DISPLAY: display, LIBGL_ALWAYS_SOFTWARE: "1" };
  let base = "";
  let drv = null;
  const wd = async (method, path, body, timeout = 60_000) => {
    let r;
    try {
      r = await fetch(base + path, { signal: AbortSignal.timeout(timeout), method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Error(`WebDriver ${method} ${path}: no answer (${e.name})`);
    }
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(`WebDriver ${method} ${path}: ${j.value?.error} ${j.value?.message ?? ""}`);
    return j.value;
  };
  // WebKitWebDriver in its own process group: stopping it stops the MiniBrowser it launched.
  const startDriver = async () => {
    const port = await freePort();
    // Its output (and MiniBrowser's: console messages, CSP reports) is not read: "ignore", never an
    // unread pipe, which fills after 64 KB and then blocks the driver and every command after.
    drv = spawn("WebKitWebDriver", [`--port=${port}`, "--host=127.0.0.1"], { env, stdio: "ignore", detached: true });
    base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try { await wd("GET", "/status"); break; } catch (e) { if (i > 100) throw e; await sleep(100); }
    }
  };
  const stopDriver = async () => {
    const d = drv;
    drv = null;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const gone = new Promise((r) => d.once("exit", r));
    try { process.kill(-d.pid, "SIGKILL"); } catch { d.kill("SIGKILL"); }
    await gone;
  };
  process.on("exit", () => { if (drv) try { process.kill(-drv.pid, "SIGKILL"); } catch {} });
  await startDriver();
  let version = "";
  let live = null; // one session at a time: a test that failed before ctx.close() left one
  const browser = {
    engine: "webkit",
    version: () => version,
    async newContext() {
      const caps = { capabilities: { alwaysMatch: { browserName: "MiniBrowser", "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] } } } };
      await live?.close().catch(() => {});
      live = null;
      let s;
      try {
        s = await wd("POST", "/session", caps, 30_000);
      } catch (e) {
        // Launching MiniBrowser is the harness's part, not the page's: a launch that hangs
        // (seen about once in ten full runs on a loaded machine) gets one fresh driver.
        process.stderr.write(`# webkit: ${e.message}; a fresh WebKitWebDriver\n`);
        await stopDriver();
        await startDriver();
        s = await wd("POST", "/session", caps, 30_000);
      }
      version = s.capabilities.browserVersion;
      return (live = context(wd, `/session/${s.sessionId}`));
    },
    async close() {
      await live?.close().catch(() => {});
      await stopDriver();
      for (const p of procs.reverse()) { p.kill(); await new Promise((r) => (p.exitCode !== null ? r() : p.once("exit", r))); }
    },
  };
  return browser;
}

function context(wd, S) {
  let current = null;
  let evals = 0;
  let closed = false;
  const cleared = new Set();
  let spare = true; // the session's first window, not yet handed out
  const pages = [];
  const ctx = {
    async newPage() {
      let handle;
      if (spare) { spare = false; handle = await wd("GET", S + "/window"); }
      else handle = (await wd("POST", S + "/window/new", { type: "tab" })).handle;
      const p = page(handle);
      pages.push(p);
      await p.bringToFront();
      return p;
    },
    request: {
      // Through a page of the context, so cookies go and land in it as with Playwright.
      get: (url) => ctx.fetch(url, { method: "GET" }),
      post: (url, { data } = {}) => ctx.fetch(url, { method: "POST", body: typeof data === "string" ? data : JSON.stringify(data) }),
    },
    /** `fetch(url, init)` run in a page of this context on `url`'s origin: a Playwright-shaped answer. */
    async fetch(url, init) {
      const p = pages[0] ?? (await ctx.newPage());
      if (!(await p.evaluate(() => location.href)).startsWith(new URL(url).origin)) await p.goto(new URL("/fixtures/other.html", url).href);
      const status = await p.evaluate(([u, i]) => fetch(u, i).then((r) => r.status), [url, init]);
      return { ok: () => status >= 200 && status < 300, status: () => status };
    },
    /**
     * The window `fn` opens (a popup by `window.open`), as a page: WebDriver has no popup
     * event, so the handles before and after are compared.
     */
    async popupAfter(fn) {
      const before = new Set(await wd("GET", S + "/window/handles"));
      await fn();
      for (let i = 0; ; i++) {
        const h = (await wd("GET", S + "/window/handles")).find((x) => !before.has(x));
        if (h) { const p = page(h); pages.push(p); return p; }
        if (i > 100) throw new Error("popupAfter: no new window");
        await sleep(50);
      }
    },
    /** The session's cookies (of the current page's origin), Playwright-shaped. */
    async cookies() {
      const p = pages[0];
      if (!p) return [];
      return (await p.cookies()).map((c) => ({ name: c.name, value: c.value, domain: c.domain, path: c.path }));
    },
    async close() { if (!closed) { closed = true; await wd("DELETE", S).catch(() => {}); } },
  };
  const page = (handle) => {
    const on = async () => { if (current !== handle) { await wd("POST", S + "/window", { handle }); current = handle; } };
    const cmd = async (m, path, body) => { await on(); return wd(m, S + path, body); };
    const actions = (type, id, list) => cmd("POST", "/actions", { actions: [{ type, id, ...(type === "pointer" ? { parameters: { pointerType: "mouse" } } : {}), actions: list }] });
    const evaluate = async (fn, arg) => {
      // A function is called with `arg`; a string is an expression (as in Playwright).
      // Called by a synchronous script, so an answer that is not a promise comes back at once:
      // an async script left pending in a document that goes into the bfcache (Back) is
      // answered never, and WebKitGTK's driver then holds the command for a minute. A promise
      // is parked on the window and awaited by an async script.
      const call = typeof fn === "string" ? `(${fn})` : `(${fn})(arguments[0])`;
      const id = ++evals;
      const sync = `try { const v = ${call};
        if (v && typeof v.then === "function") { (window.__autologoffEval ??= {})[${id}] = v; return { p: 1 }; }
        return { v: v === undefined ? null : v }; } catch (e) { return { e: String(e && e.stack || e) }; }`;
      let r = await cmd("POST", "/execute/sync", { script: sync, args: [arg === undefined ? null : arg] });
      if (r?.p) {
        const wait = `const done = arguments[0]; const p = window.__autologoffEval[${id}]; delete window.__autologoffEval[${id}];
          p.then((v) => done({ v: v === undefined ? null : v }), (e) => done({ e: String(e && e.stack || e) }));`;
        r = await cmd("POST", "/execute/async", { script: wait, args: [] });
      }
      if (r && r.e !== undefined) throw new Error("evaluate: " + r.e);
      return r?.v;
    };
    const p = {
      evaluate,
      async goto(url) {
        // Playwright contexts start with empty storage; WebKitGTK's WebDriver sessions share
        // one profile: a context's first visit to an origin clears its localStorage first.
        const origin = new URL(url).origin;
        if (!cleared.has(origin)) {
          cleared.add(origin);
          await cmd("POST", "/url", { url: origin + "/fixtures/other.html" });
          await evaluate(() => localStorage.clear());
        }
        await cmd("POST", "/url", { url });
      },
      async reload() { await cmd("POST", "/refresh", {}); },
      async bringToFront() { await on(); },
      async title() { return cmd("GET", "/title"); },
      cookies() { return cmd("GET", "/cookie"); },
      async url() { return cmd("GET", "/url"); },
      async screenshot() { return Buffer.from(await cmd("GET", "/screenshot"), "base64"); },
      async waitForFunction(fn, arg, { timeout = 30_000 } = {}) {
        const end = Date.now() + timeout;
        for (;;) {
          try { if (await evaluate(fn, arg)) return; } catch { /* navigating */ }
          if (Date.now() > end) throw new Error("waitForFunction timed out: " + fn);
          await sleep(50);
        }
      },
      async waitForURL(re, { timeout = 30_000 } = {}) {
        // As Playwright's (waitUntil "load"): the new document loaded, not only the navigation
        // started. WebKitGTK's GET /url already answers the URL being loaded while the old
        // document is still the one scripts run in (a history.back() run then would leave it).
        const loaded = () => evaluate(() => (document.readyState === "complete" ? location.href : "")).catch(() => "");
        const end = Date.now() + timeout;
        while (!re.test(await cmd("GET", "/url")) || !re.test(await loaded())) {
          if (Date.now() > end) throw new Error("waitForURL timed out: " + re);
          await sleep(50);
        }
      },
      async click(selector) {
        const el = await cmd("POST", "/element", { using: "css selector", value: selector });
        await cmd("POST", `/element/${Object.values(el)[0]}/click`, {});
      },
      getByRole(role, { name }) {
        return { click: async () => {
          const el = await cmd("POST", "/element", { using: "xpath", value: `//${role}[normalize-space()=${JSON.stringify(name)}]` });
          await cmd("POST", `/element/${Object.values(el)[0]}/click`, {});
        } };
      },
      mouse: {
        move: (x, y) => actions("pointer", "mouse", [{ type: "pointerMove", duration: 0, x: Math.round(x), y: Math.round(y), origin: "viewport" }]),
        click: (x, y) => actions("pointer", "mouse", [{ type: "pointerMove", duration: 0, x: Math.round(x), y: Math.round(y), origin: "viewport" },
          { type: "pointerDown", button: 0 }, { type: "pointerUp", button: 0 }]),
      },
      keyboard: {
        // "Control+Shift+S" as in Playwright: the modifiers held down around the key.
        press: (chord) => {
          const ks = (chord.length > 1 ? chord.split("+") : [chord]).map((k) => KEYS[k] ?? k);
          return actions("key", "keyboard", [...ks.map((value) => ({ type: "keyDown", value })), ...ks.reverse().map((value) => ({ type: "keyUp", value }))]);
        },
        type: (text) => actions("key", "keyboard", [...text].flatMap((c) => [{ type: "keyDown", value: c }, { type: "keyUp", value: c }])),
      },
      /** Whether this window is gone (closed by a script, by `close()`). */
      async isClosed() { return !(await wd("GET", S + "/window/handles")).includes(handle); },
      on() {}, // console messages and network events are not available over classic WebDriver
      networkEvents: false,
      async close() { await cmd("DELETE", "/window"); current = null; },
    };
    return p;
  };
  return ctx;
}
