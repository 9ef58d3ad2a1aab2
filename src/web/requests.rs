//! The app's own fetch and XMLHttpRequest, observed through glue.js: user-started requests
//! count and hold the lock, every response is read for the expiry header and a 401.

use crate::prelude::*;

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::session::Session;
use super::util::{callback, now, window, Callback};
use crate::core::policy::Ms;

/// A request counts as the user's when it starts this soon after trusted input.
const USER_REQUEST_WINDOW: Ms = 1_000;

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn patch_requests(start: &Function, end: &Function, header: &str) -> Function;
}

/// Restores fetch and XMLHttpRequest when dropped.
pub(super) struct RequestPatch {
    undo: Function,
    _start: Callback,
    _end: Callback,
}

impl Drop for RequestPatch {
    fn drop(&mut self) {
        let _ = self.undo.call0(&JsValue::NULL);
    }
}

impl Session {
    pub(super) fn install_request_patch(&self) {
        let (m1, m2) = (self.me.clone(), self.me.clone());
        let start = callback(move |url| {
            let url = url.as_string().unwrap_or_default();
            JsValue::from(m1.upgrade().map_or(0, |s| s.on_request_start(&url)))
        });
        // glue.js passes [token, status, expires header or null, response URL].
        let end = callback(move |a| {
            let a: &js_sys::Array = a.unchecked_ref();
            if let Some(s) = m2.upgrade() {
                let tok = a.get(0).as_f64().unwrap_or(0.0) as u32;
                let status = a.get(1).as_f64().unwrap_or(0.0) as u16;
                s.on_request_end(
                    tok,
                    status,
                    a.get(2).as_string(),
                    &a.get(3).as_string().unwrap_or_default(),
                );
            }
            JsValue::UNDEFINED
        });
        let header = self
            .cfg
            .server
            .as_ref()
            .map_or("Session-Expires", |s| s.expires_header.as_str());
        let undo = patch_requests(
            start.as_ref().unchecked_ref(),
            end.as_ref().unchecked_ref(),
            header,
        );
        *self.requests.borrow_mut() = Some(RequestPatch {
            undo,
            _start: start,
            _end: end,
        });
    }

    /// 1 = observed only; 2 = the user's request (counts and holds the lock).
    fn on_request_start(&self, url: &str) -> u32 {
        if self.destroyed.get() || self.pumping.get() {
            return 1;
        }
        let t = now();
        let user = t - self.newest_input() <= USER_REQUEST_WINDOW && !self.ignored(url);
        if !user {
            return 1;
        }
        self.policy.borrow_mut().handle_request_start(true, t);
        self.pump();
        2
    }

    fn on_request_end(&self, tok: u32, status: u16, header: Option<String>, resp_url: &str) {
        if self.destroyed.get() || self.pumping.get() {
            return;
        }
        let t = now();
        {
            let mut p = self.policy.borrow_mut();
            if tok == 2 {
                p.handle_request_end(true, t);
            }
            if let Some(v) = header.and_then(|h| crate::core::text::parse_int(h.trim_ascii())) {
                p.handle_expires_header(v, t);
            }
            if status == 401 && same_origin(resp_url) {
                p.handle_unauthorized(t);
            }
        }
        self.pump();
    }

    fn ignored(&self, url: &str) -> bool {
        let abs = absolute(url);
        let own = self
            .cfg
            .server
            .as_ref()
            .map(|s| s.url.as_str())
            .into_iter()
            .chain(self.cfg.audit.as_ref().map(|a| a.url.as_str()));
        own.chain(self.cfg.requests.ignore.iter().map(|s| s.as_str()))
            .any(|p| {
                url.starts_with(p)
                    || abs
                        .as_deref()
                        .zip(absolute(p).as_deref())
                        .is_some_and(|(a, b)| a.starts_with(b))
            })
    }
}

fn absolute(url: &str) -> Option<String> {
    let base = window().location().href().ok()?;
    web_sys::Url::new_with_base(url, &base)
        .ok()
        .map(|u| u.href())
}

fn same_origin(url: &str) -> bool {
    if url.is_empty() {
        return true;
    }
    let Some(origin) = window().location().origin().ok() else {
        return false;
    };
    web_sys::Url::new(url)
        .map(|u| u.origin() == origin)
        .unwrap_or(false)
}
