// @ts-check
// The tabs of an origin (src/web/crosstab.rs): the leader's Web Lock and the state channel.

import { G } from "./util.js";
import { read, write } from "./storage.js";

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

const STATE_KEY = "autologoff:state";

/**
 * `heard(text)` for each state another tab of the origin publishes: over a BroadcastChannel,
 * or without one the `storage` event of the state key (the text every tab also stores).
 * @param {(text: string) => void} heard @returns {import("./glue").Channel}
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
 * @param {import("./glue").Channel | undefined} c @param {string} text
 */
export function publish(c, text) {
  write(STATE_KEY, text);
  c?.bc?.postMessage(text);
}

/** The state the origin's tabs last published, or null. */
export function published() {
  return read(STATE_KEY);
}

/** @param {import("./glue").Channel} c */
export function channel_close(c) {
  c.off();
}
