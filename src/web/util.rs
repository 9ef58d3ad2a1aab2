//! Small browser helpers: the clock, RAII event listeners, JS object building.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

use crate::core::policy::Ms;

pub fn now() -> Ms {
    js_sys::Date::now() as Ms
}

pub fn window() -> web_sys::Window {
    web_sys::window().expect("autologoff needs a window")
}

pub fn document() -> web_sys::Document {
    window().document().expect("autologoff needs a document")
}

/// The one closure shape the edge hands to JS: one value in, one value out. Every
/// listener, observer, timer and callback shares it, so the wasm and its glue carry a
/// single invoke shim instead of one per signature.
pub type Callback = Closure<dyn FnMut(JsValue) -> JsValue>;

pub fn callback(f: impl FnMut(JsValue) -> JsValue + 'static) -> Callback {
    Closure::new(f)
}

/// An event listener that removes itself when dropped (gloo's pattern).
#[must_use = "the listener is removed when this guard is dropped"]
pub struct Listener {
    target: EventTarget,
    kind: String,
    capture: bool,
    cb: Callback,
}

impl Listener {
    pub fn new(
        target: &EventTarget,
        kind: &str,
        capture: bool,
        passive: bool,
        mut f: impl FnMut(Event) + 'static,
    ) -> Listener {
        let cb = callback(move |e| {
            f(e.unchecked_into());
            JsValue::UNDEFINED
        });
        let opts = obj(&[("capture", capture.into()), ("passive", passive.into())]);
        let _ = target.add_event_listener_with_callback_and_add_event_listener_options(
            kind,
            cb.as_ref().unchecked_ref(),
            opts.unchecked_ref(),
        );
        Listener {
            target: target.clone(),
            kind: kind.to_owned(),
            capture,
            cb,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback_and_bool(
            &self.kind,
            self.cb.as_ref().unchecked_ref(),
            self.capture,
        );
    }
}

/// A `setTimeout` (or `setInterval`) that is cleared when dropped.
#[must_use = "the timer is cleared when this guard is dropped"]
pub struct Timer {
    id: i32,
    repeat: bool,
    _cb: Callback,
}

impl Timer {
    /// Calls `f` once after `ms`.
    pub fn once(ms: u32, f: impl FnMut() + 'static) -> Timer {
        Timer::new(ms, false, f)
    }

    /// Calls `f` every `ms`.
    pub fn every(ms: u32, f: impl FnMut() + 'static) -> Timer {
        Timer::new(ms, true, f)
    }

    fn new(ms: u32, repeat: bool, mut f: impl FnMut() + 'static) -> Timer {
        let cb = callback(move |_| {
            f();
            JsValue::UNDEFINED
        });
        let w = window();
        let func = cb.as_ref().unchecked_ref();
        let ms = ms.min(i32::MAX as u32) as i32;
        let id = if repeat {
            w.set_interval_with_callback_and_timeout_and_arguments_0(func, ms)
        } else {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(func, ms)
        };
        Timer {
            id: id.unwrap_or(0),
            repeat,
            _cb: cb,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let w = window();
        if self.repeat {
            w.clear_interval_with_handle(self.id);
        } else {
            w.clear_timeout_with_handle(self.id);
        }
    }
}

/// `{ k: v, … }` as a plain JS object.
pub fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// ISO-8601 UTC text of a unix-ms instant.
pub fn iso(ms: Ms) -> String {
    js_sys::Date::new(&JsValue::from_f64(ms as f64))
        .to_iso_string()
        .into()
}

/// A random id (for tabs): 16 hex digits.
pub fn random_id() -> String {
    let mut s = String::with_capacity(16);
    for _ in 0..4 {
        let n = (js_sys::Math::random() * 65536.0) as u32;
        crate::core::text::push_hex(&mut s, n as u64, 4);
    }
    s
}

/// A new HTML element of `tag`.
pub fn html(doc: &web_sys::Document, tag: &str) -> Option<web_sys::HtmlElement> {
    doc.create_element(tag).ok()?.dyn_into().ok()
}

/// Set inline styles through the CSSOM (allowed under `style-src 'self'`).
pub fn styles(el: &web_sys::HtmlElement, pairs: &[(&str, &str)], important: bool) {
    let s = el.style();
    for (k, v) in pairs {
        let _ = s.set_property_with_priority(k, v, if important { "important" } else { "" });
    }
}

/// The SDK's one button look, used by the warning and the lock overlay.
pub fn button(doc: &web_sys::Document, label: &str) -> Option<web_sys::HtmlElement> {
    let b = html(doc, "button")?;
    let _ = b.set_attribute("type", "button");
    b.set_text_content(Some(label));
    styles(
        &b,
        &[
            ("font", "inherit"),
            ("padding", "10px 20px"),
            ("border", "0"),
            ("border-radius", "8px"),
            ("background", "#1d4ed8"),
            ("color", "#fff"),
            ("cursor", "pointer"),
        ],
        false,
    );
    Some(b)
}
