// @ts-check
// localStorage and sessionStorage (src/web/storage.rs; the audit queue and the tabs'
// channel keep their records in localStorage through `read` and `write`).

import { G } from "./util.js";

export function local() {
  try { return G.localStorage; } catch (_) { return null; }
}
/**
 * Every key of a storage area (none when it cannot be read).
 * @param {any} s
 */
export function keys(s) {
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
