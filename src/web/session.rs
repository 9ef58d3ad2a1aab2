//! The browser edge of one session: feeds events into the core policy, carries out its
//! actions, and owns every guard (listeners, the one timer, patches, the DOM lock, the
//! channel, the leader lock). `destroy()` is dropping them.

use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::{Cell, RefCell};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use web_sys::Event;

use super::audit::AuditLog;
use super::crosstab::{self, stored_state, Channel};
use super::lifecycle::{self, Input, Page};
use super::lock::DomLock;
use super::net;
use super::requests::{self, RequestEnd};
use super::signin;
use super::storage;
use super::util::{call, deferred, document, now, obj, Installed, Timer};
use super::warning::Warning;
use crate::core::config::Config;
use crate::core::policy::{Action, AuditKind, Ms, Policy, Reason, Shared, Source, State, Timing};

#[wasm_bindgen(module = "/src/web/glue/signin.js")]
extern "C" {
    /// The cancelable `switch` event, then the reload unless it was prevented.
    fn switched(emit: &Function, detail: &JsValue);
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
    /// The lock deadline the page was last made ready for (`prepare_at`).
    prepared: Cell<Ms>,
    warning_shown: Cell<bool>,
    /// The warning dialog to show (or update) once the `warn` event is out.
    warning_due: Cell<Option<Ms>>,
    /// The page's lifecycle events (`lifecycle.rs`).
    listeners: RefCell<Option<Installed>>,
    /// Trusted input (`lifecycle.rs`).
    input: Input,
    /// The fetch / XMLHttpRequest patch (`requests.rs`).
    requests: RefCell<Option<Installed>>,
    /// The other tabs (`crosstab.rs`).
    channel: RefCell<Option<Channel>>,
    /// The Web Lock (held or asked for) that makes this tab the leader (`crosstab.rs`).
    leader: RefCell<Option<Installed>>,
    /// The sign-in popup (`signin.rs`), closed when dropped.
    signin: RefCell<Option<Installed>>,
    audit: RefCell<AuditLog>,
    events: RefCell<Vec<(&'static str, JsValue)>>,
    /// Inside `pump` (or the warning's DOM work): focus moves and requests then are ours.
    pumping: Cell<bool>,
    pending_purge_audit: Cell<bool>,
    defer_events: Cell<bool>,
    destroyed: Cell<bool>,
}

impl Session {
    pub fn start(cfg: Config, emit: Function) -> Rc<Session> {
        let t0 = now();
        let shared = if cfg.cross_tab { stored_state() } else { None };
        let mut policy = Policy::new(Timing::of(&cfg), t0, shared);
        policy.handle_visibility(!document().hidden(), t0);
        let audit = AuditLog::new(cfg.audit.as_ref().map(|a| a.url.clone()));

        let s = Rc::new_cyclic(|me: &Weak<Session>| {
            let (m1, m2) = (me.clone(), me.clone());
            let on_signin: Rc<dyn Fn()> = Rc::new(move || {
                if let Some(s) = m1.upgrade() {
                    s.queue("signin", obj(&[]));
                    s.dispatch();
                    s.sign_in_again();
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
                prepared: Cell::new(0),
                warning_shown: Cell::new(false),
                warning_due: Cell::new(None),
                listeners: RefCell::new(None),
                input: Input::default(),
                requests: RefCell::new(None),
                channel: RefCell::new(None),
                leader: RefCell::new(None),
                signin: RefCell::new(None),
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
            // Only a session that talks to the server needs one leader: a held Web Lock
            // keeps a page out of Firefox's back/forward cache, so Back would reload it.
            if s.cfg.server.is_some() {
                s.request_leadership();
            }
        }
        storage::warm(&s.cfg.purge);
        // Lock at once (same task) when the origin is already past its deadline.
        s.pump();
        if s.cfg.server.is_some() {
            s.server_request("GET", None, false);
        }
        if s.audit.borrow().has_pending(t0) {
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

    /// Trusted inputs handed to the core so far (diagnostics: the throttle's effect).
    pub fn core_inputs(&self) -> u32 {
        self.input.count()
    }

    pub fn remaining_ms(&self) -> Ms {
        let t = now();
        self.flush_input(t);
        self.policy.borrow().remaining_ms(t)
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
        let d = deferred();
        let resolve: Function = d.get(1).unchecked_into();
        let done = move |s: &Session| {
            let ok = !s.destroyed.get() && s.state() != State::Locked;
            call(&resolve, &JsValue::from_bool(ok), &JsValue::UNDEFINED);
        };
        if self.destroyed.get() || self.state() != State::Locked {
            done(self);
        } else if let Some(server) = self.cfg.server.as_ref() {
            let sent = now();
            let s = self.clone();
            net::session_call(server, "GET", None, false, move |answer| {
                if !s.destroyed.get() {
                    let t = now();
                    s.policy.borrow_mut().handle_unlock_answer(answer, sent, t);
                    s.pump();
                }
                done(&s)
            });
        } else {
            self.policy.borrow_mut().handle_unlock_confirmed(now());
            self.pump();
            done(self);
        }
        d.get(0).unchecked_into()
    }

    /// Remove every listener, timer, patch, observer and DOM change.
    pub fn destroy(&self) {
        if self.destroyed.get() {
            return;
        }
        // A session that follows (a new `init`, another tab) continues from the newest input.
        self.hand_over();
        self.destroyed.set(true);
        self.listeners.borrow_mut().take();
        self.input.remove();
        self.timer.borrow_mut().take();
        self.timer_at.set(None);
        self.requests.borrow_mut().take();
        self.channel.borrow_mut().take();
        self.leader.borrow_mut().take();
        self.signin.borrow_mut().take();
        self.warning.borrow_mut().take();
        self.dom.borrow_mut().release();
        self.events.borrow_mut().clear();
    }

    // ---------------- the edges: events in ----------------

    fn install_listeners(&self) {
        let me = self.me.clone();
        let on_input = move |e: &Event| {
            if let Some(s) = me.upgrade() {
                s.on_input(e);
            }
        };
        let warning = self.warning_shown.get();
        self.input
            .listen(&self.cfg.activity_events, on_input, warning);
        let me = self.me.clone();
        let page = lifecycle::watch_page(move |ev| {
            if let Some(s) = me.upgrade() {
                match ev {
                    Page::Wake => s.on_wake(),
                    Page::Hide => s.on_pagehide(),
                    Page::Show { persisted } => s.on_pageshow(persisted),
                }
            }
        });
        *self.listeners.borrow_mut() = Some(page);
    }

    /// Trusted input the listener called in for.
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
        let Some(node) = lifecycle::pressed(e) else {
            return false;
        };
        self.warning
            .borrow()
            .as_ref()
            .is_some_and(|w| w.contains(&node))
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

    /// Shown again; from the bfcache (`persisted`): re-check first, uncover only a live session.
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

    fn install_request_patch(&self) {
        let (m1, m2) = (self.me.clone(), self.me.clone());
        let patch = requests::patch(
            &self.cfg,
            move |ignored| m1.upgrade().is_some_and(|s| s.on_request_start(ignored)),
            move |end| {
                if let Some(s) = m2.upgrade() {
                    s.on_request_end(end);
                }
            },
        );
        *self.requests.borrow_mut() = Some(patch);
    }

    /// An app request started: true when it is the user's (it counts and holds the lock).
    fn on_request_start(&self, ignored: bool) -> bool {
        if self.destroyed.get() || self.pumping.get() {
            return false;
        }
        let t = now();
        let last_input = self.input.newest();
        let user = self
            .policy
            .borrow_mut()
            .handle_request_start(ignored, last_input, t);
        if user {
            self.pump();
        }
        user
    }

    fn on_request_end(&self, end: RequestEnd) {
        if self.destroyed.get() || self.pumping.get() {
            return;
        }
        let t = now();
        {
            let mut p = self.policy.borrow_mut();
            if end.user {
                p.handle_request_end(true, t);
            }
            let expires = end.expires.as_deref().map(str::trim_ascii);
            if let Some(v) = expires.and_then(crate::core::text::parse_int) {
                p.handle_expires_header(v, t);
            }
            if end.status == 401 && end.same_origin {
                p.handle_unauthorized(t);
            }
        }
        self.pump();
    }

    fn install_channel(&self) {
        let me = self.me.clone();
        let ch = Channel::open(move |sh| {
            if let Some(s) = me.upgrade() {
                s.on_remote(sh);
            }
        });
        *self.channel.borrow_mut() = Some(ch);
    }

    /// Another tab published its state.
    fn on_remote(&self, sh: Shared) {
        if self.destroyed.get() {
            return;
        }
        let t = now();
        self.flush_input(t);
        self.policy.borrow_mut().handle_remote(sh, t);
        self.pump();
    }

    fn request_leadership(&self) {
        let me = self.me.clone();
        let lock = crosstab::request_leadership(move || {
            if let Some(s) = me.upgrade() {
                if !s.destroyed.get() {
                    s.policy.borrow_mut().set_leader(true, now());
                    s.pump();
                }
            }
        });
        if lock.is_some() {
            self.policy.borrow_mut().set_leader(false, now());
            *self.leader.borrow_mut() = lock;
        }
    }

    /// After `signin` fired: open `server.signin` in a popup; when it says the user signed
    /// in, or is closed, `unlock()` asks the server (a message alone unlocks nothing).
    fn sign_in_again(&self) {
        let Some(url) = self.cfg.server.as_ref().and_then(|s| s.signin.as_deref()) else {
            return;
        };
        if self.destroyed.get() || self.state() != State::Locked {
            return;
        }
        // A second press: the first popup goes, a fresh one comes.
        self.signin.borrow_mut().take();
        let me = self.me.clone();
        let popup = signin::open_popup(url, move || {
            if let Some(s) = me.upgrade() {
                // Always an asynchronous answer (`server.signin` needs `server`): the
                // popup's callback is not dropped while it runs.
                let _ = s.unlock();
            }
        });
        *self.signin.borrow_mut() = popup;
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
        self.input.sync(self.warning_shown.get());
        self.rearm();
        self.dispatch();
        self.show_warning();
    }

    /// The built-in warning dialog, after the `warn` event (same task, so before the next
    /// frame): `showModal` on a large page costs a style recalculation the event need not wait for.
    fn show_warning(&self) {
        let Some(deadline) = self.warning_due.take() else {
            return;
        };
        if !self.warning_shown.get() || self.destroyed.get() || self.pumping.replace(true) {
            return;
        }
        // Inside the pumping guard: the focus it moves is not the user's input.
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
        drop(w);
        self.pumping.set(false);
    }

    fn perform(&self, a: Action) {
        let t = now();
        match a {
            Action::Warn { deadline } => {
                if self.cfg.lock.overlay {
                    self.warning_due.set(Some(deadline));
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
                self.warning_due.set(None);
                self.warning.borrow_mut().take();
            }
            Action::Lock { reason } => {
                self.warning_shown.set(false);
                self.warning_due.set(None);
                let warning = self.warning.borrow_mut().take();
                if let Some(w) = &warning {
                    w.close_for_lock();
                }
                // 1–3: cover (detach), overlay, title; the overlay replaces the warning
                self.dom.borrow_mut().lock();
                drop(warning);
                // 4: storage (5, the backend's DELETE, is the core's next action)
                storage::purge(&self.cfg.purge);
                // 6: events (the audit record follows as its own action)
                self.queue(
                    "lock",
                    obj(&[
                        ("reason", reason.as_str().into()),
                        ("at", (t as f64).into()),
                    ]),
                );
                self.pending_purge_audit.set(true);
            }
            Action::EndServer { reason } => {
                self.server_request("DELETE", Some(net::reason_body(reason)), false)
            }
            Action::Switch => {
                // The page is covered already (its lock, or the one before it): the purge
                // again, then the cancelable `switch` event and the reload (`dispatch`).
                storage::purge(&self.cfg.purge);
                self.queue("switch", obj(&[]));
            }
            Action::Unlock => {
                self.signin.borrow_mut().take();
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
            Action::Keepalive {
                last_activity_ago_ms,
            } => self.server_request(
                "POST",
                Some(net::keepalive_body(last_activity_ago_ms)),
                false,
            ),
            Action::Poll => self.server_request("GET", None, false),
            Action::Verify => self.server_request("GET", None, true),
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
        let t = now();
        let at = match (self.policy.borrow().poll_timeout(), self.prepare_at(t)) {
            (Some(a), Some((p, _))) if p > t => Some(a.min(p)),
            (a, _) => a,
        };
        if at == self.timer_at.get() && self.timer.borrow().is_some() {
            return;
        }
        self.timer_at.set(at);
        let Some(at) = at else {
            self.timer.borrow_mut().take();
            return;
        };
        let delay = (at - t).clamp(0, i32::MAX as Ms) as u32;
        let me = self.me.clone();
        *self.timer.borrow_mut() = Some(Timer::once(delay, move || {
            if let Some(s) = me.upgrade() {
                s.timer.borrow_mut().take();
                s.timer_at.set(None);
                s.on_wake();
            }
        }));
    }

    /// In a visible tab, the coming lock is made ready ahead of its deadline
    /// ([`Policy::prepare_at`], then `DomLock::prepare`).
    fn prepare_at(&self, t: Ms) -> Option<(Ms, Ms)> {
        let visible = !document().hidden();
        self.policy
            .borrow()
            .prepare_at(t, visible, self.prepared.get())
    }

    fn on_wake(&self) {
        if self.destroyed.get() {
            return;
        }
        let t = now();
        self.flush_input(t);
        if let Some((at, lock_at)) = self.prepare_at(t) {
            // A focus event fired by the lock's own DOM work (an unlock restoring focus with
            // the deadline already close) arrives while the lock is being changed: skip then.
            if let (true, Ok(dom)) = (t >= at, self.dom.try_borrow()) {
                self.prepared.set(lock_at);
                dom.prepare();
            }
        }
        let mut p = self.policy.borrow_mut();
        p.handle_timeout(t);
        // Shown after the hidden limit: locked here, before the page is painted.
        p.handle_visibility(!document().hidden(), t);
        drop(p);
        self.pump();
    }

    /// Publish the state to the other tabs (and for the ones that open later).
    fn share(&self) {
        if !self.cfg.cross_tab {
            return;
        }
        let sh = self.policy.borrow().shared();
        crosstab::publish_state(self.channel.borrow().as_ref(), &sh);
    }

    /// Publish the state with the newest input in it (pagehide, destroy): a reload or a
    /// new `init` must not start from an older instant than the user's last input.
    fn hand_over(&self) {
        self.flush_input(now());
        self.share();
    }

    /// Hand the newest raw input (throttled away) to the core before it decides.
    fn flush_input(&self, t: Ms) {
        if let Some(last) = self.input.unheard() {
            self.forward_input(last, t);
        }
    }

    /// The one place trusted input (at `at`) reaches the core; counted for diagnostics. With
    /// the core busy (input fired by a call into it), the input stays unheard: the next
    /// `flush_input` (every wake-up, timer and message) hands it over. None is dropped.
    fn forward_input(&self, at: Ms, t: Ms) {
        let Ok(mut p) = self.policy.try_borrow_mut() else {
            return;
        };
        p.handle_activity(Source::Input, at, t);
        drop(p);
        self.input.heard(at, true, self.warning_shown.get());
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
                if kind == "switch" {
                    switched(&self.emit, &detail);
                } else {
                    call(&self.emit, &JsValue::from_str(kind), &detail);
                }
            }
        }
    }

    // ---------------- audit ----------------

    fn record(&self, kind: AuditKind, reason: Option<&str>) {
        let t = now();
        let rec = self.audit.borrow_mut().make(kind, reason, t);
        self.queue("audit", rec);
        // The record is kept (pending, persisted) whatever follows; with the core busy it
        // goes with the next flush the core schedules.
        if self.audit.borrow().delivers() {
            if let Ok(mut p) = self.policy.try_borrow_mut() {
                p.schedule_flush(t + 1_000);
            }
        }
    }

    fn flush_audit(&self, unloading: bool) {
        let Some((url, body, batch)) = self.audit.borrow_mut().take_batch(unloading, now()) else {
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

    /// A GET, POST or DELETE of `server.url` with its JSON `body` (the keepalive's, the
    /// lock's reason); `verify`: a GET that checks another tab's unlock ([`Action::Verify`]).
    fn server_request(&self, method: &'static str, body: Option<String>, verify: bool) {
        let Some(server) = self.cfg.server.as_ref() else {
            return;
        };
        let me = self.me.clone();
        let sent = now();
        net::session_call(server, method, body, method == "DELETE", move |answer| {
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
            let mut p = s.policy.borrow_mut();
            if verify {
                p.handle_verify_answer(answer, sent, now());
            } else {
                p.handle_server_answer(answer, sent, now());
            }
            drop(p);
            s.pump();
        });
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.destroy();
    }
}
