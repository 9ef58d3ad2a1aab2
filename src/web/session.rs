//! The browser edge of one session: feeds events into the core policy, carries out its
//! actions, and owns every guard (listeners, the one timer, patches, the DOM lock, the
//! channel, the leader lock). `destroy()` is dropping them.

use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::{Cell, RefCell};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    BroadcastChannel, Event, KeyboardEvent, MessageEvent, PageTransitionEvent, StorageEvent,
};

use super::audit::AuditLog;
use super::lock::DomLock;
use super::net;
use super::storage;
use super::util::{callback, document, now, obj, window, Callback, Listener, Timer};
use super::warning::Warning;
use crate::core::config::Config;
use crate::core::policy::{
    Action, AuditKind, Ms, Policy, Reason, ServerAnswer, Shared, Source, State, Timing,
};

const STATE_KEY: &str = "autologoff:state";
const CHANNEL: &str = "autologoff";
const LEADER_LOCK: &str = "autologoff:leader";
/// A request counts as the user's when it starts this soon after trusted input.
const USER_REQUEST_WINDOW: Ms = 1_000;
const INPUT_FORWARD_EVERY: Ms = 1_000;

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn patch_requests(start: &Function, end: &Function, header: &str) -> Function;
}

/// Restores fetch and XMLHttpRequest when dropped.
struct RequestPatch {
    undo: Function,
    _start: Callback,
    _end: Callback,
}

impl Drop for RequestPatch {
    fn drop(&mut self) {
        let _ = self.undo.call0(&JsValue::NULL);
    }
}

/// The BroadcastChannel, closed when dropped.
struct Channel {
    bc: BroadcastChannel,
    _on_message: Listener,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.bc.close();
    }
}

/// The Web Lock that makes this tab the one that talks to the server; released on drop.
struct Leader {
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

pub struct Session {
    cfg: Config,
    emit: Function,
    me: Weak<Session>,
    policy: RefCell<Policy>,
    dom: Rc<RefCell<DomLock>>,
    warning: RefCell<Option<Warning>>,
    timer: RefCell<Option<Timer>>,
    timer_at: Cell<Option<Ms>>,
    last_input: Cell<Ms>,
    forwarded: Cell<Ms>,
    /// Trusted input handed to the core (throttled to about once a second).
    pub core_inputs: Cell<u32>,
    warning_shown: Cell<bool>,
    listeners: RefCell<Vec<Listener>>,
    requests: RefCell<Option<RequestPatch>>,
    channel: RefCell<Option<Channel>>,
    leader: RefCell<Option<Leader>>,
    audit: RefCell<AuditLog>,
    events: RefCell<Vec<(&'static str, JsValue)>>,
    pumping: Cell<bool>,
    pending_purge_audit: Cell<bool>,
    defer_events: Cell<bool>,
    destroyed: Cell<bool>,
}

impl Session {
    pub fn start(cfg: Config, emit: Function) -> Rc<Session> {
        let t0 = now();
        let shared = if cfg.cross_tab {
            storage::get(STATE_KEY).and_then(|s| Shared::decode(&s))
        } else {
            None
        };
        let timing = Timing {
            idle: cfg.idle_timeout_ms as Ms,
            warn: cfg.warn_before_ms as Ms,
            absolute: cfg.absolute_timeout_ms.map(|a| a as Ms),
            server: cfg
                .server
                .as_ref()
                .map(|s| (s.poll_interval_ms as Ms, s.keepalive_interval_ms as Ms)),
        };
        let mut policy = Policy::new(timing, t0, shared);
        let use_locks = cfg.cross_tab && has_web_locks();
        if use_locks {
            policy.set_leader(false, t0);
        }
        let audit = AuditLog::new(cfg.audit.as_ref().map(|a| a.url.clone()));

        let s = Rc::new_cyclic(|me: &Weak<Session>| {
            let (m1, m2) = (me.clone(), me.clone());
            let on_signin: Rc<dyn Fn()> = Rc::new(move || {
                if let Some(s) = m1.upgrade() {
                    s.queue("signin", obj(&[]));
                    s.dispatch();
                }
            });
            let on_tamper: Rc<dyn Fn()> = Rc::new(move || {
                if let Some(s) = m2.upgrade() {
                    s.record(AuditKind::Tamper, None);
                    s.dispatch();
                }
            });
            Session {
                dom: DomLock::new(cfg.lock.clone(), on_signin, on_tamper),
                cfg,
                emit,
                me: me.clone(),
                policy: RefCell::new(policy),
                warning: RefCell::new(None),
                timer: RefCell::new(None),
                timer_at: Cell::new(None),
                last_input: Cell::new(0),
                forwarded: Cell::new(0),
                core_inputs: Cell::new(0),
                warning_shown: Cell::new(false),
                listeners: RefCell::new(Vec::new()),
                requests: RefCell::new(None),
                channel: RefCell::new(None),
                leader: RefCell::new(None),
                audit: RefCell::new(audit),
                events: RefCell::new(Vec::new()),
                pumping: Cell::new(false),
                pending_purge_audit: Cell::new(false),
                defer_events: Cell::new(true),
                destroyed: Cell::new(false),
            }
        });
        s.install_listeners();
        if s.cfg.requests.track {
            s.install_request_patch();
        }
        if s.cfg.cross_tab {
            s.install_channel();
            if use_locks {
                s.request_leadership();
            }
        }
        // Lock at once (same task) when the origin is already past its deadline.
        s.pump();
        if s.cfg.server.is_some() {
            s.server_request("GET");
        }
        if s.audit.borrow().has_pending() {
            s.policy.borrow_mut().schedule_flush(t0 + 1_000);
            s.rearm();
        }
        // Events from arming reach listeners the app adds right after `await init()`.
        let me = s.me.clone();
        ::core::mem::forget(Timer::once(0, move || {
            if let Some(s) = me.upgrade() {
                s.defer_events.set(false);
                s.dispatch();
            }
        }));
        s
    }

