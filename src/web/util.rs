//! Small browser helpers: the clock, RAII event listeners, JS object building.

use crate::prelude::*;
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
        f: impl FnMut(Event) + 'static,
    ) -> Listener {
        Listener::boxed(target, kind, capture, passive, Box::new(f))
    }

    /// One body for every listener (the generic `new` only boxes its closure).
    fn boxed(
        target: &EventTarget,
        kind: &str,
        capture: bool,
        passive: bool,
        mut f: Box<dyn FnMut(Event)>,
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

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn timer(cb: &JsValue, ms: u32, repeat: bool) -> JsValue;
    fn untimer(id: &JsValue, repeat: bool);
    /// `mode` 1 refuses `dialog`'s `cancel`; 2 also swallows Escape on the window; 0 undoes both.
    pub fn keep_open(dialog: &JsValue, mode: u8);
}

/// A `setTimeout` (or `setInterval`) that is cleared when dropped.
#[must_use = "the timer is cleared when this guard is dropped"]
pub struct Timer {
    id: JsValue,
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

    fn new(ms: u32, repeat: bool, f: impl FnMut() + 'static) -> Timer {
        Timer::boxed(ms, repeat, Box::new(f))
    }

    fn boxed(ms: u32, repeat: bool, mut f: Box<dyn FnMut()>) -> Timer {
        let cb = callback(move |_| {
            f();
            JsValue::UNDEFINED
        });
        let id = timer(cb.as_ref(), ms.min(i32::MAX as u32), repeat);
        Timer {
            id,
            repeat,
            _cb: cb,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        untimer(&self.id, self.repeat);
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

/// A new HTML element of `tag` with an optional id, inline CSS (through the CSSOM,
/// allowed under `style-src 'self'`) and text.
pub fn html(
    doc: &web_sys::Document,
    tag: &str,
    id: &str,
    css: &str,
    text: Option<&str>,
) -> Option<web_sys::HtmlElement> {
    let e: web_sys::HtmlElement = doc.create_element(tag).ok()?.unchecked_into();
    if !id.is_empty() {
        e.set_id(id);
    }
    e.style().set_css_text(css);
    e.set_text_content(text);
    Some(e)
}

// `all:revert` and `!important` everywhere: no page rule can restyle the card or the button.
const CARD_CSS: &str = "all:revert!important;background:#fff!important;color:#0f172a!important;\
padding:24px 28px!important;border-radius:12px!important;max-width:420px!important;text-align:center!important;\
box-shadow:0 20px 60px rgba(0,0,0,.4)!important;font:16px/1.5 system-ui,-apple-system,Segoe UI,sans-serif!important";
const BUTTON_CSS: &str = "all:revert!important;font:inherit!important;padding:10px 20px!important;border:0!important;\
border-radius:8px!important;background:#1d4ed8!important;color:#fff!important;cursor:pointer!important";

/// One of the SDK's two dialogs (warning, lock): an `alertdialog` labelled by its heading and
/// described by its text, holding a card with the heading, the text and one button.
pub struct Dialog {
    pub dialog: web_sys::HtmlDialogElement,
    pub text: web_sys::HtmlElement,
    pub button: web_sys::HtmlElement,
}

pub fn dialog(id: &str, css: &str, title: &str, text: &str, label: &str) -> Option<Dialog> {
    let doc = document();
    let d = html(&doc, "dialog", id, css, None)?;
    let (tid, xid) = (
        crate::core::text::cat(&[id, "-title"]),
        crate::core::text::cat(&[id, "-text"]),
    );
    for (k, v) in [
        ("role", "alertdialog"),
        ("aria-modal", "true"),
        ("aria-labelledby", &tid),
        ("aria-describedby", &xid),
    ] {
        let _ = d.set_attribute(k, v);
    }
    let card = html(&doc, "div", "", CARD_CSS, None)?;
    let h = html(
        &doc,
        "h2",
        &tid,
        "margin:0 0 8px;font-size:1.4em",
        Some(title),
    )?;
    let p = html(&doc, "p", &xid, "", Some(text))?;
    let b = html(&doc, "button", "", BUTTON_CSS, Some(label))?;
    let _ = b.set_attribute("type", "button");
    for c in [&h, &p, &b] {
        let _ = card.append_child(c);
    }
    let _ = d.append_child(&card);
    Some(Dialog {
        dialog: d.unchecked_into(),
        text: p,
        button: b,
    })
}
