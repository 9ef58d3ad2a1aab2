//! Browser events: trusted input (throttled before the core), the wake-ups that re-check
//! the clock (visibility, focus, resume), and pagehide / pageshow for the bfcache.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Event;

use super::crosstab::stored_state;
use super::session::Session;
use super::util::{callback, kind, now, num, Callback, Installed, Kind};
use crate::core::policy::{Ms, State};
use core::cell::{Cell, RefCell};

const INPUT_FORWARD_EVERY: Ms = 1_000;

#[wasm_bindgen(module = "/src/web/glue.js")]
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

/// The trusted-input listener (glue.js `watch_input`): JS notes each input's time and calls
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

    fn install(&self, w: InputWatch, warning: bool) {
        *self.watch.borrow_mut() = Some(w);
        self.told.set(0);
        self.sync(warning);
    }

    /// Remove the listener (what it noted stays readable: a session's hand-over reads it).
    pub fn remove(&self) {
        self.watch.borrow_mut().take();
    }
}

impl Session {
    fn on_input(&self, e: &Event) {
        let t = now();
        let warning = self.warning_shown.get();
        if warning && self.is_warning_control(e) {
            return;
        }
        if self.input.note(t, warning) {
            if self.pumping.get() {
                // Caused by our own DOM work (focus moves) inside a pump: not the user's.
                self.input.heard(t, false, warning);
                return;
            }
            self.forward_input(t, t);
            self.pump();
        }
    }

    /// Presses inside the warning dialog act through its own button (no click-through).
    fn is_warning_control(&self, e: &Event) -> bool {
        let node = press_target(e);
        if kind(&node) == Kind::Null {
            return false;
        }
        self.warning
            .borrow()
            .as_ref()
            .is_some_and(|w| w.contains(&node))
    }

    pub(super) fn install_listeners(&self) {
        let kinds = js_sys::Array::new();
        for kind in &self.cfg.activity_events {
            kinds.push(&JsValue::from_str(kind));
        }
        let me = self.me.clone();
        // Only trusted input reaches here (checked in JS).
        let cb = callback(move |e| {
            if let Some(s) = me.upgrade() {
                s.on_input(e.unchecked_ref());
            }
            JsValue::UNDEFINED
        });
        self.input.install(
            InputWatch {
                w: watch_input(&kinds, cb.as_ref()),
                _cb: cb,
            },
            self.warning_shown.get(),
        );
        // One callback for the page's lifecycle (glue.js `lifecycle`).
        let me = self.me.clone();
        let cb = callback(move |n| {
            if let Some(s) = me.upgrade() {
                match num(&n) as u32 {
                    // Time may have jumped (sleep, throttled or hidden tab): re-check at once.
                    0 => s.on_wake(),
                    1 => s.on_pagehide(),
                    n => s.on_pageshow(n == 3),
                }
            }
            JsValue::UNDEFINED
        });
        *self.listeners.borrow_mut() = Some(Installed::new(lifecycle(cb.as_ref()), cb));
    }

    /// Leaving the page (maybe into the back/forward cache): cover it, save, deliver.
    fn on_pagehide(&self) {
        if self.destroyed.get() {
            return;
        }
        self.dom.borrow_mut().apply();
        self.hand_over();
        self.audit.borrow_mut().persist();
        if self.audit.borrow().delivers() {
            self.flush_audit(true);
        }
        // Holding a Web Lock can keep a page out of the bfcache: let go while hidden.
        if self.leader.borrow_mut().take().is_some() {
            self.policy.borrow_mut().set_leader(false, now());
        }
    }

    /// Back from the bfcache: re-check first, uncover only a live session.
    fn on_pageshow(&self, persisted: bool) {
        if self.destroyed.get() || !persisted {
            return;
        }
        let t = now();
        if self.cfg.cross_tab {
            if let Some(sh) = stored_state() {
                self.policy.borrow_mut().handle_remote(sh, t);
            }
        }
        self.flush_input(t);
        self.policy.borrow_mut().handle_wake(t);
        self.pump();
        if self.state() != State::Locked {
            self.dom.borrow_mut().release();
        }
        // `pagehide` let go of the Web Lock (and a pending request for it): ask again. A
        // session with no need of one (no `server`, no Web Locks) leads from the start.
        if !self.policy.borrow().is_leader() {
            self.request_leadership();
        }
    }
}
