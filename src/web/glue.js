// Small JS helpers the Rust edge imports (shipped as pkg/glue.js, shared with index.js).
// They exist where doing the job in JS is both smaller and more transparent: the fetch
// and XHR wrappers must pass every argument, `this`, result and error through untouched.

const G = globalThis;
let origFetch = null;

/** The page's fetch as it was before autologoff patched it (our own requests use it). */
function raw_fetch(url, init) {
  return (origFetch || G.fetch).call(G, url, init);
}

/**
 * One of the SDK's own requests (session protocol, audit batch): never counted as
 * activity, `cache: no-store`, aborted after `timeoutMs`. Calls `done(status, body, err)`
 * exactly once: status 0 when no answer came (err = the error's name); for a 200 with
 * `json`, body is the parsed answer, or err = "SyntaxError" when it is not JSON.
 */
export function send(url, method, credentials, headers, body, keepalive, json, timeoutMs, done) {
  const h = {};
  for (let i = 0; i + 1 < headers.length; i += 2) h[headers[i]] = headers[i + 1];
  const init = { method, credentials, headers: h, cache: "no-store", keepalive };
  if (body != null) init.body = body;
  try { init.signal = AbortSignal.timeout(timeoutMs); } catch (_) {}
  let p;
  try { p = raw_fetch(url, init); } catch (e) { p = Promise.reject(e); }
  p.then(
    (r) => json && r.status === 200
      ? r.json().then((b) => [200, b, null], () => [200, undefined, "SyntaxError"])
      : [r.status, undefined, null],
    (e) => [0, undefined, String((e && e.name) || "Error")]
  ).then(([s, b, e]) => done(s, b, e));
}

/**
 * setTimeout / setInterval, with the id handed back as the JS value it is: fake timers
 * (Playwright, Jest, Vitest) number their ids from 10^12, past any 32-bit integer.
 */
export function timer(cb, ms, repeat) {
  return repeat ? G.setInterval(cb, ms) : G.setTimeout(cb, ms);
}

export function untimer(id, repeat) {
  if (repeat) G.clearInterval(id);
  else G.clearTimeout(id);
}

const esc = (e) => { if (e.key == "Escape" || e.type == "cancel") e.preventDefault(); };
/**
 * Keeps a modal dialog open: `mode` 1 refuses its `cancel`; 2 (the lock overlay) also
 * swallows Escape on the window, in capture, before any dialog sees it (close watchers
 * honour `cancel.preventDefault()` only once per user activation); 0 removes both.
 */
export function keep_open(dialog, mode) {
  dialog[(mode ? "add" : "remove") + "EventListener"]("cancel", esc);
  G[(mode > 1 ? "add" : "remove") + "EventListener"]("keydown", esc, true);
}

function urlOf(input) {
  try {
    if (typeof input === "string") return input;
    if (input instanceof URL) return input.href;
    if (input && typeof input.url === "string") return input.url;
    return String(input);
  } catch (_) {
    return "";
  }
}

/**
 * Wraps fetch and XMLHttpRequest. `start(url) -> token` is called synchronously when a
 * request starts; `end([token, status, expiresHeaderValue, responseUrl])` when its response
 * headers arrived (or it failed: status 0). Returns an `undo` function.
 */
export function patch_requests(start, end, headerName) {
  const undo = [];
  if (typeof G.fetch === "function") {
    const orig = G.fetch;
    origFetch = orig;
    const wrapped = function fetch(input, init) {
      let tok = 0;
      try { tok = start(urlOf(input)); } catch (_) { tok = 0; }
      let p;
      try {
        p = orig.apply(this, arguments);
      } catch (e) {
        try { end([tok, 0, null, ""]); } catch (_) {}
        throw e;
      }
      p.then(
        (r) => { try { end([tok, r.status, r.headers.get(headerName), r.url || ""]); } catch (_) {} },
        () => { try { end([tok, 0, null, ""]); } catch (_) {} }
      );
      return p;
    };
    G.fetch = wrapped;
    undo.push(() => {
      if (G.fetch === wrapped) G.fetch = orig;
      origFetch = null;
    });
  }
  const X = G.XMLHttpRequest;
  if (typeof X === "function") {
    const proto = X.prototype;
    const open = proto.open;
    const send = proto.send;
    const urls = new WeakMap();
    const wOpen = function open_(method, url) {
      try { urls.set(this, urlOf(url)); } catch (_) {}
      return open.apply(this, arguments);
    };
    const wSend = function send_() {
      const xhr = this;
      let tok = 0;
      try { tok = start(urls.get(xhr) || ""); } catch (_) { tok = 0; }
      const done = () => {
        xhr.removeEventListener("loadend", done);
        let h = null;
        try { h = xhr.getResponseHeader(headerName); } catch (_) {}
        try { end([tok, xhr.status, h, xhr.responseURL || ""]); } catch (_) {}
      };
      xhr.addEventListener("loadend", done);
      return send.apply(this, arguments);
    };
    proto.open = wOpen;
    proto.send = wSend;
    undo.push(() => {
      if (proto.open === wOpen) proto.open = open;
      if (proto.send === wSend) proto.send = send;
    });
  }
  return () => { for (const u of undo) u(); };
}

