//! The session policy: a state machine `Active → Warning → Locked` that is told the time.
//!
//! Nothing here reads a clock or touches the browser. The edge feeds events in with
//! `handle_*(…, now)`, arms one timer at [`Policy::poll_timeout`] and carries out what
//! [`Policy::poll_action`] returns. All instants are wall-clock unix milliseconds, so a
//! system sleep, a throttled hidden tab or a back/forward-cache restore is just "time
//! jumped" and the next call decides from the timestamps alone.

use crate::prelude::*;

use super::config::Config;

/// Unix milliseconds on the client's wall clock.
pub type Ms = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    Warning,
    Locked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Warning => "warning",
            State::Locked => "locked",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Idle,
    Absolute,
    Server,
    Remote,
    Manual,
    /// No tab of the origin was visible for `hiddenTimeoutMs`.
    Hidden,
    /// The operating system reported the screen locked.
    Screen,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Idle => "idle",
            Reason::Absolute => "absolute",
            Reason::Server => "server",
            Reason::Remote => "remote",
            Reason::Manual => "manual",
            Reason::Hidden => "hidden",
            Reason::Screen => "screen",
        }
    }
    pub fn parse(s: &str) -> Option<Reason> {
        Some(match s {
            "idle" => Reason::Idle,
            "absolute" => Reason::Absolute,
            "server" => Reason::Server,
            "remote" => Reason::Remote,
            "manual" => Reason::Manual,
            "hidden" => Reason::Hidden,
            "screen" => Reason::Screen,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Input,
    Request,
    Remote,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Input => "input",
            Source::Request => "request",
            Source::Remote => "remote",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKind {
    Warn,
    Extend,
    Lock,
    Unlock,
    Tamper,
    ServerExpired,
    Purge,
    Error,
    /// A different user signed in at this page (CONTRACT.md, "The same clinician").
    Switch,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Warn => "warn",
            AuditKind::Extend => "extend",
            AuditKind::Lock => "lock",
            AuditKind::Unlock => "unlock",
            AuditKind::Tamper => "tamper",
            AuditKind::ServerExpired => "server-expired",
            AuditKind::Purge => "purge",
            AuditKind::Error => "error",
            AuditKind::Switch => "switch",
        }
    }
}

/// What the edge must do, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The warning period started (or its deadline changed while warning).
    Warn { deadline: Ms },
    /// The warning ended without a lock (activity or `extend()`).
    WarnEnd,
    /// Lock the page now, in this task.
    Lock { reason: Reason },
    /// Tell the backend the session ended: `DELETE server.url` with `{"reason": …}`. Only
    /// for this tab's own locks (another tab's lock already told it; a different user's
    /// session must not be ended by the previous user's page).
    EndServer { reason: Reason },
    /// A different user is signed in (the page is locked already): purge again, record,
    /// fire the cancelable `switch` event and reload the page unless it was prevented.
    Switch,
    /// Re-authentication confirmed (here or in another tab): uncover the page.
    Unlock,
    /// Throttled (at most once a second) activity notice for the `activity` event.
    Activity { source: Source },
    /// POST a keepalive to `server.url` with the body `{"lastActivityAgoMs": N}`: how long
    /// before the instant the core decided to send it (the `now` of that call, in the same
    /// task as the send) the last trusted activity was. Never negative. The server sets its
    /// idle clock to that same instant, so both clocks agree whatever the request's latency.
    Keepalive { last_activity_ago_ms: Ms },
    /// GET `server.url`.
    Poll,
    /// GET `server.url` to check an unlock heard from another tab (or read from storage);
    /// its answer goes to [`Policy::handle_verify_answer`]. With a server, that unlock is
    /// only a hint: any script of the origin can publish one.
    Verify,
    /// Deliver queued audit records.
    Flush,
    /// Record an audit entry.
    Audit {
        kind: AuditKind,
        reason: Option<Reason>,
        detail: Option<&'static str>,
    },
    /// The state shared with other tabs changed: persist and broadcast [`Policy::shared`].
    Share,
}

/// The session state every tab and every load of the origin agrees on.
/// Timestamps and states only: nothing here can carry PHI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shared {
    pub last_activity: Ms,
    pub started: Ms,
    pub locked: bool,
    pub reason: Reason,
    pub lock_changed_at: Ms,
    pub server_expires: Option<Ms>,
    pub server_at: Ms,
    pub hold_until: Option<Ms>,
    pub keepalive_at: Ms,
    /// Since when no tab of the origin has been visible (`None`: one is, as far as known).
    pub hidden_since: Option<Ms>,
    /// Stamp of the newest visibility report: the newer one wins.
    pub vis_at: Ms,
    /// The signed-in user as the server named them ([`user_id`]: a hash, never the name).
    pub user: Option<Ms>,
}

