// @ts-check
// The page's lifecycle and the user's input (src/web/lifecycle.rs): listeners only; what an
// event means is the core's.

import { G, on } from "./util.js";

// codes { (named once: build.rs gives src/web/codes.rs the same names)
/** `lifecycle`'s events: time may have jumped (`visibilitychange`, `focus`, `resume`). */
const PAGE_WAKE = 0;
/** `pagehide`. */
const PAGE_HIDE = 1;
/** `pageshow`. */
const PAGE_SHOW = 2;
/** The `pageshow` of a page restored from the back/forward cache. */
const PAGE_RESTORED = 3;
// }

/**
 * The page's lifecycle, each event as a number to `cb` (one callback into the wasm for all):
 * 0 time may have jumped (`visibilitychange`, `focus`, `resume`), 1 `pagehide`, 2 `pageshow`,
 * 3 the `pageshow` of a page restored from the back/forward cache. Returns their removal.
 */
export function lifecycle(cb) {
  const d = G.document, wake = () => cb(PAGE_WAKE);
  // PageTransitionEvent read at the event, not here (its interface is instantiated when read).
  const show = (e) => {
    const P = G.PageTransitionEvent;
    cb(P && e instanceof P && e.persisted ? PAGE_RESTORED : PAGE_SHOW);
  };
  const offs = [on(d, "visibilitychange", wake), on(G, "focus", wake), on(d, "resume", wake),
    on(G, "pagehide", () => cb(PAGE_HIDE)), on(G, "pageshow", show)];
  return () => { for (const off of offs) off(); };
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
  const w = /** @type {import("./glue").InputWatch} */ ({ last: 0, next: 0, all: false, deaf: {} });
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
/** @param {import("./glue").InputWatch} w @param {number} next @param {boolean} all */
export function input_sync(w, next, all) {
  w.next = next;
  if ((w.all = all)) w.hear();
}

/** @param {import("./glue").InputWatch} w */
export function input_last(w) {
  return w.last;
}

/** @param {import("./glue").InputWatch} w */
export function input_off(w) {
  w.off();
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
