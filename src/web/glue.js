// @ts-check
// Small JS helpers the Rust edge imports (shipped as pkg/glue.js, shared with index.js).
// They exist where doing the job in JS is both smaller and more transparent: the fetch
// and XHR wrappers must pass every argument, `this`, result and error through untouched.
// The rule: JS holds mechanisms (listeners, patches, DOM and storage calls); the decisions
// and the timers of policy are the core's (src/core/policy.rs). Not yet so: the audit
// outbox's batching, backoff and take-over of a closed tab's queue (below, `audit_*`).

const G = globalThis;
let origFetch = null;

/** The page's fetch as it was before autologoff patched it (our own requests use it). */
function raw_fetch(url, init) {
  return (origFetch || G.fetch).call(G, url, init);
}

/**
 * One of the SDK's own requests (session protocol, audit batch): never counted as
 * activity, `cache: no-store`, aborted after `timeoutMs`. Calls `done([status, body, err])`
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
  ).then(done);
}

/** The page's window and document (the SDK only runs in a page). */
export function win() {
  return G;
}

export function doc() {
  return G.document;
}

/**
 * A capturing, passive listener of `k` events on `t`; returns its removal. Not through
 * `listen`: its destructuring loops, run at init, got baseline-compiled (~4 KB of JS heap).
 */
function on(t, k, f) {
  const o = { capture: true, passive: true };
  t.addEventListener(k, f, o);
  return () => t.removeEventListener(k, f, o);
}

/**
 * The page's lifecycle, each event as a number to `cb` (one callback into the wasm for all):
 * 0 time may have jumped (`visibilitychange`, `focus`, `resume`), 1 `pagehide`, 2 `pageshow`,
 * 3 the `pageshow` of a page restored from the back/forward cache. Returns their removal.
 */
export function lifecycle(cb) {
  const d = G.document, wake = () => cb(0);
  // PageTransitionEvent read at the event, not here (its interface is instantiated when read).
  const show = (e) => {
    const P = G.PageTransitionEvent;
    cb(P && e instanceof P && e.persisted ? 3 : 2);
  };
  const offs = [on(d, "visibilitychange", wake), on(G, "focus", wake), on(d, "resume", wake),
    on(G, "pagehide", () => cb(1)), on(G, "pageshow", show)];
  return () => { for (const off of offs) off(); };
}

/** The first element matching `sel` when it is an HTMLElement, else null (throws for an invalid selector). */
export function select(sel) {
  const e = G.document.querySelector(sel);
  return e instanceof G.HTMLElement ? e : null;
}

/** `f(a, b)`, whatever it throws swallowed (the wasm calling a removal, `emit`, a resolve). */
export function call(f, a, b) {
  try { f(a, b); } catch (_) {}
}

/** `{ [a]: x, [b]: y }` without the undefined keys (an event's detail). */
export function obj(a, x, b, y) {
  const o = {};
  if (a != null) o[a] = x;
  if (b != null) o[b] = y;
  return o;
}

/**
 * What `v` is (src/web/util.rs `Kind`): 0 undefined or null, 1 boolean, 2 number, 3 string,
 * 4 array, 5 any other object, 6 function, 7 anything else (a symbol, a bigint, …).
 */
export function kind(v) {
  const t = typeof v;
  return v === undefined || v === null ? 0 : t == "boolean" ? 1 : t == "number" ? 2 : t == "string" ? 3
    : t == "object" ? (Array.isArray(v) ? 4 : 5) : t == "function" ? 6 : 7;
}

/** `v` as a number: a number as it is, a boolean 1 or 0, anything else NaN. */
export function num(v) {
  const t = typeof v;
  return t == "number" ? v : t == "boolean" ? +v : NaN;
}

/** A new Error (0), TypeError (1) or RangeError (2) saying `msg`. */
export function error(k, msg) {
  return new [Error, TypeError, RangeError][k](msg);
}

/** `o[k]`, or undefined when reading it throws. */
export function field(o, k) {
  try { return o[k]; } catch (_) {}
}

/** `[promise, resolve]`: a new pending promise and the function that resolves it. */
export function deferred() {
  let r;
  return [new Promise((y) => (r = y)), r];
}

/**
 * setTimeout, with the id handed back as the JS value it is: fake timers (Playwright, Jest,
 * Vitest) number their ids from 10^12, past any 32-bit integer.
 */