/// The timing part of the configuration, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub idle: Ms,
    pub warn: Ms,
    pub absolute: Option<Ms>,
    /// `(poll interval, keepalive interval)` when a server is configured.
    pub server: Option<(Ms, Ms)>,
    /// `hiddenTimeoutMs`; with `crossTab` the edge passes at least [`HIDDEN_GRACE`].
    pub hidden: Option<Ms>,
}

impl Timing {
    /// The timing of a validated configuration. With `crossTab` a hidden limit is at least
    /// [`HIDDEN_GRACE`] (the tabs need that long to hear that one of them is visible).
    pub fn of(cfg: &Config) -> Timing {
        let grace = if cfg.cross_tab { HIDDEN_GRACE } else { 0 };
        Timing {
            idle: cfg.idle_timeout_ms as Ms,
            warn: cfg.warn_before_ms as Ms,
            absolute: cfg.absolute_timeout_ms.map(|a| a as Ms),
            server: cfg
                .server
                .as_ref()
                .map(|s| (s.poll_interval_ms as Ms, s.keepalive_interval_ms as Ms)),
            hidden: cfg.hidden_timeout_ms.map(|h| (h as Ms).max(grace)),
        }
    }
}

/// The answer of `server.url` (or an observed response), already classified by the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerAnswer {
    /// `200 {expiresAt, serverTime, user?}` in server time; `user` as [`user_id`].
    Live {
        expires_at: Ms,
        server_time: Ms,
        user: Option<Ms>,
    },
    /// `401`, or a live answer whose expiry has passed.
    Expired,
    /// Timeout, network error, 5xx, malformed body: never unlocks, extends or locks earlier.
    Failed(&'static str),
}

/// Server expiry more than this far after `serverTime` is treated as malformed.
pub const MAX_SERVER_LEAD: Ms = 31 * 24 * 3_600_000;
/// How far back (in server time) a late answer can be. Every request the edge makes ends
/// within its timeout (10 s), and two answers can only swap places while both are in
/// flight, so their `serverTime`s differ by less than that. An answer older than the newest
/// applied by more than this is no late answer but a server clock that was set back: it is
/// applied and the order starts again from it (else every answer would be ignored, and the
/// page locked at a stale expiry, until the server's clock caught up).
pub const MAX_REORDER: Ms = 60_000;
/// How far past `now` (or the newest stamp this tab knows) another tab's unlock stamp can
/// be. Every tab reads the same clock and stamps `max(now, newest + 1)`, so a stamp beyond
/// this was forged: it is cut back, or it would outrank the real locks that follow it.
pub const STAMP_SLACK: Ms = 1_000;
const ACTIVITY_EVENT_EVERY: Ms = 1_000;
/// The shortest hidden limit with `crossTab`: how long a tab that was hidden waits, at least,
/// for another tab of the origin to say it is visible (switching between two tabs of the app
/// hides one a moment before the other is shown, and each hears of the other through the
/// channel). A tab on its own (`crossTab: false`) has nobody to wait for.
pub const HIDDEN_GRACE: Ms = 1_000;
/// A request counts as the user's when it starts this soon after trusted input.
pub const USER_REQUEST_WINDOW: Ms = 1_000;
/// How long before a lock deadline a visible tab makes the lock ready ([`Policy::prepare_at`]).
pub const PREPARE_MS: Ms = 250;

#[derive(Debug)]
pub struct Policy {
    t: Timing,
    state: State,
    reason: Reason,
    last_activity: Ms,
    started: Ms,
    lock_changed_at: Ms,
    /// Server expiry converted to the client clock.
    server_expires: Option<Ms>,
    server_at: Ms,
    /// `serverTime` (server clock) of the newest answer applied; `Ms::MIN / 2` for none
    /// since the last lock.
    server_time: Ms,
    /// Server time minus client time, measured from the answer applied last.
    skew: Ms,
    inflight: u32,
    remote_hold: Option<Ms>,
    warned_deadline: Option<Ms>,
    leader: bool,
    keepalive_at: Ms,
    keepalive_pending: bool,
    next_poll: Option<Ms>,
    flush_at: Option<Ms>,
    activity_event_at: Ms,
    /// An unlock heard from another tab while locked, with a server: waiting for this
    /// tab's own `GET server.url` (sent at or after `hint_at`) to say the session is live.
    hint: Option<Shared>,
    hint_at: Ms,
    /// A [`Action::Verify`] request is out (one at a time, however many hints arrive).
    verifying: bool,
    /// This tab is visible (as the edge last reported; `None` before its first report).
    visible: Option<bool>,
    hidden_since: Option<Ms>,
    vis_at: Ms,
    /// The user this page was loaded for: from its first live answer that names one, or
    /// from the shared state it started from. Never changed by another tab's state.
    user: Option<Ms>,
    /// After a switch: the new user, published as the origin's unlocked state.
    switched: Option<Ms>,
    /// Pending actions, oldest first (a handful at most: a Vec beats a VecDeque in bytes).
    actions: Vec<Action>,
}

