//! The audit trail at the server: `POST /audit` takes the SDK's records, keeps only the
//! fields the contract names, adds who sent them (from what the server knows, never from
//! the client) and when, and stores each `(tab, seq)` once.

mod sql;

use std::fmt;
use std::future::Future;

use serde::Serialize;
use serde_json::{Map, Value};

pub use self::sql::SqlSink;
use crate::clock::{iso_ms, parse_iso_utc, Ms};
use crate::value::shown;

/// Largest `POST /audit` body.
pub const MAX_BODY: usize = 262_144;
/// Most records in one batch.
pub const MAX_RECORDS: usize = 1000;
/// Largest `seq` (the SDK counts in JS numbers).
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// The contract's record types (what a client may send).
pub const TYPES: [&str; 9] = [
    "warn",
    "extend",
    "lock",
    "unlock",
    "tamper",
    "server-expired",
    "purge",
    "error",
    "switch",
];

/// The reasons the SDK writes: a lock's reason, or what an `extend` or `error` was.
pub const REASONS: [&str; 16] = [
    "idle",
    "absolute",
    "server",
    "remote",
    "manual",
    "hidden",
    "screen",
    "activity",
    "extend",
    "server expiresAt too far",
    "bad expiry header",
    "server timeout",
    "server unreachable",
    "server answer malformed",
    "server error",
    "server unexpected status",
];

/// A record as the client sent it, validated, with every other field dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub tab: String,
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    /// ISO-8601 UTC with milliseconds.
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A stored record: the client's fields and the server's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredRecord {
    #[serde(flatten)]
    pub record: AuditRecord,
    pub user: Option<String>,
    /// Unix ms on the server's clock.
    #[serde(skip)]
    pub received_at: Ms,
    /// Who wrote it: the browser (`POST /audit`) or the server itself.
    pub source: Source,
}

/// Who wrote a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Client,
    Server,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Client => "client",
            Source::Server => "server",
        }
    }
}

/// What a batch did: `accepted` newly stored, `duplicates` already there (or repeated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub accepted: u64,
    pub duplicates: u64,
}

/// Which records an auditor asked for.
#[derive(Clone, Debug, Default)]
pub struct ExportFilter {
    /// `received_at >= since`.
    pub since: Option<Ms>,
    /// `received_at < until`.
    pub until: Option<Ms>,
    pub user: Option<String>,
    pub source: Option<Source>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditError {
    /// The batch is not valid: the message names the first problem; nothing was stored.
    Invalid(String),
    /// Over a size limit.
    TooLarge(String),
    /// The sink did not answer; nothing of the batch was stored.
    Unavailable(String),
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::Invalid(m) | AuditError::TooLarge(m) => f.write_str(m),
            AuditError::Unavailable(why) => write!(f, "audit sink unavailable: {why}"),
        }
    }
}

impl std::error::Error for AuditError {}

/// Where the audit trail is kept.
pub trait AuditSink: Clone + Send + Sync + 'static {
    /// Stores the batch in one transaction (each `(tab, seq)` once); returns only
    /// after the rows are durable.
    fn store(
        &self,
        batch: &[AuditRecord],
        user: Option<&str>,
        received_at: Ms,
    ) -> impl Future<Output = Result<Stored, AuditError>> + Send;

    /// Stored records in `(received_at, tab, seq)` order.
    fn export(
        &self,
        filter: &ExportFilter,
    ) -> impl Future<Output = Result<Vec<StoredRecord>, AuditError>> + Send;

    fn ping(&self) -> impl Future<Output = Result<(), AuditError>> + Send;
}