export function timer(cb, ms) {
  return G.setTimeout(cb, ms);
}

export function untimer(id) {
  G.clearTimeout(id);
}

/**
 * The leader Web Lock: `granted()` once this tab holds it, held until the function returned
 * is called (which also withdraws a request not yet granted: the aborted request's rejection
 * is expected). Null without Web Locks: every tab leads.
 */
export function lead(granted) {
  const L = G.navigator.locks;
  if (!L) return null;
  const ac = new AbortController();
  let release;
  L.request("autologoff:leader", { signal: ac.signal }, () => new Promise((r) => {
    release = r;
    granted();
  })).catch(() => {});
  return () => { ac.abort(); release?.(); };
}

/** How long a kind of input goes unheard once one was noted: no listener, so no cost at all. */
const DEAF_MS = 100;

/**
 * Trusted input, the hot path: one capture listener for every activity event kind that only
 * notes the time in JS, and calls `cb(event)` (into the wasm) when the core must hear: the
 * first input at or after `w.next` (the 1 s throttle), or every input while `w.all` (the
 * warning is shown: its controls and any activity are decided by the wasm). `w.last` is the
 * newest trusted input the wasm has not been told about. After noting one, the listener of
 * that kind is off for `DEAF_MS` (a pointer move or a keystroke then costs the page what it
 * costs with no library at all); the input noted is at most `DEAF_MS` older than the newest,
 * so the deadline can only come that much early, never late. While the warning is shown every
 * kind is heard. Returns `w`; `w.off()` removes it.
 */
export function watch_input(kinds, cb) {
  const w = { last: 0, next: 0, all: false, deaf: {} };
  const o = { capture: true, passive: true };
  const hear = (k) => {
    G.clearTimeout(w.deaf[k]);
    delete w.deaf[k];
    G.addEventListener(k, on, o);
  };
  const on = (e) => {
    if (!e.isTrusted) return;
    if (w.all) return cb(e);
    const t = Date.now(), k = e.type;
    w.last = t;
    G.removeEventListener(k, on, o);
    w.deaf[k] = G.setTimeout(() => hear(k), DEAF_MS);
    if (t >= w.next) cb(e);
  };
  for (const k of kinds) G.addEventListener(k, on, o);
  w.hear = () => { for (const k in w.deaf) hear(k); };
  w.off = () => { for (const k of kinds) G.clearTimeout(w.deaf[k]), G.removeEventListener(k, on, o); };
  return w;
}

/** The wasm's side of `watch_input`: when to call next, whether to call on every input. */
export function input_sync(w, next, all) {
  w.next = next;
  if ((w.all = all)) w.hear();
}

export function input_last(w) {
  return w.last;
}