    // ---------------- public surface ----------------

    pub fn state(&self) -> State {
        self.policy.borrow().state()
    }

    pub fn remaining_ms(&self) -> Ms {
        self.flush_input(now());
        self.policy.borrow().remaining_ms(now())
    }

    pub fn extend(&self) -> bool {
        if self.destroyed.get() {
            return false;
        }
        let ok = self.policy.borrow_mut().handle_extend(now());
        self.pump();
        ok
    }

    pub fn lock(&self, reason: Reason) {
        if self.destroyed.get() {
            return;
        }
        self.policy.borrow_mut().handle_lock(reason, now());
        self.pump();
    }

    /// Resolves true once re-authentication is confirmed (by `GET server.url` if any).
    pub fn unlock(self: &Rc<Self>) -> Promise {
        let s = self.clone();
        Promise::new(&mut |resolve, _| {
            let done = move |s: &Session| {
                let _ = resolve.call1(
                    &JsValue::NULL,
                    &JsValue::from_bool(!s.destroyed.get() && s.state() != State::Locked),
                );
            };
            if s.destroyed.get() || s.state() != State::Locked {
                return done(&s);
            }
            let Some(server) = s.cfg.server.as_ref() else {
                s.policy.borrow_mut().handle_unlock_confirmed(now());
                s.pump();
                return done(&s);
            };
            let sent = now();
            let s = s.clone();
            net::session_call(server, "GET", false, move |answer| {
                if !s.destroyed.get() {
                    let t = now();
                    let mut p = s.policy.borrow_mut();
                    match answer {
                        ServerAnswer::Live {
                            expires_at,
                            server_time,
                        } if expires_at > server_time => {
                            p.handle_server_answer(answer, sent, t);
                            p.handle_unlock_confirmed(t);
                        }
                        ServerAnswer::Failed(_) => p.handle_server_answer(answer, sent, t),
                        _ => {}
                    }
                    drop(p);
                    s.pump();
                }
                done(&s)
            });
        })
    }

