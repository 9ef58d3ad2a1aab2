//! Storage purge at lock, and the SDK's own small localStorage records.

use crate::core::config::{key_matches, PurgeCfg};
use crate::prelude::*;

/// Keys the SDK keeps for itself (timestamps, states, audit queue: never PHI).
pub const OWN_PREFIX: &str = "autologoff:";

fn keys(s: &web_sys::Storage) -> Vec<String> {
    let n = s.length().unwrap_or(0);
    (0..n).filter_map(|i| s.key(i).ok().flatten()).collect()
}

/// Erase sessionStorage (minus kept keys) and the named localStorage keys (values are
/// never read).
pub fn purge(cfg: &PurgeCfg) {
    let w = super::util::window();
    if cfg.session_storage {
        if let Ok(Some(s)) = w.session_storage() {
            for k in keys(&s) {
                if !cfg.keep_session_keys.iter().any(|p| key_matches(p, &k)) {
                    let _ = s.remove_item(&k);
                }
            }
        }
    }
    if !cfg.local_storage_keys.is_empty() {
        if let Ok(Some(s)) = w.local_storage() {
            for k in keys(&s) {
                if !k.starts_with(OWN_PREFIX)
                    && cfg.local_storage_keys.iter().any(|p| key_matches(p, &k))
                {
                    let _ = s.remove_item(&k);
                }
            }
        }
    }
}

/// Opens sessionStorage ahead of the lock: the first access of a page loads it from the
/// browser process (a synchronous round trip the lock's task need not wait for).
pub fn warm(cfg: &PurgeCfg) {
    if cfg.session_storage {
        if let Ok(Some(s)) = super::util::window().session_storage() {
            let _ = s.length();
        }
    }
}

pub fn local() -> Option<web_sys::Storage> {
    super::util::window().local_storage().ok().flatten()
}

pub fn get(key: &str) -> Option<String> {
    local()?.get_item(key).ok().flatten()
}

pub fn set(key: &str, value: &str) {
    if let Some(s) = local() {
        let _ = s.set_item(key, value);
    }
}
