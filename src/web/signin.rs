//! "Sign in again" without losing the page (`server.signin`): a popup that keeps
//! `window.opener`, and the unlock it leads to, which only the server can confirm.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::session::Session;
use super::util::{callback, Installed};
use crate::core::policy::State;

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    /// Opens the popup; `done()` once it says it signed in or was closed. Its undo, or null.
    fn signin_popup(url: &JsValue, done: &JsValue) -> JsValue;
    fn navigate(url: &JsValue);
}

impl Session {
    /// After `signin` fired: open `server.signin` in a popup; when it posts that the user
    /// signed in, or is closed, `unlock()` asks the server. A message alone unlocks nothing.
    /// No popup (blocked): the page goes there instead (the lock's purge already ran).
    pub(super) fn sign_in_again(&self) {
        let Some(url) = self.cfg.server.as_ref().and_then(|s| s.signin.as_deref()) else {
            return;
        };
        if self.destroyed.get() || self.state() != State::Locked {
            return;
        }
        // A second press: the first popup goes, a fresh one comes.
        self.signin.borrow_mut().take();
        let me = self.me.clone();
        let done = callback(move |_| {
            if let Some(s) = me.upgrade() {
                // Always an asynchronous answer (`server.signin` needs `server`): this
                // callback is not dropped while it runs.
                let _ = s.unlock();
            }
            JsValue::UNDEFINED
        });
        let url = JsValue::from_str(url);
        let off = signin_popup(&url, done.as_ref());
        if off.is_null() {
            navigate(&url);
        } else {
            *self.signin.borrow_mut() = Some(Installed::new(off.unchecked_into(), done));
        }
    }
}
