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

/// How long after its end a session's user is still known, so that the audit records
/// a browser flushes after the lock's `DELETE` (which cleared its cookie) are attributed.
pub const ATTRIBUTION_GRACE_MS: Ms = 24 * 3600 * 1000;

/// A session id: 256 bits from the operating system's RNG, as 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub created_at: Ms,
    pub last_activity: Ms,
    pub idle_ms: Ms,
    pub absolute_ms: Ms,
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

    /// Ends the session for good. `true` when a live one was ended.
    fn end(&self, id: &SessionId, now: Ms)
        -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whose session `id` is or was (live, or ended less than
    /// [`ATTRIBUTION_GRACE_MS`] ago).
    fn owner(
        &self,
        id: &SessionId,
        now: Ms,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

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
