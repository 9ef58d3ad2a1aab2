// @ts-check
// Signing in again (src/web/signin.rs) and the switch to another user (src/web/session.rs).

import { G, listen } from "./util.js";

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
