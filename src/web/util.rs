//! Small browser helpers: the clock, RAII event listeners, JS object building.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AddEventListenerOptions, Event, EventListenerOptions, EventTarget};

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

/// An event listener that removes itself when dropped (gloo's pattern).
#[must_use = "the listener is removed when this guard is dropped"]
pub struct Listener {
    target: EventTarget,
    kind: String,
    capture: bool,
    cb: Closure<dyn FnMut(Event)>,
}

impl Listener {
    pub fn new(
        target: &EventTarget,
        kind: &str,
        capture: bool,
        passive: bool,
        f: impl FnMut(Event) + 'static,
    ) -> Listener {
        let cb = Closure::<dyn FnMut(Event)>::new(f);
        let opts = AddEventListenerOptions::new();
        opts.set_capture(capture);
        opts.set_passive(passive);
        let _ = target.add_event_listener_with_callback_and_add_event_listener_options(
            kind,
            cb.as_ref().unchecked_ref(),
            &opts,
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
        let opts = EventListenerOptions::new();
        opts.set_capture(self.capture);
        let _ = self
            .target
            .remove_event_listener_with_callback_and_event_listener_options(
                &self.kind,
                self.cb.as_ref().unchecked_ref(),
                &opts,
            );
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
