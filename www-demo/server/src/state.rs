//! Server state: sessions, statistics, test mode and the audit store.
//!
//! Every function that depends on time takes `now_ms` (unix ms on the server
//! clock) so that the logic is testable with an injected clock.

use crate::json::{quote, Json};
use std::collections::HashSet;

/// How `GET`/`POST /session` answer (test hook `POST /__test/mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// 200 with the body `not json{`.
    Garbage,
    /// Never answer; the connection is held open ~120 s then closed.
    Hang,
    /// 500.
    Error500,
    /// 200 `{"expiresAt":"soon"}`.
    BadJsonFields,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "normal" => Mode::Normal,
            "garbage" => Mode::Garbage,
            "hang" => Mode::Hang,
            "500" => Mode::Error500,
            "badjson-fields" => Mode::BadJsonFields,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Garbage => "garbage",
            Mode::Hang => "hang",
            Mode::Error500 => "500",
            Mode::BadJsonFields => "badjson-fields",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub user: String,
    pub created: u64,
    pub last_activity: u64,
    pub keepalives: u64,
    /// False once ended (logout, login rotation, test expire, or timed out).
    pub live: bool,
}

impl Session {
    pub fn expires_at(&self, idle_ms: u64, absolute_ms: u64) -> u64 {
        self.last_activity
            .saturating_add(idle_ms)
            .min(self.created.saturating_add(absolute_ms))
    }
}

/// What the client is told about a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub expires_at: u64,
    pub server_time: u64,
    pub user: String,
}