/** The lock overlay as built: its dialog, card and button, each with its inline style. */
export function overlay_state(d, b) {
  return [d, b.parentNode, b].map((e) => [e, e.style.cssText]);
}

// The root's styles that a top-layer element cannot escape (measured in Chromium).
const ROOT_HIDES = ["display", "content-visibility", "zoom"];

/**
 * Puts the lock overlay back as `overlay_state` saw it, whatever hid it or made its button
 * unclickable. Its own elements: nested as built under <html>, their inline style
 * (`all: initial`/`revert` and every value `!important`, so no page rule reaches them or
 * what they inherit) and no `class`, `hidden`, `inert` or `disabled`. The root: nothing that
 * hides the top layer (computed style). The dialog: open and modal. (Another top-layer
 * element may sit above it: that is how the app's own re-authentication dialog is shown.)
 * True when something was repaired.
 */
export function heal_overlay(saved) {
  const [[d], [c], [b]] = saved, root = d.ownerDocument.documentElement;
  let bad = b.parentNode != c || c.parentNode != d || d.parentNode != root;
  if (bad) c.append(b), d.append(c), root.append(d);
  for (const s of saved) {
    const [e, css] = s;
    // Compared with what this engine serializes once `css` is set (s[2]): WebKit does not
    // give back the string it was given, and a rewrite on every mutation never settles.
    if (e.style.cssText != (s[2] || css)) e.style.cssText = css, bad = s[2] = e.style.cssText;
    for (const a of ["class", "hidden", "inert", "disabled"]) if (e.hasAttribute(a)) bad = e.removeAttribute(a) || 1;
  }
  const cs = G.getComputedStyle(root);
  if (cs.display == "none" || cs.contentVisibility == "hidden" || cs.zoom < 0.5) {
    bad = saved.root = ROOT_HIDES.map((p) => root.style.setProperty(p, "revert", "important"));
  }
  if (!d.matches(":modal")) bad = d.close() || d.showModal() || b.focus() || 1;
  return !!bad;
}

/** At unlock: drop what `heal_overlay` set on the root. */
export function release_overlay(saved) {
  if (saved.root) for (const p of ROOT_HIDES) G.document.documentElement.style.removeProperty(p);
}

/**
 * Last line of defence when the wasm side cannot be trusted (panic, trap, failed load):
 * cover the page with plain DOM, make it inert and drop sessionStorage.
 */
let failedWhy = null;

/** True once the page failed closed: the wasm side is not trusted again until a reload. */
export function failed() {
  return failedWhy !== null;
}

export function fail_closed(why) {
  failedWhy = String(why || "error");
  try {
    const d = G.document;
    if (!d || !d.documentElement) return;
    if (d.getElementById("autologoff-failsafe")) return;
    const body = d.body;
    if (body) {
      body.setAttribute("inert", "");
      body.setAttribute("aria-hidden", "true");
      body.style.setProperty("filter", "blur(24px)", "important");
    }
    const box = d.createElement("div");
    box.id = "autologoff-failsafe";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-modal", "true");
    box.style.cssText = "position:fixed!important;inset:0!important;z-index:2147483647!important;" +
      "background:#0f172a!important;color:#fff!important;display:flex!important;align-items:center!important;" +
      "justify-content:center!important;font:16px system-ui,sans-serif!important";
    box.textContent = "Session locked. Reload the page and sign in again.";
    d.documentElement.appendChild(box);
    d.title = "Session locked";
    try { G.sessionStorage && G.sessionStorage.clear(); } catch (_) {}
    try { console.error("autologoff: failed closed:", String(why || "error")); } catch (_) {}
  } catch (_) {}
}
