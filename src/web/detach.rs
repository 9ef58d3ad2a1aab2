//! What a lock adds for shared workstations, whatever else it covers with:
//!
//! - [`Detached`] (`lock.mode: "detach"`): the target's child nodes leave the document for
//!   a fragment in memory and come back, the same nodes in the same order, at unlock. While
//!   they are out, no DOM read, saved page (MHTML) or print of the document holds their
//!   text. Nodes the app inserts into the target meanwhile join them (the lock's
//!   MutationObserver calls [`Detached::hold_back`] before the next paint).
//! - [`Guards`]: the Save and Print shortcuts are swallowed, and a print stylesheet blanks
//!   everything the lock made inert (a page printed anyway shows the overlay, not the chart).

use wasm_bindgen::JsCast;
use web_sys::{CssStyleSheet, DocumentFragment, Event, HtmlElement, KeyboardEvent};

use super::util::{document, window, Listener};

pub struct Detached {
    target: HtmlElement,
    held: DocumentFragment,
    focus: Option<HtmlElement>,
    /// The window's scroll, then the target's own (x, y).
    scroll: [f64; 4],
}

impl Detached {
    /// Records focus and scroll, then moves every child of `target` out.
    pub fn new(target: &HtmlElement) -> Detached {
        let (doc, win) = (document(), window());
        let focus = doc
            .active_element()
            .filter(|e| e != target.as_ref() && target.contains(Some(e)))
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        let d = Detached {
            target: target.clone(),
            held: doc.create_document_fragment(),
            focus,
            scroll: [
                win.scroll_x().unwrap_or(0.0),
                win.scroll_y().unwrap_or(0.0),
                target.scroll_left() as f64,
                target.scroll_top() as f64,
            ],
        };
        d.hold_back();
        d
    }

    /// Moves whatever is in the target out (all of it at lock; later, what the app added).
    pub fn hold_back(&self) {
        while let Some(c) = self.target.first_child() {
            let _ = self.held.append_child(&c);
        }
    }

    /// Puts every held node back in order, then focus and scroll (call once the target is
    /// no longer inert: an inert element cannot take focus).
    pub fn restore(self) {
        let _ = self.target.append_child(&self.held);
        if let Some(f) = &self.focus {
            let _ = f.focus();
        }
        let [x, y, left, top] = self.scroll;
        window().scroll_to_with_x_and_y(x, y);
        self.target.set_scroll_left(left as i32);
        self.target.set_scroll_top(top as i32);
    }
}

/// Ctrl/⌘+S and Ctrl/⌘+P swallowed, and the print stylesheet, while locked.
pub struct Guards {
    sheet: Option<CssStyleSheet>,
    _keys: Listener,
}

impl Guards {
    pub fn new() -> Guards {
        let keys = Listener::new(&window(), "keydown", true, false, |e: Event| {
            if let Some(k) = e.dyn_ref::<KeyboardEvent>() {
                if (k.ctrl_key() || k.meta_key())
                    && matches!(k.key().as_str(), "s" | "S" | "p" | "P")
                {
                    e.prevent_default();
                }
            }
        });
        // A constructed sheet: no <style> element, so a CSP without 'unsafe-inline' allows it.
        let sheet = CssStyleSheet::new().ok().filter(|s| {
            s.replace_sync("@media print{[inert]{visibility:hidden!important}}")
                .is_ok()
        });
        if let Some(s) = &sheet {
            let doc = document();
            let list = doc.adopted_style_sheets();
            list.push(s);
            doc.set_adopted_style_sheets(&list);
        }
        Guards { sheet, _keys: keys }
    }
}

impl Drop for Guards {
    fn drop(&mut self) {
        if let Some(s) = &self.sheet {
            let doc = document();
            let keep = js_sys::Array::new();
            for x in doc.adopted_style_sheets().iter() {
                if &x != s.as_ref() as &wasm_bindgen::JsValue {
                    keep.push(&x);
                }
            }
            doc.set_adopted_style_sheets(&keep);
        }
    }
}
