//! The DOM lock: blur or hide the target, make the page inert, open the top-layer overlay,
//! replace the title. Every change is recorded and undone exactly (focus-trap's pattern);
//! applying twice is applying once; a MutationObserver re-applies anything removed while
//! locked and reports it as tampering.

use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlDialogElement, HtmlElement, MutationObserver};

use super::util::{callback, dialog, document, keep_open, obj, Callback, Dialog, Listener};
use crate::core::config::{LockCfg, LockMode};

pub const OVERLAY_ID: &str = "autologoff-overlay";
const BLUR: &str = "blur(24px)";
const LOCKED_TEXT: &str =
    "Your session was locked to protect patient information. Sign in again to continue.";
/// The overlay fills the viewport (in the top layer). `all:initial` and `!important`: no page
/// rule can restyle it, and it inherits nothing from the page (visibility, pointer-events,
/// text-indent…); every other property has its initial value (visible, no margin or border).
const OVERLAY_CSS: &str = "all:initial!important;position:fixed!important;inset:0!important;width:100vw!important;\
height:100vh!important;display:flex!important;align-items:center!important;justify-content:center!important;\
background:rgba(15,23,42,.88)!important";

/// Attributes of one element as they were before the lock.
struct Saved {
    el: Element,
    inert: Option<String>,
    aria_hidden: Option<String>,
}

struct Covered {
    target: HtmlElement,
    prop: &'static str,
    value: &'static str,
    prev_value: String,
    prev_priority: String,
    had_style_attr: bool,
    saved: Vec<Saved>,
    prev_title: String,
    overlay: Option<Overlay>,
    _observer: Option<Observer>,
}

struct Overlay {
    dialog: HtmlDialogElement,
    /// Its elements as built, for `heal_overlay` (glue.js).
    saved: JsValue,
    _listeners: Vec<Listener>,
}

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn overlay_state(dialog: &HtmlDialogElement, button: &HtmlElement) -> JsValue;
    fn heal_overlay(saved: &JsValue) -> bool;
    fn release_overlay(saved: &JsValue);
}

struct Observer {
    mo: MutationObserver,
    _cb: Callback,
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.mo.disconnect();
    }
}

pub struct DomLock {
    cfg: LockCfg,
    on_signin: Rc<dyn Fn()>,
    on_tamper: Rc<dyn Fn()>,
    covered: Option<Covered>,
    /// Locked before the parser reached `<body>` (init from a `<head>` script, the origin
    /// already locked): covers when `<body>` is inserted, before it can be painted.
    waiting: Option<Observer>,
    me: Weak<RefCell<DomLock>>,
}

impl DomLock {
    pub fn new(
        cfg: LockCfg,
        on_signin: Rc<dyn Fn()>,
        on_tamper: Rc<dyn Fn()>,
    ) -> Rc<RefCell<DomLock>> {
        Rc::new_cyclic(|me| {
            RefCell::new(DomLock {
                cfg,
                on_signin,
                on_tamper,
                covered: None,
                waiting: None,
                me: me.clone(),
            })
        })
    }

    /// Cover the page (idempotent: a second call only repairs).
    pub fn apply(&mut self) {
        if self.covered.is_some() {
            self.heal();
            return;
        }
        let doc = document();
        let Some(body) = doc.body() else {
            if self.waiting.is_none() {
                // Mutation callbacks run before the parser's task ends, so before a paint.
                self.waiting = self.watch(&obj(&[("childList", true.into())]), |me| {
                    if let Ok(mut l) = me.try_borrow_mut() {
                        if document().body().is_some() {
                            l.apply();
                        }
                    }
                });
            }
            return;
        };
        self.waiting = None; // covered from here on: the tamper observer takes over
        let target = self.find_target(&body);
        let (prop, value) = match self.cfg.mode {
            LockMode::Blur => ("filter", BLUR),
            LockMode::Hide => ("visibility", "hidden"),
        };
        let style = target.style();
        let prev_value = style.get_property_value(prop).unwrap_or_default();
        let prev_priority = style.get_property_priority(prop);
        let had_style_attr = target.has_attribute("style");
        let _ = style.set_property_with_priority(prop, value, "important");

        let mut silence: Vec<Element> = Vec::new();
        if self.cfg.overlay {
            silence.push(body.clone().into());
        }
        if !silence.iter().any(|e| e == target.as_ref() as &Element) {
            silence.push(target.clone().into());
        }
        let saved = silence
            .into_iter()
            .map(|el| {
                let s = Saved {
                    inert: el.get_attribute("inert"),
                    aria_hidden: el.get_attribute("aria-hidden"),
                    el,
                };
                let _ = s.el.set_attribute("inert", "");
                let _ = s.el.set_attribute("aria-hidden", "true");
                s
            })
            .collect();

        let overlay = if self.cfg.overlay {
            self.build_overlay()
        } else {
            None
        };
        let prev_title = doc.title();
        doc.set_title(&self.cfg.title);

        self.covered = Some(Covered {
            target,
            prop,
            value,
            prev_value,
            prev_priority,
            had_style_attr,
            saved,
            prev_title,
            overlay,
            _observer: None,
        });
        let observer = self.observe();
        if let Some(c) = self.covered.as_mut() {
            c._observer = observer;
        }
    }

