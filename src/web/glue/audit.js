// @ts-check
// The audit queue (src/web/audit.rs): records kept in localStorage until the server has them.

import { keys, local, read, write } from "./storage.js";

const SEQ_KEY = "autologoff:seq";
const QUEUE = "autologoff:audit:";

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
  return { delivers, tab, seq: Math.max(int(read(SEQ_KEY)) ?? 0, 0), pending: [] };
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

/**
 * Keys of other tabs' queues last written at or `before` (the core's decision: src/core/outbox.rs),
 * or unreadable.
 * @param {import("./glue").AuditLog} a @param {number} before
 */
function orphans(a, before) {
  return keys(local()).filter((k) => {
    if (!k.startsWith(QUEUE) || k == QUEUE + a.tab) return false;
    const t = queue(k)?.[0];
    return t == null || t <= before;
  });
}

/**
 * Whether records wait: this tab's, or those of queues written at or `before`.
 * @param {import("./glue").AuditLog} a @param {number} before
 */
export function audit_pending(a, before) {
  return a.delivers && (a.pending.length > 0 || orphans(a, before).length > 0);
}

/**
 * The next batch to POST, `{ body, keys, adopted }` (at most `batch` records; the queues
 * written at or `before` are taken over first), or null when nothing waits.
 * @param {import("./glue").AuditLog} a @param {number} before @param {number} batch
 * @returns {import("./glue").AuditBatch | null}
 */
export function audit_take(a, before, batch) {
  if (!a.delivers) return null;
  const adopted = orphans(a, before);
  for (const k of adopted) {
    let recs = [];
    try { recs = JSON.parse(queue(k)?.[1] ?? "[]"); } catch (_) {}
    for (const r of Array.isArray(recs) ? recs : []) {
      if (typeof r?.tab != "string" || typeof r.seq != "number") continue;
      if (!a.pending.some(([t, s]) => t == r.tab && s == r.seq)) a.pending.push([r.tab, r.seq, JSON.stringify(r)]);
    }
  }
  if (!a.pending.length) return null;
  const keys = a.pending.slice(0, batch);
  return { body: "[" + keys.map((p) => p[2]).join(",") + "]", keys, adopted };
}

/** @param {import("./glue").AuditBatch} b */
export function audit_body(b) {
  return b.body;
}

/**
 * A batch's outcome: with `ok` its records leave the queue (and the queues it took over are
 * removed). Returns whether records still wait.
 * @param {import("./glue").AuditLog} a @param {import("./glue").AuditBatch} b @param {boolean} ok
 */
export function audit_settle(a, b, ok) {
  if (ok) {
    a.pending = a.pending.filter(([t, s]) => !b.keys.some((k) => k[0] == t && k[1] == s));
    for (const k of b.adopted) write(k, null);
    audit_persist(a);
  }
  return a.pending.length > 0;
}