/// A `POST /audit` body: a JSON array of 1 ..= 1000 valid records.
pub fn parse_batch(body: &[u8]) -> Result<Vec<AuditRecord>, AuditError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AuditError::Invalid(format!("audit body is not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(AuditError::Invalid(format!(
            "audit body must be a JSON array of records, got {}",
            shown(&value)
        )));
    };
    if items.is_empty() || items.len() > MAX_RECORDS {
        return Err(AuditError::Invalid(format!(
            "audit body has {} records (1..={MAX_RECORDS})",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_record(item).map_err(|m| AuditError::Invalid(format!("record {i}: {m}")))
        })
        .collect()
}

fn parse_record(item: &Value) -> Result<AuditRecord, String> {
    let Value::Object(fields) = item else {
        return Err(format!("not an object: {}", shown(item)));
    };
    let text = |name: &str| -> Result<&str, String> {
        match fields.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(format!("{name} must be a string, got {}", shown(v))),
            None => Err(format!("{name} is missing")),
        }
    };
    let seq = match fields.get("seq") {
        Some(v) => v.as_u64().filter(|n| *n <= MAX_SEQ),
        None => return Err("seq is missing".into()),
    };
    let seq = seq.ok_or_else(|| {
        format!(
            "seq must be an integer 0..={MAX_SEQ}, got {}",
            shown(&fields["seq"])
        )
    })?;
    let kind = text("type")?;
    if !TYPES.contains(&kind) {
        return Err(format!(
            "type must be one of {}, got {}",
            TYPES.join(", "),
            shown(&fields["type"])
        ));
    }
    let at = text("at")?;
    let at = parse_iso_utc(at).ok_or_else(|| {
        format!(
            "at must be an ISO-8601 UTC instant, got {}",
            shown(&fields["at"])
        )
    })?;
    let tab = text("tab")?;
    let tab_ok = (1..=64).contains(&tab.len())
        && tab
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !tab_ok {
        return Err(format!(
            "tab must be 1..=64 characters of A-Z a-z 0-9 _ -, got {}",
            shown(&fields["tab"])
        ));
    }
    Ok(AuditRecord {
        tab: tab.to_owned(),
        seq: seq as i64,
        kind: kind.to_owned(),
        at: iso_ms(at),
        reason: reason(fields)?,
    })
}

fn reason(fields: &Map<String, Value>) -> Result<Option<String>, String> {
    match fields.get("reason") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(r)) if REASONS.contains(&r.as_str()) => Ok(Some(r.clone())),
        Some(v) => Err(format!(
            "reason must be absent or one of the SDK's reasons, got {}",
            shown(v)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(extra: &str) -> String {
        format!(
            r#"{{"seq":1,"type":"lock","at":"2026-12-03T06:50:47.123Z","reason":"idle","tab":"t-1"{extra}}}"#
        )
    }

    #[test]
    fn a_valid_batch_keeps_only_the_contract_fields() {
        let body = format!(
            "[{}]",
            rec(r#","patient":"Test Patient 01","title":"MRN SYN-0001""#)
        );
        let got = parse_batch(body.as_bytes()).unwrap();
        assert_eq!(
            got,
            vec![AuditRecord {
                tab: "t-1".into(),
                seq: 1,
                kind: "lock".into(),
                at: "2026-12-03T06:50:47.123Z".into(),
                reason: Some("idle".into()),
            }]
        );
    }

    #[test]
    fn every_bad_batch_names_its_first_problem() {
        let many = format!("[{}]", vec![rec(""); MAX_RECORDS + 1].join(","));
        for (body, says) in [
            ("{}".to_string(), "JSON array"),
            ("[]".into(), "0 records"),
            (many, "1001 records"),
            ("nope".into(), "not JSON"),
            ("[1]".into(), "record 0: not an object"),
            (
                format!(
                    "[{},{}]",
                    rec(""),
                    rec(r#","seq":-1"#).replace(r#""seq":1,"#, "")
                ),
                "record 1: seq",
            ),
            (
                format!(
                    "[{}]",
                    rec("").replace(r#""seq":1"#, r#""seq":9007199254740992"#)
                ),
                "seq must be",
            ),
            (
                format!("[{}]", rec("").replace(r#""seq":1"#, r#""seq":"1""#)),
                "seq must be",
            ),
            (
                format!("[{}]", rec("").replace("\"lock\"", "\"open\"")),
                "type must be",
            ),
            (
                format!("[{}]", rec("").replace("\"idle\"", "\"Test Patient\"")),
                "reason must be",
            ),
            (
                format!("[{}]", rec("").replace("06:50:47.123Z", "06:50:47+02:00")),
                "at must be",
            ),
            (
                format!(
                    "[{}]",
                    rec("").replace(r#""at":"2026-12-03T06:50:47.123Z","#, "")
                ),
                "at is missing",
            ),
            (
                format!("[{}]", rec("").replace("t-1", "t 1")),
                "tab must be",
            ),
            (
                format!("[{}]", rec("").replace("t-1", &"t".repeat(65))),
                "tab must be",
            ),
            (
                format!("[{}]", rec("").replace(r#""tab":"t-1""#, r#""tab":7"#)),
                "tab must be a string",
            ),
        ] {
            match parse_batch(body.as_bytes()) {
                Err(AuditError::Invalid(m)) => assert!(m.contains(says), "{says:?} not in {m:?}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}
