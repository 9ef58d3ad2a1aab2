//! Audit records: made by glue/audit.js (`audit_*`), shown as `audit` events, queued in localStorage per tab until
//! the server answers 2xx (so a crash, a reload or an offline spell loses nothing), and
//! de-duplicated by the server on `(tab, seq)`. A record holds a type, a time, a reason
//! code and ids: never page content, storage values or URLs. When a batch goes, how big it
//! is, the backoff and the take-over of a closed tab's queue are the core's
//! (`src/core/outbox.rs`).

use crate::prelude::*;
use wasm_bindgen::prelude::*;

use crate::core::outbox::{Outbox, BATCH};
use crate::core::policy::{AuditKind, Ms};

#[wasm_bindgen(module = "/src/web/glue/audit.js")]
extern "C" {
    fn audit_log(delivers: &JsValue) -> JsValue;
    fn audit_make(log: &JsValue, kind: &JsValue, reason: &JsValue, at: f64) -> JsValue;
    fn audit_persist(log: &JsValue);
    fn audit_pending(log: &JsValue, before: f64) -> bool;
    fn audit_take(log: &JsValue, before: f64, batch: f64) -> JsValue;
    fn audit_body(batch: &JsValue) -> JsValue;
    fn audit_settle(log: &JsValue, batch: &JsValue, ok: &JsValue) -> bool;
}

/// This tab's log: its id, the per-origin sequence and the queue (kept by glue/audit.js).
pub struct AuditLog {
    url: Option<String>,
    log: JsValue,
    outbox: Outbox,
}

/// What one delivery attempt carried.
pub struct Batch(JsValue);

impl AuditLog {
    pub fn new(url: Option<String>) -> AuditLog {
        AuditLog {
            log: audit_log(&JsValue::from_bool(url.is_some())),
            url,
            outbox: Outbox::default(),
        }
    }

    pub fn delivers(&self) -> bool {
        self.url.is_some()
    }

    /// Records of this tab, or of a tab that is gone, wait for delivery.
    pub fn has_pending(&self, now: Ms) -> bool {
        audit_pending(&self.log, Outbox::orphaned_before(now) as f64)
    }

    /// A new record (as a JS object for the `audit` event), queued for delivery.
    pub fn make(&mut self, kind: AuditKind, reason: Option<&str>, now: Ms) -> JsValue {
        audit_make(
            &self.log,
            &JsValue::from_str(kind.as_str()),
            &reason.map_or(JsValue::UNDEFINED, JsValue::from_str),
            now as f64,
        )
    }

    /// Write this tab's queue to localStorage.
    pub fn persist(&self) {
        audit_persist(&self.log);
    }

    /// The next batch to POST: `(url, JSON array body (a JS string), what it holds)`.
    pub fn take_batch(&mut self, unloading: bool, now: Ms) -> Option<(String, JsValue, Batch)> {
        let url = self
            .url
            .clone()
            .filter(|_| self.outbox.may_send(unloading))?;
        let before = Outbox::orphaned_before(now) as f64;
        let batch = audit_take(&self.log, before, f64::from(BATCH));
        if batch.is_null() {
            return None;
        }
        self.outbox.sent();
        Some((url, audit_body(&batch), Batch(batch)))
    }

    /// Record the outcome; returns when to try again (now for more, later after a failure).
    pub fn settle(&mut self, batch: Batch, ok: bool, now: Ms) -> Option<Ms> {
        let more = audit_settle(&self.log, &batch.0, &JsValue::from_bool(ok));
        self.outbox.settled(ok, more, now)
    }
}
