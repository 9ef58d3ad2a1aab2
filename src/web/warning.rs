//! The built-in warning dialog (WCAG 2.2.1): an `alertdialog` in the top layer with a
//! countdown and a "Stay signed in" button. Dropping it removes it and gives focus back.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{HtmlDialogElement, HtmlElement};

use super::util::{button, document, html, now, Listener, Timer};
use crate::core::policy::Ms;
use crate::core::text::push_uint;

pub const WARNING_ID: &str = "autologoff-warning";

pub struct Warning {
    dialog: HtmlDialogElement,
    count: HtmlElement,
    deadline: Rc<std::cell::Cell<Ms>>,
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
        let dialog: HtmlDialogElement = doc.create_element("dialog").ok()?.dyn_into().ok()?;
        dialog.set_id(WARNING_ID);
        let _ = dialog.set_attribute("role", "alertdialog");
        let _ = dialog.set_attribute("aria-modal", "true");
        let _ = dialog.set_attribute("aria-labelledby", "autologoff-warning-title");
        let _ = dialog.set_attribute("aria-describedby", "autologoff-warning-text");
        let ds = dialog.style();
        for (k, v) in [
            ("border", "0"),
            ("border-radius", "12px"),
            ("padding", "24px 28px"),
            ("max-width", "420px"),
            ("color", "#0f172a"),
            ("background", "#fff"),
            (
                "font",
                "16px/1.5 system-ui, -apple-system, Segoe UI, sans-serif",
            ),
            ("box-shadow", "0 20px 60px rgba(0,0,0,.35)"),
            ("text-align", "center"),
        ] {
            let _ = ds.set_property(k, v);
        }
        let h = html(&doc, "h2")?;
        h.set_id("autologoff-warning-title");
        h.set_text_content(Some("Are you still there?"));
        let _ = h.style().set_property("margin", "0 0 8px");
        let p = html(&doc, "p")?;
        p.set_id("autologoff-warning-text");
        let _ = p.set_attribute("aria-live", "polite");
        let _ = p.set_attribute("aria-atomic", "true");
        let lead = doc.create_text_node("To protect patient information this session locks in ");
        let count = html(&doc, "strong")?;
        count.set_text_content(Some(&text(deadline - now())));
        let tail = doc.create_text_node(".");
        let _ = p.append_child(&lead);
        let _ = p.append_child(&count);
        let _ = p.append_child(&tail);
        let button = button(&doc, "Stay signed in")?;
        let _ = dialog.append_child(&h);
        let _ = dialog.append_child(&p);
        let _ = dialog.append_child(&button);
        let _ = root.append_child(&dialog);
        let _ = dialog.show_modal();
        let _ = button.focus();

        let dl = Rc::new(std::cell::Cell::new(deadline));
        let (dl2, count2) = (dl.clone(), count.clone());
        // UI-only countdown, alive only while the warning is shown.
        let tick = Timer::every(1000, move || {
            count2.set_text_content(Some(&text(dl2.get() - now())));
        });
        let stay = on_stay.clone();
        let stay2 = on_stay;
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
            Listener::new(&dialog, "cancel", false, false, |e| e.prevent_default()),
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
        self.dialog.close();
        self.dialog.remove();
        if let Some(f) = &self.prev_focus {
            if f.is_connected() {
                let _ = f.focus();
            }
        }
    }
}
