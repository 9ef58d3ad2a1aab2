// @ts-check
// The audit queue (src/web/audit.rs): records kept in localStorage until the server has them.

import { keys, local, read, write } from "./storage.js";

const SEQ_KEY = "autologoff:seq";
const QUEUE = "autologoff:audit:";
/** Another tab's queue untouched this long is taken over (its tab is gone or stuck). */
const ORPHAN_AFTER = 15_000;
const BATCH = 200;

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
 * @param {boolean} delivers @returns {import("./glue").AuditLog}
 */
export function audit_log(delivers) {
  const tab = Array.from({ length: 4 }, () => ((Math.random() * 65536) | 0).toString(16).padStart(4, "0")).join("");
  return { delivers, tab, seq: Math.max(int(read(SEQ_KEY)) ?? 0, 0), pending: [], busy: false, failures: 0 };
}

/** A new record `{ seq, type, at, reason?, tab }` (the `audit` event's detail), queued. */
/** @param {import("./glue").AuditLog} a @param {string} type @param {string | null} reason @param {number} at */
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
/** @param {import("./glue").AuditLog} a */
export function audit_persist(a) {
  if (!a.delivers) return;
  const own = a.pending.filter(([t]) => t == a.tab).map((p) => p[2]);
  write(QUEUE + a.tab, own.length ? Date.now() + "\n[" + own.join(",") + "]" : null);
}

/** Keys of other tabs' queues not written for `ORPHAN_AFTER`. */
/** @param {import("./glue").AuditLog} a */
function orphans(a) {
  const now = Date.now();
  return keys(local()).filter((k) => {
    if (!k.startsWith(QUEUE) || k == QUEUE + a.tab) return false;
    const t = queue(k)?.[0];
    return t == null || now - t >= ORPHAN_AFTER;
  });
}

/** @param {import("./glue").AuditLog} a */
export function audit_pending(a) {
  return a.delivers && (a.pending.length > 0 || orphans(a).length > 0);
}

/**
 * The next batch to POST, `{ body, keys, adopted }` (at most `BATCH` records; queues of tabs
 * that are gone are taken over first), or null: nothing to send, or a batch is in flight and
 * the page is not unloading.
 * @param {import("./glue").AuditLog} a @param {boolean} unloading @returns {import("./glue").AuditBatch | null}
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

/** @param {import("./glue").AuditBatch} b */
export function audit_body(b) {
  return b.body;
}

/** A batch's outcome: when to try again (now for more, later after a failure), or -1. */
/** @param {import("./glue").AuditLog} a @param {import("./glue").AuditBatch} b @param {boolean} ok @param {number} now */
export function audit_settle(a, b, ok, now) {
  a.busy = false;
  if (!ok) return now + Math.min(1000 * 2 ** Math.min(++a.failures, 6), 60_000);
  a.failures = 0;
  a.pending = a.pending.filter(([t, s]) => !b.keys.some((k) => k[0] == t && k[1] == s));
  for (const k of b.adopted) write(k, null);
  audit_persist(a);
  return a.pending.length ? now : -1;
}
