//! The session stores against the same rules: memory, and a real Redis (two clients
//! standing for two replicas). Time is given to the store, so hours pass in microseconds.

mod common;

use autologoff_server::store::{
    MemoryStore, RedisStore, Session, SessionId, SessionStore, StoreError,
};
use common::Redis;

const T0: i64 = 1_800_000_000_000;
const IDLE: i64 = 900_000;
const ABS: i64 = 43_200_000;

fn session(user: &str, at: i64) -> Session {
    Session {
        user: user.into(),
        created_at: at,
        last_activity: at,
        idle_ms: IDLE,
        absolute_ms: ABS,
        event: format!("ev-{user}-{at}"),
        previous_user: None,
    }
}

/// The rules every store keeps (replica `b` sees what replica `a` did).
async fn rules<S: SessionStore>(a: S, b: S) {
    let id = SessionId::generate().unwrap();
    a.create(&id, &session("dr-a", T0), None, T0).await.unwrap();
    assert_eq!(
        b.get(&id, T0 + 1).await.unwrap().map(|s| s.user),
        Some("dr-a".into())
    );

    // A keepalive on one replica moves the deadline the other one reports.
    let s = a
        .touch(&id, T0 + 60_000, T0 + 61_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.last_activity, T0 + 60_000);
    assert_eq!(
        b.get(&id, T0 + 62_000).await.unwrap().unwrap().expires_at(),
        T0 + 60_000 + IDLE
    );

    // Extensions are monotonic: an older instant never moves it back; a future one is clamped to now.
    let s = b
        .touch(&id, T0 + 10_000, T0 + 63_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.last_activity, T0 + 60_000);
    let s = b
        .touch(&id, T0 + 99_000_000, T0 + 64_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.last_activity, T0 + 64_000, "never later than now");

    // Past expiresAt: not live, and ended for good (a late keepalive cannot revive it).
    let exp = T0 + 64_000 + IDLE;
    assert!(a.get(&id, exp - 1).await.unwrap().is_some());
    assert_eq!(a.get(&id, exp).await.unwrap(), None);
    assert_eq!(
        b.touch(&id, exp - 5, exp - 1).await.unwrap(),
        None,
        "ended is final"
    );
    assert_eq!(
        b.owner(&id, exp + 1000).await.unwrap(),
        Some("dr-a".into()),
        "still attributed"
    );

    // The absolute limit holds whatever the activity.
    let id = SessionId::generate().unwrap();
    a.create(&id, &session("dr-b", T0), None, T0).await.unwrap();
    let mut now = T0;
    while now < T0 + ABS - IDLE {
        now += IDLE / 2;
        assert!(a.touch(&id, now, now).await.unwrap().is_some());
    }
    assert_eq!(b.get(&id, T0 + ABS).await.unwrap(), None);

    // Ending is final; the user stays known for late audit records.
    let id = SessionId::generate().unwrap();
    a.create(&id, &session("dr-c", T0), None, T0).await.unwrap();
    assert!(b.end(&id, T0 + 1).await.unwrap());
    assert!(!a.end(&id, T0 + 2).await.unwrap());
    assert_eq!(a.get(&id, T0 + 3).await.unwrap(), None);
    assert_eq!(a.touch(&id, T0 + 3, T0 + 3).await.unwrap(), None);
    assert_eq!(a.owner(&id, T0 + 4).await.unwrap(), Some("dr-c".into()));

    // Login rotation ends the session of the cookie sent.
    let old = SessionId::generate().unwrap();
    let new = SessionId::generate().unwrap();
    a.create(&old, &session("dr-d", T0), None, T0)
        .await
        .unwrap();
    b.create(&new, &session("dr-d", T0 + 5), Some(&old), T0 + 5)
        .await
        .unwrap();
    assert_eq!(a.get(&old, T0 + 6).await.unwrap(), None);
    assert!(a.get(&new, T0 + 6).await.unwrap().is_some());

    // An id nobody issued.
    let nobody = SessionId::generate().unwrap();
    assert_eq!(a.get(&nobody, T0).await.unwrap(), None);
    assert_eq!(a.owner(&nobody, T0).await.unwrap(), None);
}