impl Policy {
    /// A policy armed at `now`, continuing `shared` when another tab or load left one.
    pub fn new(t: Timing, now: Ms, shared: Option<Shared>) -> Policy {
        let mut p = Policy {
            t,
            state: State::Active,
            reason: Reason::Idle,
            last_activity: now,
            started: now,
            lock_changed_at: now,
            server_expires: None,
            server_at: Ms::MIN,
            server_time: Ms::MIN / 2,
            skew: 0,
            inflight: 0,
            remote_hold: None,
            warned_deadline: None,
            leader: true,
            keepalive_at: Ms::MIN / 2,
            keepalive_pending: false,
            next_poll: None,
            flush_at: None,
            activity_event_at: Ms::MIN / 2,
            hint: None,
            hint_at: 0,
            verifying: false,
            visible: None,
            hidden_since: None,
            vis_at: Ms::MIN / 2,
            user: None,
            switched: None,
            actions: Vec::new(),
        };
        if let Some(s) = shared {
            p.last_activity = s.last_activity.min(now);
            p.started = s.started.min(now);
            p.lock_changed_at = s.lock_changed_at;
            p.server_expires = s.server_expires;
            p.server_at = s.server_at;
            p.remote_hold = s.hold_until;
            p.keepalive_at = s.keepalive_at;
            p.hidden_since = s.hidden_since;
            p.vis_at = s.vis_at;
            p.user = s.user;
            if s.locked {
                // The origin was locked by another tab or an earlier load: this page locks
                // too, as a remote lock (the backend was already told; a DELETE now could
                // end a session the user has just signed in to on another page).
                p.state = State::Locked;
                p.reason = s.reason;
                p.actions.push(Action::Lock {
                    reason: Reason::Remote,
                });
                p.audit(AuditKind::Lock, Some(Reason::Remote), None);
            }
        }
        if let Some((poll, _)) = t.server {
            p.next_poll = Some(now + poll);
        }
        p.evaluate(now);
        p
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    pub fn skew(&self) -> Ms {
        self.skew
    }

    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// The instant the page locks (with no further activity), and why.
    pub fn deadline(&self) -> (Ms, Reason) {
        let idle = self.last_activity + self.t.idle;
        let hold = match (self.own_hold(), self.remote_hold) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let mut best = (hold.map_or(idle, |h| h.max(idle)), Reason::Idle);
        if let Some(a) = self.t.absolute {
            if self.started + a < best.0 {
                best = (self.started + a, Reason::Absolute);
            }
        }
        if let Some(s) = self.server_expires {
            if s < best.0 {
                best = (s, Reason::Server);
            }
        }
        best
    }

    /// When the hidden limit locks this tab: only while it is hidden itself, and never
    /// warned (nobody would see the warning).
    fn hidden_deadline(&self) -> Option<Ms> {
        match (self.t.hidden, self.hidden_since, self.visible) {
            (Some(limit), Some(since), None | Some(false)) => Some(since + limit),
            _ => None,
        }
    }

    pub fn remaining_ms(&self, now: Ms) -> Ms {
        match self.state {
            State::Locked => 0,
            _ => (self
                .deadline()
                .0
                .min(self.hidden_deadline().unwrap_or(Ms::MAX))
                - now)
                .max(0),
        }
    }

    /// When a visible tab makes the coming lock ready (the work that lets the lock itself
    /// fit in one frame): `(when, the lock deadline)`, [`PREPARE_MS`] ahead, once per deadline
    /// (`prepared`: the deadline last made ready for). None when locked, hidden or done.
    pub fn prepare_at(&self, now: Ms, visible: bool, prepared: Ms) -> Option<(Ms, Ms)> {
        if self.state == State::Locked || !visible {
            return None;
        }
        let lock_at = now + self.remaining_ms(now);
        (lock_at != prepared && lock_at > now).then_some((lock_at - PREPARE_MS, lock_at))
    }

    /// The one instant the edge must wake at (a wake-up before it is a harmless no-op).
    pub fn poll_timeout(&self) -> Option<Ms> {
        let mut t: Option<Ms> = None;
        let mut at = |x: Ms| t = Some(t.map_or(x, |y: Ms| y.min(x)));
        if self.state != State::Locked {
            let (d, _) = self.deadline();
            at(d);
            if self.t.warn > 0 && self.state == State::Active {
                at(d - self.t.warn);
            }
            if let Some(h) = self.hidden_deadline() {
                at(h);
            }
            if let (true, Some((_, keep))) = (self.leader, self.t.server) {
                if self.keepalive_pending {
                    at(self.keepalive_at + keep);
                }
                if let Some(p) = self.next_poll {
                    at(p);
                }
            }
        }
        if let Some(f) = self.flush_at {
            at(f);
        }
        t
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        (!self.actions.is_empty()).then(|| self.actions.remove(0))
    }

    /// The timer fired (maybe early, maybe very late).
    pub fn handle_timeout(&mut self, now: Ms) {
        self.evaluate(now);
    }

    /// The page became visible, got focus, was resumed or restored: re-check at once.
    pub fn handle_wake(&mut self, now: Ms) {
        self.evaluate(now);
    }

    /// Whether this tab is visible now (`document.hidden`), reported on every wake-up (only
    /// a change counts). A page shown after the hidden limit passed is locked first, in this
    /// same call. A tab that turns hidden claims "no tab visible since now" (an older claim
    /// stands); one that turns visible withdraws the claim, and so does a visible tab that
    /// hears one from another tab ([`Policy::handle_remote`]).
    pub fn handle_visibility(&mut self, visible: bool, now: Ms) {
        self.evaluate(now);
        if self.visible != Some(visible) {
            self.visible = Some(visible);
            if visible == self.hidden_since.is_some() {
                self.claim_hidden(visible, now);
            }
        }
        self.evaluate(now);
    }

    /// Trusted user input (`source = Input`) or a user-started request (`Request`).
    pub fn handle_activity(&mut self, source: Source, at: Ms, now: Ms) {
        // A lock that was due when the input happened wins over it. Input from before the
        // deadline still counts when it reaches the core late (held back by the edge's
        // throttle, or another tab's): it moves the deadline before any warning or lock.
        if at.min(now) >= self.deadline().0 {
            self.evaluate(now);
        }
        if self.state == State::Locked {
            return;
        }
        let at = at.min(now);
        if at <= self.last_activity {
            return;
        }
        let was_warning = self.state == State::Warning;
        self.last_activity = at;
        self.keepalive_pending = true;
        if now - self.activity_event_at >= ACTIVITY_EVENT_EVERY {
            self.activity_event_at = now;
            self.actions.push(Action::Activity { source });
            if source != Source::Remote {
                self.actions.push(Action::Share);
            }
        }
        self.evaluate(now);
        if was_warning && self.state == State::Active {
            self.audit(AuditKind::Extend, None, Some("activity"));
            self.force_keepalive(now);
            self.actions.push(Action::Share);
        }
    }

    /// The user chose to stay (`extend()`): activity plus a keepalive. False when locked.
    pub fn handle_extend(&mut self, now: Ms) -> bool {
        self.evaluate(now);
        if self.state == State::Locked {
            return false;
        }
        let was_warning = self.state == State::Warning;
        self.last_activity = self.last_activity.max(now);
        self.evaluate(now);
        if was_warning || self.state == State::Active {
            self.audit(AuditKind::Extend, None, Some("extend"));
        }
        self.force_keepalive(now);
        self.actions.push(Action::Share);
        true
    }

    /// An observed request started. It is the user's — it counts as activity and holds the
    /// lock until it ends — when it started within [`USER_REQUEST_WINDOW`] of the newest
    /// trusted input (`last_input`) and its URL is not `ignored` (the SDK's own, or one of
    /// `requests.ignore`). Returns whether it is.
    pub fn handle_request_start(&mut self, ignored: bool, last_input: Ms, now: Ms) -> bool {
        let user = !ignored && now - last_input <= USER_REQUEST_WINDOW;
        if user {
            self.inflight += 1;
            self.handle_activity(Source::Request, now, now);
            self.actions.push(Action::Share);
        }
        user
    }

    pub fn handle_request_end(&mut self, user: bool, now: Ms) {
        if !user {
            return;
        }
        // The end counts as activity while the hold still applies, then the hold ends.
        self.handle_activity(Source::Request, now, now);
        self.inflight = self.inflight.saturating_sub(1);
        self.actions.push(Action::Share);
        self.evaluate(now);
    }

    /// An answer of `server.url` (GET poll or POST keepalive) that was sent at `sent_at`.
    ///
    /// Answers arrive out of order (a poll answered before a keepalive can arrive after the
    /// keepalive's answer), so a live answer is applied in `serverTime` order:
    /// - newer than every answer applied since the last lock (greater `serverTime`): its
    ///   `expiresAt` becomes the server deadline, earlier or later than before, and the
    ///   skew is measured from it;
    /// - made in the same server millisecond as the newest: the deadline becomes the later
    ///   of the two (a live session's expiry never decreases as server time passes);
    /// - older (by at most [`MAX_REORDER`]): ignored entirely, the skew too. Its offset
    ///   measurement would not be wrong as such, but the deadline we keep was converted
    ///   with the newer answer's skew and later `Session-Expires` headers must be converted
    ///   with that same one; a late answer is often a slow one (a wider round trip, a
    ///   poorer midpoint); and after a server clock step it carries the old clock.
    ///
    /// `Expired` (a `401`, or a live answer whose expiry has passed) locks whatever came
    /// before, in any order. While locked a live answer changes nothing (it neither unlocks
    /// nor leaves a deadline behind): only [`Policy::handle_unlock_answer`] unlocks.
    pub fn handle_server_answer(&mut self, answer: ServerAnswer, sent_at: Ms, now: Ms) {
        match answer {
            ServerAnswer::Live {
                expires_at,
                server_time,
                user,
            } => {
                if self.state != State::Locked && self.same_user(user, now) {
                    self.apply_live(expires_at, server_time, sent_at, now);
                }
            }
            ServerAnswer::Expired => self.server_expired(now),
            ServerAnswer::Failed(why) => self.audit(AuditKind::Error, None, Some(why)),
        }
    }

    /// The answer to `unlock()`'s `GET server.url` after the user signed in again. While
    /// locked, a live well-formed answer unlocks and is the new session's first word (the
    /// lock forgot the old order); a `401`, expired, malformed or failed answer leaves the
    /// page locked. Once unlocked meanwhile (another tab), it is a plain answer.
    pub fn handle_unlock_answer(&mut self, answer: ServerAnswer, sent_at: Ms, now: Ms) {
        if self.live_while_locked(answer, sent_at, now) {
            self.handle_unlock_confirmed(now);
        }
    }

    /// Whether a locked page got a live, well-formed answer (it then holds the new order);
    /// any other answer is handled as a plain one and gives false.
    fn live_while_locked(&mut self, answer: ServerAnswer, sent_at: Ms, now: Ms) -> bool {
        match answer {
            ServerAnswer::Live {
                expires_at,
                server_time,
                user,
            } if self.state == State::Locked => {
                self.same_user(user, now) && self.apply_live(expires_at, server_time, sent_at, now)
            }
            _ => {
                self.handle_server_answer(answer, sent_at, now);
                false
            }
        }
    }

    /// An observed response carried the expiry header (server clock, unix ms). It has no
    /// `serverTime`, and a response generated before a keepalive's answer may arrive after
    /// it: so it only ever moves the server deadline later (or sets one when none is
    /// known), and never while locked. The next newer `/session` answer sets the deadline
    /// from its own `expiresAt` as usual.
    pub fn handle_expires_header(&mut self, expires_at: Ms, now: Ms) {
        let local = expires_at - self.skew;
        if local <= now || local - now > MAX_SERVER_LEAD {
            return self.audit(AuditKind::Error, None, Some("bad expiry header"));
        }
        if self.state != State::Locked && self.server_expires.is_none_or(|e| local > e) {
            self.set_server_expiry(local, now);
        }
    }

    /// A same-origin `401`: the backend has no session, lock at once.
    pub fn handle_unauthorized(&mut self, now: Ms) {
        self.server_expired(now);
    }

    /// `lock(reason)` from the app, or a lock by the edge (tamper-proof fallback).
    pub fn handle_lock(&mut self, reason: Reason, now: Ms) {
        self.lock(reason, now);
    }

    /// Re-authentication was confirmed (by the server when there is one).
    pub fn handle_unlock_confirmed(&mut self, now: Ms) {
        if self.state != State::Locked {
            return;
        }
        self.lock_changed_at = now.max(self.lock_changed_at + 1);
        self.remote_hold = None;
        self.leave_locked(now, now, None, now);
        self.actions.push(Action::Share);
        self.evaluate(now);
    }

    /// The answer of an [`Action::Verify`] request sent at `sent_at`: a live session
    /// confirms the unlock another tab published; a `401` or a failure drops it (the page
    /// stays locked and nothing but a failure is recorded).
    pub fn handle_verify_answer(&mut self, answer: ServerAnswer, sent_at: Ms, now: Ms) {
        self.verifying = false;
        let Some(h) = self.hint else { return };
        if sent_at < self.hint_at {
            // A newer hint came while this request was out: it needs an answer of its own.
            return self.verify();
        }
        self.hint = None;
        if self.live_while_locked(answer, sent_at, now) {
            // Under the other tab's stamp, unshared: it already published this unlock.
            self.lock_changed_at = self.lock_changed_at.max(h.lock_changed_at);
            self.leave_locked(
                h.started.min(now),
                h.last_activity.min(now),
                Some(Reason::Remote),
                now,
            );
            self.evaluate(now);
        }
    }

    /// Another tab (or an earlier load) published its state. A lock is followed at once;
    /// an unlock, when this tab is locked and a server is configured, is only a hint that
    /// this tab checks with its own `GET server.url` ([`Action::Verify`]).
    pub fn handle_remote(&mut self, s: Shared, now: Ms) {
        let stamp = match s.locked {
            true => s.lock_changed_at,
            false => s
                .lock_changed_at
                .min(now.max(self.lock_changed_at) + STAMP_SLACK),
        };
        if stamp > self.lock_changed_at {
            let locked = self.state == State::Locked;
            if s.locked {
                self.lock_changed_at = stamp;
                self.hint = None;
                self.switched = None;
                if !locked {
                    self.enter_locked(Reason::Remote, now);
                    return;
                }
            } else if !locked {
                self.lock_changed_at = stamp;
            } else if self.t.server.is_some() {
                // Its stamp is taken only once the server confirms: a refused hint must
                // not outrank this tab's next real unlock or lock.
                if self.hint.is_none_or(|h| stamp > h.lock_changed_at) {
                    self.hint = Some(Shared {
                        lock_changed_at: stamp,
                        ..s
                    });
                    self.hint_at = now;
                    self.verify();
                }
            } else {
                // Without a server, any script of the origin could call `unlock()` anyway.
                self.lock_changed_at = stamp;
                self.leave_locked(
                    s.started.min(now),
                    s.last_activity.min(now),
                    Some(Reason::Remote),
                    now,
                );
            }
        }
        if s.server_at > self.server_at {
            self.server_at = s.server_at;
            self.server_expires = s.server_expires;
        }
        self.remote_hold = s.hold_until.filter(|h| *h > now);
        self.keepalive_at = self.keepalive_at.max(s.keepalive_at);
        if s.vis_at > self.vis_at {
            self.vis_at = s.vis_at;
            self.hidden_since = s.hidden_since;
            if self.visible == Some(true) && s.hidden_since.is_some() {
                // Another tab says none is visible: this one is, and says so.
                self.claim_hidden(true, now);
            }
        }
        if s.last_activity > self.last_activity && self.state != State::Locked {
            self.handle_activity(Source::Remote, s.last_activity, now);
        }
        self.evaluate(now);
    }

    /// Whether this tab speaks to the server (polls and keepalives).
    pub fn set_leader(&mut self, leader: bool, now: Ms) {
        if leader && !self.leader {
            if let Some((poll, _)) = self.t.server {
                self.next_poll = Some(now + poll);
            }
        }
        self.leader = leader;
        self.evaluate(now);
    }

    /// Ask for a `Flush` action at `at` (earliest request wins).
    pub fn schedule_flush(&mut self, at: Ms) {
        self.flush_at = Some(self.flush_at.map_or(at, |f| f.min(at)));
    }

    /// The state to publish to other tabs and later loads.
    pub fn shared(&self) -> Shared {
        Shared {
            last_activity: self.last_activity,
            started: self.started,
            // After a switch the origin is the new user's, and not locked: a page loaded
            // now starts active under their session.
            locked: self.state == State::Locked && self.switched.is_none(),
            reason: self.reason,
            lock_changed_at: self.lock_changed_at,
            server_expires: self.server_expires,
            server_at: self.server_at,
            hold_until: self.own_hold(),
            keepalive_at: self.keepalive_at,
            hidden_since: self.hidden_since,
            vis_at: self.vis_at,
            user: self.switched.or(self.user),
        }
    }

    // ---- internals ----

    /// Whether a live answer naming `user` (None: it names nobody, no check) is this page's
    /// user. The first one named is remembered; a different one is a switch: the page is
    /// covered (if it was not), never uncovered by this answer, and the edge reloads it.
    fn same_user(&mut self, user: Option<Ms>, now: Ms) -> bool {
        let Some(u) = user else { return true };
        match self.user {
            Some(mine) if mine != u => {
                self.switch(u, now);
                false
            }
            Some(_) => true,
            None => {
                self.user = Some(u);
                self.actions.push(Action::Share);
                true
            }
        }
    }

    /// A different user signed in: lock without ending their session at the server,
    /// purge again, and publish the origin as theirs and unlocked (a stamp every other
    /// tab takes as an unlock hint: each locked one verifies, and switches too).
    fn switch(&mut self, user: Ms, now: Ms) {
        self.lock_changed_at = now.max(self.lock_changed_at + 1);
        if self.state != State::Locked {
            self.enter_locked(Reason::Server, now);
        }
        self.hint = None;
        self.switched = Some(user);
        self.started = now;
        self.last_activity = now;
        self.remote_hold = None;
        self.audit(AuditKind::Switch, None, None);
        self.actions.push(Action::Switch);
        self.actions.push(Action::Share);
    }

    /// While a user-started request is in flight the lock waits, at most until the idle
    /// deadline plus `idle` again.
    fn own_hold(&self) -> Option<Ms> {
        (self.inflight > 0).then(|| self.last_activity + 2 * self.t.idle)
    }

    /// Publish "no tab visible since now" (`visible` false) or "one is" (true).
    fn claim_hidden(&mut self, visible: bool, now: Ms) {
        self.hidden_since = (!visible).then_some(now);
        self.vis_at = now.max(self.vis_at + 1);
        self.actions.push(Action::Share);
    }

    fn audit(&mut self, kind: AuditKind, reason: Option<Reason>, detail: Option<&'static str>) {
        self.actions.push(Action::Audit {
            kind,
            reason,
            detail,
        });
    }

    /// A `200` of `server.url`, in `serverTime` order (see [`Policy::handle_server_answer`]).
    /// False when it is expired or malformed (it then locked or was recorded as an error).
    fn apply_live(&mut self, expires_at: Ms, server_time: Ms, sent_at: Ms, now: Ms) -> bool {
        if expires_at <= server_time {
            self.server_expired(now);
            return false;
        }
        if expires_at - server_time > MAX_SERVER_LEAD {
            self.audit(AuditKind::Error, None, Some("server expiresAt too far"));
            return false;
        }
        let late = self.server_time - server_time;
        if late > 0 && late <= MAX_REORDER {
            return true;
        }
        if late != 0 {
            // The server read its clock about halfway through the round trip.
            self.skew = server_time - (sent_at + (now - sent_at).max(0) / 2);
        }
        let mut local = expires_at - self.skew;
        if late == 0 {
            local = local.max(self.server_expires.unwrap_or(local));
        }
        self.server_time = server_time;
        self.set_server_expiry(local, now);
        true
    }

    fn set_server_expiry(&mut self, local: Ms, now: Ms) {
        self.server_expires = Some(local);
        self.server_at = now;
        self.actions.push(Action::Share);
        self.evaluate(now);
    }

    fn server_expired(&mut self, now: Ms) {
        if self.state == State::Locked {
            return;
        }
        self.audit(AuditKind::ServerExpired, Some(Reason::Server), None);
        self.lock(Reason::Server, now);
    }

    /// Ask the server about the pending hint (one request out at a time).
    fn verify(&mut self) {
        if !self.verifying {
            self.verifying = true;
            self.actions.push(Action::Verify);
        }
    }

    fn force_keepalive(&mut self, now: Ms) {
        if self.t.server.is_some() {
            self.keepalive(now);
        }
    }

    /// Send a keepalive now, telling the server when the last activity was (a clock that
    /// went back since then gives 0, never a negative age).
    fn keepalive(&mut self, now: Ms) {
        self.keepalive_at = now;
        self.keepalive_pending = false;
        self.actions.push(Action::Keepalive {
            last_activity_ago_ms: (now - self.last_activity).max(0),
        });
    }

    /// This tab locks: a new, strictly later stamp, published to the other tabs.
    fn lock(&mut self, reason: Reason, now: Ms) {
        if self.state == State::Locked {
            return;
        }
        self.lock_changed_at = now.max(self.lock_changed_at + 1);
        self.enter_locked(reason, now);
        if self.t.server.is_some() && reason != Reason::Remote {
            self.actions.push(Action::EndServer { reason });
        }
        self.actions.push(Action::Share);
    }

    /// The lock itself, without a stamp or a share: for another tab's lock (it already
    /// published it, under its own stamp; re-stamping would let a late copy of it
    /// overrule that tab's later unlock).
    fn enter_locked(&mut self, reason: Reason, now: Ms) {
        self.state = State::Locked;
        self.switched = None;
        self.reason = reason;
        self.warned_deadline = None;
        self.keepalive_pending = false;
        self.server_expires = None;
        self.server_at = now;
        self.server_time = Ms::MIN / 2;
        self.actions.push(Action::Lock { reason });
        self.audit(AuditKind::Lock, Some(reason), None);
    }

    /// Out of the lock (confirmed here, or by another tab), the clocks restarting from
    /// `started` and `last_activity`.
    fn leave_locked(&mut self, started: Ms, last_activity: Ms, reason: Option<Reason>, now: Ms) {
        self.state = State::Active;
        self.hint = None;
        self.switched = None;
        if let Some((poll, _)) = self.t.server {
            self.next_poll = Some(now + poll);
        }
        self.started = started;
        self.last_activity = last_activity;
        self.warned_deadline = None;
        self.inflight = 0;
        self.actions.push(Action::Unlock);
        self.audit(AuditKind::Unlock, reason, None);
    }

    fn evaluate(&mut self, now: Ms) {
        if self
            .hidden_deadline()
            .is_some_and(|h| now >= h && h < self.deadline().0)
        {
            self.lock(Reason::Hidden, now);
        }
        if self.state != State::Locked {
            let (d, reason) = self.deadline();
            if now >= d && reason == Reason::Server {
                self.server_expired(now);
            } else if now >= d {
                self.lock(reason, now);
            } else if self.t.warn > 0 && now >= d - self.t.warn {
                let entering = self.state == State::Active;
                self.state = State::Warning;
                if self.warned_deadline != Some(d) {
                    self.warned_deadline = Some(d);
                    self.actions.push(Action::Warn { deadline: d });
                }
                if entering {
                    self.audit(AuditKind::Warn, Some(reason), None);
                }
            } else if self.state == State::Warning {
                self.state = State::Active;
                self.warned_deadline = None;
                self.actions.push(Action::WarnEnd);
            }
        }
        if self.state != State::Locked && self.leader {
            if let Some((poll, keep)) = self.t.server {
                if self.keepalive_pending && now >= self.keepalive_at + keep {
                    self.keepalive(now);
                }
                if self.next_poll.is_some_and(|p| now >= p) {
                    self.next_poll = Some(now + poll);
                    self.actions.push(Action::Poll);
                }
            }
        }
        if self.flush_at.is_some_and(|f| now >= f) {
            self.flush_at = None;
            self.actions.push(Action::Flush);
        }
    }
}

/// A user name as the shared state and the policy keep it: a 64-bit FNV-1a hash of its
/// UTF-8 bytes, so that storage (readable by anyone at the workstation) never holds the name.
pub fn user_id(name: &str) -> Ms {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as Ms
}

impl Shared {
    /// Compact text form for localStorage and BroadcastChannel (numbers and a state only).
    pub fn encode(&self) -> String {
        let mut s = String::from("1");
        let fields = [
            Some(self.last_activity),
            Some(self.started),
            Some(Ms::from(self.locked)),
            None,
            Some(self.lock_changed_at),
            self.server_expires,
            Some(self.server_at),
            self.hold_until,
            Some(self.keepalive_at),
            self.hidden_since,
            Some(self.vis_at),
            self.user,
        ];
        for (i, v) in fields.into_iter().enumerate() {
            s.push('|');
            match v {
                _ if i == 3 => s.push_str(self.reason.as_str()),
                Some(x) => super::text::push_int(&mut s, x),
                None => s.push('-'),
            }
        }
        s
    }