impl SessionInfo {
    pub fn to_json(&self, with_user: bool) -> String {
        if with_user {
            format!(
                "{{\"expiresAt\":{},\"serverTime\":{},\"user\":{}}}",
                self.expires_at,
                self.server_time,
                quote(&self.user)
            )
        } else {
            format!(
                "{{\"expiresAt\":{},\"serverTime\":{}}}",
                self.expires_at, self.server_time
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub seq: i64,
    pub kind: String,
    pub at: Option<String>,
    pub reason: Option<String>,
    pub tab: String,
    pub received_at: u64,
}

impl AuditRecord {
    /// Validates one record of a `POST /audit` body. Unknown keys are dropped
    /// (never stored: they could carry anything).
    pub fn from_json(v: &Json, received_at: u64) -> Result<AuditRecord, String> {
        if !matches!(v, Json::Obj(_)) {
            return Err("audit record is not an object".into());
        }
        let seq = match v.get("seq") {
            None => return Err("audit record missing seq".into()),
            Some(s) => s.as_i64().ok_or("audit record seq is not an integer")?,
        };
        let kind = match v.get("type") {
            None => return Err("audit record missing type".into()),
            Some(t) => t
                .as_str()
                .ok_or("audit record type is not a string")?
                .to_string(),
        };
        let tab = match v.get("tab") {
            None => return Err("audit record missing tab".into()),
            Some(t) => t
                .as_str()
                .ok_or("audit record tab is not a string")?
                .to_string(),
        };
        let at = match v.get("at") {
            None | Some(Json::Null) => None,
            Some(a) => Some(
                a.as_str()
                    .ok_or("audit record at is not a string")?
                    .to_string(),
            ),
        };
        let reason = match v.get("reason") {
            None | Some(Json::Null) => None,
            Some(r) => Some(
                r.as_str()
                    .ok_or("audit record reason is not a string")?
                    .to_string(),
            ),
        };
        Ok(AuditRecord {
            seq,
            kind,
            at,
            reason,
            tab,
            received_at,
        })
    }

    /// One stored line: keys in the order seq,type,at,reason,tab,receivedAt;
    /// absent `at`/`reason` are omitted.
    pub fn to_json(&self) -> String {
        let mut s = format!("{{\"seq\":{},\"type\":{}", self.seq, quote(&self.kind));
        if let Some(at) = &self.at {
            s.push_str(",\"at\":");
            s.push_str(&quote(at));
        }
        if let Some(r) = &self.reason {
            s.push_str(",\"reason\":");
            s.push_str(&quote(r));
        }
        s.push_str(&format!(
            ",\"tab\":{},\"receivedAt\":{}}}",
            quote(&self.tab),
            self.received_at
        ));
        s
    }

    /// Reads a stored line back (received_at kept from the file).
    pub fn from_line(line: &str) -> Option<AuditRecord> {
        let v = crate::json::parse_str(line).ok()?;
        let received = v
            .get("receivedAt")
            .and_then(Json::as_i64)
            .unwrap_or(0)
            .max(0) as u64;
        AuditRecord::from_json(&v, received).ok()
    }
}

/// Parses a `POST /audit` body: a JSON array of records.
pub fn parse_audit_body(body: &[u8], now_ms: u64) -> Result<Vec<AuditRecord>, String> {
    let v = crate::json::parse(body).map_err(|e| e.to_string())?;
    let Json::Arr(items) = v else {
        return Err("audit body must be a JSON array".into());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            AuditRecord::from_json(item, now_ms).map_err(|e| format!("record {i}: {e}"))
        })
        .collect()
}

/// Keep at most this many ended sessions (the oldest are forgotten; their
/// tokens stay unusable because lookups only ever match live sessions).
const MAX_DEAD_SESSIONS: usize = 1000;

#[derive(Debug)]
pub struct State {
    pub idle_ms: u64,
    pub absolute_ms: u64,
    pub mode: Mode,
    /// Test hook: added to the real clock (simulates server clock skew).
    pub clock_offset_ms: i64,
    /// Every `POST /session` received (whatever the answer).
    pub keepalive_requests: u64,
    /// Every `GET /session` received.
    pub get_requests: u64,
    /// Every `DELETE /session` received.
    pub delete_requests: u64,
    pub sessions: Vec<Session>,
    pub audit: Vec<AuditRecord>,
    audit_keys: HashSet<(String, i64)>,
}

impl State {
    pub fn new(idle_ms: u64, absolute_ms: u64) -> Self {
        State {
            idle_ms,
            absolute_ms,
            mode: Mode::Normal,
            clock_offset_ms: 0,
            keepalive_requests: 0,
            get_requests: 0,
            delete_requests: 0,
            sessions: Vec::new(),
            audit: Vec::new(),
            audit_keys: HashSet::new(),
        }
    }

    /// Server clock for `real_now_ms` (applies the test clock offset).
    pub fn clock(&self, real_now_ms: u64) -> u64 {
        if self.clock_offset_ms >= 0 {
            real_now_ms.saturating_add(self.clock_offset_ms as u64)
        } else {
            real_now_ms.saturating_sub(self.clock_offset_ms.unsigned_abs())
        }
    }

    fn info(&self, s: &Session, now_ms: u64) -> SessionInfo {
        SessionInfo {
            expires_at: s.expires_at(self.idle_ms, self.absolute_ms),
            server_time: now_ms,
            user: s.user.clone(),
        }
    }

    /// The live session for `token`, ending it first if it has timed out.
    fn live_index(&mut self, token: Option<&str>, now_ms: u64) -> Option<usize> {
        let token = token?;
        if token.is_empty() {
            return None;
        }
        let (idle, abs) = (self.idle_ms, self.absolute_ms);
        let i = self
            .sessions
            .iter()
            .position(|s| s.live && s.token == token)?;
        if now_ms >= self.sessions[i].expires_at(idle, abs) {
            self.sessions[i].live = false;
            return None;
        }
        Some(i)
    }

    /// `POST /login`: ends the session of `old_token` (no fixation) and
    /// creates a new one for `new_token`.
    pub fn login(
        &mut self,
        old_token: Option<&str>,
        new_token: String,
        user: String,
        now_ms: u64,
    ) -> SessionInfo {
        if let Some(old) = old_token {
            self.end(old);
        }
        self.sessions.push(Session {
            token: new_token,
            user,
            created: now_ms,
            last_activity: now_ms,
            keepalives: 0,
            live: true,
        });
        self.prune();
        let s = &self.sessions[self.sessions.len() - 1];
        self.info(s, now_ms)
    }

    /// `GET /session`: status, not activity.
    pub fn status(&mut self, token: Option<&str>, now_ms: u64) -> Option<SessionInfo> {
        let i = self.live_index(token, now_ms)?;
        Some(self.info(&self.sessions[i], now_ms))
    }

    /// `POST /session`: keepalive (counts as activity and as a keepalive).
    pub fn keepalive(&mut self, token: Option<&str>, now_ms: u64) -> Option<SessionInfo> {
        let i = self.live_index(token, now_ms)?;
        let s = &mut self.sessions[i];
        s.last_activity = s.last_activity.max(now_ms);
        s.keepalives += 1;
        Some(self.info(&self.sessions[i], now_ms))
    }

    /// An authenticated API request: counts as activity.
    pub fn touch(&mut self, token: Option<&str>, now_ms: u64) -> Option<SessionInfo> {
        let i = self.live_index(token, now_ms)?;
        let s = &mut self.sessions[i];
        s.last_activity = s.last_activity.max(now_ms);
        Some(self.info(&self.sessions[i], now_ms))
    }

    /// `DELETE /session`: the token can never be used again.
    pub fn end(&mut self, token: &str) -> bool {
        let mut found = false;
        for s in self
            .sessions
            .iter_mut()
            .filter(|s| s.live && s.token == token)
        {
            s.live = false;
            found = true;
        }
        found
    }

    /// `POST /__test/expire`: the backend ends every session.
    pub fn expire_all(&mut self) {
        for s in &mut self.sessions {
            s.live = false;
        }
    }

    /// `POST /__test/reset` (the audit file is left alone).
    pub fn reset(&mut self) {
        self.mode = Mode::Normal;
        self.clock_offset_ms = 0;
        self.keepalive_requests = 0;
        self.get_requests = 0;
        self.delete_requests = 0;
        self.sessions.clear();
        self.audit.clear();
        self.audit_keys.clear();
    }

    fn prune(&mut self) {
        let dead = self.sessions.iter().filter(|s| !s.live).count();
        if dead > MAX_DEAD_SESSIONS {
            let mut to_drop = dead - MAX_DEAD_SESSIONS;
            self.sessions.retain(|s| {
                if !s.live && to_drop > 0 {
                    to_drop -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }

    /// `GET /__test/stats`.
    pub fn stats_json(&self, now_ms: u64) -> String {
        let sessions: Vec<String> = self
            .sessions
            .iter()
            .map(|s| {
                let exp = s.expires_at(self.idle_ms, self.absolute_ms);
                format!(
                    "{{\"live\":{},\"keepalives\":{},\"lastActivity\":{},\"expiresAt\":{}}}",
                    s.live && now_ms < exp,
                    s.keepalives,
                    s.last_activity,
                    exp
                )
            })
            .collect();
        format!(
            "{{\"keepalives\":{},\"gets\":{},\"deletes\":{},\"sessions\":[{}]}}",
            self.keepalive_requests,
            self.get_requests,
            self.delete_requests,
            sessions.join(",")
        )
    }

    /// Splits `records` into those not stored yet (also de-duplicated within
    /// the batch) and a count of duplicates. Nothing is committed.
    pub fn audit_new(&self, records: Vec<AuditRecord>) -> (Vec<AuditRecord>, usize) {
        let mut seen: HashSet<(String, i64)> = HashSet::new();
        let mut fresh = Vec::new();
        let mut dups = 0;
        for r in records {
            let key = (r.tab.clone(), r.seq);
            if self.audit_keys.contains(&key) || !seen.insert(key) {
                dups += 1;
            } else {
                fresh.push(r);
            }
        }
        (fresh, dups)
    }

    /// Stores records (after they were written to the audit file). Returns how
    /// many were new.
    pub fn audit_commit(&mut self, records: Vec<AuditRecord>) -> usize {
        let mut n = 0;
        for r in records {
            if self.audit_keys.insert((r.tab.clone(), r.seq)) {
                self.audit.push(r);
                n += 1;
            }
        }
        n
    }

    /// `GET /audit`: every record sorted by (seq, tab).
    pub fn audit_json(&self) -> String {
        let mut refs: Vec<&AuditRecord> = self.audit.iter().collect();
        refs.sort_by(|a, b| (a.seq, &a.tab).cmp(&(b.seq, &b.tab)));
        let items: Vec<String> = refs.iter().map(|r| r.to_json()).collect();
        format!("[{}]", items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: u64 = 900_000;
    const ABS: u64 = 43_200_000;

    fn tok(n: u8) -> String {
        format!("{:064x}", n)
    }

    #[test]
    fn login_status_keepalive_and_idle_expiry() {
        let mut st = State::new(IDLE, ABS);
        let t0 = 1_000_000;
        let info = st.login(None, tok(1), "dr".into(), t0);
        assert_eq!(info.expires_at, t0 + IDLE);
        assert_eq!(info.server_time, t0);

        // GET does not count as activity.
        let s = st.status(Some(&tok(1)), t0 + 10_000).unwrap();
        assert_eq!(s.expires_at, t0 + IDLE);
        assert_eq!(s.server_time, t0 + 10_000);
        assert_eq!(st.sessions[0].keepalives, 0);

        // POST counts.
        let k = st.keepalive(Some(&tok(1)), t0 + 60_000).unwrap();
        assert_eq!(k.expires_at, t0 + 60_000 + IDLE);
        assert_eq!(st.sessions[0].keepalives, 1);

        // API activity counts but is not a keepalive.
        let a = st.touch(Some(&tok(1)), t0 + 120_000).unwrap();
        assert_eq!(a.expires_at, t0 + 120_000 + IDLE);
        assert_eq!(st.sessions[0].keepalives, 1);

        // Unknown / missing tokens.
        assert!(st.status(None, t0).is_none());
        assert!(st.status(Some(""), t0).is_none());
        assert!(st.status(Some(&tok(2)), t0).is_none());

        // Idle expiry is final: a later keepalive cannot revive it.
        let deadline = t0 + 120_000 + IDLE;
        assert!(st.status(Some(&tok(1)), deadline - 1).is_some());
        assert!(st.status(Some(&tok(1)), deadline).is_none());
        assert!(!st.sessions[0].live);
        assert!(st.keepalive(Some(&tok(1)), deadline - 1).is_none());
    }

    #[test]
    fn absolute_timeout_caps_expiry() {
        let mut st = State::new(1000, 5000);
        st.login(None, tok(1), "u".into(), 0);
        for t in (500..4500).step_by(500) {
            assert!(st.keepalive(Some(&tok(1)), t).is_some(), "at {t}");
        }
        assert_eq!(st.status(Some(&tok(1)), 4500).unwrap().expires_at, 5000);
        assert!(st.keepalive(Some(&tok(1)), 5000).is_none());
    }

    #[test]
    fn login_rotates_and_logout_is_final() {
        let mut st = State::new(IDLE, ABS);
        st.login(None, tok(1), "a".into(), 0);
        // Logging in again with the old cookie destroys the old session.
        st.login(Some(&tok(1)), tok(2), "a".into(), 10);
        assert!(st.status(Some(&tok(1)), 20).is_none());
        assert!(st.status(Some(&tok(2)), 20).is_some());
        assert!(st.end(&tok(2)));
        assert!(!st.end(&tok(2)));
        assert!(st.status(Some(&tok(2)), 30).is_none());
        assert!(st.keepalive(Some(&tok(2)), 30).is_none());
        assert!(st.touch(Some(&tok(2)), 30).is_none());
    }

    #[test]
    fn expire_all_reset_and_stats() {
        let mut st = State::new(IDLE, ABS);
        st.login(None, tok(1), "a".into(), 100);
        st.keepalive(Some(&tok(1)), 200);
        st.keepalive_requests = 3;
        st.get_requests = 2;
        st.delete_requests = 1;
        assert_eq!(
            st.stats_json(300),
            format!(
                "{{\"keepalives\":3,\"gets\":2,\"deletes\":1,\"sessions\":[{{\"live\":true,\"keepalives\":1,\"lastActivity\":200,\"expiresAt\":{}}}]}}",
                200 + IDLE
            )
        );
        st.expire_all();
        assert!(st.status(Some(&tok(1)), 300).is_none());
        assert!(st.stats_json(300).contains("\"live\":false"));
        st.mode = Mode::Garbage;
        st.clock_offset_ms = -5;
        st.reset();
        assert_eq!(st.mode, Mode::Normal);
        assert_eq!(st.clock(100), 100);
        assert_eq!(
            st.stats_json(0),
            "{\"keepalives\":0,\"gets\":0,\"deletes\":0,\"sessions\":[]}"
        );
    }

    #[test]
    fn clock_offset() {
        let mut st = State::new(IDLE, ABS);
        st.clock_offset_ms = 5000;
        assert_eq!(st.clock(1000), 6000);
        st.clock_offset_ms = -5000;
        assert_eq!(st.clock(1000), 0);
        assert_eq!(st.clock(10_000), 5000);
    }

    #[test]
    fn mode_names_round_trip() {
        for m in [
            Mode::Normal,
            Mode::Garbage,
            Mode::Hang,
            Mode::Error500,
            Mode::BadJsonFields,
        ] {
            assert_eq!(Mode::parse(m.name()), Some(m));
        }
        assert_eq!(Mode::parse("other"), None);
    }

    #[test]
    fn dead_sessions_are_pruned() {
        let mut st = State::new(IDLE, ABS);
        for i in 0..(MAX_DEAD_SESSIONS + 50) {
            let t = format!("{i:064x}");
            st.login(None, t.clone(), "u".into(), 0);
            st.end(&t);
        }
        st.login(None, tok(255), "u".into(), 0);
        assert!(st.sessions.len() <= MAX_DEAD_SESSIONS + 1);
        assert!(st.status(Some(&tok(255)), 1).is_some());
    }

    #[test]
    fn audit_validation() {
        let ok = parse_audit_body(br#"[{"seq":1,"type":"lock","at":"2024-01-01T00:00:00.000Z","reason":"idle","tab":"t1","extra":"x"},{"seq":2,"type":"warn","at":"x","tab":"t1","reason":null}]"#, 7).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].reason.as_deref(), Some("idle"));
        assert_eq!(ok[1].reason, None);
        assert_eq!(
            ok[0].to_json(),
            r#"{"seq":1,"type":"lock","at":"2024-01-01T00:00:00.000Z","reason":"idle","tab":"t1","receivedAt":7}"#
        );
        assert_eq!(
            ok[1].to_json(),
            r#"{"seq":2,"type":"warn","at":"x","tab":"t1","receivedAt":7}"#
        );
        assert_eq!(
            AuditRecord::from_line(&ok[0].to_json()),
            Some(ok[0].clone())
        );
        assert_eq!(parse_audit_body(b"[]", 0).unwrap().len(), 0);

        for bad in [
            &br#"{"seq":1}"#[..],
            b"not json",
            br#"[{"type":"lock","tab":"t"}]"#,
            br#"[{"seq":1,"tab":"t"}]"#,
            br#"[{"seq":1,"type":"lock"}]"#,
            br#"[{"seq":"1","type":"lock","tab":"t"}]"#,
            br#"[{"seq":1.5,"type":"lock","tab":"t"}]"#,
            br#"[{"seq":1,"type":3,"tab":"t"}]"#,
            br#"[{"seq":1,"type":"lock","tab":null}]"#,
            br#"[{"seq":1,"type":"lock","tab":"t","at":5}]"#,
            br#"[1]"#,
        ] {
            assert!(
                parse_audit_body(bad, 0).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn audit_dedup_and_order() {
        let mut st = State::new(IDLE, ABS);
        let batch1 = parse_audit_body(br#"[{"seq":2,"type":"a","tab":"b"},{"seq":1,"type":"a","tab":"b"},{"seq":1,"type":"a","tab":"b"}]"#, 1).unwrap();
        let (fresh, dups) = st.audit_new(batch1);
        assert_eq!((fresh.len(), dups), (2, 1));
        assert_eq!(st.audit_commit(fresh), 2);
        let batch2 = parse_audit_body(br#"[{"seq":2,"type":"a","tab":"b"},{"seq":2,"type":"a","tab":"a"},{"seq":3,"type":"a","tab":"b"}]"#, 2).unwrap();
        let (fresh, dups) = st.audit_new(batch2);
        assert_eq!((fresh.len(), dups), (2, 1));
        st.audit_commit(fresh);
        let all = crate::json::parse_str(&st.audit_json()).unwrap();
        let Json::Arr(items) = all else { panic!() };
        let keys: Vec<(i64, String)> = items
            .iter()
            .map(|r| {
                (
                    r.get("seq").and_then(Json::as_i64).unwrap(),
                    r.get("tab").and_then(Json::as_str).unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                (1, "b".into()),
                (2, "a".into()),
                (2, "b".into()),
                (3, "b".into())
            ]
        );
        st.reset();
        assert_eq!(st.audit_json(), "[]");
    }
}