/// A keepalive racing a DELETE on another replica never revives the session.
async fn race<S: SessionStore>(a: S, b: S, rounds: usize) {
    for i in 0..rounds {
        let id = SessionId::generate().unwrap();
        let now = T0 + i as i64;
        a.create(&id, &session("dr-race", now), None, now)
            .await
            .unwrap();
        let (ka, kb) = (a.clone(), b.clone());
        let (id1, id2) = (id.clone(), id.clone());
        let keep = tokio::spawn(async move { ka.touch(&id1, now + 1, now + 1).await });
        let end = tokio::spawn(async move { kb.end(&id2, now + 1).await });
        let (kept, ended) = (keep.await.unwrap().unwrap(), end.await.unwrap().unwrap());
        assert!(ended, "round {i}: the DELETE found the session live");
        assert_eq!(
            a.get(&id, now + 2).await.unwrap(),
            None,
            "round {i}: revived (keepalive answered {kept:?})"
        );
        assert_eq!(
            b.touch(&id, now + 2, now + 2).await.unwrap(),
            None,
            "round {i}: extended after the end"
        );
    }
}

/// What the sweeper relies on: each expired session is claimed once, by one replica, with
/// what its `timeout` record needs; ended ones never; an unsettled claim is taken over
/// when its lease ends.
async fn sweeps<S: SessionStore>(a: S, b: S) {
    let t = T0 + 10 * ABS;
    let mk = |user: &str| (SessionId::generate().unwrap(), session(user, t));
    let (idle, s_idle) = mk("dr-idle");
    let (kept, s_kept) = mk("dr-kept");
    let (deleted, s_deleted) = mk("dr-deleted");
    let (rotated, s_rotated) = mk("dr-rotated");
    let (late, s_late) = mk("dr-late-delete");
    for (id, s) in [
        (&idle, &s_idle),
        (&kept, &s_kept),
        (&deleted, &s_deleted),
        (&rotated, &s_rotated),
        (&late, &s_late),
    ] {
        a.create(id, s, None, t).await.unwrap();
    }
    assert!(b
        .touch(&kept, t + 60_000, t + 60_000)
        .await
        .unwrap()
        .is_some());
    assert!(
        b.end(&deleted, t + 1).await.unwrap(),
        "a live session is ended"
    );
    let (next, s_next) = (
        SessionId::generate().unwrap(),
        session("dr-rotated", t + IDLE / 2),
    );
    b.create(&next, &s_next, Some(&rotated), t + IDLE / 2)
        .await
        .unwrap();

    // Nothing is due before its expiry.
    assert_eq!(a.claim_expired(t + IDLE - 1, 100).await.unwrap(), vec![]);

    // A DELETE after the expiry ends nothing: the timeout stands.
    assert!(!a.end(&late, t + IDLE).await.unwrap());

    // Both replicas sweep at the same instant: each expired session goes to one of them.
    let now = t + IDLE + 1;
    let (ca, cb) = tokio::join!(a.claim_expired(now, 100), b.claim_expired(now, 100));
    let mut got: Vec<_> = ca.unwrap().into_iter().chain(cb.unwrap()).collect();
    got.sort_by(|x, y| x.user.cmp(&y.user));
    let users: Vec<&str> = got.iter().map(|e| e.user.as_str()).collect();
    assert_eq!(users, ["dr-idle", "dr-late-delete"], "claimed once each");
    assert_eq!(got[0].expires_at, t + IDLE);
    assert!(!got[0].absolute);
    assert_eq!(got[0].event, s_idle.event);
    // A claimed session is ended: no keepalive revives it, whatever a replica's clock says.
    assert_eq!(
        b.touch(&idle, t + IDLE - 5, t + IDLE - 1).await.unwrap(),
        None
    );
    assert_eq!(a.owner(&idle, now).await.unwrap(), Some("dr-idle".into()));

    // Not settled (the replica stopped): nobody else takes it until the lease ends...
    assert_eq!(b.claim_expired(now + 1, 100).await.unwrap(), vec![]);
    // ...then another replica does, with the same event token (the sink stores it once).
    let lease_end = now + autologoff_server::store::CLAIM_LEASE_MS;
    let mut again = b.claim_expired(lease_end, 100).await.unwrap();
    again.sort_by(|x, y| x.user.cmp(&y.user));
    assert_eq!(
        again.iter().map(|e| &e.event).collect::<Vec<_>>(),
        got.iter().map(|e| &e.event).collect::<Vec<_>>()
    );
    b.settle(&again).await.unwrap();
    assert_eq!(a.claim_expired(lease_end + 1, 100).await.unwrap(), vec![]);

    // The kept one expires at its moved deadline, the rotation's successor at its own.
    let due = t + 60_000 + IDLE;
    let c = a.claim_expired(due, 100).await.unwrap();
    assert_eq!(
        c.iter().map(|e| e.user.as_str()).collect::<Vec<_>>(),
        ["dr-kept"]
    );
    assert_eq!(c[0].expires_at, due);
    a.settle(&c).await.unwrap();
    let c = a.claim_expired(t + IDLE / 2 + IDLE, 100).await.unwrap();
    assert_eq!(c.len(), 1, "the new session, not the rotated one");
    assert_eq!(c[0].event, s_next.event);
    a.settle(&c).await.unwrap();

    // The absolute limit: a session kept busy ends at createdAt + absolute.
    let (busy, s_busy) = mk("dr-busy");
    a.create(&busy, &s_busy, None, t).await.unwrap();
    let mut at = t;
    while at < t + ABS - IDLE {
        at += IDLE / 2;
        assert!(a.touch(&busy, at, at).await.unwrap().is_some());
    }
    let c = b.claim_expired(t + ABS, 100).await.unwrap();
    assert_eq!(c.len(), 1);
    assert!(c[0].absolute, "{c:?}");
    assert_eq!(c[0].expires_at, t + ABS);

    // The *_ended token names a user, for as long as it was told.
    let token = SessionId::generate().unwrap();
    a.remember(&token, "dr-gone", 5_000, t).await.unwrap();
    assert_eq!(
        b.remembered(&token, t + 1).await.unwrap(),
        Some("dr-gone".into())
    );
    let unknown = SessionId::generate().unwrap();
    assert_eq!(b.remembered(&unknown, t + 1).await.unwrap(), None);
}