    /// Parses [`Shared::encode`]'s output, or the shorter forms of earlier releases
    /// (without the visibility fields or the user: they read as "unknown"); junk is `None`.
    pub fn decode(s: &str) -> Option<Shared> {
        let mut f = [""; 13];
        let mut rest = Some(s);
        let mut count = 0;
        for slot in f.iter_mut() {
            let Some(r) = rest else { break };
            (*slot, rest) = match super::text::split2(r, b'|') {
                Some((a, b)) => (a, Some(b)),
                None => (r, None),
            };
            count += 1;
        }
        if f[0] != "1" || rest.is_some() || !matches!(count, 10 | 12 | 13) {
            return None;
        }
        let old = count == 10;
        let n = |i: usize| super::text::parse_int(f[i]);
        let opt = |i: usize| {
            if f[i] == "-" {
                Some(None)
            } else {
                n(i).map(Some)
            }
        };
        Some(Shared {
            last_activity: n(1)?,
            started: n(2)?,
            locked: match f[3] {
                "0" => false,
                "1" => true,
                _ => return None,
            },
            reason: Reason::parse(f[4])?,
            lock_changed_at: n(5)?,
            server_expires: opt(6)?,
            server_at: n(7)?,
            hold_until: opt(8)?,
            keepalive_at: n(9)?,
            hidden_since: if old { None } else { opt(10)? },
            vis_at: if old { Ms::MIN / 2 } else { n(11)? },
            user: if count == 13 { opt(12)? } else { None },
        })
    }
}