    /// Remove every listener, timer, patch, observer and DOM change.
    pub fn destroy(&self) {
        if self.destroyed.get() {
            return;
        }
        // A session that follows (a new `init`, another tab) continues from the newest input.
        self.hand_over();
        self.destroyed.set(true);
        self.listeners.borrow_mut().clear();
        self.timer.borrow_mut().take();
        self.timer_at.set(None);
        self.requests.borrow_mut().take();
        self.channel.borrow_mut().take();
        self.leader.borrow_mut().take();
        self.warning.borrow_mut().take();
        self.dom.borrow_mut().release();
        self.events.borrow_mut().clear();
    }

    // ---------------- the loop: core actions → effects ----------------

    fn pump(&self) {
        if self.destroyed.get() || self.pumping.replace(true) {
            return;
        }
        loop {
            let next = self.policy.borrow_mut().poll_action();
            match next {
                Some(a) => self.perform(a),
                None => break,
            }
        }
        self.pumping.set(false);
        self.rearm();
        self.dispatch();
    }

    fn perform(&self, a: Action) {
        let t = now();
        match a {
            Action::Warn { deadline } => {
                if self.cfg.lock.overlay {
                    let mut w = self.warning.borrow_mut();
                    match w.as_ref() {
                        Some(w) => w.update(deadline),
                        None => {
                            let me = self.me.clone();
                            *w = Warning::show(
                                deadline,
                                Rc::new(move || {
                                    if let Some(s) = me.upgrade() {
                                        s.extend();
                                    }
                                }),
                            );
                        }
                    }
                }
                self.warning_shown.set(true);
                self.queue(
                    "warn",
                    obj(&[
                        ("remainingMs", ((deadline - t).max(0) as f64).into()),
                        ("deadline", (deadline as f64).into()),
                    ]),
                );
            }
            Action::WarnEnd => {
                self.warning_shown.set(false);
                self.warning.borrow_mut().take();
            }
            Action::Lock { reason } => {
                self.warning_shown.set(false);
                self.warning.borrow_mut().take();
                // 1–3: cover, overlay, title
                self.dom.borrow_mut().apply();
                // 4: storage
                let removed = storage::purge(&self.cfg.purge);
                // 5: the backend ends the session too
                if self.cfg.server.is_some() && reason != Reason::Remote {
                    self.server_request("DELETE");
                }
                // 6: events (the audit record follows as its own action)
                self.queue(
                    "lock",
                    obj(&[
                        ("reason", reason.as_str().into()),
                        ("at", (t as f64).into()),
                    ]),
                );
                let _ = removed;
                self.pending_purge_audit.set(true);
            }
            Action::Unlock => {
                self.dom.borrow_mut().release();
                self.queue("unlock", obj(&[("at", (t as f64).into())]));
            }
            Action::Activity { source } => {
                self.queue(
                    "activity",
                    obj(&[
                        ("source", source.as_str().into()),
                        ("at", (t as f64).into()),
                    ]),
                );
            }
            Action::Keepalive => self.server_request("POST"),
            Action::Poll => self.server_request("GET"),
            Action::Flush => self.flush_audit(false),
            Action::Audit {
                kind,
                reason,
                detail,
            } => {
                let r = reason.map(|r| r.as_str()).or(detail);
                self.record(kind, r);
                if kind == AuditKind::Lock && self.pending_purge_audit.replace(false) {
                    self.record(AuditKind::Purge, None);
                }
            }
            Action::Share => self.share(),
        }
    }

    /// Arm the one timer at the policy's earliest deadline.
    fn rearm(&self) {
        if self.destroyed.get() {
            return;
        }
        let at = self.policy.borrow().poll_timeout();
        if at == self.timer_at.get() && self.timer.borrow().is_some() {
            return;
        }
        self.timer_at.set(at);
        let Some(at) = at else {
            self.timer.borrow_mut().take();
            return;
        };
        let delay = (at - now()).clamp(0, i32::MAX as Ms) as u32;
        let me = self.me.clone();
        *self.timer.borrow_mut() = Some(Timer::once(delay, move || {
            if let Some(s) = me.upgrade() {
                s.timer.borrow_mut().take();
                s.timer_at.set(None);
                s.on_wake();
            }
        }));
    }

