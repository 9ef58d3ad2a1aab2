//! Host tests of the pure core, driven by a fake clock.

use super::config::{self, ConfigError, ErrorClass, LockMode, Raw};
use super::policy::{
    user_id, Action, AuditKind, Ms, Policy, Reason, ServerAnswer, Shared, Source, State, Timing,
    HIDDEN_GRACE, MAX_SERVER_LEAD, PREPARE_MS, STAMP_SLACK, USER_REQUEST_WINDOW,
};

const S: Ms = 1_000;
const MIN: Ms = 60 * S;
const HOUR: Ms = 60 * MIN;
const T0: Ms = 1_800_000_000_000;

fn timing(idle: Ms, warn: Ms) -> Timing {
    Timing {
        idle,
        warn,
        absolute: None,
        server: None,
        hidden: None,
    }
}

/// A policy plus a fake clock that fires the one timer the way a browser would.
struct Sim {
    p: Policy,
    now: Ms,
    log: Vec<(Ms, Action)>,
}

impl Sim {
    fn new(t: Timing) -> Sim {
        let mut s = Sim {
            p: Policy::new(t, T0, None),
            now: T0,
            log: Vec::new(),
        };
        s.drain();
        s
    }
    fn drain(&mut self) {
        while let Some(a) = self.p.poll_action() {
            self.log.push((self.now - T0, a));
        }
    }
    /// Advance to `T0 + t`, waking at every armed timeout on the way.
    fn run_to(&mut self, t: Ms) {
        let end = T0 + t;
        while let Some(at) = self.p.poll_timeout() {
            if at > end {
                break;
            }
            self.now = self.now.max(at);
            self.p.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }
    /// Jump to `T0 + t` with no timer firing on the way (sleep, throttled tab), then wake.
    fn jump_to(&mut self, t: Ms) {
        self.now = T0 + t;
        self.p.handle_wake(self.now);
        self.drain();
    }
    fn input(&mut self) {
        self.p.handle_activity(Source::Input, self.now, self.now);
        self.drain();
    }
    /// The main actions (no audit/share/activity noise) with their times.
    fn main(&self) -> Vec<(Ms, Action)> {
        self.log
            .iter()
            .copied()
            .filter(|(_, a)| {
                matches!(
                    a,
                    Action::Warn { .. } | Action::WarnEnd | Action::Lock { .. } | Action::Unlock
                )
            })
            .collect()
    }
    fn audits(&self) -> Vec<AuditKind> {
        self.log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Audit { kind, .. } => Some(*kind),
                _ => None,
            })
            .collect()
    }
    fn count(&self, f: impl Fn(&Action) -> bool) -> usize {
        self.log.iter().filter(|(_, a)| f(a)).count()
    }
}

fn lock(r: Reason) -> Action {
    Action::Lock { reason: r }
}

// ---------------- policy ----------------

#[test]
fn warn_then_lock_at_the_exact_instants() {
    let mut s = Sim::new(timing(15 * MIN, MIN));
    s.run_to(HOUR);
    assert_eq!(
        s.main(),
        vec![
            (
                14 * MIN,
                Action::Warn {
                    deadline: T0 + 15 * MIN
                }
            ),
            (15 * MIN, lock(Reason::Idle))
        ]
    );
    assert_eq!(s.p.state(), State::Locked);
    assert_eq!(s.audits(), vec![AuditKind::Warn, AuditKind::Lock]);
    assert_eq!(
        s.p.poll_timeout(),
        None,
        "a locked page with no server needs no timer"
    );
}

#[test]
fn timer_one_ms_early_is_a_no_op() {
    let mut s = Sim::new(timing(10 * S, 2 * S));
    for t in [0, 1, 7_999] {
        s.now = T0 + t;
        s.p.handle_timeout(s.now);
        s.drain();
    }
    assert!(s.main().is_empty());
    assert_eq!(s.p.state(), State::Active);
    assert_eq!(s.p.poll_timeout(), Some(T0 + 8 * S));
    assert_eq!(s.p.remaining_ms(T0 + 7_999), 2_001);
}

#[test]
fn activity_during_warning_ends_it_and_moves_the_deadline() {
    let mut s = Sim::new(timing(10 * S, 3 * S));
    s.run_to(8 * S); // warning since 7 s
    assert_eq!(s.p.state(), State::Warning);
    s.input();
    assert_eq!(s.p.state(), State::Active);
    assert_eq!(s.p.remaining_ms(s.now), 10 * S);
    s.run_to(40 * S);
    assert_eq!(
        s.main(),
        vec![
            (
                7 * S,
                Action::Warn {
                    deadline: T0 + 10 * S
                }
            ),
            (8 * S, Action::WarnEnd),
            (
                15 * S,
                Action::Warn {
                    deadline: T0 + 18 * S
                }
            ),
            (18 * S, lock(Reason::Idle)),
        ]
    );
    assert!(s.audits().contains(&AuditKind::Extend));
}

#[test]
fn activity_before_warning_defers_everything() {
    let mut s = Sim::new(timing(10 * S, 3 * S));
    for t in (1..=50).map(|i| i * 5 * S) {
        s.run_to(t);
        s.input();
    }
    assert!(s.main().is_empty(), "{:?}", s.main());
    // at most one activity action per second even with input every ms
    let mut s = Sim::new(timing(10 * S, 3 * S));
    for ms in 0..3_000 {
        s.now = T0 + ms;
        s.input();
    }
    assert_eq!(s.count(|a| matches!(a, Action::Activity { .. })), 3);
    assert_eq!(
        s.p.remaining_ms(s.now),
        10 * S,
        "the deadline still follows the last input"
    );
}

#[test]
fn three_hour_sleep_locks_without_a_stale_warning() {
    let mut s = Sim::new(timing(15 * MIN, MIN));
    s.run_to(5 * MIN);
    s.jump_to(3 * HOUR + 5 * MIN);
    assert_eq!(s.main(), vec![(3 * HOUR + 5 * MIN, lock(Reason::Idle))]);
    assert!(!s.audits().contains(&AuditKind::Warn));
}

#[test]
fn wake_inside_the_warning_window_warns_with_what_is_left() {
    let mut s = Sim::new(timing(15 * MIN, MIN));
    s.jump_to(14 * MIN + 50 * S);
    assert_eq!(
        s.main(),
        vec![(
            14 * MIN + 50 * S,
            Action::Warn {
                deadline: T0 + 15 * MIN
            }
        )]
    );
    assert_eq!(s.p.remaining_ms(s.now), 10 * S);
}

#[test]
fn input_arriving_after_the_deadline_does_not_reopen() {
    let mut s = Sim::new(timing(10 * S, 0));
    s.now = T0 + 11 * S; // timer late, a keydown comes first
    s.input();
    assert_eq!(s.p.state(), State::Locked);
    assert_eq!(s.main(), vec![(11 * S, lock(Reason::Idle))]);
}

#[test]
fn absolute_timeout_wins_over_activity() {
    let mut s = Sim::new(Timing {
        idle: 10 * MIN,
        warn: MIN,
        absolute: Some(HOUR),
        server: None,
        hidden: None,
    });
    for m in 1..=70 {
        s.run_to(m * MIN);
        if s.p.state() != State::Locked {
            s.input();
        }
    }
    let main = s.main();
    assert_eq!(main.last(), Some(&(HOUR, lock(Reason::Absolute))));
    assert_eq!(
        main[0],
        (
            59 * MIN,
            Action::Warn {
                deadline: T0 + HOUR
            }
        )
    );
}

#[test]
fn server_expiry_earlier_than_idle_locks_at_the_server_instant() {
    let mut s = Sim::new(Timing {
        idle: 15 * MIN,
        warn: 0,
        absolute: None,
        server: Some((MIN, MIN)),
        hidden: None,
    });
    // server clock equals ours; it expires the session in 5 minutes
    s.p.handle_server_answer(
        ServerAnswer::Live {
            expires_at: T0 + 5 * MIN,
            server_time: T0,
            user: None,
        },
        T0,
        T0,
    );
    s.drain();
    s.run_to(HOUR);
    assert_eq!(s.main(), vec![(5 * MIN, lock(Reason::Server))]);
    assert!(s.audits().contains(&AuditKind::ServerExpired));
}

#[test]
fn skew_of_plus_and_minus_two_hours_is_corrected() {
    for skew in [2 * HOUR, -2 * HOUR] {
        let mut s = Sim::new(Timing {
            idle: HOUR,
            warn: 0,
            absolute: None,
            server: Some((HOUR, HOUR)),
            hidden: None,
        });
        // the server's clock is `skew` ahead; the request took 200 ms
        let sent = T0;
        let recv = T0 + 200;
        s.p.handle_server_answer(
            ServerAnswer::Live {
                expires_at: T0 + 100 + skew + 10 * MIN,
                server_time: T0 + 100 + skew,
                user: None,
            },
            sent,
            recv,
        );
        s.drain();
        assert_eq!(s.p.skew(), skew);
        s.run_to(2 * HOUR);
        assert_eq!(
            s.main(),
            vec![(10 * MIN + 100, lock(Reason::Server))],
            "skew {skew}"
        );
        // a header in server time is converted the same way (a later one: a header only
        // ever moves the server deadline later)
        let mut s = Sim::new(Timing {
            idle: HOUR,
            warn: 0,
            absolute: None,
            server: Some((HOUR, HOUR)),
            hidden: None,
        });
        s.p.handle_server_answer(
            ServerAnswer::Live {
                expires_at: T0 + skew + 10 * MIN,
                server_time: T0 + skew,
                user: None,
            },
            T0,
            T0,
        );
        s.p.handle_expires_header(T0 + skew + 20 * MIN, T0);
        s.drain();
        s.run_to(2 * HOUR);
        assert_eq!(s.main(), vec![(20 * MIN, lock(Reason::Server))]);
    }
}

