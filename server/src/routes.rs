//! The crate's routers, the public way in: [`session_routes`] (`/session`, the SDK's
//! expiry protocol: shared/SERVER.md, docs/protocol.md) and [`audit_routes`]
//! (`POST /audit`). Requests are read and answered here; the sessions, the store and the
//! sink below know nothing of HTTP.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use crate::audit::{self, AuditSink};
use crate::clock::Ms;
use crate::error::ApiError;
use crate::sessions::{LiveSession, Sessions, LOCK_REASONS};
use crate::store::SessionStore;
use crate::value::shown;

/// The largest keepalive body (`{"lastActivityAgoMs": N}` is ~30 bytes).
pub const MAX_KEEPALIVE_BODY: usize = 1024;

/// `GET`, `POST` (keepalive) and `DELETE /session`: the SDK's expiry protocol.
pub fn session_routes<S: SessionStore>(sessions: &Sessions<S>) -> Router {
    Router::new()
        .route(
            "/session",
            get(status::<S>).post(keepalive::<S>).delete(end::<S>),
        )
        .with_state(sessions.clone())
}

/// `POST /audit` into `sink`, each record attributed with `sessions` (never by the client).
pub fn audit_routes<S: SessionStore, K: AuditSink>(sessions: &Sessions<S>, sink: K) -> Router {
    Router::new()
        .route("/audit", post(receive::<S, K>))
        .with_state((sessions.clone(), sink))
}

/// Reads a whole body of at most `limit` bytes (`413` past it, with our own JSON error).
pub async fn read_body(body: Body, limit: usize, what: &str) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::TooLarge(format!("{what} over {limit} bytes"))
        } else {
            ApiError::BadRequest(format!("{what} could not be read"))
        }
    })
}

async fn receive<S: SessionStore, K: AuditSink>(
    State((sessions, sink)): State<(Sessions<S>, K)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(body, audit::MAX_BODY, "audit body").await?;
    let batch = audit::parse_batch(&body)?;
    let who = sessions.attribute(&headers).await?;
    // Records made before the browser's current session started are its previous user's.
    let at = |r: &audit::AuditRecord| crate::clock::parse_iso_utc(&r.at).unwrap_or(Ms::MAX);
    let (earlier, current): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .partition(|r| who.user_at(at(r)) != who.user.as_deref());
    let now = sessions.now();
    let mut stored = audit::Stored {
        accepted: 0,
        duplicates: 0,
    };
    for (part, user) in [
        (earlier, who.before.as_deref()),
        (current, who.user.as_deref()),
    ] {
        if part.is_empty() {
            continue;
        }
        let s = sink.store(&part, user, now).await?;
        stored.accepted += s.accepted;
        stored.duplicates += s.duplicates;
    }
    Ok(Json(stored).into_response())
}

/// `{}`, an empty body or `{"lastActivityAgoMs": <integer ≥ 0>}`: how long ago the
/// user's last trusted input was (0 when not said).
pub fn parse_keepalive(body: &[u8]) -> Result<u64, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(0);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("keepalive body is not JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(ApiError::BadRequest(format!(
            "keepalive body must be an object like {{\"lastActivityAgoMs\": 1200}}, got {}",
            shown(&value)
        )));
    };
    let mut ago = 0;
    for (name, v) in &fields {
        if name != "lastActivityAgoMs" {
            return Err(ApiError::BadRequest(format!(
                "keepalive body: unknown field {:?} (only lastActivityAgoMs)",
                name.chars().take(40).collect::<String>()
            )));
        }
        ago = v.as_u64().ok_or_else(|| {
            ApiError::BadRequest(format!(
                "lastActivityAgoMs must be an integer ≥ 0, got {}",
                shown(v)
            ))
        })?;
    }
    Ok(ago)
}

fn answer<S: SessionStore>(sessions: &Sessions<S>, live: &LiveSession) -> Response {
    let mut res = (StatusCode::OK, Json(live)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        sessions.expires_header().clone(),
        HeaderValue::from(live.expires_at),
    );
    res
}

async fn status<S: SessionStore>(
    State(sessions): State<Sessions<S>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let live = sessions.current(&headers).await?;
    Ok(answer(&sessions, &live))
}

async fn keepalive<S: SessionStore>(
    State(sessions): State<Sessions<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(body, MAX_KEEPALIVE_BODY, "keepalive body").await?;
    let ago = parse_keepalive(&body)?;
    let live = sessions.keepalive(&headers, ago).await?;
    Ok(answer(&sessions, &live))
}

/// The largest `DELETE /session` body read for its reason (`{"reason":"absolute"}`).
const MAX_END_BODY: usize = 1024;
/// How long a `DELETE /session` waits for its body before ending the session without it.
const END_BODY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// The reason a `DELETE /session` body gives: one of CONTRACT.md's lock reasons, else
/// `request` (a missing, oversized or malformed body never keeps a session alive).
pub fn end_reason(body: &[u8]) -> &'static str {
    let reason = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned));
    reason
        .and_then(|r| LOCK_REASONS.iter().find(|known| **known == r))
        .copied()
        .unwrap_or("request")
}

/// `204` with the session cookie cleared (also when there was no live session). When the
/// store cannot be reached the answer is `503`, and the cookie is cleared all the same:
/// the session then ends at its idle deadline, which nothing can extend any more.
async fn end<S: SessionStore>(
    State(sessions): State<Sessions<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A body that is too large, broken or slow only loses its reason: the end goes ahead.
    let read = axum::body::to_bytes(body, MAX_END_BODY);
    let body = tokio::time::timeout(END_BODY_WITHIN, read)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let (mut res, cookies) = match sessions.end_request(&headers, end_reason(&body)).await {
        Ok(cookies) => (StatusCode::NO_CONTENT.into_response(), cookies),
        Err(e) => (
            ApiError::from(e).into_response(),
            sessions.cleared_cookie().into_iter().collect(),
        ),
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        h.append(header::SET_COOKIE, c);
    }
    if let Some(v) = sessions.clear_site_data() {
        h.insert(
            header::HeaderName::from_static("clear-site-data"),
            v.clone(),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_bodies_never_refuse() {
        assert_eq!(end_reason(br#"{"reason":"idle"}"#), "idle");
        assert_eq!(end_reason(br#"{"reason":"screen"}"#), "screen");
        for other in [
            &b""[..],
            b"{}",
            b"nope",
            br#"{"reason":"Test Patient 01"}"#,
            br#"{"reason":7}"#,
            br#"["idle"]"#,
        ] {
            assert_eq!(
                end_reason(other),
                "request",
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn keepalive_bodies() {
        assert_eq!(parse_keepalive(b""), Ok(0));
        assert_eq!(parse_keepalive(b" \n"), Ok(0));
        assert_eq!(parse_keepalive(b"{}"), Ok(0));
        assert_eq!(parse_keepalive(br#"{"lastActivityAgoMs": 1200}"#), Ok(1200));
        for (bad, names) in [
            (&br#"{"lastActivityAgoMs": -1}"#[..], "lastActivityAgoMs"),
            (br#"{"lastActivityAgoMs": 1.5}"#, "lastActivityAgoMs"),
            (br#"{"lastActivityAgoMs": "5"}"#, "lastActivityAgoMs"),
            (br#"{"lastActivityAgoMs": null}"#, "lastActivityAgoMs"),
            (br#"{"lastActivity": 5}"#, "lastActivity"),
            (br#"[1]"#, "object"),
            (br#"{"#, "not JSON"),
        ] {
            match parse_keepalive(bad) {
                Err(ApiError::BadRequest(m)) => assert!(m.contains(names), "{m}"),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
    }
}
