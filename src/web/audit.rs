//! Audit records: made here, shown as `audit` events, queued in localStorage per tab until
//! the server answers 2xx (so a crash, a reload or an offline spell loses nothing), and
//! de-duplicated by the server on `(tab, seq)`. A record holds a type, a time, a reason
//! code and ids: never page content, storage values or URLs.

use crate::prelude::*;
use js_sys::JSON;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::storage;
use super::util::{iso, obj, random_id};
use crate::core::policy::{AuditKind, Ms};
use crate::core::text::{cat, int, join, parse_int, split2};

const SEQ_KEY: &str = "autologoff:seq";
const QUEUE_PREFIX: &str = "autologoff:audit:";
/// Another tab's queue untouched this long is taken over (its tab is gone or stuck).
const ORPHAN_AFTER: Ms = 15_000;
const BATCH: usize = 200;

pub struct AuditLog {
    url: Option<String>,
    tab: String,
    seq: u64,
    /// (tab, seq, JSON text) of records not yet acknowledged, own first.
    pending: Vec<(String, u64, String)>,
    in_flight: bool,
    failures: u32,
}

/// What one delivery attempt carried.
pub struct Batch {
    keys: Vec<(String, u64)>,
    adopted: Vec<String>,
}

impl AuditLog {
    pub fn new(url: Option<String>) -> AuditLog {
        let mut log = AuditLog {
            url,
            tab: random_id(),
            seq: 0,
            pending: Vec::new(),
            in_flight: false,
            failures: 0,
        };
        log.seq = storage::get(SEQ_KEY)
            .and_then(|s| parse_int(&s))
            .map(|n| n.max(0) as u64)
            .unwrap_or(0);
        log
    }

    pub fn delivers(&self) -> bool {
        self.url.is_some()
    }

    pub fn has_pending(&self) -> bool {
        self.url.is_some()
            && (!self.pending.is_empty() || !orphans(&self.tab, ORPHAN_AFTER).is_empty())
    }

    /// A new record (as a JS object for the `audit` event), queued for delivery.
    pub fn make(&mut self, kind: AuditKind, reason: Option<&str>, now: Ms) -> JsValue {
        // Per-origin monotonic: the newest of ours and every tab's counter.
        let stored: u64 = storage::get(SEQ_KEY)
            .and_then(|s| parse_int(&s))
            .map(|n| n.max(0) as u64)
            .unwrap_or(0);
        self.seq = self.seq.max(stored) + 1;
        storage::set(SEQ_KEY, &int(self.seq as i64));
        let mut fields: Vec<(&str, JsValue)> = vec![
            ("seq", (self.seq as f64).into()),
            ("type", kind.as_str().into()),
            ("at", iso(now).into()),
        ];
        if let Some(r) = reason {
            fields.push(("reason", r.into()));
        }
        fields.push(("tab", self.tab.as_str().into()));
        let rec = obj(&fields);
        if self.url.is_some() {
            if let Some(text) = JSON::stringify(&rec).ok().and_then(|s| s.as_string()) {
                self.pending.push((self.tab.clone(), self.seq, text));
                self.persist();
            }
        }
        rec
    }

    /// Write this tab's queue to localStorage.
    pub fn persist(&self) {
        if self.url.is_none() {
            return;
        }
        let own: Vec<&str> = self
            .pending
            .iter()
            .filter(|(t, _, _)| *t == self.tab)
            .map(|(_, _, j)| j.as_str())
            .collect();
        let key = cat(&[QUEUE_PREFIX, &self.tab]);
        if own.is_empty() {
            if let Some(s) = storage::local() {
                let _ = s.remove_item(&key);
            }
        } else {
            let now = js_sys::Date::now() as Ms;
            storage::set(&key, &cat(&[&int(now), "\n[", &join(&own, ","), "]"]));
        }
    }

    /// The next batch to POST: `(url, JSON array body, what it holds)`.
    pub fn take_batch(&mut self, unloading: bool) -> Option<(String, String, Batch)> {
        let url = self.url.clone()?;
        if self.in_flight && !unloading {
            return None;
        }
        // Take over queues left by tabs that are gone (crash, reload, closed offline).
        let adopted = orphans(&self.tab, ORPHAN_AFTER);
        for key in &adopted {
            for (tab, seq, text) in read_queue(key) {
                if !self.pending.iter().any(|(t, s, _)| *t == tab && *s == seq) {
                    self.pending.push((tab, seq, text));
                }
            }
        }
        if self.pending.is_empty() {
            return None;
        }
        let chunk = &self.pending[..self.pending.len().min(BATCH)];
        let texts: Vec<&str> = chunk.iter().map(|(_, _, j)| j.as_str()).collect();
        let body = cat(&["[", &join(&texts, ","), "]"]);
        let keys = chunk.iter().map(|(t, s, _)| (t.clone(), *s)).collect();
        self.in_flight = true;
        Some((url, body, Batch { keys, adopted }))
    }

    /// Record the outcome; returns when to try again (now for more, later after a failure).
    pub fn settle(&mut self, batch: Batch, ok: bool, now: Ms) -> Option<Ms> {
        self.in_flight = false;
        if ok {
            self.failures = 0;
            self.pending
                .retain(|(t, s, _)| !batch.keys.iter().any(|(bt, bs)| bt == t && bs == s));
            for key in &batch.adopted {
                if let Some(st) = storage::local() {
                    let _ = st.remove_item(key);
                }
            }
            self.persist();
            (!self.pending.is_empty()).then_some(now)
        } else {
            self.failures += 1;
            let backoff = (1_000i64 << self.failures.min(6)).min(60_000);
            Some(now + backoff)
        }
    }
}

/// localStorage keys of other tabs' queues not written for `age` ms.
fn orphans(own_tab: &str, age: Ms) -> Vec<String> {
    let Some(s) = storage::local() else {
        return Vec::new();
    };
    let now = js_sys::Date::now() as Ms;
    let n = s.length().unwrap_or(0);
    (0..n)
        .filter_map(|i| s.key(i).ok().flatten())
        .filter(|k| k.starts_with(QUEUE_PREFIX) && k.strip_prefix(QUEUE_PREFIX) != Some(own_tab))
        .filter(|k| {
            s.get_item(k)
                .ok()
                .flatten()
                .and_then(|v| split2(&v, b'\n').and_then(|(t, _)| parse_int(t)))
                .is_none_or(|t| now - t >= age)
        })
        .collect()
}

fn read_queue(key: &str) -> Vec<(String, u64, String)> {
    let Some(text) = storage::get(key) else {
        return Vec::new();
    };
    let Some((_, arr)) = split2(&text, b'\n') else {
        return Vec::new();
    };
    let Ok(v) = JSON::parse(arr) else {
        return Vec::new();
    };
    let Ok(a) = v.dyn_into::<js_sys::Array>() else {
        return Vec::new();
    };
    a.iter()
        .filter_map(|r| {
            let tab = js_sys::Reflect::get(&r, &"tab".into()).ok()?.as_string()?;
            let seq = js_sys::Reflect::get(&r, &"seq".into()).ok()?.as_f64()? as u64;
            let text = JSON::stringify(&r).ok()?.as_string()?;
            Some((tab, seq, text))
        })
        .collect()
}