/// A sign-in in progress: kept for its time, taken once (by one of two replicas racing).
async fn stashes<S: SessionStore>(a: S, b: S) {
    let key = SessionId::generate().unwrap();
    a.stash(&key, "state of a sign-in", 600_000, T0)
        .await
        .unwrap();
    assert_eq!(
        b.take(&key, T0 + 1).await.unwrap().as_deref(),
        Some("state of a sign-in")
    );
    assert_eq!(b.take(&key, T0 + 2).await.unwrap(), None, "single use");
    assert_eq!(a.take(&key, T0 + 3).await.unwrap(), None, "single use");

    let unknown = SessionId::generate().unwrap();
    assert_eq!(a.take(&unknown, T0).await.unwrap(), None);

    // Two replicas take the same key at once: exactly one gets it.
    for round in 0..100 {
        let key = SessionId::generate().unwrap();
        a.stash(&key, "once", 600_000, T0).await.unwrap();
        let (ta, tb) = (a.clone(), b.clone());
        let (k1, k2) = (key.clone(), key.clone());
        let one = tokio::spawn(async move { ta.take(&k1, T0 + 1).await });
        let two = tokio::spawn(async move { tb.take(&k2, T0 + 1).await });
        let got = [one.await.unwrap().unwrap(), two.await.unwrap().unwrap()];
        assert_eq!(
            got.iter().flatten().count(),
            1,
            "round {round}: taken {got:?}"
        );
    }
}

