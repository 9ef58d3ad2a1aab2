//! Where sessions live: one small trait, one implementation per backend, chosen at start
//! from a URL (`memory`, `redis://host:port/db`).
//!
//! Every operation is given `now` (the server's clock) and is atomic in its backend:
//! an extension only moves `last_activity` forward, and a session that was ended (by
//! `end`, by expiry, by rotation) is never revived, whatever runs at the same moment on
//! another replica. There is no read-modify-write upsert anywhere.

mod memory;
mod redis;

use std::fmt;
use std::future::Future;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
use crate::clock::Ms;

/// How long a claim on an expired session (or on a queued record) holds before another
/// replica may take it over: well under the 5 s within which a `timeout` is recorded.
pub const CLAIM_LEASE_MS: Ms = 2_000;

/// A session id: 256 bits from the operating system's RNG, as 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Result<SessionId, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::Unavailable(format!("no randomness from the OS: {e}")))?;
        let mut s = String::with_capacity(64);
        for b in bytes {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        Ok(SessionId(s))
    }

    /// `None` unless `s` has the exact shape of an id this crate makes.
    pub fn parse(s: &str) -> Option<SessionId> {
        let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| SessionId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Ids are credentials: never printed, not even in debug output.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(…)")
    }
}

/// What is stored of a live session. Its policy is fixed when it starts.
///
/// A session's user stays known for `absolute_ms` after it ends (the lock's late audit
/// records are attributed, and the next sign-in of that browser is told apart as a
/// `reauth` or a `switch`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub created_at: Ms,
    pub last_activity: Ms,
    pub idle_ms: Ms,
    pub absolute_ms: Ms,
    /// A random token naming this session's end in the audit trail (never the id): the
    /// sink stores one `timeout` per token, whichever replica writes it and how often.
    pub event: String,
    /// The user of the browser's previous session when this one started: audit records
    /// that the browser made before this session started (a locked page's queue, sent
    /// after the next clinician signed in) are theirs, not this session's user's.
    pub previous_user: Option<String>,
}

impl Session {
    /// `min(lastActivity + idle, createdAt + absolute)`.
    pub fn expires_at(&self) -> Ms {
        self.last_activity
            .saturating_add(self.idle_ms)
            .min(self.created_at.saturating_add(self.absolute_ms))
    }

    pub fn is_live(&self, now: Ms) -> bool {
        now < self.expires_at()
    }

    /// The absolute limit: `createdAt + absolute`.
    pub fn absolute_deadline(&self) -> Ms {
        self.created_at.saturating_add(self.absolute_ms)
    }
}

/// A session that passed its `expiresAt` without being ended, claimed by one replica's
/// sweeper to record its `timeout`. Until [`SessionStore::settle`] the claim is a lease:
/// if the replica stops, another one takes the same claim over after [`CLAIM_LEASE_MS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired {
    pub user: String,
    /// When it expired (`min(lastActivity + idle, createdAt + absolute)`).
    pub expires_at: Ms,
    /// Whether the absolute limit ended it (else the idle one).
    pub absolute: bool,
    /// [`Session::event`].
    pub event: String,
    /// The store's handle on the claim (opaque).
    pub claim: String,
}