    fn on_wake(&self) {
        if self.destroyed.get() {
            return;
        }
        let t = now();
        self.flush_input(t);
        self.policy.borrow_mut().handle_timeout(t);
        self.pump();
    }

    /// Publish the state with the newest input in it (pagehide, destroy): a reload or a
    /// new `init` must not start from an older instant than the user's last input.
    fn hand_over(&self) {
        self.flush_input(now());
        self.share();
    }

    /// Hand the newest raw input (throttled away) to the core before it decides.
    fn flush_input(&self, t: Ms) {
        let last = self.last_input.get();
        if last > self.forwarded.get() {
            self.forward_input(last, t);
        }
    }

    /// The one place trusted input (at `at`) reaches the core; counted for diagnostics.
    fn forward_input(&self, at: Ms, t: Ms) {
        self.forwarded.set(at);
        self.core_inputs.set(self.core_inputs.get() + 1);
        if let Ok(mut p) = self.policy.try_borrow_mut() {
            p.handle_activity(Source::Input, at, t);
        }
    }

    fn queue(&self, kind: &'static str, detail: JsValue) {
        self.events.borrow_mut().push((kind, detail));
    }

    fn dispatch(&self) {
        if self.defer_events.get() || self.destroyed.get() {
            return;
        }
        loop {
            let batch: Vec<_> = ::core::mem::take(&mut *self.events.borrow_mut());
            if batch.is_empty() {
                break;
            }
            for (kind, detail) in batch {
                let _ = self
                    .emit
                    .call2(&JsValue::NULL, &JsValue::from_str(kind), &detail);
            }
        }
    }

    // ---------------- audit ----------------

    fn record(&self, kind: AuditKind, reason: Option<&str>) {
        let t = now();
        let rec = self.audit.borrow_mut().make(kind, reason, t);
        self.queue("audit", rec);
        if self.audit.borrow().delivers() {
            if let Ok(mut p) = self.policy.try_borrow_mut() {
                p.schedule_flush(t + 1_000);
            }
        }
    }

    fn flush_audit(&self, unloading: bool) {
        let Some((url, body, batch)) = self.audit.borrow_mut().take_batch(unloading) else {
            return;
        };
        let me = self.me.clone();
        net::post_audit(&url, body, move |ok| {
            let Some(s) = me.upgrade() else { return };
            let retry = s.audit.borrow_mut().settle(batch, ok, now());
            if let Some(at) = retry {
                if !s.destroyed.get() {
                    s.policy.borrow_mut().schedule_flush(at);
                    s.rearm();
                }
            }
        });
    }

    // ---------------- server ----------------

    fn server_request(&self, method: &'static str) {
        let Some(server) = self.cfg.server.as_ref() else {
            return;
        };
        let me = self.me.clone();
        let sent = now();
        net::session_call(server, method, method == "DELETE", move |answer| {
            let Some(s) = me.upgrade() else { return };
            if s.destroyed.get() {
                return;
            }
            if method == "DELETE" {
                // `Clear-Site-Data: "storage"` may have wiped our records: write them back.
                s.audit.borrow_mut().persist();
                s.share();
                return;
            }
            s.policy
                .borrow_mut()
                .handle_server_answer(answer, sent, now());
            s.pump();
        });
    }

    // ---------------- cross-tab ----------------