export function input_off(w) {
  w.off();
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

/** `url` resolved against the page, or null. */
function absolute(url) {
  try { return new URL(url, G.location.href).href; } catch (_) { return null; }
}

/** Whether a response came from the page's own origin (no URL: a failure, taken as ours). */
function ours(url) {
  try { return !url || new URL(url).origin == G.location.origin; } catch (_) { return false; }
}

/**
 * Wraps fetch and XMLHttpRequest, calling `cb` (one callback into the wasm): `cb(ignored) ->
 * token` synchronously when a request starts (`ignored`, a boolean: its URL starts with one
 * of `ignore`, as written or resolved); `cb([token, status, expiresHeaderValue, sameOrigin])`
 * when its response headers arrived (or it failed: status 0). Returns an `undo` function.
 */
export function patch_requests(cb, headerName, ignore) {
  const undo = [];
  const skip = (url) => {
    const a = absolute(url);
    return ignore.some((p) => {
      const b = absolute(p);
      return url.startsWith(p) || (a != null && b != null && a.startsWith(b));
    });
  };
  if (typeof G.fetch === "function") {
    const orig = G.fetch;
    origFetch = orig;
    /** @this {any} */
    const wrapped = function fetch(input, init) {
      let tok = 0;
      try { tok = cb(skip(urlOf(input))); } catch (_) { tok = 0; }
      let p;
      try {
        p = orig.apply(this, /** @type {any} */ (arguments));
      } catch (e) {
        try { cb([tok, 0, null, true]); } catch (_) {}
        throw e;
      }
      p.then(
        (r) => { try { cb([tok, r.status, r.headers.get(headerName), ours(r.url)]); } catch (_) {} },
        () => { try { cb([tok, 0, null, true]); } catch (_) {} }
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
    /** @this {any} */
    const wOpen = function open_(method, url) {
      try { urls.set(this, urlOf(url)); } catch (_) {}
      return open.apply(this, /** @type {any} */ (arguments));
    };
    /** @this {any} */
    const wSend = function send_() {
      const xhr = this;
      let tok = 0;
      try { tok = cb(skip(urls.get(xhr) || "")); } catch (_) { tok = 0; }
      const done = () => {
        xhr.removeEventListener("loadend", done);
        let h = null;
        try { h = xhr.getResponseHeader(headerName); } catch (_) {}
        try { cb([tok, xhr.status, h, ours(xhr.responseURL)]); } catch (_) {}
      };
      xhr.addEventListener("loadend", done);
      return send.apply(this, /** @type {any} */ (arguments));
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

/**
 * Whether `sel` parses as a CSS selector (true without a document). Tried on an empty
 * fragment: no element of the page reaches JS (the `<body>` that the default target finds
 * would instantiate the prototypes of HTMLBodyElement, HTMLElement and Element, ~70 KB of
 * JS heap, long before any lock).
 */
/** `url` resolved against the page's URL when it is of the page's origin, else null. */
export function same_origin_url(url) {
  try {
    const u = new URL(url, G.location.href);
    if (u.origin === G.location.origin) return u.href;
  } catch (_) {}
  return null;
}

/**
 * "Sign in again" in a popup that keeps `window.opener` (the locked page, its unsaved draft
 * included, stays as it is). `done()` is called once, when the popup posts
 * `{autologoff: "signed-in"}` (from that popup, of this origin) or is closed; the popup is
 * closed then if it is still open. Closed is noticed when this window gets focus back, else
 * by a check every 2 s (a short chain of slow timers: CONTRACT.md's timer-chain trap).
 * Returns the undo (closes the popup, calls nothing), or null when no popup could be opened.
 */
export function signin_popup(url, done) {
  let w = null;
  try { w = G.open(url, "autologoff-signin", "popup,width=520,height=680"); } catch (_) {}
  if (!w) return null;
  let id, over = false, off;
  const end = (fire) => {
    if (over) return;
    over = true;
    G.clearTimeout(id);
    off();
    try { if (!w.closed) w.close(); } catch (_) {}
    if (fire) done();
  };
  const check = () => { let c = true; try { c = w.closed; } catch (_) {} if (c) end(true); };
  const heard = (e) => {
    const d = e.data;
    if (e.source === w && e.origin === G.location.origin && d && d.autologoff === "signed-in") end(true);
  };
  const poll = () => { check(); if (!over) id = G.setTimeout(poll, 2000); };
  off = listen([[G, "message", heard], [G, "focus", check]]);
  id = G.setTimeout(poll, 2000);
  return () => end(false);
}

/** Where the user signs in when no popup could be opened: this page is left for it. */
export function navigate(url) {
  G.location.assign(url);
}

/**
 * The cancelable `switch` event through `emit` (which answers what `dispatchEvent` did):
 * the page is reloaded unless a listener called `preventDefault()`. A throwing `emit`
 * reloads too (failure closes: the next clinician never sees this page).
 */
export function switched(emit, detail) {
  let go = true;
  try { go = emit("switch", detail) !== false; } catch (_) {}
  if (go) G.location.reload();
}

export function selector_ok(sel) {
  try { G.document?.createDocumentFragment().querySelector(sel); return true; } catch (_) { return false; }
}

// `all:revert` and `!important` everywhere: no page rule can restyle the card or the button.
const CARD_CSS = "all:revert!important;background:#fff!important;color:#0f172a!important;" +
  "padding:24px 28px!important;border-radius:12px!important;max-width:420px!important;text-align:center!important;" +
  "box-shadow:0 20px 60px rgba(0,0,0,.4)!important;font:16px/1.5 system-ui,-apple-system,Segoe UI,sans-serif!important";
const BUTTON_CSS = "all:revert!important;font:inherit!important;padding:10px 20px!important;border:0!important;" +
  "border-radius:8px!important;background:#1d4ed8!important;color:#fff!important;cursor:pointer!important";

/** Adds each `[target, kind, listener]`; returns the function that removes them. */
function listen(on) {
  for (const [t, k, f, c] of on) t.addEventListener(k, f, c);
  return () => { for (const [t, k, f, c] of on) t.removeEventListener(k, f, c); };
}

/**
 * Escape refused: a dialog's `cancel`, and (for the lock overlay) Escape itself on the window,
 * in capture, before any dialog sees it: close watchers honour `cancel.preventDefault()` only
 * once per user activation, so a second press would close the overlay.
 */
const esc = (e) => { if (e.type == "cancel" || e.key == "Escape") e.preventDefault(); };

/**
 * One of the SDK's two dialogs (warning, lock), built but not yet in the document: an
 * `alertdialog` labelled by its heading and described by its text, holding a card with the
 * heading, the text and one button. Inline CSS goes through the CSSOM (allowed under
 * `style-src 'self'`). With `count` (the warning), the text is a polite live region ending in
 * `<strong>count</strong>.`. Returns [dialog, text or its <strong>, button]; `open` shows it.
 */
function dialog(id, css, title, text, label, count) {
  const doc = G.document;
  const el = (tag, id, css, text) => {
    const e = doc.createElement(tag);
    if (id) e.id = id;
    e.style.cssText = css;
    if (text != null) e.textContent = text;
    return e;
  };
  const tid = id + "-title", xid = id + "-text";
  const d = el("dialog", id, css);
  for (const [k, v] of [["role", "alertdialog"], ["aria-modal", "true"], ["aria-labelledby", tid], ["aria-describedby", xid]]) {
    d.setAttribute(k, v);
  }
  const card = el("div", "", CARD_CSS);
  const p = el("p", xid, "", text);
  const b = el("button", "", BUTTON_CSS, label);
  b.setAttribute("type", "button");
  card.append(el("h2", tid, "margin:0 0 8px;font-size:1.4em", title), p, b);
  d.append(card);
  let t = p;
  if (count != null) {
    p.setAttribute("aria-live", "polite");
    p.setAttribute("aria-atomic", "true");
    p.append((t = el("strong", "", "", count)), ".");
  }
  return [d, t, b];
}

/** A `dialog()` put under <html> and opened in the top layer, its button focused; null without a root. */
function open(r) {
  const root = G.document.documentElement;
  if (!root) return null;
  const [d, , b] = r;
  root.append(d);
  d.showModal();
  b.focus();
  return r;
}

const BLUR = "blur(24px)";

/**
 * The lock's cover: `t` blurred (`blur`) or hidden, `!important`, and `t` (and with the
 * overlay the body) made `inert` and `aria-hidden="true"`. Returns what was there before,
 * for `recover` and `uncover`.
 */
export function cover(t, body, blur, overlay) {
  const s = t.style, [prop, value] = blur ? ["filter", BLUR] : ["visibility", "hidden"];
  const els = overlay ? [body] : [];
  if (!els.includes(t)) els.push(t);
  const c = { t, prop, value, v: s.getPropertyValue(prop), p: s.getPropertyPriority(prop), a: t.hasAttribute("style") };
  s.setProperty(prop, value, "important");
  c.saved = els.map((e) => {
    const r = [e, e.getAttribute("inert"), e.getAttribute("aria-hidden")];
    e.setAttribute("inert", "");
    e.setAttribute("aria-hidden", "true");
    return r;
  });
  return c;
}

/** Re-applies whatever of the cover was undone. True when something was. */
export function recover(c) {
  const s = c.t.style;
  let bad = 0;
  if (s.getPropertyValue(c.prop) != c.value || s.getPropertyPriority(c.prop) != "important") {
    bad = s.setProperty(c.prop, c.value, "important") || 1;
  }
  for (const [e] of c.saved) {
    if (!e.hasAttribute("inert")) bad = e.setAttribute("inert", "") || 1;
    if (e.getAttribute("aria-hidden") !== "true") bad = e.setAttribute("aria-hidden", "true") || 1;
  }
  return !!bad;
}

/**
 * Every attribute and the style exactly as before `cover` (a style attribute that was absent
 * and is left empty by the CSSOM is removed again).
 */
export function uncover(c) {
  const put = (e, a, v) => (v == null ? e.removeAttribute(a) : e.setAttribute(a, v));
  for (const [e, i, h] of c.saved.slice().reverse()) put(e, "inert", i), put(e, "aria-hidden", h);
  const { t, prop } = c, s = t.style;
  if (c.v) s.setProperty(prop, c.v, c.p);
  else s.removeProperty(prop);
  if (!c.a && /^[ \t\n\f\r]*$/.test(t.getAttribute("style") || "")) t.removeAttribute("style");
}

/**
 * A MutationObserver on <html> calling `cb`: with `full`, every change the lock's tamper check
 * must see; without, only children (for <body> to appear). Null when it cannot observe.
 */
export function observe(cb, full) {
  try {
    const mo = new MutationObserver(cb);
    mo.observe(G.document.documentElement, full ? { subtree: true, childList: true, attributes: true,
      characterData: true, attributeFilter: ["style", "inert", "aria-hidden", "open", "class", "hidden", "disabled"] }
      : { childList: true });
    return mo;
  } catch (_) {
    return null;
  }
}

/**
 * The built-in warning (WCAG 2.2.1): the "Are you still there?" dialog with a countdown to
 * `w.dl` (updated every second while shown) and "Stay signed in"; the button, a click on the
 * backdrop (the dialog itself) or Escape calls `stay()`. Null without a root element.
 */
export function warning(deadline, stay) {
  const prev = G.document.activeElement;
  const w = { dl: deadline, f: prev instanceof G.HTMLElement ? prev : null };
  const left = () => {
    const s = Math.ceil(Math.max(w.dl - Date.now(), 0) / 1000);
    return s >= 60 ? ((s / 60) | 0) + ":" + String(s % 60).padStart(2, "0") : s + " seconds";
  };
  const r = open(dialog("autologoff-warning", "border:0;padding:0;background:transparent", "Are you still there?",
    "To protect patient information this session locks in ", "Stay signed in", left()));
  if (!r) return null;
  const [d, count, b] = r;
  w.d = d;
  w.tick = () => (count.textContent = left());
  w.i = G.setInterval(w.tick, 1000);
  w.off = listen([[b, "click", () => stay()], [d, "click", (e) => e.target == d && stay()], [d, "cancel", esc]]);
  return w;
}

/** The warning's countdown now runs to `deadline`. */
export function warning_update(w, deadline) {
  w.dl = deadline;
  w.tick();
}

/**
 * The target of a press (pointer or touch down, pointer up, click, Enter or Space), when it
 * is a node: presses inside the warning act through its own controls, not as activity.
 */
export function press_target(e) {
  const t = e.type, n = e.target;
  return (/^(pointerdown|mousedown|touchstart|pointerup|click)$/.test(t) ||
    (t == "keydown" && e instanceof G.KeyboardEvent && (e.key == "Enter" || e.key == " "))) &&
    n instanceof G.Node ? n : null;
}

/** Whether `node` lies inside the warning dialog. */
export function warning_has(w, node) {
  return w.d.contains(node);
}

/**
 * The focus the warning took, when a lock removed it: `detach` records it for the unlock
 * (the overlay takes focus next, so moving it back first would only cost the lock's task
 * a style recalculation of the whole page).
 */
let held = null;
/**
 * The warning a lock is replacing: the overlay removes it once it is itself open (a modal
 * dialog removed while another is open leaves the page's inertness as it is; removed first,
 * the page would be made interactive and then inert again in the lock's task).
 */
let leaving = null;

/** The warning is removed by a lock: see `held` and `leaving`. */
export function warning_locked(w) {
  w.h = 1;
  held = w.f;
  leaving = w.d;
}

/**
 * The warning removed (not `close()`d: that moves focus too), focus back where it was, or
 * into `held` at a lock.
 */
export function warning_close(w) {
  const { d, f } = w;
  d.remove();
  if (leaving == d) leaving = null;
  if (!w.h && f && f.isConnected) f.focus();
  G.clearInterval(w.i);
  w.off();
}

/**
 * The overlay fills the viewport (in the top layer). `all:initial` and `!important`: no page
 * rule can restyle it, and it inherits nothing from the page (visibility, pointer-events,
 * text-indent…); every other property has its initial value (visible, no margin or border).
 */
const OVERLAY_CSS = "all:initial!important;position:fixed!important;inset:0!important;width:100vw!important;" +
  "height:100vh!important;display:flex!important;align-items:center!important;justify-content:center!important;" +
  "background:rgba(15,23,42,.88)!important";

const overlay_dialog = (title) => dialog("autologoff-overlay", OVERLAY_CSS, title,
  "Your session was locked to protect patient information. Sign in again to continue.", "Sign in again");

/** `[title, dialog()]`: the next lock's overlay, built ahead by `prepare`. */
let ready = null;

/**
 * Shortly before a lock deadline in a visible tab: the overlay (`title`, unless null) is built
 * out of the document (nothing of the page changes) and the cover runs once on a detached
 * element, so the lock's task only inserts, opens and applies, its script already compiled.
 */
export function prepare(title) {
  if (title != null && ready?.[0] != title) ready = [title, overlay_dialog(title)];
  const e = G.document.createElement("div");
  uncover(cover(e, e, true, true));
}

/**
 * The lock overlay, opened: "Sign in again" calls `signin()`; Escape never dismisses it (a
 * `close` by script removes `open`: the tamper observer re-opens it). Returns its elements
 * (dialog, card and button, each with the inline style it was given) for `heal_overlay` and
 * `release_overlay`, or null without a root element.
 */
export function overlay(title, signin) {
  const r = open(ready?.[0] == title ? ready[1] : overlay_dialog(title));
  ready = null;
  held = null;
  if (leaving) leaving.remove(), (leaving = null);
  if (!r) return null;
  const [d, , b] = r;
  const off = listen([[b, "click", () => signin()], [d, "cancel", esc], [G, "keydown", esc, true]]);
  /** @type {any} */
  const saved = [[d, OVERLAY_CSS], [b.parentNode, CARD_CSS], [b, BUTTON_CSS]];
  saved.off = off;
  return saved;
}

// The root's styles that a top-layer element cannot escape (measured in Chromium).
const ROOT_HIDES = ["display", "content-visibility", "zoom"];

/** `css` as this engine serializes it once set on a `tag` element's style. */
function serialized(tag, css) {
  const e = G.document.createElement(tag);
  e.style.cssText = css;
  return e.style.cssText;
}

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
  /** @type {any} */
  let bad = b.parentNode != c || c.parentNode != d || d.parentNode != root;
  if (bad) c.append(b), d.append(c), root.append(d);
  for (const s of saved) {
    const [e, css] = s;
    // Compared with what this engine serializes for `css` (s[2]): worked out on a scratch
    // element at the first check, not in the lock's task (with `all:` it is ~10 KB per element
    // in Chromium); after a rewrite, what the element serializes (WebKit does not give back the
    // string it was given, and a rewrite on every mutation would never settle).
    if (e.style.cssText != (s[2] ??= serialized(e.localName, css))) e.style.cssText = css, bad = s[2] = e.style.cssText;
    for (const a of ["class", "hidden", "inert", "disabled"]) if (e.hasAttribute(a)) bad = e.removeAttribute(a) || 1;
  }
  const cs = G.getComputedStyle(root);
  if (cs.display == "none" || cs.contentVisibility == "hidden" || +cs.zoom < 0.5) {
    bad = saved.root = ROOT_HIDES.map((p) => root.style.setProperty(p, "revert", "important"));
  }
  if (!d.matches(":modal")) bad = d.close() || d.showModal() || b.focus() || 1;
  return !!bad;
}

/** At unlock: the overlay closed and removed, and what `heal_overlay` set on the root dropped. */
export function release_overlay(saved) {
  const [[d]] = saved;
  d.close();
  d.remove();
  saved.off();
  if (saved.root) for (const p of ROOT_HIDES) G.document.documentElement.style.removeProperty(p);
}

/**
 * `lock.mode: "detach"`: the target's children move into a fragment (out of the document:
 * no DOM read, saved page or print holds them); focus and scroll are recorded for `attach`.
 * A page locked while it is still parsed is only hidden until DOMContentLoaded: a script the
 * parser inserted and that was taken out before it ran would never run, even once put back.
 */
export function detach(t) {
  const d = t.ownerDocument, a = held || d.activeElement;
  const s = { t, f: d.createDocumentFragment(), a: a != t && t.contains(a) ? a : null,
    x: G.scrollX, y: G.scrollY, l: t.scrollLeft, p: t.scrollTop, on: d.readyState != "loading" };
  if (s.on) hold_back(s);
  else d.addEventListener("DOMContentLoaded", () => s.f && ((s.on = true), hold_back(s)), { once: true });
  return s;
}

/** Whatever the app put into the target while locked joins the held nodes (in order). */
export function hold_back(s) {
  if (s.on && s.f) while (s.t.firstChild) s.f.append(s.t.firstChild);
}

/** The same nodes back in place, then focus and scroll (the target must not be inert). */
export function attach(s) {
  const { t, f, a } = s;
  s.f = null;
  t.append(f);
  a && a.focus({ preventScroll: true });
  G.scrollTo(s.x, s.y);
  t.scrollLeft = s.l;
  t.scrollTop = s.p;
}

/**
 * While locked: Ctrl/⌘+S and Ctrl/⌘+P swallowed, and a print sheet that blanks what the lock
 * made inert (a constructed sheet: no <style>, so a CSP without 'unsafe-inline' allows it).
 * Returns the undo.
 */
export function guard() {
  const k = (e) => (e.ctrlKey || e.metaKey) && /^[sp]$/i.test(e.key) && e.preventDefault();
  G.addEventListener("keydown", k, true);
  const d = G.document;
  let sh = null;
  try {
    sh = new CSSStyleSheet();
    sh.replaceSync("@media print{[inert]{visibility:hidden!important}}");
    d.adoptedStyleSheets = [...d.adoptedStyleSheets, sh];
  } catch (_) {}
  return () => {
    G.removeEventListener("keydown", k, true);
    if (sh) d.adoptedStyleSheets = d.adoptedStyleSheets.filter((x) => x != sh);
  };
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
      body.style.setProperty("filter", BLUR, "important");
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

// ---------------- audit queue (src/web/audit.rs) ----------------

const SEQ_KEY = "autologoff:seq";
const QUEUE = "autologoff:audit:";
/** Another tab's queue untouched this long is taken over (its tab is gone or stuck). */
const ORPHAN_AFTER = 15_000;
const BATCH = 200;

function local() {
  try { return G.localStorage; } catch (_) { return null; }
}
/**
 * Every key of a storage area (none when it cannot be read).
 * @param {any} s
 */
function keys(s) {
  try { return Array.from({ length: s.length }, (_, i) => s.key(i)); } catch (_) { return []; }
}
/** localStorage's value at `k`; null when missing or unreadable. */
export function read(k) {
  try { return local()?.getItem(k) ?? null; } catch (_) { return null; }
}
/** Sets localStorage's `k` to `v`, or removes it for null (full or disabled storage: no-op). */
export function write(k, v) {
  try { v == null ? local()?.removeItem(k) : local()?.setItem(k, v); } catch (_) {}
}
/** A stored integer (optional "-" and digits), or null. */
const int = (s) => (s != null && /^-?\d+$/.test(s) ? +s : null);
/** What a queue key holds: `time\n[records]`, split; null without the newline. */
/** @returns {[number | null, string] | null} */
function queue(k) {
  const v = read(k) || "", i = v.indexOf("\n");
  return i < 0 ? null : [int(v.slice(0, i)), v.slice(i + 1)];
}

/**
 * A tab's audit log: a random tab id (16 hex digits), the origin's sequence (`seq`, shared by
 * every tab through localStorage) and, when it `delivers`, the queue of `[tab, seq, JSON]`
 * not yet acknowledged, own first.
 */
export function audit_log(delivers) {
  const tab = Array.from({ length: 4 }, () => ((Math.random() * 65536) | 0).toString(16).padStart(4, "0")).join("");
  return { delivers, tab, seq: Math.max(int(read(SEQ_KEY)) ?? 0, 0), pending: [], busy: false, failures: 0 };
}

/** A new record `{ seq, type, at, reason?, tab }` (the `audit` event's detail), queued. */
export function audit_make(a, type, reason, at) {
  // Per-origin monotonic: the newest of ours and every tab's counter.
  a.seq = Math.max(a.seq, int(read(SEQ_KEY)) ?? 0) + 1;
  write(SEQ_KEY, String(a.seq));
  const rec = { seq: a.seq, type, at: new Date(at).toISOString() };
  if (reason != null) rec.reason = reason;
  rec.tab = a.tab;
  if (a.delivers) {
    a.pending.push([a.tab, a.seq, JSON.stringify(rec)]);
    audit_persist(a);
  }
  return rec;
}

/** This tab's queue, written to localStorage with the time (how others see it is alive). */
export function audit_persist(a) {
  if (!a.delivers) return;
  const own = a.pending.filter(([t]) => t == a.tab).map((p) => p[2]);
  write(QUEUE + a.tab, own.length ? Date.now() + "\n[" + own.join(",") + "]" : null);
}

/** Keys of other tabs' queues not written for `ORPHAN_AFTER`. */
function orphans(a) {
  const now = Date.now();
  return keys(local()).filter((k) => {
    if (!k.startsWith(QUEUE) || k == QUEUE + a.tab) return false;
    const t = queue(k)?.[0];
    return t == null || now - t >= ORPHAN_AFTER;
  });
}

export function audit_pending(a) {
  return a.delivers && (a.pending.length > 0 || orphans(a).length > 0);
}

/**
 * The next batch to POST, `{ body, keys, adopted }` (at most `BATCH` records; queues of tabs
 * that are gone are taken over first), or null: nothing to send, or a batch is in flight and
 * the page is not unloading.
 */
export function audit_take(a, unloading) {
  if (!a.delivers || (a.busy && !unloading)) return null;
  const adopted = orphans(a);
  for (const k of adopted) {
    let recs = [];
    try { recs = JSON.parse(queue(k)?.[1] ?? "[]"); } catch (_) {}
    for (const r of Array.isArray(recs) ? recs : []) {
      if (typeof r?.tab != "string" || typeof r.seq != "number") continue;
      if (!a.pending.some(([t, s]) => t == r.tab && s == r.seq)) a.pending.push([r.tab, r.seq, JSON.stringify(r)]);
    }
  }
  if (!a.pending.length) return null;
  const keys = a.pending.slice(0, BATCH);
  a.busy = true;
  return { body: "[" + keys.map((p) => p[2]).join(",") + "]", keys, adopted };
}

export function audit_body(b) {
  return b.body;
}

/** A batch's outcome: when to try again (now for more, later after a failure), or -1. */
export function audit_settle(a, b, ok, now) {
  a.busy = false;
  if (!ok) return now + Math.min(1000 * 2 ** Math.min(++a.failures, 6), 60_000);
  a.failures = 0;
  a.pending = a.pending.filter(([t, s]) => !b.keys.some((k) => k[0] == t && k[1] == s));
  for (const k of b.adopted) write(k, null);
  audit_persist(a);
  return a.pending.length ? now : -1;
}

// ---------------- storage purge (src/web/storage.rs) ----------------

/** Whether `key` matches one of `patterns` (a pattern ending in `*` is a prefix). */
const matches = (patterns, key) => patterns.some((p) => (p.endsWith("*") ? key.startsWith(p.slice(0, -1)) : p == key));

/**
 * At lock: sessionStorage erased but for the `keep` keys (when `session`), and the `named`
 * keys of localStorage, never the SDK's own `autologoff:` records. Values are never read.
 */
export function purge(session, keep, named) {
  if (session) {
    try {
      const s = G.sessionStorage;
      for (const k of keys(s)) if (!matches(keep, k)) s.removeItem(k);
    } catch (_) {}
  }
  if (named.length) {
    try {
      const s = local();
      if (s) for (const k of keys(s)) if (!k.startsWith("autologoff:") && matches(named, k)) s.removeItem(k);
    } catch (_) {}
  }
}

/** sessionStorage opened ahead of the lock (a page's first access is a round trip). */
export function warm() {
  try { G.sessionStorage.length; } catch (_) {}
}

// ---------------- the tabs' channel (src/web/crosstab.rs) ----------------

const STATE_KEY = "autologoff:state";

/**
 * `heard(text)` for each state another tab of the origin publishes: over a BroadcastChannel,
 * or without one the `storage` event of the state key (the text every tab also stores).
 */
export function channel(heard) {
  let bc = null;
  try { bc = new BroadcastChannel("autologoff"); } catch (_) {}
  if (bc) {
    bc.onmessage = (e) => typeof e.data == "string" && heard(e.data);
    return { bc, off: () => bc.close() };
  }
  const on = (e) => e.key == STATE_KEY && e.newValue != null && heard(e.newValue);
  G.addEventListener("storage", on);
  return { bc, off: () => G.removeEventListener("storage", on) };
}

/**
 * This tab's state published: stored (a reload, a new tab and a tab without a channel read
 * it there) and posted to the other tabs. Without a channel `c` is undefined.
 */
export function publish(c, text) {
  write(STATE_KEY, text);
  c?.bc?.postMessage(text);
}

/** The state the origin's tabs last published, or null. */
export function published() {
  return read(STATE_KEY);
}

export function channel_close(c) {
  c.off();
}
