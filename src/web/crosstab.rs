//! Every tab of the origin agrees: the shared state in localStorage and a BroadcastChannel,
//! and the one leader tab (a Web Lock) that speaks to the server.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::util::{callback, Callback, Installed};
use crate::core::policy::Shared;

#[wasm_bindgen(module = "/src/web/glue/crosstab.js")]
extern "C" {
    fn lead(granted: &JsValue) -> JsValue;
    fn channel(heard: &JsValue) -> JsValue;
    fn publish(ch: &JsValue, text: &JsValue);
    /// The state the tabs last published (glue/crosstab.js keeps its key), or null.
    #[wasm_bindgen(js_name = published)]
    fn published_js() -> JsValue;
    fn channel_close(ch: &JsValue);
}

/// The tabs' channel (glue/crosstab.js `channel`: a BroadcastChannel, else the `storage` event),
/// closed when dropped.
pub(super) struct Channel {
    ch: JsValue,
    _heard: Callback,
}

impl Channel {
    /// Listen to the other tabs: `heard` gets each state they publish that decodes.
    pub(super) fn open(heard: impl Fn(Shared) + 'static) -> Channel {
        let heard = callback(move |text| {
            if let Some(sh) = text.as_string().as_deref().and_then(Shared::decode) {
                heard(sh);
            }
            JsValue::UNDEFINED
        });
        Channel {
            ch: channel(heard.as_ref()),
            _heard: heard,
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        channel_close(&self.ch);
    }
}

/// Store `sh` for the tabs that open later and post it on `ch` (none: stored only), in
/// one call (it runs every second).
pub(super) fn publish_state(ch: Option<&Channel>, sh: &Shared) {
    let text = JsValue::from_str(&sh.encode());
    publish(ch.map_or(&JsValue::UNDEFINED, |c| &c.ch), &text);
}

/// The state the origin's tabs last published (timestamps and states only).
pub(super) fn stored_state() -> Option<Shared> {
    published_js().as_string().and_then(|s| Shared::decode(&s))
}

/// Ask for the Web Lock that makes this tab the one that talks to the server: `granted`
/// runs when it is this tab's. The guard releases it, or withdraws the request, when
/// dropped; None without Web Locks (then every tab leads).
pub(super) fn request_leadership(granted: impl Fn() + 'static) -> Option<Installed> {
    let granted = callback(move |_| {
        granted();
        JsValue::UNDEFINED
    });
    let release = lead(granted.as_ref());
    (!release.is_null()).then(|| Installed::new(release.unchecked_into(), granted))
}