    fn share(&self) {
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

    fn install_channel(&self) {
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

    fn request_leadership(&self) {
        let nav = window().navigator();
        let Ok(locks) = js_sys::Reflect::get(&nav, &"locks".into()) else {
            return;
        };
        let Ok(request) =
            js_sys::Reflect::get(&locks, &"request".into()).and_then(|f| f.dyn_into::<Function>())
        else {
            return;
        };
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

    // ---------------- browser events ----------------

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

    fn install_listeners(&self) {
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
            if let Some(sh) = storage::get(STATE_KEY).and_then(|x| Shared::decode(&x)) {
                self.policy.borrow_mut().handle_remote(sh, t);
            }
        }
        self.flush_input(t);
        self.policy.borrow_mut().handle_wake(t);
        self.pump();
        if self.state() != State::Locked {
            self.dom.borrow_mut().release();
        }
        if self.cfg.cross_tab && has_web_locks() && self.leader.borrow().is_none() {
            self.request_leadership();
        }
    }

    // ---------------- requests ----------------

    fn install_request_patch(&self) {
        let (m1, m2) = (self.me.clone(), self.me.clone());
        let start = callback(move |url| {
            let url = url.as_string().unwrap_or_default();
            JsValue::from(m1.upgrade().map_or(0, |s| s.on_request_start(&url)))
        });
        // glue.js passes [token, status, expires header or null, response URL].
        let end = callback(move |a| {
            let a: &js_sys::Array = a.unchecked_ref();
            if let Some(s) = m2.upgrade() {
                let tok = a.get(0).as_f64().unwrap_or(0.0) as u32;
                let status = a.get(1).as_f64().unwrap_or(0.0) as u16;
                s.on_request_end(
                    tok,
                    status,
                    a.get(2).as_string(),
                    &a.get(3).as_string().unwrap_or_default(),
                );
            }
            JsValue::UNDEFINED
        });
        let header = self
            .cfg
            .server
            .as_ref()
            .map_or("Session-Expires", |s| s.expires_header.as_str());
        let undo = patch_requests(
            start.as_ref().unchecked_ref(),
            end.as_ref().unchecked_ref(),
            header,
        );
        *self.requests.borrow_mut() = Some(RequestPatch {
            undo,
            _start: start,
            _end: end,
        });
    }

    /// 1 = observed only; 2 = the user's request (counts and holds the lock).
    fn on_request_start(&self, url: &str) -> u32 {
        if self.destroyed.get() || self.pumping.get() {
            return 1;
        }
        let t = now();
        let user = t - self.last_input.get() <= USER_REQUEST_WINDOW && !self.ignored(url);
        if !user {
            return 1;
        }
        self.policy.borrow_mut().handle_request_start(true, t);
        self.pump();
        2
    }

    fn on_request_end(&self, tok: u32, status: u16, header: Option<String>, resp_url: &str) {
        if self.destroyed.get() || self.pumping.get() {
            return;
        }
        let t = now();
        {
            let mut p = self.policy.borrow_mut();
            if tok == 2 {
                p.handle_request_end(true, t);
            }
            if let Some(v) = header.and_then(|h| crate::core::text::parse_int(h.trim_ascii())) {
                p.handle_expires_header(v, t);
            }
            if status == 401 && same_origin(resp_url) {
                p.handle_unauthorized(t);
            }
        }
        self.pump();
    }

    fn ignored(&self, url: &str) -> bool {
        let abs = absolute(url);
        let own = self
            .cfg
            .server
            .as_ref()
            .map(|s| s.url.as_str())
            .into_iter()
            .chain(self.cfg.audit.as_ref().map(|a| a.url.as_str()));
        own.chain(self.cfg.requests.ignore.iter().map(|s| s.as_str()))
            .any(|p| {
                url.starts_with(p)
                    || abs
                        .as_deref()
                        .zip(absolute(p).as_deref())
                        .is_some_and(|(a, b)| a.starts_with(b))
            })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.destroy();
    }
}

fn absolute(url: &str) -> Option<String> {
    let base = window().location().href().ok()?;
    web_sys::Url::new_with_base(url, &base)
        .ok()
        .map(|u| u.href())
}

fn same_origin(url: &str) -> bool {
    if url.is_empty() {
        return true;
    }
    let Some(origin) = window().location().origin().ok() else {
        return false;
    };
    web_sys::Url::new(url)
        .map(|u| u.origin() == origin)
        .unwrap_or(false)
}

fn has_web_locks() -> bool {
    let nav = window().navigator();
    js_sys::Reflect::get(&nav, &"locks".into())
        .map(|v| !v.is_undefined() && !v.is_null())
        .unwrap_or(false)
}
