//! `/__test/*` (only with `--test-hooks`): what end-to-end tests drive instead of waiting
//! or breaking a real network: the server's clock, failure modes of `/session`, request
//! counters, and the stored audit trail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use autologoff_server::audit::{AuditSink, ExportFilter, SqlSink};
use autologoff_server::store::{SessionId, SessionStore};
use autologoff_server::ApiError;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::deployment::Deployment;

/// How `GET`/`POST /session` answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Normal,
    /// `200` with the body `not json{`.
    Garbage,
    /// Never answers (for 120 s).
    Hang,
    /// `500`.
    Error500,
    /// `200 {"expiresAt": "soon"}`.
    BadJsonFields,
}

#[derive(Clone, Default)]
pub struct Hooks {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    mode: Mutex<Mode>,
    gets: AtomicU64,
    keepalives: AtomicU64,
    deletes: AtomicU64,
    /// Sessions the demo login started, oldest first.
    issued: Mutex<Vec<SessionId>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hooks {
    /// What the demo login calls with each session it starts.
    pub fn login_watcher(self) -> crate::demo::OnLogin {
        Arc::new(move |id: &SessionId| locked(&self.inner.issued).push(id.clone()))
    }
}

/// Counts `/session` requests and answers them in the failure mode set, if any.
pub async fn session_modes(State(h): State<Hooks>, request: Request, next: Next) -> Response {
    let counter = match *request.method() {
        Method::GET => &h.inner.gets,
        Method::POST => &h.inner.keepalives,
        Method::DELETE => &h.inner.deletes,
        _ => return next.run(request).await,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if request.method() == Method::DELETE {
        return next.run(request).await;
    }
    let mode = *locked(&h.inner.mode);
    let json = |status: StatusCode, body: &'static str| {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    match mode {
        Mode::Normal => next.run(request).await,
        Mode::Garbage => json(StatusCode::OK, "not json{"),
        Mode::BadJsonFields => json(StatusCode::OK, r#"{"expiresAt":"soon"}"#),
        Mode::Error500 => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"test mode"}"#,
        ),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            json(StatusCode::SERVICE_UNAVAILABLE, r#"{"error":"test mode"}"#)
        }
    }
}

type Env = (Hooks, Deployment, Option<SqlSink>);

pub fn router(hooks: Hooks, sessions: Deployment, sink: Option<SqlSink>) -> Router {
    Router::new()
        .route("/__test/mode", post(set_mode))
        .route("/__test/clock", post(set_clock))
        .route("/__test/stats", get(stats))
        .route("/__test/reset", post(reset))
        .route("/__test/expire", post(expire))
        .route("/__test/audit", get(audit))
        .route("/__test/sweeper", post(sweeper))
        .with_state((hooks, sessions, sink))
}

fn body_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("body is not JSON: {e}")))
}

async fn set_mode(State((h, _, _)): State<Env>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let v = body_json(&body)?;
    let mode = match v.get("mode").and_then(Value::as_str) {
        Some("normal") => Mode::Normal,
        Some("garbage") => Mode::Garbage,
        Some("hang") => Mode::Hang,
        Some("500") => Mode::Error500,
        Some("badjson-fields") => Mode::BadJsonFields,
        _ => {
            return Err(ApiError::BadRequest(
                "mode must be one of normal, garbage, hang, 500, badjson-fields".into(),
            ))
        }
    };
    *locked(&h.inner.mode) = mode;
    Ok(Json(json!({ "mode": v["mode"] })))
}

async fn set_clock(
    State((_, sessions, _)): State<Env>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let v = body_json(&body)?;
    const TEN_YEARS: u64 = 10 * 365 * 86_400_000;
    let offset = v
        .get("offsetMs")
        .and_then(Value::as_i64)
        .filter(|o| o.unsigned_abs() <= TEN_YEARS);
    let Some(offset) = offset else {
        return Err(ApiError::BadRequest(
            "offsetMs must be an integer (|offsetMs| <= 10 years)".into(),
        ));
    };
    sessions.clock().set_offset(offset);
    Ok(Json(
        json!({ "offsetMs": offset, "serverTime": sessions.now() }),
    ))
}

async fn stats(State((h, sessions, _)): State<Env>) -> Result<Json<Value>, ApiError> {
    let ids = locked(&h.inner.issued).clone();
    let now = sessions.now();
    let mut list = Vec::with_capacity(ids.len());
    for id in &ids {
        list.push(match sessions.store().get(id, now).await? {
            Some(s) => json!({ "live": true, "lastActivity": s.last_activity, "expiresAt": s.expires_at() }),
            None => json!({ "live": false, "lastActivity": null, "expiresAt": null }),
        });
    }
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Ok(Json(json!({
        "gets": n(&h.inner.gets),
        "keepalives": n(&h.inner.keepalives),
        "deletes": n(&h.inner.deletes),
        "serverTime": now,
        "sessions": list,
    })))
}

async fn reset(State((h, sessions, _)): State<Env>) -> Json<Value> {
    *locked(&h.inner.mode) = Mode::Normal;
    sessions.clock().set_offset(0);
    for c in [&h.inner.gets, &h.inner.keepalives, &h.inner.deletes] {
        c.store(0, Ordering::Relaxed);
    }
    Json(json!({ "ok": true }))
}

async fn expire(State((h, sessions, _)): State<Env>) -> Result<Json<Value>, ApiError> {
    let ids = locked(&h.inner.issued).clone();
    for id in &ids {
        sessions.end(id).await?;
    }
    Ok(Json(json!({ "ok": true })))
}

/// `{"stallMs": N}`: the sweeper holds its claims N ms before writing them (so that a
/// test can kill the process in the middle of a sweep); 0 = normal.
async fn sweeper(
    State((_, sessions, _)): State<Env>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let v = body_json(&body)?;
    let Some(ms) = v.get("stallMs").and_then(Value::as_u64) else {
        return Err(ApiError::BadRequest(
            "stallMs must be an integer >= 0".into(),
        ));
    };
    sessions.stall_sweeper(ms);
    Ok(Json(json!({ "stallMs": ms })))
}

/// Every stored record, with the server's fields (`user`, `receivedAt` in unix ms).
async fn audit(State((_, _, sink)): State<Env>) -> Result<Json<Value>, ApiError> {
    let Some(sink) = sink else {
        return Err(ApiError::BadRequest("no audit sink (--audit none)".into()));
    };
    let rows = sink.export(&ExportFilter::default()).await?;
    let rows = rows
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["receivedAt"] = json!(r.received_at);
            v
        })
        .collect();
    Ok(Json(Value::Array(rows)))
}
