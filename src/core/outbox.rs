//! The audit outbox's decisions: when a batch may go, how many records it carries, when to
//! try again after a failure, and when another tab's queue counts as abandoned (its tab
//! closed or stuck) and is taken over. The records themselves, their queues in
//! localStorage and the POST are the browser edge's (`src/web/audit.rs`, `glue/audit.js`).

use crate::core::policy::Ms;

/// Records per POST (the server's limit per batch is higher).
pub const BATCH: u32 = 200;

/// Another tab's queue not written for this long is taken over: a live tab rewrites its
/// queue at every record and every delivery.
pub const ORPHAN_AFTER: Ms = 15_000;

/// After `n` failed deliveries in a row the next try waits `2^n` s (2 s, 4 s, … 64 s), never
/// more than this.
pub const MAX_BACKOFF: Ms = 60_000;

/// One tab's delivery state: a batch in flight, failures in a row.
#[derive(Default)]
pub struct Outbox {
    busy: bool,
    failures: u32,
}

impl Outbox {
    /// Whether a batch may be sent now: one at a time, except when the page is unloading
    /// (the last chance: `keepalive`, whatever is in flight).
    pub fn may_send(&self, unloading: bool) -> bool {
        !self.busy || unloading
    }

    /// A batch went out.
    pub fn sent(&mut self) {
        self.busy = true;
    }

    /// A batch's outcome (`ok`: the server has its records; `more`: records still wait):
    /// when to try again — now for more, after the backoff for a failure — or never.
    pub fn settled(&mut self, ok: bool, more: bool, now: Ms) -> Option<Ms> {
        self.busy = false;
        if !ok {
            self.failures = self.failures.saturating_add(1);
            return Some(now + backoff(self.failures));
        }
        self.failures = 0;
        more.then_some(now)
    }

    /// Queues written before this instant belong to tabs that are gone: take them over.
    pub fn orphaned_before(now: Ms) -> Ms {
        now - ORPHAN_AFTER
    }
}

/// The wait after `failures` failed deliveries in a row.
fn backoff(failures: u32) -> Ms {
    (1_000 << failures.min(6)).min(MAX_BACKOFF)
}
