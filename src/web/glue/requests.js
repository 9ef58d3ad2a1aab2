// @ts-check
// The request patch (src/web/requests.rs): fetch and XMLHttpRequest wrapped, every argument,
// `this`, result and error passed through untouched; the wasm decides what a request means.

import { G } from "./util.js";
import { use_fetch } from "./net.js";

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
    use_fetch(orig);
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
      use_fetch(null);
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
