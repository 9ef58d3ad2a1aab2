// @ts-check
// The page and the values the wasm hands over: shared by every edge's module.

// codes { (the numbers the wasm and JS exchange, named once: build.rs reads every
// `const NAME = <integer>;` between these marks and gives src/web/codes.rs the same names;
// first in the module, so that the bundler puts the numbers themselves where they are used)
/** What `kind` says a value is: undefined or null. */
const KIND_NULL = 0;
const KIND_BOOLEAN = 1;
const KIND_NUMBER = 2;
const KIND_STRING = 3;
const KIND_ARRAY = 4;
/** Any other object. */
const KIND_OBJECT = 5;
const KIND_FUNCTION = 6;
/** Anything else (a symbol, a bigint, …). */
const KIND_OTHER = 7;

/** The errors `error` makes. */
const ERROR = 0;
const TYPE_ERROR = 1;
const RANGE_ERROR = 2;
// }

/** The page's global object (the SDK only runs in a page). */
export const G = globalThis;

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
export function on(t, k, f) {
  const o = { capture: true, passive: true };
  t.addEventListener(k, f, o);
  return () => t.removeEventListener(k, f, o);
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

/** What `v` is (src/web/util.rs `Kind`): one of the `KIND_*` codes above. */
export function kind(v) {
  const t = typeof v;
  return v === undefined || v === null ? KIND_NULL : t == "boolean" ? KIND_BOOLEAN : t == "number" ? KIND_NUMBER
    : t == "string" ? KIND_STRING : t == "object" ? (Array.isArray(v) ? KIND_ARRAY : KIND_OBJECT)
    : t == "function" ? KIND_FUNCTION : KIND_OTHER;
}

/** `v` as a number: a number as it is, a boolean 1 or 0, anything else NaN. */
export function num(v) {
  const t = typeof v;
  return t == "number" ? v : t == "boolean" ? +v : NaN;
}

/** A new Error, TypeError or RangeError (`k`: `ERROR`, `TYPE_ERROR`, `RANGE_ERROR`) saying `msg`. */
export function error(k, msg) {
  return new (k == TYPE_ERROR ? TypeError : k == RANGE_ERROR ? RangeError : Error)(msg);
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

/** Adds each `[target, kind, listener]`; returns the function that removes them. */
export function listen(on) {
  for (const [t, k, f, c] of on) t.addEventListener(k, f, c);
  return () => { for (const [t, k, f, c] of on) t.removeEventListener(k, f, c); };
}

/** `url` resolved against the page's URL when it is of the page's origin, else null. */
export function same_origin_url(url) {
  try {
    const u = new URL(url, G.location.href);
    if (u.origin === G.location.origin) return u.href;
  } catch (_) {}
  return null;
}

/**
 * Whether `sel` parses as a CSS selector (true without a document). Tried on an empty
 * fragment: no element of the page reaches JS (the `<body>` that the default target finds
 * would instantiate the prototypes of HTMLBodyElement, HTMLElement and Element, ~70 KB of
 * JS heap, long before any lock).
 */
export function selector_ok(sel) {
  try { G.document?.createDocumentFragment().querySelector(sel); return true; } catch (_) { return false; }
}
