//! The built-in warning dialog (WCAG 2.2.1): an `alertdialog` in the top layer with a
//! countdown and a "Stay signed in" button. Dropping it removes it and gives focus back.

use crate::prelude::*;
use alloc::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{HtmlDialogElement, HtmlElement};

use super::util::{dialog, document, html, keep_open, now, Dialog, Listener, Timer};
use crate::core::policy::Ms;
use crate::core::text::push_uint;

pub const WARNING_ID: &str = "autologoff-warning";

pub struct Warning {
    dialog: HtmlDialogElement,
    count: HtmlElement,
    deadline: Rc<::core::cell::Cell<Ms>>,
    prev_focus: Option<HtmlElement>,
    _tick: Timer,
    _listeners: Vec<Listener>,
}

fn text(ms: Ms) -> String {
    let s = (ms.max(0) + 999) / 1000;
    let mut t = String::new();
    if s >= 60 {
        push_uint(&mut t, (s / 60) as u64, 1);
        t.push(':');
        push_uint(&mut t, (s % 60) as u64, 2);
    } else {
        push_uint(&mut t, s as u64, 1);
        t.push_str(" seconds");
    }
    t
}

impl Warning {
    pub fn show(deadline: Ms, on_stay: Rc<dyn Fn()>) -> Option<Warning> {
        let doc = document();
        let root = doc.document_element()?;
        let prev_focus = doc
            .active_element()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        let Dialog {
            dialog,
            text: p,
            button,
        } = dialog(
            WARNING_ID,
            "border:0;padding:0;background:transparent",
            "Are you still there?",
            "To protect patient information this session locks in ",
            "Stay signed in",
        )?;
        let _ = p.set_attribute("aria-live", "polite");
        let _ = p.set_attribute("aria-atomic", "true");
        let count = html(&doc, "strong", "", "", Some(&text(deadline - now())))?;
        let _ = p.append_child(&count);
        let _ = p.append_with_str_1(".");
        let _ = root.append_child(&dialog);
        let _ = dialog.show_modal();
        let _ = button.focus();

        let dl = Rc::new(::core::cell::Cell::new(deadline));
        let (dl2, count2) = (dl.clone(), count.clone());
        // UI-only countdown, alive only while the warning is shown.
        let tick = Timer::every(1000, move || {
            count2.set_text_content(Some(&text(dl2.get() - now())));
        });
        let stay = on_stay.clone();
        let stay2 = on_stay;
        keep_open(&dialog, 1);
        let listeners = vec![
            Listener::new(&button, "click", false, false, move |_| stay()),
            // A click on the backdrop (the dialog itself) or Escape also means "stay".
            Listener::new(&dialog, "click", false, false, {
                let d = dialog.clone();
                move |e| {
                    if e.target().as_ref() == Some(d.as_ref()) {
                        stay2();
                    }
                }
            }),
        ];
        Some(Warning {
            dialog,
            count,
            deadline: dl,
            prev_focus,
            _tick: tick,
            _listeners: listeners,
        })
    }

    pub fn update(&self, deadline: Ms) {
        self.deadline.set(deadline);
        self.count.set_text_content(Some(&text(deadline - now())));
    }

    /// Whether an event target lies inside this dialog.
    pub fn contains(&self, node: Option<&web_sys::Node>) -> bool {
        self.dialog.contains(node)
    }
}

impl Drop for Warning {
    fn drop(&mut self) {
        keep_open(&self.dialog, 0);
        self.dialog.close();
        self.dialog.remove();
        if let Some(f) = &self.prev_focus {
            if f.is_connected() {
                let _ = f.focus();
            }
        }
    }
}
