//! The app's own fetch and XMLHttpRequest, observed through glue/requests.js: user-started requests
//! count and hold the lock, every response is read for the expiry header and a 401.

use crate::prelude::*;

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::util::{callback, kind, num, Installed, Kind};
use crate::core::config::Config;

#[wasm_bindgen(module = "/src/web/glue/requests.js")]
extern "C" {
    fn patch_requests(cb: &JsValue, header: &JsValue, ignore: &js_sys::Array) -> Function;
}

/// The end of an observed request.
pub(super) struct RequestEnd {
    /// The user's request (its start counted and held the lock).
    pub user: bool,
    pub status: u16,
    /// The expiry header (`server.expiresHeader`) as sent, if any.
    pub expires: Option<String>,
    pub same_origin: bool,
}

/// Patch the app's fetch and XMLHttpRequest: `on_start(ignored)` (`ignored`: a URL of the
/// SDK's own or of `requests.ignore`) says whether the request is the user's, `on_end`
/// gets its end. The guard restores both when dropped.
pub(super) fn patch(
    cfg: &Config,
    on_start: impl Fn(bool) -> bool + 'static,
    on_end: impl Fn(RequestEnd) + 'static,
) -> Installed {
    // One callback for both ends of a request: at its start glue/requests.js passes whether the URL
    // is ignored and takes back a token (1 observed only, 2 the user's); at its end
    // [token, status, expires header or null, same origin].
    let cb = callback(move |v| {
        if kind(&v) != Kind::Array {
            return JsValue::from(if on_start(num(&v) == 1.0) { 2 } else { 1 });
        }
        let a: &js_sys::Array = v.unchecked_ref();
        on_end(RequestEnd {
            user: num(&a.get(0)) == 2.0,
            status: num(&a.get(1)) as u16,
            expires: a.get(2).as_string(),
            same_origin: num(&a.get(3)) == 1.0,
        });
        JsValue::UNDEFINED
    });
    let header = cfg
        .server
        .as_ref()
        .map_or("Session-Expires", |s| s.expires_header.as_str());
    let ignore = js_sys::Array::new();
    let own = cfg.server.as_ref().map(|s| &s.url).into_iter();
    for p in own
        .chain(cfg.audit.as_ref().map(|a| &a.url))
        .chain(&cfg.requests.ignore)
    {
        ignore.push(&JsValue::from_str(p));
    }
    Installed::new(
        patch_requests(cb.as_ref(), &JsValue::from_str(header), &ignore),
        cb,
    )
}