#[test]
fn malformed_server_answers_never_unlock_extend_or_lock_earlier() {
    let t = Timing {
        idle: 10 * MIN,
        warn: 0,
        absolute: None,
        server: Some((MIN, MIN)),
        hidden: None,
    };
    let mut s = Sim::new(t);
    s.p.handle_server_answer(ServerAnswer::Failed("timeout"), T0, T0);
    s.p.handle_server_answer(
        ServerAnswer::Live {
            expires_at: T0 + 400 * 24 * HOUR,
            server_time: T0,
            user: None,
        },
        T0,
        T0,
    );
    s.p.handle_expires_header(T0 - 5 * MIN, T0); // in the past: ignored
    s.drain();
    assert_eq!(
        s.count(|a| matches!(
            a,
            Action::Audit {
                kind: AuditKind::Error,
                ..
            }
        )),
        3
    );
    assert_eq!(s.p.remaining_ms(T0), 10 * MIN);
    s.run_to(HOUR);
    assert_eq!(s.main(), vec![(10 * MIN, lock(Reason::Idle))]);
    // once locked, a live answer does not unlock
    s.p.handle_server_answer(
        ServerAnswer::Live {
            expires_at: s.now + HOUR,
            server_time: s.now,
            user: None,
        },
        s.now,
        s.now,
    );
    s.drain();
    assert_eq!(s.p.state(), State::Locked);
}

#[test]
fn unauthorized_locks_at_once_and_expired_live_answer_too() {
    let mut s = Sim::new(timing(HOUR, MIN));
    s.run_to(MIN);
    s.p.handle_unauthorized(s.now);
    s.drain();
    assert_eq!(s.main(), vec![(MIN, lock(Reason::Server))]);
    let mut s = Sim::new(timing(HOUR, MIN));
    s.p.handle_server_answer(
        ServerAnswer::Live {
            expires_at: T0,
            server_time: T0 + 5,
            user: None,
        },
        T0,
        T0,
    );
    s.drain();
    assert_eq!(s.p.state(), State::Locked);
    assert_eq!(s.p.reason(), Reason::Server);
}

#[test]
fn inflight_user_request_holds_the_lock_until_it_ends_or_the_cap() {
    let idle = 10 * MIN;
    // ends at 24 min: the lock waits, then idle restarts from the end of the request
    let mut s = Sim::new(timing(idle, 0));
    s.run_to(5 * MIN);
    s.p.handle_request_start(false, s.now, s.now);
    s.drain();
    s.run_to(24 * MIN);
    assert_eq!(s.p.state(), State::Active, "held at 15 min");
    s.p.handle_request_end(true, s.now);
    s.drain();
    s.run_to(HOUR);
    assert_eq!(s.main(), vec![(34 * MIN, lock(Reason::Idle))]);
    // never ends: capped at idle deadline + idleTimeoutMs
    let mut s = Sim::new(timing(idle, 0));
    s.run_to(5 * MIN);
    s.p.handle_request_start(false, s.now, s.now);
    s.drain();
    s.run_to(HOUR);
    assert_eq!(s.main(), vec![(25 * MIN, lock(Reason::Idle))]);
    // a background request neither counts nor holds
    let mut s = Sim::new(timing(idle, 0));
    s.run_to(5 * MIN);
    s.p.handle_request_start(false, s.now - USER_REQUEST_WINDOW - 1, s.now);
    s.drain();
    s.run_to(HOUR);
    assert_eq!(s.main(), vec![(10 * MIN, lock(Reason::Idle))]);
}

#[test]
fn lock_and_unlock_are_idempotent() {
    let mut s = Sim::new(timing(HOUR, MIN));
    s.p.handle_lock(Reason::Manual, s.now);
    s.p.handle_lock(Reason::Manual, s.now);
    s.p.handle_lock(Reason::Idle, s.now);
    s.p.handle_unauthorized(s.now);
    s.drain();
    assert_eq!(s.main(), vec![(0, lock(Reason::Manual))]);
    assert_eq!(s.p.reason(), Reason::Manual);
    s.run_to(MIN);
    s.p.handle_unlock_confirmed(s.now);
    s.p.handle_unlock_confirmed(s.now);
    s.drain();
    assert_eq!(
        s.main(),
        vec![(0, lock(Reason::Manual)), (MIN, Action::Unlock)]
    );
    assert_eq!(
        s.p.remaining_ms(s.now),
        HOUR,
        "the idle clock restarts at unlock"
    );
    assert!(
        !s.p.handle_extend(s.now + 2 * HOUR),
        "extend after the deadline is too late"
    );
}

#[test]
fn unlock_restarts_the_absolute_clock() {
    let mut s = Sim::new(Timing {
        idle: HOUR,
        warn: 0,
        absolute: Some(2 * HOUR),
        server: None,
        hidden: None,
    });
    s.run_to(2 * HOUR);
    assert_eq!(s.p.reason(), Reason::Idle);
    s.p.handle_unlock_confirmed(s.now);
    s.drain();
    assert_eq!(s.p.deadline(), (s.now + HOUR, Reason::Idle));
}

#[test]
fn keepalive_only_after_activity_and_at_most_once_per_interval() {
    let t = Timing {
        idle: HOUR,
        warn: 0,
        absolute: None,
        server: Some((10 * MIN, MIN)),
        hidden: None,
    };
    // typing every second for 10 minutes, no requests: one keepalive a minute
    let mut s = Sim::new(t);
    for sec in 0..600 {
        s.run_to(sec * S);
        s.input();
    }
    s.run_to(600 * S);
    let keeps = s.count(|a| matches!(a, Action::Keepalive { .. }));
    assert!((10..=11).contains(&keeps), "{keeps} keepalives");
    // no activity: polls only, never a keepalive
    let mut s = Sim::new(t);
    s.run_to(50 * MIN);
    assert_eq!(s.count(|a| matches!(a, Action::Keepalive { .. })), 0);
    assert_eq!(s.count(|a| *a == Action::Poll), 5);
    // a follower tab neither polls nor keeps alive
    let mut s = Sim::new(t);
    s.p.set_leader(false, T0);
    for sec in 0..600 {
        s.run_to(sec * S);
        s.input();
    }
    assert_eq!(
        s.count(|a| matches!(a, Action::Keepalive { .. }) || *a == Action::Poll),
        0
    );
}

