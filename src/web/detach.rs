//! What a lock adds for shared workstations, whatever else it covers with. The DOM work is
//! a few lines of `glue/detach.js` (smaller than the bindings it would take from Rust).
//!
//! - [`Detached`] (`lock.mode: "detach"`): the target's child nodes leave the document for
//!   a fragment in memory and come back, the same nodes in the same order, at unlock, with
//!   focus and the window's and the target's scroll. While they are out, no DOM read,
//!   saved page (MHTML) or print of the document holds their text. Nodes the app inserts
//!   into the target meanwhile join them: the lock's MutationObserver calls
//!   [`Detached::hold_back`] before the next paint.
//! - [`Guards`]: the Save and Print shortcuts are swallowed, and a print stylesheet blanks
//!   everything the lock made inert (a page printed anyway shows the overlay, not the chart).

use super::util::call;
use js_sys::Function;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

#[wasm_bindgen(module = "/src/web/glue/detach.js")]
extern "C" {
    fn detach(target: &HtmlElement) -> JsValue;
    fn hold_back(held: &JsValue);
    fn attach(held: &JsValue);
    fn guard() -> Function;
}

/// The target's content, out of the document until [`Detached::restore`].
pub struct Detached(JsValue);

impl Detached {
    /// Records focus and scroll, then moves every child of `target` out.
    pub fn new(target: &HtmlElement) -> Detached {
        Detached(detach(target))
    }

    /// Moves what the app added to the target since out too.
    pub fn hold_back(&self) {
        hold_back(&self.0);
    }

    /// Puts every held node back in order, then focus and scroll (call once the target is
    /// no longer inert: an inert element cannot take focus).
    pub fn restore(self) {
        attach(&self.0);
    }
}

/// Ctrl/⌘+S and Ctrl/⌘+P swallowed, and the print stylesheet, until dropped.
pub struct Guards(Function);

impl Guards {
    pub fn new() -> Guards {
        Guards(guard())
    }
}

impl Drop for Guards {
    fn drop(&mut self) {
        call(&self.0, &JsValue::UNDEFINED, &JsValue::UNDEFINED);
    }
}