    /// Uncover the page and restore every attribute, style and the title exactly.
    pub fn release(&mut self) {
        self.waiting = None;
        let Some(c) = self.covered.take() else { return };
        drop(c._observer);
        if let Some(o) = c.overlay {
            keep_open(&o.dialog, 0);
            o.dialog.close();
            o.dialog.remove();
            release_overlay(&o.saved);
        }
        let doc = document();
        doc.set_title(&c.prev_title);
        for s in c.saved.iter().rev() {
            restore_attr(&s.el, "inert", &s.inert);
            restore_attr(&s.el, "aria-hidden", &s.aria_hidden);
        }
        let style = c.target.style();
        if c.prev_value.is_empty() {
            let _ = style.remove_property(c.prop);
        } else {
            let _ = style.set_property_with_priority(c.prop, &c.prev_value, &c.prev_priority);
        }
        if !c.had_style_attr
            && c.target
                .get_attribute("style")
                .is_some_and(|s| s.trim_ascii().is_empty())
        {
            let _ = c.target.remove_attribute("style");
        }
    }

    /// Re-apply whatever was undone while locked. Returns true when something was.
    pub fn heal(&mut self) -> bool {
        let Some(c) = self.covered.as_mut() else {
            return false;
        };
        let mut fixed = false;
        let style = c.target.style();
        if style.get_property_value(c.prop).unwrap_or_default() != c.value
            || style.get_property_priority(c.prop) != "important"
        {
            let _ = style.set_property_with_priority(c.prop, c.value, "important");
            fixed = true;
        }
        for s in &c.saved {
            if !s.el.has_attribute("inert") {
                let _ = s.el.set_attribute("inert", "");
                fixed = true;
            }
            if s.el.get_attribute("aria-hidden").as_deref() != Some("true") {
                let _ = s.el.set_attribute("aria-hidden", "true");
                fixed = true;
            }
        }
        if let Some(o) = &c.overlay {
            // Hidden, moved, restyled (inline, class, stylesheet), covered or closed.
            fixed |= heal_overlay(&o.saved);
        }
        let doc = document();
        if doc.title() != self.cfg.title {
            doc.set_title(&self.cfg.title);
            fixed = true;
        }
        fixed
    }

    fn find_target(&self, body: &HtmlElement) -> HtmlElement {
        if self.cfg.target == "body" {
            return body.clone();
        }
        document()
            .query_selector(&self.cfg.target)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok())
            .unwrap_or_else(|| body.clone())
    }

    fn build_overlay(&self) -> Option<Overlay> {
        let root = document().document_element()?;
        let Dialog { dialog, button, .. } = dialog(
            OVERLAY_ID,
            OVERLAY_CSS,
            &self.cfg.title,
            LOCKED_TEXT,
            "Sign in again",
        )?;
        let _ = root.append_child(&dialog);
        let _ = dialog.show_modal();
        let _ = button.focus();
        // Escape must not dismiss the lock (nor read as tampering once it would have).
        keep_open(&dialog, 2);

        let signin = self.on_signin.clone();
        // (A `close` by script removes `open`: the tamper observer re-opens it.)
        let listeners = vec![
            Listener::new(&button, "click", false, false, move |_| signin()),
        ];
        Some(Overlay {
            saved: overlay_state(&dialog, &button),
            dialog,
            _listeners: listeners,
        })
    }

    /// A MutationObserver on `<html>` (options `init`) calling `f` with this lock.
    fn watch(&self, init: &JsValue, f: fn(&Rc<RefCell<DomLock>>)) -> Option<Observer> {
        let me = self.me.clone();
        let cb = callback(move |_records| {
            if let Some(me) = me.upgrade() {
                f(&me);
            }
            JsValue::UNDEFINED
        });
        let mo = MutationObserver::new(cb.as_ref().unchecked_ref()).ok()?;
        let root = document().document_element()?;
        mo.observe_with_options(&root, init.unchecked_ref()).ok()?;
        Some(Observer { mo, _cb: cb })
    }

    fn observe(&self) -> Option<Observer> {
        let filter = js_sys::Array::new();
        for a in [
            "style",
            "inert",
            "aria-hidden",
            "open",
            "class",
            "hidden",
            "disabled",
        ] {
            filter.push(&JsValue::from_str(a));
        }
        let init = obj(&[
            ("subtree", true.into()),
            ("childList", true.into()),
            ("attributes", true.into()),
            ("characterData", true.into()),
            ("attributeFilter", filter.into()),
        ]);
        self.watch(&init, heal_and_report)
    }
}

fn heal_and_report(me: &Rc<RefCell<DomLock>>) {
    let (fixed, report) = match me.try_borrow_mut() {
        Ok(mut l) => (l.heal(), l.on_tamper.clone()),
        Err(_) => return,
    };
    if fixed {
        report();
    }
}

impl Drop for DomLock {
    fn drop(&mut self) {
        self.release();
    }
}

fn restore_attr(el: &Element, name: &str, prev: &Option<String>) {
    match prev {
        Some(v) => {
            let _ = el.set_attribute(name, v);
        }
        None => {
            let _ = el.remove_attribute(name);
        }
    }
}
