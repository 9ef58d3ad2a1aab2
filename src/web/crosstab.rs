//! Every tab of the origin agrees: the shared state in localStorage and a BroadcastChannel,
//! and the one leader tab (a Web Lock) that speaks to the server.

use alloc::rc::Rc;
use core::cell::RefCell;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent, StorageEvent};

use super::session::Session;
use super::storage;
use super::util::{callback, now, obj, window, Callback, Listener};
use crate::core::policy::Shared;

const STATE_KEY: &str = "autologoff:state";
const CHANNEL: &str = "autologoff";
const LEADER_LOCK: &str = "autologoff:leader";

/// The BroadcastChannel, closed when dropped.
pub(super) struct Channel {
    bc: BroadcastChannel,
    _on_message: Listener,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.bc.close();
    }
}

/// The Web Lock that makes this tab the one that talks to the server; released on drop.
pub(super) struct Leader {
    release: Rc<RefCell<Option<Function>>>,
    abort: web_sys::AbortController,
    _granted: Callback,
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.abort.abort();
        if let Some(f) = self.release.borrow_mut().take() {
            let _ = f.call0(&JsValue::NULL);
        }
    }
}

/// The state the origin's tabs last published (timestamps and states only).
pub(super) fn stored_state() -> Option<Shared> {
    storage::get(STATE_KEY).and_then(|s| Shared::decode(&s))
}

impl Session {
    pub(super) fn share(&self) {
        if !self.cfg.cross_tab {
            return;
        }
        let text = self.policy.borrow().shared().encode();
        storage::set(STATE_KEY, &text);
        if let Some(c) = self.channel.borrow().as_ref() {
            let _ = c.bc.post_message(&JsValue::from_str(&text));
        }
    }

    fn on_remote(&self, text: &str) {
        if self.destroyed.get() {
            return;
        }
        if let Some(sh) = Shared::decode(text) {
            let t = now();
            self.flush_input(t);
            self.policy.borrow_mut().handle_remote(sh, t);
            self.pump();
        }
    }

    pub(super) fn install_channel(&self) {
        if let Ok(bc) = BroadcastChannel::new(CHANNEL) {
            let me = self.me.clone();
            let on_message = Listener::new(&bc, "message", false, true, move |e| {
                let e: &MessageEvent = e.unchecked_ref();
                if let (Some(s), Some(text)) = (me.upgrade(), e.data().as_string()) {
                    s.on_remote(&text);
                }
            });
            *self.channel.borrow_mut() = Some(Channel {
                bc,
                _on_message: on_message,
            });
        } else {
            // Fallback: the `storage` event carries the same text between tabs.
            let me = self.me.clone();
            self.listeners.borrow_mut().push(Listener::new(
                &window(),
                "storage",
                false,
                true,
                move |e| {
                    let Some(s) = me.upgrade() else { return };
                    if let Ok(se) = e.dyn_into::<StorageEvent>() {
                        if se.key().as_deref() == Some(STATE_KEY) {
                            if let Some(v) = se.new_value() {
                                s.on_remote(&v);
                            }
                        }
                    }
                },
            ));
        }
    }

    pub(super) fn request_leadership(&self) {
        let nav = window().navigator();
        let Ok(locks) = js_sys::Reflect::get(&nav, &"locks".into()) else {
            return;
        };
        let Ok(request) =
            js_sys::Reflect::get(&locks, &"request".into()).and_then(|f| f.dyn_into::<Function>())
        else {
            return; // no Web Locks: every tab leads
        };
        self.policy.borrow_mut().set_leader(false, now());
        let release: Rc<RefCell<Option<Function>>> = Rc::new(RefCell::new(None));
        let (me, rel) = (self.me.clone(), release.clone());
        let granted = callback(move |_lock| {
            let mut resolve_slot = None;
            let held = Promise::new(&mut |resolve, _| resolve_slot = Some(resolve));
            *rel.borrow_mut() = resolve_slot;
            if let Some(s) = me.upgrade() {
                if !s.destroyed.get() {
                    s.policy.borrow_mut().set_leader(true, now());
                    s.pump();
                }
            }
            held.into()
        });
        let Ok(abort) = web_sys::AbortController::new() else {
            return;
        };
        let opts = obj(&[("signal", abort.signal().into())]);
        let p = request.call3(
            &locks,
            &JsValue::from_str(LEADER_LOCK),
            &opts,
            granted.as_ref(),
        );
        // An aborted request rejects: that is expected on destroy and pagehide.
        if let Ok(p) = p {
            let noop = callback(|_| JsValue::UNDEFINED);
            if let Ok(catch) = js_sys::Reflect::get(&p, &"catch".into()) {
                let _ = catch.unchecked_into::<Function>().call1(&p, noop.as_ref());
            }
            noop.forget(); // a few bytes, once per leadership request
        }
        *self.leader.borrow_mut() = Some(Leader {
            release,
            abort,
            _granted: granted,
        });
    }
}
