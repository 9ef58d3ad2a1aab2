//! One process's sessions in a map (the embedded default).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Session, SessionId, SessionStore, StoreError, ATTRIBUTION_GRACE_MS};
use crate::clock::Ms;

/// Swept at most this often, from `create`: ended entries past their grace go.
const SWEEP_EVERY_MS: Ms = 60_000;

#[derive(Clone, Default)]
pub struct MemoryStore {
    map: Arc<Mutex<Map>>,
}

#[derive(Default)]
struct Map {
    entries: HashMap<SessionId, Entry>,
    swept_at: Ms,
}

struct Entry {
    /// `None` once ended: kept only to attribute late audit records.
    live: Option<Session>,
    user: String,
    /// When the entry may be forgotten.
    keep_until: Ms,
}

impl Entry {
    fn end(&mut self, now: Ms) {
        self.live = None;
        self.keep_until = now.saturating_add(ATTRIBUTION_GRACE_MS);
    }

    /// The live session at `now`, ending it when it expired.
    fn live_at(&mut self, now: Ms) -> Option<&mut Session> {
        if self.live.as_ref().is_some_and(|s| !s.is_live(now)) {
            self.end(now);
        }
        self.live.as_mut()
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn map(&self) -> MutexGuard<'_, Map> {
        // A panic while holding the lock cannot leave a half-written entry (every write
        // is one assignment), so a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Entries held (live and ended-in-grace).
    pub fn len(&self) -> usize {
        self.map().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionStore for MemoryStore {
    async fn create(
        &self,
        id: &SessionId,
        session: &Session,
        previous: Option<&SessionId>,
        now: Ms,
    ) -> Result<(), StoreError> {
        let mut map = self.map();
        if now - map.swept_at >= SWEEP_EVERY_MS {
            map.swept_at = now;
            map.entries.retain(|_, e| {
                if e.live.as_ref().is_some_and(|s| !s.is_live(now)) {
                    e.end(now);
                }
                e.keep_until > now
            });
        }
        if let Some(prev) = previous.and_then(|p| map.entries.get_mut(p)) {
            prev.end(now);
        }
        let keep_until = session.expires_at().saturating_add(ATTRIBUTION_GRACE_MS);
        let entry = Entry {
            live: Some(session.clone()),
            user: session.user.clone(),
            keep_until,
        };
        map.entries.insert(id.clone(), entry);
        Ok(())
    }

    async fn get(&self, id: &SessionId, now: Ms) -> Result<Option<Session>, StoreError> {
        let mut map = self.map();
        Ok(map
            .entries
            .get_mut(id)
            .and_then(|e| e.live_at(now))
            .cloned())
    }

    async fn touch(&self, id: &SessionId, at: Ms, now: Ms) -> Result<Option<Session>, StoreError> {
        let mut map = self.map();
        let Some(entry) = map.entries.get_mut(id) else {
            return Ok(None);
        };
        let Some(s) = entry.live_at(now) else {
            return Ok(None);
        };
        s.last_activity = s.last_activity.max(at.min(now));
        let s = s.clone();
        entry.keep_until = s.expires_at().saturating_add(ATTRIBUTION_GRACE_MS);
        Ok(Some(s))
    }

    async fn end(&self, id: &SessionId, now: Ms) -> Result<bool, StoreError> {
        let mut map = self.map();
        let Some(entry) = map.entries.get_mut(id) else {
            return Ok(false);
        };
        let was_live = entry.live_at(now).is_some();
        if was_live {
            entry.end(now);
        }
        Ok(was_live)
    }

    async fn owner(&self, id: &SessionId, now: Ms) -> Result<Option<String>, StoreError> {
        let map = self.map();
        Ok(map
            .entries
            .get(id)
            .filter(|e| e.keep_until > now)
            .map(|e| e.user.clone()))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
