//! Browser events: trusted input (throttled before the core), the wake-ups that re-check
//! the clock (visibility, focus, resume), and pagehide / pageshow for the bfcache.

use crate::prelude::*;

use wasm_bindgen::JsCast;
use web_sys::{Event, KeyboardEvent, PageTransitionEvent};

use super::crosstab::stored_state;
use super::session::Session;
use super::util::{document, now, window, Listener};
use crate::core::policy::{Ms, State};

const INPUT_FORWARD_EVERY: Ms = 1_000;

impl Session {
    fn on_input(&self, e: &Event) {
        let t = now();
        if self.warning_shown.get() && self.is_warning_control(e) {
            return;
        }
        self.last_input.set(t);
        if t - self.forwarded.get() >= INPUT_FORWARD_EVERY || self.warning_shown.get() {
            if self.pumping.get() {
                // Caused by our own DOM work (focus moves) inside a pump: not the user's.
                self.forwarded.set(t);
                return;
            }
            self.forward_input(t, t);
            self.pump();
        }
    }

    /// Presses inside the warning dialog act through its own button (no click-through).
    fn is_warning_control(&self, e: &Event) -> bool {
        let ty = e.type_();
        let pressing = matches!(
            ty.as_str(),
            "pointerdown" | "mousedown" | "touchstart" | "pointerup" | "click"
        ) || (ty == "keydown"
            && e.dyn_ref::<KeyboardEvent>()
                .is_some_and(|k| matches!(k.key().as_str(), "Enter" | " ")));
        if !pressing {
            return false;
        }
        let node = e.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok());
        self.warning
            .borrow()
            .as_ref()
            .is_some_and(|w| w.contains(node.as_ref()))
    }

    pub(super) fn install_listeners(&self) {
        let win = window();
        let doc = document();
        let mut ls = Vec::new();
        for kind in &self.cfg.activity_events {
            let me = self.me.clone();
            ls.push(Listener::new(&win, kind, true, true, move |e: Event| {
                if !e.is_trusted() {
                    return;
                }
                if let Some(s) = me.upgrade() {
                    s.on_input(&e);
                }
            }));
        }
        // Time may have jumped (sleep, throttled or hidden tab): re-check at once.
        let targets: [(&web_sys::EventTarget, &str); 3] = [
            (&doc, "visibilitychange"),
            (&win, "focus"),
            (&doc, "resume"),
        ];
        for (target, kind) in targets {
            let me = self.me.clone();
            ls.push(Listener::new(target, kind, true, true, move |_e| {
                if let Some(s) = me.upgrade() {
                    s.on_wake();
                }
            }));
        }
        let me = self.me.clone();
        ls.push(Listener::new(&win, "pagehide", true, true, move |_e| {
            if let Some(s) = me.upgrade() {
                s.on_pagehide();
            }
        }));
        let me = self.me.clone();
        ls.push(Listener::new(
            &win,
            "pageshow",
            true,
            true,
            move |e: Event| {
                let persisted = e
                    .dyn_ref::<PageTransitionEvent>()
                    .is_some_and(|p| p.persisted());
                if let Some(s) = me.upgrade() {
                    s.on_pageshow(persisted);
                }
            },
        ));
        *self.listeners.borrow_mut() = ls;
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
