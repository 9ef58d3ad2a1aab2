//! The app's own fetch and XMLHttpRequest, observed through glue.js: user-started requests
//! count and hold the lock, every response is read for the expiry header and a 401.

use crate::prelude::*;

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::session::Session;
use super::util::{callback, kind, now, num, Installed, Kind};
use crate::core::policy::Ms;

/// A request counts as the user's when it starts this soon after trusted input.
const USER_REQUEST_WINDOW: Ms = 1_000;

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn patch_requests(cb: &JsValue, header: &JsValue, ignore: &js_sys::Array) -> Function;
}

impl Session {
    pub(super) fn install_request_patch(&self) {
        let me = self.me.clone();
        // One callback for both ends of a request: at its start glue.js passes whether the URL
        // is one of `ignore` (the SDK's own and the app's list) and takes back a token; at its
        // end [token, status, expires header or null, same origin].
        let cb = callback(move |v| {
            let Some(s) = me.upgrade() else {
                return JsValue::from(0);
            };
            if kind(&v) != Kind::Array {
                return JsValue::from(s.on_request_start(num(&v) == 1.0));
            }
            let a: &js_sys::Array = v.unchecked_ref();
            let tok = num(&a.get(0)) as u32;
            let status = num(&a.get(1)) as u16;
            s.on_request_end(tok, status, a.get(2).as_string(), num(&a.get(3)) == 1.0);
            JsValue::UNDEFINED
        });
        let header = self
            .cfg
            .server
            .as_ref()
            .map_or("Session-Expires", |s| s.expires_header.as_str());
        let ignore = js_sys::Array::new();
        let cfg = &self.cfg;
        let own = cfg.server.as_ref().map(|s| &s.url).into_iter();
        for p in own
            .chain(cfg.audit.as_ref().map(|a| &a.url))
            .chain(&cfg.requests.ignore)
        {
            ignore.push(&JsValue::from_str(p));
        }
        let undo = patch_requests(cb.as_ref(), &JsValue::from_str(header), &ignore);
        // Dropped: fetch and XMLHttpRequest restored.
        *self.requests.borrow_mut() = Some(Installed::new(undo, cb));
    }

    /// 1 = observed only; 2 = the user's request (counts and holds the lock).
    fn on_request_start(&self, ignored: bool) -> u32 {
        if self.destroyed.get() || self.pumping.get() {
            return 1;
        }
        let t = now();
        let user = t - self.input.newest() <= USER_REQUEST_WINDOW && !ignored;
        if !user {
            return 1;
        }
        self.policy.borrow_mut().handle_request_start(true, t);
        self.pump();
        2
    }

    fn on_request_end(&self, tok: u32, status: u16, header: Option<String>, same_origin: bool) {
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
            if status == 401 && same_origin {
                p.handle_unauthorized(t);
            }
        }
        self.pump();
    }
}
