//! The built-in warning dialog (WCAG 2.2.1): an `alertdialog` in the top layer with a
//! countdown and a "Stay signed in" button, built and run by `glue/warning.js` (`warning`). Dropping
//! it removes it and gives focus back.

use alloc::rc::Rc;

use wasm_bindgen::prelude::*;

use super::util::{callback, Callback};
use crate::core::policy::Ms;

#[wasm_bindgen(module = "/src/web/glue/warning.js")]
extern "C" {
    fn warning(deadline: f64, stay: &JsValue) -> JsValue;
    fn warning_update(w: &JsValue, deadline: f64);
    fn warning_has(w: &JsValue, node: &JsValue) -> bool;
    fn warning_close(w: &JsValue);
    fn warning_locked(w: &JsValue);
}

pub struct Warning {
    w: JsValue,
    _stay: Callback,
}

impl Warning {
    pub fn show(deadline: Ms, on_stay: Rc<dyn Fn()>) -> Option<Warning> {
        let stay = callback(move |_| {
            on_stay();
            JsValue::UNDEFINED
        });
        let w = warning(deadline as f64, stay.as_ref());
        if w.is_null() {
            return None;
        }
        Some(Warning { w, _stay: stay })
    }

    pub fn update(&self, deadline: Ms) {
        warning_update(&self.w, deadline as f64);
    }

    /// Replaced by a lock: focus is not moved back (the overlay takes it next); `detach`
    /// records where it was, and the overlay removes the dialog once it is open itself
    /// (dropped after the lock, this one then only stops its countdown).
    pub fn close_for_lock(&self) {
        warning_locked(&self.w);
    }

    /// Whether an event target lies inside this dialog.
    pub fn contains(&self, node: &JsValue) -> bool {
        warning_has(&self.w, node)
    }
}

impl Drop for Warning {
    fn drop(&mut self) {
        warning_close(&self.w);
    }
}
