// @ts-check
// `lock.mode: "detach"` and the keys swallowed while locked (src/web/detach.rs).

import { G } from "./util.js";
import { held_focus } from "./lock.js";

/**
 * `lock.mode: "detach"`: the target's children move into a fragment (out of the document:
 * no DOM read, saved page or print holds them); focus and scroll are recorded for `attach`.
 * A page locked while it is still parsed is only hidden until DOMContentLoaded: a script the
 * parser inserted and that was taken out before it ran would never run, even once put back.
 * @param {HTMLElement} t @returns {import("./glue").Detached}
 */
export function detach(t) {
  const d = t.ownerDocument, a = held_focus() || d.activeElement;
  const s = { t, f: d.createDocumentFragment(), a: a != t && t.contains(a) ? a : null,
    x: G.scrollX, y: G.scrollY, l: t.scrollLeft, p: t.scrollTop, on: d.readyState != "loading" };
  if (s.on) hold_back(s);
  else d.addEventListener("DOMContentLoaded", () => s.f && ((s.on = true), hold_back(s)), { once: true });
  return s;
}

/** Whatever the app put into the target while locked joins the held nodes (in order). */
/** @param {import("./glue").Detached} s */
export function hold_back(s) {
  if (s.on && s.f) while (s.t.firstChild) s.f.append(s.t.firstChild);
}

/** The same nodes back in place, then focus and scroll (the target must not be inert). */
/** @param {import("./glue").Detached} s */
export function attach(s) {
  const { t, f, a } = s;
  s.f = null;
  t.append(/** @type {DocumentFragment} */ (f));
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
