//! One process's sessions in a map (the embedded default).
//!
//! Besides the map, an index of live sessions by expiry: the sweeper takes the expired
//! ones from its front (`O(log n)` each) instead of scanning every session.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Expired, Session, SessionId, SessionStore, StoreError, CLAIM_LEASE_MS};
use crate::clock::Ms;

/// Swept at most this often, from `create`: entries past their keeping time go.
const FORGET_EVERY_MS: Ms = 60_000;

#[derive(Clone, Default)]
pub struct MemoryStore {
    map: Arc<Mutex<Map>>,
}

#[derive(Default)]
struct Map {
    entries: HashMap<SessionId, Entry>,
    /// Live sessions by `(expiresAt, id)`.
    expiring: BTreeSet<(Ms, SessionId)>,
    /// Claimed timeouts by claim handle: the lease's end and what was claimed.
    claims: BTreeMap<String, (Ms, Expired)>,
    /// `*_ended` tokens: the user, and until when.
    remembered: HashMap<SessionId, (String, Ms)>,
    /// Stashed values (sign-ins in progress): the value, and until when.
    stashed: HashMap<SessionId, (String, Ms)>,
    forgot_at: Ms,
    next_claim: u64,
}

struct Entry {
    session: Session,
    /// Ended (by `end`, a rotation, or the sweeper): never live again.
    ended: bool,
    /// When the entry may be forgotten.
    keep_until: Ms,
}

impl Entry {
    fn live(&self, now: Ms) -> bool {
        !self.ended && self.session.is_live(now)
    }

    /// Whether it is live at `now`; one found expired is ended for good (it stays in the
    /// expiry index: its timeout is still owed to the sweeper).
    fn check(&mut self, now: Ms) -> bool {
        if !self.ended && !self.session.is_live(now) {
            self.ended = true;
        }
        !self.ended
    }

    fn finish(&mut self, at: Ms) {
        self.ended = true;
        self.keep_until = at.saturating_add(self.session.absolute_ms);
    }
}

impl Map {
    /// Ends a live session (a `DELETE` or a rotation); an expired one is left to the
    /// sweeper, whose `timeout` stands.
    fn end(&mut self, id: &SessionId, now: Ms) -> bool {
        let Some(entry) = self.entries.get_mut(id) else {
            return false;
        };
        if !entry.live(now) {
            return false;
        }
        let exp = entry.session.expires_at();
        entry.finish(now);
        self.expiring.remove(&(exp, id.clone()));
        true
    }

    fn forget(&mut self, now: Ms) {
        if now - self.forgot_at < FORGET_EVERY_MS {
            return;
        }
        self.forgot_at = now;
        // An expired session not yet claimed by the sweeper is kept: its timeout is owed.
        let expiring = &self.expiring;
        self.entries.retain(|id, e| {
            e.keep_until > now || expiring.contains(&(e.session.expires_at(), id.clone()))
        });
        self.remembered.retain(|_, (_, until)| *until > now);
        self.stashed.retain(|_, (_, until)| *until > now);
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

    /// Entries held (live and ended-but-still-attributed).
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
        map.forget(now);
        if let Some(prev) = previous {
            map.end(prev, now);
        }
        let entry = Entry {
            session: session.clone(),
            ended: false,
            keep_until: session.expires_at().saturating_add(session.absolute_ms),
        };
        map.expiring.insert((session.expires_at(), id.clone()));
        map.entries.insert(id.clone(), entry);
        Ok(())
    }

    async fn get(&self, id: &SessionId, now: Ms) -> Result<Option<Session>, StoreError> {
        let mut map = self.map();
        Ok(map
            .entries
            .get_mut(id)
            .and_then(|e| e.check(now).then(|| e.session.clone())))
    }

    async fn touch(&self, id: &SessionId, at: Ms, now: Ms) -> Result<Option<Session>, StoreError> {
        let mut map = self.map();
        let Some(entry) = map.entries.get_mut(id) else {
            return Ok(None);
        };
        if !entry.check(now) {
            return Ok(None);
        }
        let before = entry.session.expires_at();
        let s = &mut entry.session;
        s.last_activity = s.last_activity.max(at.min(now));
        let s = s.clone();
        entry.keep_until = s.expires_at().saturating_add(s.absolute_ms);
        if s.expires_at() != before {
            map.expiring.remove(&(before, id.clone()));
            map.expiring.insert((s.expires_at(), id.clone()));
        }
        Ok(Some(s))
    }

    async fn end(&self, id: &SessionId, now: Ms) -> Result<bool, StoreError> {
        Ok(self.map().end(id, now))
    }

    async fn owner(&self, id: &SessionId, now: Ms) -> Result<Option<String>, StoreError> {
        let map = self.map();
        Ok(map
            .entries
            .get(id)
            .filter(|e| e.keep_until > now)
            .map(|e| e.session.user.clone()))
    }

    async fn remember(
        &self,
        token: &SessionId,
        user: &str,
        for_ms: Ms,
        now: Ms,
    ) -> Result<(), StoreError> {
        let until = now.saturating_add(for_ms);
        self.map()
            .remembered
            .insert(token.clone(), (user.to_owned(), until));
        Ok(())
    }

    async fn remembered(&self, token: &SessionId, now: Ms) -> Result<Option<String>, StoreError> {
        let map = self.map();
        Ok(map
            .remembered
            .get(token)
            .filter(|(_, until)| *until > now)
            .map(|(user, _)| user.clone()))
    }

    async fn stash(
        &self,
        key: &SessionId,
        value: &str,
        for_ms: Ms,
        now: Ms,
    ) -> Result<(), StoreError> {
        let mut map = self.map();
        map.forget(now);
        let until = now.saturating_add(for_ms);
        map.stashed.insert(key.clone(), (value.to_owned(), until));
        Ok(())
    }

    async fn take(&self, key: &SessionId, now: Ms) -> Result<Option<String>, StoreError> {
        let mut map = self.map();
        Ok(map
            .stashed
            .remove(key)
            .filter(|(_, until)| *until > now)
            .map(|(value, _)| value))
    }

    async fn claim_expired(&self, now: Ms, max: usize) -> Result<Vec<Expired>, StoreError> {
        let mut map = self.map();
        let lease = now.saturating_add(CLAIM_LEASE_MS);
        let mut out = Vec::new();
        for (until, claimed) in map.claims.values_mut() {
            if out.len() == max {
                break;
            }
            if *until <= now {
                *until = lease;
                out.push(claimed.clone());
            }
        }
        while out.len() < max {
            let Some((exp, id)) = map.expiring.first().cloned() else {
                break;
            };
            if exp > now {
                break;
            }
            map.expiring.pop_first();
            map.next_claim += 1;
            let claim = map.next_claim.to_string();
            let Some(entry) = map.entries.get_mut(&id) else {
                continue;
            };
            entry.finish(exp);
            let s = &entry.session;
            let claimed = Expired {
                user: s.user.clone(),
                expires_at: exp,
                absolute: exp == s.absolute_deadline(),
                event: s.event.clone(),
                claim,
            };
            map.claims
                .insert(claimed.claim.clone(), (lease, claimed.clone()));
            out.push(claimed);
        }
        Ok(out)
    }

    async fn settle(&self, claims: &[Expired]) -> Result<(), StoreError> {
        let mut map = self.map();
        for c in claims {
            map.claims.remove(&c.claim);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
