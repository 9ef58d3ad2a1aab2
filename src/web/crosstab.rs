//! Every tab of the origin agrees: the shared state in localStorage and a BroadcastChannel,
//! and the one leader tab (a Web Lock) that speaks to the server.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::session::Session;
use super::util::{callback, now, Callback, Installed};
use crate::core::policy::Shared;

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn lead(granted: &JsValue) -> JsValue;
    fn channel(heard: &JsValue) -> JsValue;
    fn publish(ch: &JsValue, text: &JsValue);
    /// The state the tabs last published (glue.js keeps its key), or null.
    #[wasm_bindgen(js_name = published)]
    fn published_js() -> JsValue;
    fn channel_close(ch: &JsValue);
}

/// The tabs' channel (glue.js `channel`: a BroadcastChannel, else the `storage` event),
/// closed when dropped.
pub(super) struct Channel {
    ch: JsValue,
    _heard: Callback,
}

impl Drop for Channel {
    fn drop(&mut self) {
        channel_close(&self.ch);
    }
}

/// The state the origin's tabs last published (timestamps and states only).
pub(super) fn stored_state() -> Option<Shared> {
    published_js().as_string().and_then(|s| Shared::decode(&s))
}

impl Session {
    pub(super) fn share(&self) {
        if !self.cfg.cross_tab {
            return;
        }
        let text = self.policy.borrow().shared().encode();
        // Stored and posted on the channel, in one call (it runs every second).
        let ch = self.channel.borrow();
        let text = JsValue::from_str(&text);
        publish(ch.as_ref().map_or(&JsValue::UNDEFINED, |c| &c.ch), &text);
    }

    fn on_remote(&self, text: &str) {
        if self.destroyed.get() {
            return;
        }
        if let Some(sh) = Shared::decode(text) {
            let t = now();
            self.flush_input(t);
            self.policy.borrow_mut().handle_remote(sh, t);
            self.pump();
        }
    }

    pub(super) fn install_channel(&self) {
        let me = self.me.clone();
        let heard = callback(move |text| {
            if let (Some(s), Some(text)) = (me.upgrade(), text.as_string()) {
                s.on_remote(&text);
            }
            JsValue::UNDEFINED
        });
        *self.channel.borrow_mut() = Some(Channel {
            ch: channel(heard.as_ref()),
            _heard: heard,
        });
    }

    pub(super) fn request_leadership(&self) {
        let me = self.me.clone();
        let granted = callback(move |_| {
            if let Some(s) = me.upgrade() {
                if !s.destroyed.get() {
                    s.policy.borrow_mut().set_leader(true, now());
                    s.pump();
                }
            }
            JsValue::UNDEFINED
        });
        let release = lead(granted.as_ref());
        if release.is_null() {
            return; // no Web Locks: every tab leads
        }
        self.policy.borrow_mut().set_leader(false, now());
        // The Web Lock that makes this tab the one that talks to the server: released, or
        // its request withdrawn, when dropped.
        *self.leader.borrow_mut() = Some(Installed::new(release.unchecked_into(), granted));
    }
}
