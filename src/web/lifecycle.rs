//! Browser events: trusted input (throttled before the core), the wake-ups that re-check
//! the clock (visibility, focus, resume), and pagehide / pageshow for the bfcache.

use crate::prelude::*;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Event;

use super::codes;
use super::util::{callback, kind, num, Callback, Installed, Kind};
use crate::core::policy::Ms;
use core::cell::{Cell, RefCell};

const INPUT_FORWARD_EVERY: Ms = 1_000;

#[wasm_bindgen(module = "/src/web/glue/lifecycle.js")]
extern "C" {
    fn watch_input(kinds: &js_sys::Array, cb: &JsValue) -> JsValue;
    fn input_sync(w: &JsValue, next: f64, all: &JsValue);
    fn input_last(w: &JsValue) -> f64;
    fn input_off(w: &JsValue);
    /// The pressed node, or null.
    fn press_target(e: &Event) -> JsValue;
    /// The lifecycle listeners, calling `cb(n)`: 0 wake, 1 pagehide, 2 pageshow, 3 pageshow
    /// from the bfcache; returns their removal.
    fn lifecycle(cb: &JsValue) -> js_sys::Function;
}

/// The trusted-input listener (glue/lifecycle.js `watch_input`): JS notes each input's time and calls
/// into the wasm only when the core must hear. Removed when dropped.
#[must_use = "the listener is removed when this guard is dropped"]
pub struct InputWatch {
    w: JsValue,
    _cb: Callback,
}

impl Drop for InputWatch {
    fn drop(&mut self) {
        input_off(&self.w);
    }
}

/// The trusted-input edge and its own state: the listener (JS notes every input and calls in
/// only when the core must hear), the newest input it called in for, and the last one handed
/// to the core (the throttle's mark).
#[derive(Default)]
pub struct Input {
    watch: RefCell<Option<InputWatch>>,
    last: Cell<Ms>,
    forwarded: Cell<Ms>,
    /// What the JS listener was last told (`sync`): when to call in next, or `Ms::MIN` for
    /// every input (the warning); 0 = nothing yet.
    told: Cell<Ms>,
    /// Inputs handed to the core (diagnostics: about once a second however many arrive).
    count: Cell<u32>,
}

impl Input {
    /// The newest trusted input, wherever it was noted (JS keeps the throttled ones).
    pub fn newest(&self) -> Ms {
        let js = self
            .watch
            .borrow()
            .as_ref()
            .map_or(0.0, |w| input_last(&w.w));
        self.last.get().max(js as Ms)
    }

    /// An input the listener called in for: true when the core must hear it now (a second
    /// after the last it heard, or any while the warning is shown).
    pub fn note(&self, t: Ms, warning: bool) -> bool {
        self.last.set(t);
        warning || t - self.forwarded.get() >= INPUT_FORWARD_EVERY
    }

    /// The newest input the core has not heard of, if any.
    pub fn unheard(&self) -> Option<Ms> {
        let last = self.newest();
        (last > self.forwarded.get()).then_some(last)
    }

    /// The core heard of input up to `at` (`counted`: from this edge, not absorbed as the
    /// session's own DOM work); the listener is told when it next needs to call in.
    pub fn heard(&self, at: Ms, counted: bool, warning: bool) {
        self.forwarded.set(at);
        self.count.set(self.count.get() + counted as u32);
        self.sync(warning);
    }

    pub fn count(&self) -> u32 {
        self.count.get()
    }

    /// Tell the JS listener when the core next needs to hear: a second after the last
    /// input it heard, or at every input while the warning is shown. Only a change crosses
    /// into JS (a forwarded input is heard, then its pump syncs again).
    pub fn sync(&self, warning: bool) {
        let next = self.forwarded.get() + INPUT_FORWARD_EVERY;
        let tell = if warning { Ms::MIN } else { next };
        if self.told.get() == tell {
            return;
        }
        if let Some(w) = self.watch.borrow().as_ref() {
            self.told.set(tell);
            input_sync(&w.w, next as f64, &JsValue::from_bool(warning));
        }
    }

    /// Listen for trusted input of `kinds` (checked in JS): `on_input` gets the events
    /// the core must hear (see [`Input::sync`]), the rest are only noted.
    pub fn listen(&self, kinds: &[String], on_input: impl Fn(&Event) + 'static, warning: bool) {
        let list = js_sys::Array::new();
        for k in kinds {
            list.push(&JsValue::from_str(k));
        }
        let cb = callback(move |e| {
            on_input(e.unchecked_ref());
            JsValue::UNDEFINED
        });
        *self.watch.borrow_mut() = Some(InputWatch {
            w: watch_input(&list, cb.as_ref()),
            _cb: cb,
        });
        self.told.set(0);
        self.sync(warning);
    }

    /// Remove the listener (what it noted stays readable: a session's hand-over reads it).
    pub fn remove(&self) {
        self.watch.borrow_mut().take();
    }
}

/// The pressed node of a pointer or key event, if any (the warning dialog's own presses).
pub fn pressed(e: &Event) -> Option<JsValue> {
    let node = press_target(e);
    (kind(&node) != Kind::Null).then_some(node)
}

/// What the page's lifecycle says.
#[derive(Clone, Copy)]
pub enum Page {
    /// Time may have jumped (sleep, a throttled or hidden tab, focus, visibility): re-check.
    Wake,
    /// Leaving the page, maybe into the back/forward cache.
    Hide,
    /// Shown; `persisted`: back from the back/forward cache.
    Show { persisted: bool },
}

/// The page's lifecycle listeners (glue/lifecycle.js `lifecycle`), removed when the guard is dropped.
pub fn watch_page(on: impl Fn(Page) + 'static) -> Installed {
    let cb = callback(move |n| {
        on(match num(&n) as i32 {
            codes::PAGE_WAKE => Page::Wake,
            codes::PAGE_HIDE => Page::Hide,
            n => Page::Show {
                persisted: n == codes::PAGE_RESTORED,
            },
        });
        JsValue::UNDEFINED
    });
    Installed::new(lifecycle(cb.as_ref()), cb)
}
