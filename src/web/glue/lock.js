// @ts-check
// The lock's DOM (src/web/lock.rs): the cover, the overlay and its repair, the dialogs the
// warning shares, and the fail-closed cover of the page when the wasm cannot be trusted.

import { G, listen } from "./util.js";

/** The lock's target: the first element matching `sel` when it is an HTMLElement, else null (throws for an invalid selector). */
export function select(sel) {
  const e = G.document.querySelector(sel);
  return e instanceof G.HTMLElement ? e : null;
}

// `all:revert` and `!important` everywhere: no page rule can restyle the card or the button.
export const CARD_CSS = "all:revert!important;background:#fff!important;color:#0f172a!important;" +
  "padding:24px 28px!important;border-radius:12px!important;max-width:420px!important;text-align:center!important;" +
  "box-shadow:0 20px 60px rgba(0,0,0,.4)!important;font:16px/1.5 system-ui,-apple-system,Segoe UI,sans-serif!important";
export const BUTTON_CSS = "all:revert!important;font:inherit!important;padding:10px 20px!important;border:0!important;" +
  "border-radius:8px!important;background:#1d4ed8!important;color:#fff!important;cursor:pointer!important";

/**
 * Escape refused: a dialog's `cancel`, and (for the lock overlay) Escape itself on the window,
 * in capture, before any dialog sees it: close watchers honour `cancel.preventDefault()` only
 * once per user activation, so a second press would close the overlay.
 */
export const esc = (e) => { if (e.type == "cancel" || e.key == "Escape") e.preventDefault(); };

/**
 * One of the SDK's two dialogs (warning, lock), built but not yet in the document: an
 * `alertdialog` labelled by its heading and described by its text, holding a card with the
 * heading, the text and one button. Inline CSS goes through the CSSOM (allowed under
 * `style-src 'self'`). With `count` (the warning), the text is a polite live region ending in
 * `<strong>count</strong>.`. Returns [dialog, text or its <strong>, button]; `open` shows it.
 */
export function dialog(id, css, title, text, label, count) {
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
export function open(r) {
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
 * @param {HTMLElement} t @param {HTMLElement} body @param {boolean} blur @param {boolean} overlay
 * @returns {import("./glue").Cover}
 */
export function cover(t, body, blur, overlay) {
  const s = t.style, [prop, value] = blur ? ["filter", BLUR] : ["visibility", "hidden"];
  const els = overlay ? [body] : [];
  if (!els.includes(t)) els.push(t);
  const c = /** @type {import("./glue").Cover} */ ({ t, prop, value, v: s.getPropertyValue(prop), p: s.getPropertyPriority(prop), a: t.hasAttribute("style") });
  s.setProperty(prop, value, "important");
  c.saved = els.map((e) => {
    /** @type {[Element, string | null, string | null]} */
    const r = [e, e.getAttribute("inert"), e.getAttribute("aria-hidden")];
    e.setAttribute("inert", "");
    e.setAttribute("aria-hidden", "true");
    return r;
  });
  return c;
}

/** Re-applies whatever of the cover was undone. True when something was. */
/** @param {import("./glue").Cover} c */
export function recover(c) {
  const s = c.t.style;
  let bad = 0;
  if (s.getPropertyValue(c.prop) != c.value || s.getPropertyPriority(c.prop) != "important") {
    s.setProperty(c.prop, c.value, "important"), (bad = 1);
  }
  for (const [e] of c.saved) {
    if (!e.hasAttribute("inert")) e.setAttribute("inert", ""), (bad = 1);
    if (e.getAttribute("aria-hidden") !== "true") e.setAttribute("aria-hidden", "true"), (bad = 1);
  }
  return !!bad;
}

/**
 * Every attribute and the style exactly as before `cover` (a style attribute that was absent
 * and is left empty by the CSSOM is removed again).
 * @param {import("./glue").Cover} c
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

/** A lock replaces the warning: its focus is `held`, its dialog `leaving` (see above). */
export function replacing(focus, d) {
  held = focus;
  leaving = d;
}

/** The warning's dialog `d` is gone before the lock removed it. */
export function replaced(d) {
  if (leaving == d) leaving = null;
}

/** The focus the warning took, for `detach` to record (null when no warning was replaced). */
export function held_focus() {
  return held;
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
 * @param {import("./glue").OverlaySaved} saved
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
    for (const a of ["class", "hidden", "inert", "disabled"]) if (e.hasAttribute(a)) e.removeAttribute(a), (bad = 1);
  }
  const cs = G.getComputedStyle(root);
  if (cs.display == "none" || cs.contentVisibility == "hidden" || +cs.zoom < 0.5) {
    bad = saved.root = ROOT_HIDES.map((p) => root.style.setProperty(p, "revert", "important"));
  }
  if (!d.matches(":modal")) d.close(), d.showModal(), b.focus(), (bad = 1);
  return !!bad;
}

/** At unlock: the overlay closed and removed, and what `heal_overlay` set on the root dropped. */
/** @param {import("./glue").OverlaySaved} saved */
export function release_overlay(saved) {
  const [[d]] = saved;
  d.close();
  d.remove();
  saved.off();
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