/// The store could not be asked, or answered something that is not a session.
/// Either way nothing may be treated as live: the edge answers `503`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    Unavailable(String),
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(f, "session store unavailable: {why}"),
            StoreError::Corrupt(why) => write!(f, "session store answered garbage: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The sessions of one deployment.
pub trait SessionStore: Clone + Send + Sync + 'static {
    /// Stores a new session under `id` (fresh, never used) and ends `previous`, if any.
    fn create(
        &self,
        id: &SessionId,
        session: &Session,
        previous: Option<&SessionId>,
        now: Ms,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session if it is live at `now`; one found past its expiry is ended.
    fn get(
        &self,
        id: &SessionId,
        now: Ms,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// Sets `last_activity = max(stored, at)` (`at <= now`) if the session is live at
    /// `now`, and returns it; `None` (and nothing written) when it is not.
    fn touch(
        &self,
        id: &SessionId,
        at: Ms,
        now: Ms,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// Ends the session for good. `true` when a live one was ended (its end is then a
    /// `logout`, never a `timeout`); `false` when there was none, or when it had already
    /// expired (its `timeout` stands and is still recorded by the sweeper).
    fn end(&self, id: &SessionId, now: Ms)
        -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whose session `id` is or was (live, or ended less than its absolute period ago).
    fn owner(
        &self,
        id: &SessionId,
        now: Ms,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Keeps `user` under `token` for `for_ms` (the `*_ended` cookie of `DELETE /session`:
    /// a token that names a user, never a session id).
    fn remember(
        &self,
        token: &SessionId,
        user: &str,
        for_ms: Ms,
        now: Ms,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user [`SessionStore::remember`] kept under `token`, if still kept.
    fn remembered(
        &self,
        token: &SessionId,
        now: Ms,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Keeps `value` under `key` for `for_ms`, replacing what was there (a sign-in in
    /// progress: OIDC's `state`, `nonce` and PKCE verifier, so that any replica can
    /// complete it).
    fn stash(
        &self,
        key: &SessionId,
        value: &str,
        for_ms: Ms,
        now: Ms,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes and returns what [`SessionStore::stash`] kept under `key`, if still kept:
    /// one atomic step, so of two replicas taking the same key at once, one gets it.
    fn take(
        &self,
        key: &SessionId,
        now: Ms,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Claims up to `max` sessions that expired at or before `now` without being ended,
    /// and claims whose lease ran out (a replica stopped before settling them). Each
    /// expired session is claimed by one caller at a time; a claimed session is ended.
    fn claim_expired(
        &self,
        now: Ms,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Expired>, StoreError>> + Send;

    /// Drops the claims whose `timeout` records are durable in the sink.
    fn settle(&self, claims: &[Expired]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether the store answers (`GET /healthz`).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The store named by a `--store` URL.
#[derive(Clone)]
pub enum AnyStore {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl AnyStore {
    /// `memory` or `redis://…`; connects (and checks the connection) for Redis.
    pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
        if url == "memory" {
            Ok(AnyStore::Memory(MemoryStore::new()))
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            Ok(AnyStore::Redis(RedisStore::connect(url).await?))
        } else {
            Err(StoreError::Unavailable(
                "not a store URL (memory or redis://host:port/db)".into(),
            ))
        }
    }
}

macro_rules! each_store {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Memory($s) => $e,
            AnyStore::Redis($s) => $e,
        }
    };
}

impl SessionStore for AnyStore {
    async fn create(
        &self,
        id: &SessionId,
        session: &Session,
        previous: Option<&SessionId>,
        now: Ms,
    ) -> Result<(), StoreError> {
        each_store!(self, s => s.create(id, session, previous, now).await)
    }
    async fn get(&self, id: &SessionId, now: Ms) -> Result<Option<Session>, StoreError> {
        each_store!(self, s => s.get(id, now).await)
    }
    async fn touch(&self, id: &SessionId, at: Ms, now: Ms) -> Result<Option<Session>, StoreError> {
        each_store!(self, s => s.touch(id, at, now).await)
    }
    async fn end(&self, id: &SessionId, now: Ms) -> Result<bool, StoreError> {
        each_store!(self, s => s.end(id, now).await)
    }
    async fn owner(&self, id: &SessionId, now: Ms) -> Result<Option<String>, StoreError> {
        each_store!(self, s => s.owner(id, now).await)
    }
    async fn remember(
        &self,
        token: &SessionId,
        user: &str,
        for_ms: Ms,
        now: Ms,
    ) -> Result<(), StoreError> {
        each_store!(self, s => s.remember(token, user, for_ms, now).await)
    }
    async fn remembered(&self, token: &SessionId, now: Ms) -> Result<Option<String>, StoreError> {
        each_store!(self, s => s.remembered(token, now).await)
    }
    async fn stash(
        &self,
        key: &SessionId,
        value: &str,
        for_ms: Ms,
        now: Ms,
    ) -> Result<(), StoreError> {
        each_store!(self, s => s.stash(key, value, for_ms, now).await)
    }
    async fn take(&self, key: &SessionId, now: Ms) -> Result<Option<String>, StoreError> {
        each_store!(self, s => s.take(key, now).await)
    }
    async fn claim_expired(&self, now: Ms, max: usize) -> Result<Vec<Expired>, StoreError> {
        each_store!(self, s => s.claim_expired(now, max).await)
    }
    async fn settle(&self, claims: &[Expired]) -> Result<(), StoreError> {
        each_store!(self, s => s.settle(claims).await)
    }
    async fn ping(&self) -> Result<(), StoreError> {
        each_store!(self, s => s.ping().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_strictly_shaped() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(format!("{a:?}"), "SessionId(…)");
        for bad in [
            "",
            "abc",
            &"A".repeat(64),
            &"0".repeat(65),
            &"g".repeat(64),
            &"0".repeat(63),
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn expiry_is_the_earlier_of_idle_and_absolute() {
        let s = Session {
            user: "u".into(),
            created_at: 1000,
            last_activity: 5000,
            idle_ms: 900,
            absolute_ms: 10_000,
            event: "e".into(),
            previous_user: None,
        };
        assert_eq!(s.expires_at(), 5900);
        let late = Session {
            last_activity: 10_800,
            ..s.clone()
        };
        assert_eq!(late.expires_at(), 11_000, "the absolute limit wins");
        assert!(s.is_live(5899) && !s.is_live(5900));
    }
}