/// The memory store's own clock: a stash past its time is gone.
#[tokio::test]
async fn memory_store_forgets_a_stash_past_its_time() {
    let m = MemoryStore::new();
    stashes(m.clone(), m.clone()).await;
    let key = SessionId::generate().unwrap();
    m.stash(&key, "late", 600_000, T0).await.unwrap();
    assert_eq!(m.take(&key, T0 + 600_000).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_takes_a_stash_once_across_replicas() {
    let redis = Redis::start();
    let a = RedisStore::connect(&redis.url()).await.unwrap();
    let b = RedisStore::connect(&redis.url()).await.unwrap();
    stashes(a.clone(), b).await;
    // The key's TTL is the stash's time (Redis's own clock expires it).
    let key = SessionId::generate().unwrap();
    a.stash(&key, "ttl", 600_000, T0).await.unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("alo:p:{}", key.as_str()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((599_000..=600_000).contains(&ttl), "PTTL {ttl}");
    a.stash(&key, "short", 50, T0).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    assert_eq!(a.take(&key, T0).await.unwrap(), None, "expired in Redis");
}

#[tokio::test]
async fn memory_store_keeps_the_rules() {
    let m = MemoryStore::new();
    rules(m.clone(), m.clone()).await;
    race(m.clone(), m, 500).await;
}

#[tokio::test]
async fn memory_store_hands_each_expired_session_to_one_sweep() {
    let m = MemoryStore::new();
    sweeps(m.clone(), m).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_hands_each_expired_session_to_one_replica() {
    let redis = Redis::start();
    let a = RedisStore::connect(&redis.url()).await.unwrap();
    let b = RedisStore::connect(&redis.url()).await.unwrap();
    sweeps(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_keeps_the_rules_across_replicas() {
    let redis = Redis::start();
    let a = RedisStore::connect(&redis.url()).await.unwrap();
    let b = RedisStore::connect(&redis.url()).await.unwrap();
    rules(a.clone(), b.clone()).await;
    race(a, b, 500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_key_ttl_is_the_session_expiry() {
    let redis = Redis::start();
    let a = RedisStore::connect(&redis.url()).await.unwrap();
    let id = SessionId::generate().unwrap();
    a.create(&id, &session("dr-ttl", T0), None, T0)
        .await
        .unwrap();
    a.touch(&id, T0 + 100_000, T0 + 400_000)
        .await
        .unwrap()
        .unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("alo:s:{}", id.as_str()))
        .query_async(&mut conn)
        .await
        .unwrap();
    // expiresAt − now = (T0 + 100 000 + IDLE) − (T0 + 400 000)
    let want = 100_000 + IDLE - 400_000;
    assert!((want - 50..=want).contains(&ttl), "PTTL {ttl}, want {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_an_error_never_a_session_and_recovers() {
    let mut redis = Redis::start();
    let a = RedisStore::connect(&redis.url()).await.unwrap();
    let id = SessionId::generate().unwrap();
    a.create(&id, &session("dr-down", T0), None, T0)
        .await
        .unwrap();
    redis.stop();
    let started = std::time::Instant::now();
    match a.get(&id, T0 + 1).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("a stopped Redis answered {other:?}"),
    }
    assert!(a.touch(&id, T0 + 1, T0 + 1).await.is_err());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    redis.resume();
    // Redis kept nothing: the session is gone (not live), and the store answers again.
    let mut answered = None;
    for _ in 0..50 {
        if let Ok(v) = a.get(&id, T0 + 2).await {
            answered = Some(v);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(answered, Some(None), "the store did not come back");
    let fresh = SessionId::generate().unwrap();
    a.create(&fresh, &session("dr-back", T0), None, T0)
        .await
        .unwrap();
    assert!(a.get(&fresh, T0 + 1).await.unwrap().is_some());
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_an_error() {
    let port = common::free_port();
    let err = RedisStore::connect(&format!("redis://127.0.0.1:{port}/0"))
        .await
        .err();
    assert!(matches!(err, Some(StoreError::Unavailable(_))), "{err:?}");
}
