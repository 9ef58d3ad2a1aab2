// @ts-check
// The built-in warning (src/web/warning.rs), on the lock's dialogs.

import { G, listen } from "./util.js";
import { dialog, esc, open, replacing, replaced } from "./lock.js";

/**
 * The built-in warning (WCAG 2.2.1): the "Are you still there?" dialog with a countdown to
 * `w.dl` (updated every second while shown) and "Stay signed in"; the button, a click on the
 * backdrop (the dialog itself) or Escape calls `stay()`. Null without a root element.
 * @param {number} deadline @param {() => void} stay @returns {import("./glue").Warning | null}
 */
export function warning(deadline, stay) {
  const prev = G.document.activeElement;
  const w = /** @type {import("./glue").Warning} */ ({ dl: deadline, f: prev instanceof G.HTMLElement ? prev : null });
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
/** @param {import("./glue").Warning} w @param {number} deadline */
export function warning_update(w, deadline) {
  w.dl = deadline;
  w.tick();
}

/** Whether `node` lies inside the warning dialog. */
/** @param {import("./glue").Warning} w @param {Node} node */
export function warning_has(w, node) {
  return w.d.contains(node);
}

/** The warning is removed by a lock (src/web/glue/lock.js `replacing`). */
/** @param {import("./glue").Warning} w */
export function warning_locked(w) {
  w.h = 1;
  replacing(w.f, w.d);
}

/**
 * The warning removed (not `close()`d: that moves focus too), focus back where it was, or
 * into the overlay at a lock.
 * @param {import("./glue").Warning} w
 */
export function warning_close(w) {
  const { d, f } = w;
  d.remove();
  replaced(d);
  if (!w.h && f && f.isConnected) f.focus();
  G.clearInterval(w.i);
  w.off();
}
