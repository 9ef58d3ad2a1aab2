//! "Sign in again" without losing the page (`server.signin`): a popup that keeps
//! `window.opener`, and the unlock it leads to, which only the server can confirm.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::util::{callback, Installed};

#[wasm_bindgen(module = "/src/web/glue/signin.js")]
extern "C" {
    /// Opens the popup; `done()` once it says it signed in or was closed. Its undo, or null.
    fn signin_popup(url: &JsValue, done: &JsValue) -> JsValue;
    fn navigate(url: &JsValue);
}

/// Open `url` in a popup that keeps `window.opener`: `done` runs once it posts that the
/// user signed in, or is closed (a message alone proves nothing: the caller asks the
/// server). The guard closes it. None when the popup was blocked: the page goes to `url`
/// instead.
pub(super) fn open_popup(url: &str, done: impl Fn() + 'static) -> Option<Installed> {
    let done = callback(move |_| {
        done();
        JsValue::UNDEFINED
    });
    let url = JsValue::from_str(url);
    let off = signin_popup(&url, done.as_ref());
    if off.is_null() {
        navigate(&url);
        return None;
    }
    Some(Installed::new(off.unchecked_into(), done))
}