impl Sim {
    /// Every keepalive sent: `(sent at, lastActivityAgoMs)`, times from T0.
    fn keepalives(&self) -> Vec<(Ms, Ms)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Keepalive {
                    last_activity_ago_ms,
                } => Some((*t, *last_activity_ago_ms)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn keepalive_says_how_long_ago_the_last_input_was() {
    let t = Timing {
        idle: HOUR,
        warn: 0,
        absolute: None,
        server: Some((HOUR, MIN)),
        hidden: None,
    };
    // input at 5 s (sent at once: the first one), input at 20 s, the keepalive at 65 s
    // carries the 45 s since then; the server sets its idle clock to 20 s, not to 65 s
    let mut s = Sim::new(t);
    s.run_to(5 * S);
    s.input();
    s.run_to(20 * S);
    s.input();
    s.run_to(10 * MIN);
    assert_eq!(s.keepalives(), vec![(5 * S, 0), (65 * S, 45 * S)]);
    // activity forwarded late by the edge's throttle counts from when it happened
    let mut s = Sim::new(t);
    s.now = T0 + 7 * S;
    s.p.handle_activity(Source::Input, T0 + 6_400, s.now);
    s.drain();
    assert_eq!(s.keepalives(), vec![(7 * S, 600)]);
    // extend() is activity now: 0
    let mut s = Sim::new(t);
    s.run_to(30 * S);
    assert!(s.p.handle_extend(s.now));
    s.drain();
    assert_eq!(s.keepalives(), vec![(30 * S, 0)]);
    // never negative: a follower saw input at 100 s, then the wall clock went back 20 s
    // and the tab became the leader: the pending keepalive says 0, not -20000
    let mut s = Sim::new(t);
    s.p.set_leader(false, T0);
    s.run_to(100 * S);
    s.input();
    s.now = T0 + 80 * S;
    s.p.set_leader(true, s.now);
    s.drain();
    assert_eq!(s.keepalives(), vec![(80 * S, 0)]);
}

#[test]
fn keepalive_age_after_a_burst_of_typing_that_stops() {
    // (keepaliveIntervalMs, a key every `every` ms from 0 up to `until`) -> every keepalive
    // as (sent at, lastActivityAgoMs). The input at 0 is the arming instant itself (no
    // news); the first real input is sent at once, later ones at most once per interval,
    // from the timer, carrying the time since the last key.
    type Row = (Ms, Ms, Ms, &'static [(Ms, Ms)]);
    let rows: [Row; 4] = [
        (MIN, 200, 5 * S, &[(200, 0), (60_200, 55_200)]),
        (
            10 * S,
            200,
            25 * S,
            &[(200, 0), (10_200, 200), (20_200, 200), (30_200, 5_200)],
        ),
        (S, 300, 2 * S, &[(300, 0), (1_300, 100), (2_300, 500)]),
        (S, 2_500, 5 * S, &[(2_500, 0), (5_000, 0)]),
    ];
    for (keep, every, until, want) in rows {
        let mut s = Sim::new(Timing {
            idle: HOUR,
            warn: 0,
            absolute: None,
            server: Some((HOUR, keep)),
            hidden: None,
        });
        let mut t = 0;
        while t <= until {
            s.run_to(t);
            s.input();
            t += every;
        }
        s.run_to(30 * MIN);
        assert_eq!(
            s.keepalives(),
            want,
            "keep {keep}, every {every}, until {until}"
        );
        assert!(s.keepalives().iter().all(|(_, ago)| *ago >= 0));
    }
}

#[test]
fn extend_sends_a_keepalive_and_ends_the_warning() {
    let t = Timing {
        idle: 10 * S,
        warn: 5 * S,
        absolute: None,
        server: Some((HOUR, HOUR)),
        hidden: None,
    };
    let mut s = Sim::new(t);
    s.run_to(6 * S);
    assert_eq!(s.p.state(), State::Warning);
    assert!(s.p.handle_extend(s.now));
    s.drain();
    assert_eq!(s.p.state(), State::Active);
    assert_eq!(s.count(|a| matches!(a, Action::Keepalive { .. })), 1);
    assert!(s.audits().contains(&AuditKind::Extend));
}

#[test]
fn remote_lock_unlock_and_activity() {
    let t = timing(10 * MIN, MIN);
    let mut a = Sim::new(t);
    let mut b = Sim::new(t);
    // activity in A at 8 min keeps B alive past its own 10-minute deadline
    a.run_to(8 * MIN);
    a.input();
    b.run_to(8 * MIN + 100);
    b.p.handle_remote(a.p.shared(), b.now);
    b.drain();
    b.run_to(16 * MIN);
    assert_eq!(b.p.state(), State::Active, "{:?}", b.main());
    // A locks; B follows with reason remote
    a.p.handle_lock(Reason::Manual, T0 + 17 * MIN);
    a.drain();
    b.p.handle_remote(a.p.shared(), b.now);
    b.drain();
    assert_eq!(b.p.state(), State::Locked);
    assert_eq!(b.p.reason(), Reason::Remote);
    // a stale message (older lock state) does not unlock B
    let mut stale = a.p.shared();
    stale.locked = false;
    stale.lock_changed_at -= 1;
    b.p.handle_remote(stale, b.now);
    assert_eq!(b.p.state(), State::Locked);
    // A unlocks; B follows
    a.p.handle_unlock_confirmed(T0 + 18 * MIN);
    b.now = T0 + 18 * MIN;
    b.p.handle_remote(a.p.shared(), b.now);
    b.drain();
    assert_eq!(b.p.state(), State::Active);
    assert_eq!(b.main().last(), Some(&(18 * MIN, Action::Unlock)));
}

#[test]
fn a_late_copy_of_a_lock_never_overrules_the_unlock_that_followed_it() {
    // A locks and unlocks within 50 ms while B is busy; B reads the lock at 500 ms.
    let t = timing(10 * MIN, MIN);
    let mut a = Sim::new(t);
    let mut b = Sim::new(t);
    a.run_to(MIN);
    b.run_to(MIN);
    a.p.handle_lock(Reason::Manual, a.now);
    let locked = a.p.shared();
    a.p.handle_unlock_confirmed(a.now + 50);
    let unlocked = a.p.shared();
    a.drain();
    assert!(unlocked.lock_changed_at > locked.lock_changed_at);
    b.now += 500;
    b.p.handle_remote(locked, b.now);
    b.drain();
    assert_eq!(b.p.state(), State::Locked);
    // B locks under A's stamp and does not publish a lock of its own ...
    assert_eq!(b.p.shared().lock_changed_at, locked.lock_changed_at);
    assert!(
        !b.log.iter().any(|(_, a)| *a == Action::Share),
        "{:?}",
        b.log
    );
    // ... so B's state cannot re-lock A, and A's unlock still unlocks B.
    a.p.handle_remote(b.p.shared(), b.now);
    assert_eq!(a.p.state(), State::Active);
    b.p.handle_remote(unlocked, b.now + 1);
    assert_eq!(b.p.state(), State::Active);
    // An unlock in the same millisecond as the lock still comes after it.
    let mut c = Sim::new(t);
    c.run_to(MIN);
    c.p.handle_lock(Reason::Manual, c.now);
    let l = c.p.shared().lock_changed_at;
    c.p.handle_unlock_confirmed(c.now);
    assert!(c.p.shared().lock_changed_at > l);
}

#[test]
fn a_load_after_the_deadline_starts_locked_and_a_reload_keeps_the_clock() {
    let t = timing(10 * MIN, MIN);
    let mut a = Sim::new(t);
    a.run_to(4 * MIN);
    a.input();
    let saved: Shared = a.p.shared();
    // reload at 6 min: still 8 minutes left, not 10
    let p = Policy::new(t, T0 + 6 * MIN, Some(saved));
    assert_eq!(p.remaining_ms(T0 + 6 * MIN), 8 * MIN);
    // load at 20 min: locked at once
    let mut p = Policy::new(t, T0 + 20 * MIN, Some(saved));
    assert_eq!(p.state(), State::Locked);
    assert_eq!(
        p.poll_action(),
        Some(Action::Lock {
            reason: Reason::Idle
        })
    );
    // a locked origin stays locked for a new load
    let mut locked = saved;
    locked.locked = true;
    locked.reason = Reason::Manual;
    let mut p = Policy::new(t, T0 + 5 * MIN, Some(locked));
    assert_eq!(p.state(), State::Locked);
    // ... as a remote lock: the tab that locked already told the server (no second DELETE)
    assert_eq!(
        p.poll_action(),
        Some(Action::Lock {
            reason: Reason::Remote
        })
    );
    // and the shared state keeps the original reason for the next load
    assert_eq!(p.shared().reason, Reason::Manual);
}

#[test]
fn remote_hold_from_another_tab_defers_the_idle_lock() {
    let t = timing(10 * MIN, 0);
    let mut a = Sim::new(t);
    let mut b = Sim::new(t);
    a.run_to(5 * MIN);
    a.p.handle_request_start(false, a.now, a.now);
    b.run_to(5 * MIN);
    b.p.handle_remote(a.p.shared(), b.now);
    b.drain();
    b.run_to(20 * MIN);
    assert_eq!(b.p.state(), State::Active);
    b.run_to(HOUR);
    assert_eq!(b.main(), vec![(25 * MIN, lock(Reason::Idle))]);
}

#[test]
fn flush_is_scheduled_in_the_same_timer_table() {
    let mut s = Sim::new(timing(HOUR, 0));
    s.p.schedule_flush(T0 + 5 * S);
    s.p.schedule_flush(T0 + 9 * S);
    assert_eq!(s.p.poll_timeout(), Some(T0 + 5 * S));
    s.run_to(10 * S);
    assert_eq!(s.count(|a| *a == Action::Flush), 1);
}

fn with_server(idle: Ms) -> Timing {
    Timing {
        idle,
        warn: 0,
        absolute: None,
        server: Some((MIN, MIN)),
        hidden: None,
    }
}

/// A live answer of the server (same clock as ours) for a session ending in an hour.
fn live(now: Ms) -> ServerAnswer {
    ServerAnswer::Live {
        expires_at: now + HOUR,
        server_time: now,
        user: None,
    }
}

impl Sim {
    /// Hand the remote state to this tab at its current time and record what it does.
    fn hear(&mut self, sh: Shared) {
        self.p.handle_remote(sh, self.now);
        self.drain();
    }
    fn verify_answer(&mut self, answer: ServerAnswer, sent_at: Ms) {
        self.p.handle_verify_answer(answer, sent_at, self.now);
        self.drain();
    }
    fn since(&self, mark: usize) -> Vec<Action> {
        self.log[mark..].iter().map(|(_, a)| *a).collect()
    }
}

/// The state another tab published, with the lock cleared and the stamp moved later: what
/// a script of the origin can post on the channel or write to storage.
fn forged_unlock(mut sh: Shared, later: Ms) -> Shared {
    sh.locked = false;
    sh.lock_changed_at += later;
    sh
}

#[test]
fn with_a_server_a_remote_unlock_is_a_hint_the_tab_checks_with_the_server() {
    let t = with_server(HOUR);
    let (mut a, mut b) = (Sim::new(t), Sim::new(t));
    a.run_to(MIN);
    b.run_to(MIN);
    a.p.handle_lock(Reason::Manual, a.now);
    a.drain();
    let locked = a.p.shared();
    b.hear(locked);
    assert_eq!(b.p.state(), State::Locked);
    // a forged unlock: B stays locked and asks the server, once however often it is posted
    b.now += S;
    let mark = b.log.len();
    b.hear(forged_unlock(locked, 10));
    b.hear(forged_unlock(locked, 20));
    assert_eq!(b.p.state(), State::Locked);
    assert_eq!(b.since(mark), vec![Action::Verify]);
    // the server has no session (the lock's DELETE ended it): still locked, nothing audited
    let sent = b.now;
    b.now += 30;
    b.verify_answer(ServerAnswer::Expired, sent);
    assert_eq!(b.p.state(), State::Locked);
    assert_eq!(
        b.since(mark),
        vec![Action::Verify],
        "no unlock, no audit, no retry"
    );
    // the refused hint's stamp was not taken: B's state still carries A's lock
    assert_eq!(b.p.shared().lock_changed_at, locked.lock_changed_at);
    assert!(b.p.shared().locked);
    // a failed check never unlocks either, and is recorded as an error
    b.hear(forged_unlock(locked, 30));
    b.verify_answer(ServerAnswer::Failed("timeout"), b.now);
    assert_eq!(b.p.state(), State::Locked);
    assert_eq!(b.audits().last(), Some(&AuditKind::Error));
    // the user signs in again in A: B hears A's unlock, checks, and the live answer unlocks it
    a.now += 2 * S;
    a.p.handle_unlock_confirmed(a.now);
    a.drain();
    let unlocked = a.p.shared();
    b.now = a.now + 5;
    let mark = b.log.len();
    b.hear(unlocked);
    assert_eq!(b.p.state(), State::Locked, "not before the server answered");
    let sent = b.now;
    b.now += 40;
    b.verify_answer(live(b.now), sent);
    assert_eq!(b.p.state(), State::Active);
    let after = b.since(mark);
    assert!(after.contains(&Action::Unlock), "{after:?}");
    assert!(after.contains(&Action::Audit {
        kind: AuditKind::Unlock,
        reason: Some(Reason::Remote),
        detail: None
    }));
    // under A's stamp (what B publishes next cannot outrank A's later locks)
    assert_eq!(b.p.shared().lock_changed_at, unlocked.lock_changed_at);
    // a remote lock stays immediate
    a.now += S;
    a.p.handle_lock(Reason::Idle, a.now);
    b.now = a.now + 5;
    b.hear(a.p.shared());
    assert_eq!(b.p.state(), State::Locked);
}

#[test]
fn a_hint_needs_an_answer_to_a_request_sent_after_it_and_a_newer_lock_drops_it() {
    let t = with_server(HOUR);
    let (mut a, mut b) = (Sim::new(t), Sim::new(t));
    a.run_to(MIN);
    b.run_to(MIN);
    a.p.handle_lock(Reason::Manual, a.now);
    let locked = a.p.shared();
    b.hear(locked);
    // B already had a check out for an earlier hint when a newer one came
    b.hear(forged_unlock(locked, 1));
    let first_sent = b.now;
    b.now += 10;
    let mark = b.log.len();
    b.hear(forged_unlock(locked, 2));
    assert_eq!(b.since(mark), vec![], "one request out at a time");
    // the live answer to the earlier request does not count for the newer hint: ask again
    b.now += 10;
    b.verify_answer(live(b.now), first_sent);
    assert_eq!(b.p.state(), State::Locked);
    assert!(b.since(mark).contains(&Action::Verify));
    // a newer lock arrives before the answer: the hint is gone, a live answer unlocks nothing
    let mut newer_lock = locked;
    newer_lock.lock_changed_at += 3;
    b.hear(newer_lock);
    b.verify_answer(live(b.now), b.now);
    assert_eq!(b.p.state(), State::Locked);
    // without a server a remote unlock is followed at once (README: it trusts the origin)
    let t = timing(HOUR, 0);
    let (mut a, mut c) = (Sim::new(t), Sim::new(t));
    a.p.handle_lock(Reason::Manual, a.now);
    c.hear(a.p.shared());
    c.hear(forged_unlock(a.p.shared(), 1));
    assert_eq!(c.p.state(), State::Active);
    assert_eq!(c.count(|a| *a == Action::Verify), 0);
}

#[test]
fn unlock_with_a_server_needs_a_live_well_formed_answer() {
    let t = with_server(HOUR);
    let mut s = Sim::new(t);
    s.p.handle_lock(Reason::Manual, s.now);
    s.drain();
    for bad in [
        ServerAnswer::Expired,
        ServerAnswer::Failed("timeout"),
        ServerAnswer::Live {
            expires_at: s.now,
            server_time: s.now,
            user: None,
        },
        ServerAnswer::Live {
            expires_at: s.now + MAX_SERVER_LEAD + 1,
            server_time: s.now,
            user: None,
        },
    ] {
        s.p.handle_unlock_answer(bad, s.now, s.now);
        s.drain();
        assert_eq!(s.p.state(), State::Locked, "{bad:?}");
    }
    s.p.handle_unlock_answer(live(s.now), s.now, s.now);
    s.drain();
    assert_eq!(s.p.state(), State::Active);
}

#[test]
fn a_forged_far_future_stamp_never_outranks_the_real_locks_after_it() {
    // Two active tabs; a script posts an unlocked state stamped a year ahead. Without the
    // cap, B would take that stamp and ignore every real lock for a year.
    for t in [timing(HOUR, 0), with_server(HOUR)] {
        let (mut a, mut b) = (Sim::new(t), Sim::new(t));
        a.run_to(MIN);
        b.run_to(MIN);
        b.hear(forged_unlock(a.p.shared(), 365 * 24 * HOUR));
        assert!(b.p.shared().lock_changed_at <= b.now + STAMP_SLACK);
        a.now += 2 * STAMP_SLACK;
        a.p.handle_lock(Reason::Manual, a.now);
        b.now = a.now + 5;
        b.hear(a.p.shared());
        assert_eq!(b.p.state(), State::Locked, "{t:?}");
    }
    // The same from a locked tab whose server session is live (the user is signed in):
    // the check unlocks it, but under a capped stamp, so A's next lock still wins.
    let t = with_server(HOUR);
    let (mut a, mut b) = (Sim::new(t), Sim::new(t));
    a.run_to(MIN);
    b.run_to(MIN);
    a.p.handle_lock(Reason::Manual, a.now);
    b.hear(a.p.shared());
    b.hear(forged_unlock(a.p.shared(), 365 * 24 * HOUR));
    b.verify_answer(live(b.now), b.now);
    assert_eq!(b.p.state(), State::Active);
    a.p.handle_unlock_confirmed(a.now + 10);
    a.now += 2 * STAMP_SLACK;
    a.p.handle_lock(Reason::Idle, a.now);
    b.now = a.now + 5;
    b.hear(a.p.shared());
    assert_eq!(b.p.state(), State::Locked);
}

#[test]
fn a_load_into_a_forged_unlocked_state_locks_when_the_server_says_401() {
    // Storage says "unlocked", stamped later than the real lock, while the server session
    // has ended: the load's first GET locks it, and its lock outranks the forged stamp so
    // every tab (and the next load) agrees it is locked.
    let t = with_server(HOUR);
    let mut a = Sim::new(t);
    a.run_to(MIN);
    a.p.handle_lock(Reason::Manual, a.now);
    let forged = forged_unlock(a.p.shared(), 500);
    let now = a.now + S;
    let mut p = Policy::new(t, now, Some(forged));
    while p.poll_action().is_some() {}
    p.handle_server_answer(ServerAnswer::Expired, now, now + 20);
    assert_eq!(p.state(), State::Locked);
    let mut acts = Vec::new();
    while let Some(x) = p.poll_action() {
        acts.push(x);
    }
    assert!(acts.contains(&lock(Reason::Server)), "{acts:?}");
    assert!(acts.contains(&Action::Share));
    assert!(p.shared().locked && p.shared().lock_changed_at > forged.lock_changed_at);
    let mut b = Sim::new(t);
    b.now = now + 30;
    b.hear(forged);
    b.hear(p.shared());
    assert_eq!(b.p.state(), State::Locked);
}

#[test]
fn hours_of_simulated_time_run_fast() {
    // 24 h of input every 30 s with a 1-min poll: thousands of steps, microseconds each
    let t = Timing {
        idle: 15 * MIN,
        warn: MIN,
        absolute: Some(12 * HOUR),
        server: Some((MIN, MIN)),
        hidden: None,
    };
    let mut s = Sim::new(t);
    let mut t_ms = 0;
    while t_ms < 24 * HOUR {
        t_ms += 30 * S;
        s.run_to(t_ms);
        if s.p.state() == State::Locked {
            s.p.handle_unlock_confirmed(s.now);
            s.drain();
        } else {
            s.input();
        }
    }
    let locks: Vec<_> = s
        .main()
        .into_iter()
        .filter(|(_, a)| matches!(a, Action::Lock { .. }))
        .collect();
    assert_eq!(
        locks,
        vec![
            (12 * HOUR, lock(Reason::Absolute)),
            (24 * HOUR, lock(Reason::Absolute))
        ]
    );
}

// ---------------- config ----------------

fn obj(pairs: &[(&str, Raw)]) -> Raw {
    Raw::Obj(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}
fn n(v: f64) -> Raw {
    Raw::Num(v)
}
fn s(v: &str) -> Raw {
    Raw::Str(v.into())
}

#[test]
fn defaults() {
    let c = config::parse(&Raw::Null).unwrap();
    assert_eq!(c.idle_timeout_ms, 900_000);
    assert_eq!(c.warn_before_ms, 60_000);
    assert_eq!(c.absolute_timeout_ms, None);
    assert_eq!(c.activity_events.len(), 6);
    assert!(c.requests.track && c.cross_tab && c.lock.overlay && c.purge.session_storage);
    assert_eq!(c.lock.mode, LockMode::Blur);
    assert_eq!(c.lock.target, "body");
    assert_eq!(c.lock.title, "Session locked");
    assert!(c.server.is_none() && c.audit.is_none());
    // warn default is a quarter of a short idle timeout
    let c = config::parse(&obj(&[("idleTimeoutMs", n(8000.0))])).unwrap();
    assert_eq!(c.warn_before_ms, 2000);
    let c = config::parse(&obj(&[("server", obj(&[("url", s("/session"))]))])).unwrap();
    let sv = c.server.unwrap();
    assert_eq!(
        (sv.poll_interval_ms, sv.keepalive_interval_ms),
        (60_000, 60_000)
    );
    assert_eq!(sv.expires_header, "Session-Expires");
    assert_eq!(sv.credentials.as_str(), "same-origin");
    assert_eq!(sv.signin, None);
    let c = config::parse(&obj(&[(
        "server",
        obj(&[("url", s("/session")), ("signin", s("/login?popup=1"))]),
    )]))
    .unwrap();
    assert_eq!(c.server.unwrap().signin.as_deref(), Some("/login?popup=1"));
}

#[test]
fn bad_options_name_the_option_and_value() {
    use ErrorClass::*;
    let cases: Vec<(Raw, ErrorClass, &str)> = vec![
        (n(5.0), Type, "options must be an object, got number 5"),
        (
            Raw::Arr(vec![]),
            Type,
            "options must be an object, got an array of length 0",
        ),
        (
            obj(&[("server", Raw::Arr(vec![n(1.0)]))]),
            Type,
            "server must be an object, got an array of length 1",
        ),
        (
            obj(&[("idleTimeoutMs", n(500.0))]),
            Range,
            "idleTimeoutMs (500)",
        ),
        (
            obj(&[("idleTimeoutMs", n(f64::NAN))]),
            Range,
            "idleTimeoutMs (NaN)",
        ),
        (
            obj(&[("idleTimeoutMs", n(f64::INFINITY))]),
            Range,
            "idleTimeoutMs (Infinity)",
        ),
        (
            obj(&[("idleTimeoutMs", n(86_400_001.0))]),
            Range,
            "idleTimeoutMs (86400001)",
        ),
        (
            obj(&[("idleTimeoutMs", s("900000"))]),
            Type,
            "idleTimeoutMs must be a number of milliseconds, got string \"900000\"",
        ),
        (
            obj(&[("idleTimout", n(1000.0))]),
            Type,
            "unknown option idleTimout (given 1000)",
        ),
        (
            obj(&[("warnBeforeMs", n(900_000.0))]),
            Range,
            "warnBeforeMs (900000) must be less than idleTimeoutMs (900000)",
        ),
        (
            obj(&[("warnBeforeMs", n(-1.0))]),
            Range,
            "warnBeforeMs (-1)",
        ),
        (
            obj(&[("absoluteTimeoutMs", n(999.0))]),
            Range,
            "absoluteTimeoutMs (999)",
        ),
        (
            obj(&[("absoluteTimeoutMs", n(604_800_001.0))]),
            Range,
            "absoluteTimeoutMs (604800001)",
        ),
        (
            obj(&[("activityEvents", s("keydown"))]),
            Type,
            "activityEvents must be an array of strings",
        ),
        (
            obj(&[("activityEvents", Raw::Arr(vec![s("keydown"), n(1.0)]))]),
            Type,
            "activityEvents[1] must be a string, got number 1",
        ),
        (
            obj(&[("activityEvents", Raw::Arr(vec![s("clik")]))]),
            Range,
            "activityEvents[0] (\"clik\")",
        ),
        (
            obj(&[("requests", obj(&[("track", s("yes"))]))]),
            Type,
            "requests.track must be a boolean, got string \"yes\"",
        ),
        (
            obj(&[("requests", obj(&[("ignor", Raw::Arr(vec![]))]))]),
            Type,
            "unknown option requests.ignor",
        ),
        (
            obj(&[("server", obj(&[("pollIntervalMs", n(5000.0))]))]),
            Type,
            "server.url is required",
        ),
        (
            obj(&[("server", s("/session"))]),
            Type,
            "server must be an object, got string \"/session\"",
        ),
        (
            obj(&[(
                "server",
                obj(&[("url", s("/s")), ("pollIntervalMs", n(10.0))]),
            )]),
            Range,
            "server.pollIntervalMs (10)",
        ),
        (
            obj(&[(
                "server",
                obj(&[("url", s("/s")), ("keepaliveIntervalMs", n(3_600_001.0))]),
            )]),
            Range,
            "server.keepaliveIntervalMs (3600001)",
        ),
        (
            obj(&[("server", obj(&[("url", s("/s")), ("signin", n(5.0))]))]),
            Type,
            "server.signin must be a string, got number 5",
        ),
        (
            obj(&[("server", obj(&[("url", s("/s")), ("signin", s(" "))]))]),
            Range,
            "server.signin (\" \") must not be empty",
        ),
        (
            obj(&[(
                "server",
                obj(&[("url", s("/s")), ("credentials", s("all"))]),
            )]),
            Range,
            "server.credentials (\"all\")",
        ),
        (
            obj(&[(
                "server",
                obj(&[("url", s("/s")), ("headers", obj(&[("X-A", n(1.0))]))]),
            )]),
            Type,
            "server.headers.X-A must be a string",
        ),
        (
            obj(&[("lock", obj(&[("mode", s("fade"))]))]),
            Range,
            "lock.mode (\"fade\") must be one of \"blur\", \"hide\"",
        ),
        (
            obj(&[("lock", obj(&[("overlay", n(0.0))]))]),
            Type,
            "lock.overlay must be a boolean, got number 0",
        ),
        (
            obj(&[("lock", obj(&[("target", s(""))]))]),
            Range,
            "lock.target (\"\") must not be empty",
        ),
        (
            obj(&[("lock", obj(&[("colour", s("red"))]))]),
            Type,
            "unknown option lock.colour (given \"red\")",
        ),
        (
            obj(&[("purge", obj(&[("localStorageKeys", s("token"))]))]),
            Type,
            "purge.localStorageKeys must be an array of strings",
        ),
        (
            obj(&[("crossTab", s("true"))]),
            Type,
            "crossTab must be a boolean, got string \"true\"",
        ),
        (obj(&[("audit", obj(&[]))]), Type, "audit.url is required"),
    ];
    for (raw, class, msg) in cases {
        let e: ConfigError = config::parse(&raw).expect_err(msg);
        let text = e.to_string();
        assert_eq!(e.class(), class, "{text}");
        assert!(text.starts_with("autologoff: "), "{text}");
        assert!(text.contains(msg), "{text:?} should contain {msg:?}");
    }
}

#[test]
fn storage_key_patterns() {
    assert!(config::key_matches("token", "token"));
    assert!(!config::key_matches("token", "token2"));
    assert!(config::key_matches("phi:*", "phi:patient"));
    assert!(!config::key_matches("phi:*", "ph"));
    assert!(config::key_matches("*", "anything"));
}

#[test]
fn shared_state_round_trips_and_rejects_junk() {
    let mut s = Sim::new(Timing {
        idle: HOUR,
        warn: 0,
        absolute: None,
        server: Some((MIN, MIN)),
        hidden: None,
    });
    s.p.handle_server_answer(
        ServerAnswer::Live {
            expires_at: T0 + MIN,
            server_time: T0,
            user: None,
        },
        T0,
        T0,
    );
    s.p.handle_request_start(false, T0 + 5, T0 + 5);
    let sh = s.p.shared();
    assert_eq!(Shared::decode(&sh.encode()), Some(sh));
    // a fresh tab's state ("never" is i64::MIN / 2) round-trips too
    let fresh = Policy::new(timing(HOUR, 0), T0, None).shared();
    assert_eq!(Shared::decode(&fresh.encode()), Some(fresh));
    for junk in [
        "",
        "1|2|3",
        "2|1|1|0|idle|1|-|1|-|1",
        "1|x|1|0|idle|1|-|1|-|1",
        "1|1|1|2|idle|1|-|1|-|1",
        "1|1|1|0|nap|1|-|1|-|1",
        "1|1|1|0|idle|1|-|1|-|1|-",
        "1|1|1|0|idle|1|-|1|-|1|-|x",
        "1|1|1|0|idle|1|-|1|-|1|-|1|x",
        "1|1|1|0|idle|1|-|1|-|1|-|1|1|1",
    ] {
        assert_eq!(Shared::decode(junk), None, "{junk}");
    }
    // the shorter form of the previous release still reads (visibility unknown)
    let old = Shared::decode("1|5|6|1|manual|7|-|8|-|9").unwrap();
    assert!(old.locked && old.hidden_since.is_none());
    assert_eq!((old.last_activity, old.keepalive_at), (5, 9));
}

/// The edge forwards input at most once a second and hands the newest one over when the
/// timer fires. Input made before the warning instant must not flash a warning (a `warn`
/// event, then an `extend` a moment later) when it reaches the core at that instant.
#[test]
fn throttled_input_from_before_the_warning_instant_shows_no_warning() {
    let mut s = Sim::new(timing(3 * S, 1500));
    // last forwarded input at T0; the newest (throttled) one at T0 + 400 ms
    s.run_to(1499);
    assert_eq!(s.p.poll_timeout(), Some(T0 + 1500));
    s.now = T0 + 1500;
    s.p.handle_activity(Source::Input, T0 + 400, T0 + 1500);
    s.p.handle_timeout(T0 + 1500);
    s.drain();
    assert_eq!(s.main(), vec![], "no warning shown and taken back");
    assert!(!s.audits().contains(&AuditKind::Extend), "{:?}", s.audits());
    assert_eq!(s.p.state(), State::Active);
    // the warning then comes at the right instant for the newest input
    s.run_to(10 * S);
    assert_eq!(
        s.main(),
        vec![
            (
                1900,
                Action::Warn {
                    deadline: T0 + 3400
                }
            ),
            (3400, lock(Reason::Idle))
        ]
    );
}

/// Without a warning the same holds for the lock: input the edge held back reaches the
/// core at the old deadline and defers it (the lock comes `idle` after that input).
#[test]
fn throttled_input_from_before_the_deadline_defers_the_lock() {
    let mut s = Sim::new(timing(3 * S, 0));
    s.run_to(2999);
    s.now = T0 + 3000;
    s.p.handle_activity(Source::Input, T0 + 400, T0 + 3000);
    s.p.handle_timeout(T0 + 3000);
    s.drain();
    assert_eq!(s.p.state(), State::Active);
    s.run_to(10 * S);
    assert_eq!(s.main(), vec![(3400, lock(Reason::Idle))]);
    // but input from after a deadline never reopens it (a late wake, the same call)
    let mut s = Sim::new(timing(3 * S, 0));
    s.now = T0 + 3500;
    s.p.handle_activity(Source::Input, T0 + 3100, T0 + 3500);
    s.drain();
    assert_eq!(s.main(), vec![(3500, lock(Reason::Idle))]);
}

// ---------------- server answers out of order ----------------

fn server_sim() -> Sim {
    Sim::new(Timing {
        idle: HOUR,
        warn: 0,
        absolute: None,
        server: Some((MIN, MIN)),
        hidden: None,
    })
}

fn live_at(expires_at: Ms, server_time: Ms) -> ServerAnswer {
    ServerAnswer::Live {
        expires_at,
        server_time,
        user: None,
    }
}

#[test]
fn a_poll_answer_arriving_after_the_keepalive_answer_is_ignored() {
    for skew in [0, 2 * HOUR, -2 * HOUR] {
        let mut s = server_sim();
        // GET sent at 10 s, answered at 10.1 s (server idle clock: expires at 3 min); POST
        // sent at 10.05 s, answered at 10.2 s (expires at 15 min). The POST's answer
        // arrives first (10.3 s), the GET's last (10.5 s).
        s.now = T0 + 10_300;
        s.p.handle_server_answer(
            live_at(T0 + skew + 15 * MIN, T0 + skew + 10_200),
            T0 + 10_050,
            s.now,
        );
        s.now = T0 + 10_500;
        s.p.handle_server_answer(
            live_at(T0 + skew + 3 * MIN, T0 + skew + 10_100),
            T0 + 10_000,
            s.now,
        );
        s.drain();
        // the skew stays the one measured from the applied answer (midpoint 10.175 s)
        assert_eq!(s.p.skew(), skew + 25, "skew {skew}");
        assert_eq!(s.p.deadline(), (T0 + 15 * MIN - 25, Reason::Server));
        s.run_to(HOUR);
        assert_eq!(s.main(), vec![(15 * MIN - 25, lock(Reason::Server))]);
    }
}

#[test]
fn two_keepalive_answers_in_reverse_order_keep_the_newer() {
    let mut s = server_sim();
    // keepalives sent at 50 s and 51 s (answered at 50.5 s and 51.2 s); the second
    // answer arrives first
    s.now = T0 + 51_300;
    s.p.handle_server_answer(
        live_at(T0 + 51_200 + 20 * MIN, T0 + 51_200),
        T0 + 51_000,
        s.now,
    );
    s.now = T0 + 51_400;
    s.p.handle_server_answer(
        live_at(T0 + 50_500 + 20 * MIN, T0 + 50_500),
        T0 + 50_000,
        s.now,
    );
    s.drain();
    assert_eq!(
        s.p.deadline(),
        (T0 + 51_200 + 20 * MIN - 50, Reason::Server)
    );
    assert_eq!(
        s.p.shared().server_expires,
        Some(T0 + 51_200 + 20 * MIN - 50)
    );
    // two answers made in the same server millisecond: the later expiry holds
    let mut s = server_sim();
    s.now = T0 + 100;
    s.p.handle_server_answer(live_at(T0 + 20 * MIN, T0 + 50), T0, s.now);
    s.p.handle_server_answer(live_at(T0 + 10 * MIN, T0 + 50), T0, s.now);
    s.drain();
    assert_eq!(s.p.deadline(), (T0 + 20 * MIN, Reason::Server));
    // a newer answer is applied even when it moves the deadline earlier
    s.now = T0 + 200;
    s.p.handle_server_answer(live_at(T0 + 5 * MIN, T0 + 150), T0 + 100, s.now);
    s.drain();
    assert_eq!(s.p.deadline(), (T0 + 5 * MIN, Reason::Server));
}

#[test]
fn session_expires_header_only_moves_the_server_deadline_later() {
    let mut s = server_sim();
    s.p.handle_server_answer(live_at(T0 + 10 * MIN, T0), T0, T0);
    s.run_to(MIN);
    // an API response generated before the keepalive's answer, arriving after it
    s.p.handle_expires_header(T0 + 5 * MIN, s.now);
    s.drain();
    assert_eq!(s.p.deadline(), (T0 + 10 * MIN, Reason::Server));
    // a newer one moves it later
    s.p.handle_expires_header(T0 + 12 * MIN, s.now);
    s.drain();
    assert_eq!(s.p.deadline(), (T0 + 12 * MIN, Reason::Server));
    s.p.handle_expires_header(T0 + 11 * MIN, s.now);
    s.drain();
    assert_eq!(s.p.deadline(), (T0 + 12 * MIN, Reason::Server));
    // an older header is normal, not an error
    assert!(!s.audits().contains(&AuditKind::Error), "{:?}", s.audits());
    s.run_to(HOUR);
    assert_eq!(s.main(), vec![(12 * MIN, lock(Reason::Server))]);
    // with no server deadline known yet, the header sets one
    let mut s = server_sim();
    s.p.handle_expires_header(T0 + 30 * MIN, T0);
    assert_eq!(s.p.deadline(), (T0 + 30 * MIN, Reason::Server));
}

#[test]
fn a_401_is_final_a_late_200_neither_revives_nor_unlocks() {
    for via_api in [true, false] {
        let mut s = server_sim();
        s.p.handle_server_answer(live_at(T0 + 20 * MIN, T0), T0, T0);
        s.run_to(MIN);
        // a poll (answered at 59.9 s: live) is in flight when an API call answers 401 (or
        // the session's own GET/POST does)
        if via_api {
            s.p.handle_unauthorized(s.now);
        } else {
            s.p.handle_server_answer(ServerAnswer::Expired, s.now - 500, s.now);
        }
        s.drain();
        assert_eq!(s.p.state(), State::Locked);
        // the poll's 200 arrives after the 401, then a header, then a 200 made later still
        s.now += 100;
        s.p.handle_server_answer(
            live_at(T0 + 25 * MIN, T0 + MIN - 100),
            T0 + MIN - 200,
            s.now,
        );
        s.p.handle_expires_header(T0 + 30 * MIN, s.now);
        s.p.handle_server_answer(live_at(T0 + 40 * MIN, T0 + MIN + 50), T0 + MIN, s.now);
        s.drain();
        assert_eq!(s.p.state(), State::Locked);
        assert_eq!(s.p.reason(), Reason::Server);
        assert_eq!(s.main(), vec![(MIN, lock(Reason::Server))]);
        assert_eq!(
            s.p.shared().server_expires,
            None,
            "a late 200 must not leave a server deadline behind (via_api {via_api})"
        );
        assert_eq!(s.p.remaining_ms(s.now), 0);
        // only unlock()'s GET after re-authentication unlocks: not a malformed one, not a 401
        s.now = T0 + MIN + 30 * S;
        s.p.handle_unlock_answer(live_at(s.now + 400 * 24 * HOUR, s.now), s.now - 40, s.now);
        s.p.handle_unlock_answer(ServerAnswer::Expired, s.now - 40, s.now);
        s.p.handle_unlock_answer(ServerAnswer::Failed("server timeout"), s.now - 40, s.now);
        s.drain();
        assert_eq!(s.p.state(), State::Locked);
        s.p.handle_unlock_answer(live_at(s.now + 15 * MIN, s.now - 20), s.now - 40, s.now);
        s.drain();
        assert_eq!(s.p.state(), State::Active);
        assert_eq!(s.main().last(), Some(&(MIN + 30 * S, Action::Unlock)));
        assert_eq!(s.p.deadline(), (s.now + 15 * MIN, Reason::Server));
        // the new session's order holds: a 200 from before the lock, arriving now, is older
        s.p.handle_server_answer(live_at(T0 + 6 * MIN, T0 + MIN - 100), T0 + MIN - 200, s.now);
        s.drain();
        assert_eq!(s.p.deadline(), (s.now + 15 * MIN, Reason::Server));
    }
}

#[test]
fn a_server_clock_set_back_restarts_the_order() {
    let mut s = server_sim();
    s.p.handle_server_answer(live_at(T0 + 20 * MIN, T0), T0, T0);
    s.run_to(MIN);
    // the server's clock steps back an hour: its answers are not late ones (they are far
    // older than any request can take), they are applied and measured afresh
    s.p.handle_server_answer(
        live_at(T0 - HOUR + MIN + 30 * MIN, T0 - HOUR + MIN),
        s.now,
        s.now,
    );
    s.drain();
    assert_eq!(s.p.skew(), -HOUR);
    assert_eq!(s.p.deadline(), (T0 + 31 * MIN, Reason::Server));
    // from then on answers are ordered on the new clock
    let step = T0 - HOUR;
    s.run_to(2 * MIN);
    s.p.handle_server_answer(
        live_at(step + 2 * MIN + 40 * MIN, step + 2 * MIN),
        s.now,
        s.now,
    );
    s.p.handle_server_answer(
        live_at(step + 2 * MIN + 10 * MIN, step + 2 * MIN - 5),
        s.now - 10,
        s.now,
    );
    s.drain();
    assert_eq!(s.p.deadline(), (T0 + 42 * MIN, Reason::Server));
}

// ---------------- hiddenTimeoutMs ----------------

fn hidden_timing(limit: Ms) -> Timing {
    Timing {
        hidden: Some(limit),
        ..timing(10 * HOUR, MIN)
    }
}

impl Sim {
    fn visible(&mut self, v: bool) {
        self.p.handle_visibility(v, self.now);
        self.drain();
    }
    /// Hand this tab's published state to `other` (the channel), at `other`'s clock.
    fn tell(&self, other: &mut Sim) {
        other.p.handle_remote(self.p.shared(), other.now);
        other.drain();
    }
}

#[test]
fn hidden_past_the_limit_locks_with_reason_hidden_and_no_warning() {
    let mut s = Sim::new(hidden_timing(MIN));
    s.visible(true);
    s.run_to(10 * MIN);
    s.visible(false);
    assert_eq!(s.p.poll_timeout(), Some(T0 + 11 * MIN));
    s.run_to(HOUR);
    assert_eq!(s.main(), vec![(11 * MIN, lock(Reason::Hidden))]);
    assert_eq!(s.p.shared().reason, Reason::Hidden);
}

#[test]
fn shown_again_within_the_limit_does_not_lock() {
    let mut s = Sim::new(hidden_timing(MIN));
    s.visible(true);
    s.run_to(10 * MIN);
    s.visible(false);
    s.run_to(10 * MIN + 59 * S);
    s.visible(true);
    s.run_to(30 * MIN);
    assert_eq!(s.p.state(), State::Active);
    assert_eq!(s.p.shared().hidden_since, None);
}

#[test]
fn a_throttled_page_shown_after_the_limit_locks_in_that_same_call() {
    // The timer never fired (throttled for 40 minutes): showing the page decides first.
    let mut s = Sim::new(hidden_timing(5 * MIN));
    s.visible(true);
    s.visible(false);
    s.now = T0 + 40 * MIN;
    s.p.handle_visibility(true, s.now);
    assert_eq!(s.p.poll_action(), Some(lock(Reason::Hidden)));
    assert_eq!(s.p.state(), State::Locked);
}

#[test]
fn zero_locks_in_the_task_that_hides_the_page() {
    // crossTab false: the edge passes 0 as it is, and hiding is the lock.
    let mut s = Sim::new(hidden_timing(0));
    s.visible(true);
    s.run_to(MIN);
    s.visible(false);
    assert_eq!(s.main(), vec![(MIN, lock(Reason::Hidden))]);
    // with crossTab the edge passes the grace: another tab of the app has a second to answer
    let t = hidden_timing(HIDDEN_GRACE);
    let (mut a, mut b) = (Sim::new(t), Sim::new(t));
    a.visible(true);
    b.visible(false);
    b.tell(&mut a); // A is in front and answers B's claim
    a.tell(&mut b);
    a.run_to(MIN);
    b.run_to(MIN);
    a.visible(false);
    b.run_to(MIN + 300);
    a.tell(&mut b);
    b.visible(true); // the user switched from A to B: B withdraws A's claim
    a.run_to(MIN + 300);
    b.tell(&mut a);
    a.run_to(HOUR);
    assert_eq!(a.p.state(), State::Active, "{:?}", a.main());
    b.run_to(HOUR);
    b.visible(false); // the user left: B (in front) is hidden, A hears it
    b.tell(&mut a);
    a.run_to(2 * HOUR);
    assert_eq!(a.main(), vec![(HOUR + HIDDEN_GRACE, lock(Reason::Hidden))]);
}

#[test]
fn a_visible_tab_keeps_the_hidden_ones_alive() {
    let t = hidden_timing(MIN);
    let (mut a, mut b) = (Sim::new(t), Sim::new(t));
    a.visible(true);
    b.visible(false); // B opened in the background: claims "none visible"...
    b.tell(&mut a); // ...A is visible and says otherwise
    a.tell(&mut b);
    assert_eq!(b.p.shared().hidden_since, None);
    // the user switches to B: A is hidden a moment before B is shown
    a.run_to(5 * MIN);
    b.run_to(5 * MIN);
    a.visible(false);
    a.tell(&mut b); // B has not seen its own visibilitychange yet: it stays quiet
    b.visible(true); // now it has, and withdraws A's claim
    b.tell(&mut a);
    a.run_to(2 * HOUR);
    b.run_to(2 * HOUR);
    assert_eq!(a.p.state(), State::Active, "{:?}", a.main());
    assert_eq!(b.p.state(), State::Active);
    // B hidden too (the user left): both hidden, A hears B's claim and locks at its limit
    b.visible(false);
    b.tell(&mut a);
    a.run_to(3 * HOUR);
    assert_eq!(a.main(), vec![(2 * HOUR + MIN, lock(Reason::Hidden))]);
}

#[test]
fn a_hidden_tab_does_not_answer_a_visible_one() {
    // No ping-pong: a hidden tab that hears "a tab is visible" keeps quiet, and its own
    // wake-ups (same visibility) publish nothing.
    let t = hidden_timing(MIN);
    let (mut a, mut b) = (Sim::new(t), Sim::new(t));
    a.visible(false);
    b.visible(true);
    a.tell(&mut b); // B hears A's claim and answers it
    b.tell(&mut a);
    assert_eq!(a.p.shared().hidden_since, None);
    let shares = a.count(|x| *x == Action::Share);
    a.visible(false);
    a.run_to(30 * MIN);
    assert_eq!(a.count(|x| *x == Action::Share), shares);
    assert_eq!(a.p.state(), State::Active);
}

#[test]
fn a_load_after_the_origin_was_hidden_too_long_starts_locked() {
    let t = hidden_timing(MIN);
    let mut a = Sim::new(t);
    a.visible(true);
    a.run_to(MIN);
    a.visible(false);
    let saved = a.p.shared();
    // the last tab was closed while hidden; a new load 5 minutes later
    let mut p = Policy::new(t, T0 + 6 * MIN, Some(saved));
    assert_eq!(p.poll_action(), Some(lock(Reason::Hidden)));
    // within the limit it starts live, and showing it withdraws the claim
    let mut p = Policy::new(t, T0 + MIN + 30 * S, Some(saved));
    assert_eq!(p.state(), State::Active);
    p.handle_visibility(true, T0 + MIN + 30 * S);
    assert_eq!(p.shared().hidden_since, None);
    // without the option nothing locks for being hidden
    let mut c = Sim::new(timing(HOUR, 0));
    c.visible(false);
    c.run_to(50 * MIN);
    assert_eq!(c.p.state(), State::Active);
}

#[test]
fn an_older_visibility_report_never_overrules_a_newer_one() {
    let t = hidden_timing(MIN);
    let (mut a, mut b) = (Sim::new(t), Sim::new(t));
    a.visible(false);
    let stale = a.p.shared();
    b.visible(true);
    a.tell(&mut b);
    b.tell(&mut a); // B's "visible" answer is newer than A's claim
    a.p.handle_remote(stale, a.now);
    a.run_to(HOUR);
    assert_eq!(a.p.state(), State::Active);
}

#[test]
fn screen_and_hidden_are_lock_reasons() {
    for r in [Reason::Hidden, Reason::Screen] {
        assert_eq!(Reason::parse(r.as_str()), Some(r));
    }
    let mut s = Sim::new(timing(HOUR, 0));
    s.p.handle_lock(Reason::Screen, s.now + S);
    s.drain();
    assert_eq!(s.main(), vec![(0, lock(Reason::Screen))]);
}

#[test]
fn workstation_options() {
    let c = config::parse(&obj(&[
        ("hiddenTimeoutMs", n(60_000.0)),
        ("screenLock", Raw::Bool(true)),
        ("lock", obj(&[("mode", s("detach"))])),
    ]))
    .unwrap();
    assert_eq!(c.hidden_timeout_ms, Some(60_000));
    assert!(c.screen_lock);
    assert_eq!(c.lock.mode, LockMode::Detach);
    let d = config::parse(&Raw::Null).unwrap();
    assert_eq!((d.hidden_timeout_ms, d.screen_lock), (None, false));
    let z = config::parse(&obj(&[("hiddenTimeoutMs", n(0.0))])).unwrap();
    assert_eq!(z.hidden_timeout_ms, Some(0));
    use ErrorClass::*;
    for (raw, class, msg) in [
        (
            obj(&[("hiddenTimeoutMs", n(-1.0))]),
            Range,
            "autologoff: hiddenTimeoutMs (-1) must be a finite number between 0 and 86400000",
        ),
        (
            obj(&[("hiddenTimeoutMs", n(86_400_001.0))]),
            Range,
            "autologoff: hiddenTimeoutMs (86400001)",
        ),
        (
            obj(&[("hiddenTimeoutMs", s("5"))]),
            Type,
            "autologoff: hiddenTimeoutMs must be a number of milliseconds, got string \"5\"",
        ),
        (
            obj(&[("screenLock", s("yes"))]),
            Type,
            "autologoff: screenLock must be a boolean, got string \"yes\"",
        ),
        (
            obj(&[("lock", obj(&[("mode", s("shred"))]))]),
            Range,
            "autologoff: lock.mode (\"shred\") must be one of \"blur\", \"hide\", \"detach\"",
        ),
    ] {
        let e = config::parse(&raw).expect_err(msg);
        assert_eq!(e.class(), class, "{e}");
        assert!(
            e.to_string().starts_with(msg),
            "{e} should start with {msg}"
        );
    }
}

// ---------------- the same clinician ----------------

fn live_as(now: Ms, name: &str) -> ServerAnswer {
    ServerAnswer::Live {
        expires_at: now + HOUR,
        server_time: now,
        user: Some(user_id(name)),
    }
}

impl Sim {
    fn answer(&mut self, a: ServerAnswer) {
        self.p.handle_server_answer(a, self.now, self.now);
        self.drain();
    }
    fn unlock_answer(&mut self, a: ServerAnswer) {
        self.p.handle_unlock_answer(a, self.now, self.now);
        self.drain();
    }
    fn lock_now(&mut self, r: Reason) {
        self.p.handle_lock(r, self.now);
        self.drain();
    }
}

fn switches(actions: &[Action]) -> usize {
    actions.iter().filter(|a| **a == Action::Switch).count()
}

fn switch_audits(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::Audit {
                    kind: AuditKind::Switch,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn user_ids_are_stable_hashes_that_tell_names_apart() {
    assert_eq!(user_id("nurse-a"), user_id("nurse-a"));
    assert_ne!(user_id("nurse-a"), user_id("nurse-b"));
    assert_ne!(user_id(""), user_id(" "));
    assert_ne!(user_id("Müller, \"A\""), user_id("Muller, \"A\""));
}

#[test]
fn the_first_named_user_is_remembered_and_shared_with_later_loads() {
    let mut s = server_sim();
    s.run_to(MIN);
    assert_eq!(s.p.shared().user, None);
    // an answer naming nobody is no check and remembers nobody
    s.answer(live(s.now));
    assert_eq!(s.p.shared().user, None);
    s.answer(live_as(s.now + 1, "nurse-a"));
    assert_eq!(s.p.shared().user, Some(user_id("nurse-a")));
    // a reload (or a new tab) starts from it: a different user's answer is a switch there
    let sh = Shared::decode(&s.p.shared().encode()).unwrap();
    assert_eq!(sh.user, Some(user_id("nurse-a")));
    let mut p = Policy::new(server_sim_timing(), s.now, Some(sh));
    p.handle_server_answer(live_as(s.now, "nurse-b"), s.now, s.now);
    let mut acts = Vec::new();
    while let Some(a) = p.poll_action() {
        acts.push(a);
    }
    assert_eq!(switches(&acts), 1);
    assert_eq!(p.state(), State::Locked);
}

fn server_sim_timing() -> Timing {
    Timing {
        idle: HOUR,
        warn: 0,
        absolute: None,
        server: Some((MIN, MIN)),
        hidden: None,
    }
}

#[test]
fn a_lock_tells_the_server_its_reason_and_a_remote_lock_does_not() {
    let mut s = server_sim();
    s.run_to(MIN);
    let mark = s.log.len();
    s.lock_now(Reason::Manual);
    let acts = s.since(mark);
    let lock_at = acts
        .iter()
        .position(|a| *a == lock(Reason::Manual))
        .unwrap();
    let end_at = acts
        .iter()
        .position(|a| {
            *a == Action::EndServer {
                reason: Reason::Manual,
            }
        })
        .unwrap();
    assert!(lock_at < end_at);
    // the idle lock says idle
    let mut s = Sim::new(with_server(10 * MIN));
    s.run_to(10 * MIN);
    assert_eq!(
        s.count(|a| *a
            == Action::EndServer {
                reason: Reason::Idle
            }),
        1
    );
    // another tab's lock: no DELETE of our own
    let (mut a, mut b) = (server_sim(), server_sim());
    a.lock_now(Reason::Manual);
    b.hear(a.p.shared());
    assert_eq!(b.p.state(), State::Locked);
    assert_eq!(b.count(|x| matches!(x, Action::EndServer { .. })), 0);
    // without a server there is nobody to tell
    let mut s = Sim::new(timing(HOUR, 0));
    s.lock_now(Reason::Manual);
    assert_eq!(s.count(|x| matches!(x, Action::EndServer { .. })), 0);
}

#[test]
fn the_same_user_signing_in_again_unlocks() {
    let mut s = server_sim();
    s.answer(live_as(s.now, "nurse-a"));
    s.run_to(MIN);
    s.lock_now(Reason::Manual);
    s.now += MIN;
    s.unlock_answer(live_as(s.now, "nurse-a"));
    assert_eq!(s.p.state(), State::Active);
    assert_eq!(switches(&s.since(0)), 0);
}

#[test]
fn a_different_user_never_uncovers_a_locked_page() {
    let mut s = server_sim();
    s.answer(live_as(s.now, "nurse-a"));
    s.run_to(MIN);
    s.lock_now(Reason::Manual);
    let stamp = s.p.shared().lock_changed_at;
    s.now += MIN;
    let mark = s.log.len();
    s.unlock_answer(live_as(s.now, "nurse-b"));
    let acts = s.since(mark);
    assert_eq!(s.p.state(), State::Locked);
    assert!(!acts.contains(&Action::Unlock));
    assert_eq!(switch_audits(&acts), 1);
    assert_eq!(switches(&acts), 1);
    // the record comes before the event; nothing ends nurse B's session at the server
    let audit_at = acts
        .iter()
        .position(|a| {
            matches!(
                a,
                Action::Audit {
                    kind: AuditKind::Switch,
                    ..
                }
            )
        })
        .unwrap();
    assert!(audit_at < acts.iter().position(|a| *a == Action::Switch).unwrap());
    assert!(!acts.iter().any(|a| matches!(a, Action::EndServer { .. })));
    assert!(acts.contains(&Action::Share));
    // the origin is now nurse B's and not locked: a reload starts active under B
    let sh = s.p.shared();
    assert!(!sh.locked);
    assert_eq!(sh.user, Some(user_id("nurse-b")));
    assert!(sh.lock_changed_at > stamp);
    let p = Policy::new(server_sim_timing(), s.now + 100, Some(sh));
    assert_eq!(p.state(), State::Active);
    // ... while this page, still showing A's content, keeps comparing with A
    s.now += S;
    let mark = s.log.len();
    s.unlock_answer(live_as(s.now, "nurse-b"));
    assert_eq!(s.p.state(), State::Locked);
    assert_eq!(switches(&s.since(mark)), 1);
    s.now += S;
    s.unlock_answer(live_as(s.now, "nurse-a"));
    assert_eq!(s.p.state(), State::Active);
}

#[test]
fn an_active_page_whose_answer_names_another_user_is_covered_at_once() {
    let mut s = server_sim();
    s.answer(live_as(s.now, "nurse-a"));
    s.run_to(2 * MIN);
    assert_eq!(s.p.state(), State::Active);
    let mark = s.log.len();
    s.answer(live_as(s.now, "nurse-b"));
    let acts = s.since(mark);
    assert_eq!(s.p.state(), State::Locked);
    // covered first, then the record and the event; B's session is not ended
    let lock_at = acts
        .iter()
        .position(|a| *a == lock(Reason::Server))
        .unwrap();
    let switch_at = acts.iter().position(|a| *a == Action::Switch).unwrap();
    assert!(lock_at < switch_at);
    assert_eq!(switch_audits(&acts), 1);
    assert!(!acts.iter().any(|a| matches!(a, Action::EndServer { .. })));
    assert!(!s.p.shared().locked);
    // a keepalive's answer (POST) is checked the same way: no second switch while locked
    s.now += S;
    s.answer(live_as(s.now, "nurse-b"));
    assert_eq!(switches(&s.since(mark)), 1);
}

#[test]
fn every_locked_tab_of_the_previous_user_switches_when_it_verifies() {
    let (mut a, mut b) = (server_sim(), server_sim());
    a.answer(live_as(a.now, "nurse-a"));
    b.hear(a.p.shared());
    b.answer(live_as(b.now, "nurse-a"));
    a.run_to(MIN);
    b.run_to(MIN);
    a.lock_now(Reason::Manual);
    b.hear(a.p.shared());
    assert_eq!(b.p.state(), State::Locked);
    // nurse B signs in at tab A
    a.now += MIN;
    a.unlock_answer(live_as(a.now, "nurse-b"));
    assert_eq!(a.p.state(), State::Locked);
    // tab B hears the switch as an unlock hint and asks the server at once
    b.now = a.now + 10;
    let mark = b.log.len();
    b.hear(a.p.shared());
    assert_eq!(b.since(mark), vec![Action::Verify]);
    let sent = b.now;
    b.now += 30;
    b.verify_answer(live_as(b.now, "nurse-b"), sent);
    let acts = b.since(mark);
    assert_eq!(b.p.state(), State::Locked);
    assert!(!acts.contains(&Action::Unlock));
    assert_eq!(switches(&acts), 1);
    assert!(!b.p.shared().locked);
    assert_eq!(b.p.shared().user, Some(user_id("nurse-b")));
    // a tab of nurse B (the reloaded page) verifying the same hint is uncovered
    let mut c = Sim {
        p: Policy::new(server_sim_timing(), a.now, Some(a.p.shared())),
        now: a.now,
        log: Vec::new(),
    };
    c.drain();
    assert_eq!(c.p.state(), State::Active);
    c.answer(live_as(c.now, "nurse-b"));
    assert_eq!(switches(&c.since(0)), 0);
}

#[test]
fn an_answer_naming_nobody_is_not_checked() {
    let mut s = server_sim();
    s.answer(live_as(s.now, "nurse-a"));
    s.run_to(MIN);
    s.lock_now(Reason::Manual);
    s.now += MIN;
    s.unlock_answer(live(s.now));
    assert_eq!(s.p.state(), State::Active);
    assert_eq!(switches(&s.since(0)), 0);
}

#[test]
fn a_newer_lock_after_a_prevented_switch_is_shared_as_a_lock() {
    let (mut a, mut b) = (server_sim(), server_sim());
    a.answer(live_as(a.now, "nurse-a"));
    a.lock_now(Reason::Manual);
    a.now += S;
    a.unlock_answer(live_as(a.now, "nurse-b"));
    assert!(!a.p.shared().locked);
    // the page was kept (preventDefault); nurse B's tab locks later
    b.now = a.now + MIN;
    b.p = Policy::new(server_sim_timing(), b.now, Some(a.p.shared()));
    b.drain();
    b.lock_now(Reason::Manual);
    a.now = b.now + 10;
    a.hear(b.p.shared());
    assert!(a.p.shared().locked);
}

#[test]
fn shared_state_carries_the_user_and_reads_the_older_forms() {
    let mut s = server_sim();
    s.answer(live_as(s.now, "nurse-a"));
    let sh = s.p.shared();
    let text = sh.encode();
    assert_eq!(Shared::decode(&text), Some(sh));
    // the name itself is never stored
    assert!(!text.contains("nurse"));
    // the form of the previous release (12 fields, no user) reads as "nobody known"
    let old = text.rsplit_once('|').unwrap().0;
    assert_eq!(Shared::decode(old), Some(Shared { user: None, ..sh }));
    assert_eq!(Shared::decode(&[&text, "|1"].concat()), None);
}

#[test]
fn a_request_is_the_users_only_within_the_window_after_input_and_not_ignored() {
    let idle = 10 * MIN;
    for (ignored, ago, user) in [
        (false, 0, true),
        (false, USER_REQUEST_WINDOW, true),
        (false, USER_REQUEST_WINDOW + 1, false),
        (true, 0, false),
    ] {
        let mut s = Sim::new(timing(idle, 0));
        s.run_to(5 * MIN);
        let started = s.p.handle_request_start(ignored, s.now - ago, s.now);
        assert_eq!(started, user, "ignored {ignored}, input {ago} ms before");
        s.drain();
        s.run_to(HOUR);
        // the user's request holds the lock (capped at the idle deadline + idleTimeoutMs)
        let at = if user { 25 * MIN } else { 10 * MIN };
        assert_eq!(
            s.main(),
            vec![(at, lock(Reason::Idle))],
            "ignored {ignored}, {ago} ms"
        );
    }
}

#[test]
fn the_lock_is_made_ready_once_per_deadline_in_a_visible_tab() {
    let mut s = Sim::new(timing(10 * MIN, 0));
    let deadline = s.now + 10 * MIN;
    assert_eq!(
        s.p.prepare_at(s.now, true, 0),
        Some((deadline - PREPARE_MS, deadline))
    );
    assert_eq!(
        s.p.prepare_at(s.now, false, 0),
        None,
        "hidden: nothing to paint"
    );
    assert_eq!(
        s.p.prepare_at(s.now, true, deadline),
        None,
        "made ready already"
    );
    s.p.handle_lock(Reason::Manual, s.now);
    s.drain();
    assert_eq!(s.p.prepare_at(s.now, true, 0), None, "locked");
}

#[test]
fn timing_of_a_config_keeps_the_hidden_grace_with_cross_tab() {
    let cfg = |cross: bool| {
        let raw = obj(&[
            ("idleTimeoutMs", n(60_000.0)),
            ("hiddenTimeoutMs", n(0.0)),
            ("crossTab", Raw::Bool(cross)),
        ]);
        config::parse(&raw).unwrap()
    };
    assert_eq!(Timing::of(&cfg(true)).hidden, Some(HIDDEN_GRACE));
    assert_eq!(Timing::of(&cfg(false)).hidden, Some(0));
    assert_eq!(Timing::of(&cfg(true)).idle, 60_000);
}

// ---------------- the audit outbox (src/core/outbox.rs) ----------------

mod outbox {
    use super::super::outbox::{Outbox, BATCH, MAX_BACKOFF, ORPHAN_AFTER};
    use super::{Ms, MIN, S, T0};

    #[test]
    fn one_batch_at_a_time_but_the_unloading_page_sends_anyway() {
        let mut o = Outbox::default();
        assert!(o.may_send(false));
        o.sent();
        assert!(!o.may_send(false), "a second batch waits for the first");
        assert!(
            o.may_send(true),
            "pagehide: the last chance goes out with keepalive"
        );
        assert_eq!(
            o.settled(true, false, T0),
            None,
            "delivered, nothing left: no retry"
        );
        assert!(o.may_send(false));
        assert_eq!(BATCH, 200);
    }

    #[test]
    fn records_left_after_a_delivery_go_at_once() {
        let mut o = Outbox::default();
        o.sent();
        assert_eq!(o.settled(true, true, T0 + 5 * S), Some(T0 + 5 * S));
    }

    #[test]
    fn failures_back_off_2_4_8_s_up_to_a_minute_and_a_delivery_resets_it() {
        let mut o = Outbox::default();
        let mut now = T0;
        let mut waits = Vec::new();
        for _ in 0..9 {
            o.sent();
            let at = o
                .settled(false, true, now)
                .expect("a failure is always tried again");
            waits.push((at - now) / S);
            now = at;
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(MAX_BACKOFF, MIN);
        o.sent();
        assert_eq!(o.settled(true, true, now), Some(now));
        o.sent();
        let at = o.settled(false, false, now).expect("retried");
        assert_eq!(at - now, 2 * S, "the backoff starts over after a delivery");
    }

    #[test]
    fn a_queue_unwritten_for_15_s_belongs_to_a_tab_that_is_gone() {
        let now: Ms = T0 + 100 * S;
        let before = Outbox::orphaned_before(now);
        let written = |at: Ms| at <= before; // as glue/audit.js `orphans` applies it
        assert!(written(now - ORPHAN_AFTER), "exactly 15 s old: taken over");
        assert!(
            !written(now - ORPHAN_AFTER + 1),
            "a live tab rewrote it within 15 s"
        );
        assert_eq!(ORPHAN_AFTER, 15 * S);
    }
}
