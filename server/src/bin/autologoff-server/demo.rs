//! The demo's own routes: a login without a password (behind `--demo-login`) and a small
//! synthetic clinical API behind the session layer. All data here is made up.

use std::collections::HashMap;
use std::time::Duration;

use autologoff_server::audit::{AuditSink, ExportFilter, SqlSink};
use autologoff_server::{iso_ms, ApiError, LiveSession, SignIn};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use crate::deployment::Deployment;

/// Told the id of each session the demo login starts (the test hooks count them).
pub type OnLogin = std::sync::Arc<dyn Fn(&autologoff_server::store::SessionId) + Send + Sync>;

const PATIENTS: u32 = 12;
const WARDS: [&str; 3] = [
    "Ward A (synthetic)",
    "Ward B (synthetic)",
    "ICU (synthetic)",
];
const MAX_NOTE: usize = 64 * 1024;
const MAX_LOGIN_BODY: usize = 1024;
const SLOW_CAP_MS: u64 = 30_000;
/// Records `GET /api/audit` shows (the newest).
const AUDIT_VIEW: usize = 200;

/// `POST /login {"user": NAME}`: a fresh session for NAME (the one this browser had is
/// ended). No password: the demo's stand-in for an app's real sign-in.
pub fn login(sessions: Deployment, on_login: Option<OnLogin>) -> Router {
    Router::new()
        .route("/login", post(sign_in))
        .with_state((sessions, on_login))
}

async fn sign_in(
    State((sessions, on_login)): State<(Deployment, Option<OnLogin>)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = axum::body::to_bytes(body, MAX_LOGIN_BODY)
        .await
        .map_err(|_| ApiError::TooLarge(format!("login body over {MAX_LOGIN_BODY} bytes")))?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("login body is not JSON: {e}")))?;
    let user = match value.get("user") {
        Some(Value::String(u)) => u.trim().to_owned(),
        Some(_) => return Err(ApiError::BadRequest("user must be a string".into())),
        None => {
            return Err(ApiError::BadRequest(
                "user is missing: {\"user\": NAME}".into(),
            ))
        }
    };
    let started = sessions.start_by(&user, &headers, SignIn::Demo).await?;
    if let Some(f) = on_login {
        f(started.id());
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    for (name, value) in started.cookies() {
        res.headers_mut().append(name, value);
    }
    Ok(res)
}

/// The guarded API (the caller adds the session layer).
pub fn api(sink: Option<SqlSink>) -> Router {
    Router::new()
        .route("/api/whoami", get(whoami))
        .route("/api/patients", get(patients))
        .route("/api/patients/{id}", get(patient))
        .route("/api/vitals", get(vitals))
        .route("/api/notes", post(note))
        .route("/api/slow", get(slow))
        .route("/api/audit", get(own_audit).with_state(sink))
}

async fn whoami(Extension(live): Extension<LiveSession>) -> Json<Value> {
    Json(json!({ "user": live.user }))
}

fn patient_json(id: u32) -> Value {
    json!({
        "id": id,
        "name": format!("Test Patient {id:02}"),
        "mrn": format!("SYN-{id:04}"),
        "dob": format!("19{:02}-{:02}-{:02}", 40 + id * 3, 1 + id % 12, 1 + (id * 7) % 28),
        "ward": WARDS[(id % 3) as usize],
        "synthetic": true,
    })
}

async fn patients() -> Json<Value> {
    Json(Value::Array((1..=PATIENTS).map(patient_json).collect()))
}

async fn patient(Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let n = id
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=PATIENTS).contains(n) && !id.starts_with(['0', '+']));
    let Some(n) = n else {
        return Err(ApiError::NotFound("no such patient"));
    };
    let mut p = patient_json(n);
    p["allergies"] = json!(["None known (synthetic)"]);
    p["problems"] = json!([format!(
        "Synthetic condition {}",
        char::from(b'A' + (n % 26) as u8)
    )]);
    p["notes"] = json!(["Fake note for demo purposes only."]);
    Ok(Json(p))
}

async fn vitals(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let patient = q
        .get("patient")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, PATIENTS);
    let r = getrandom::u64().unwrap_or(0x9e37_79b9_7f4a_7c15);
    let pick = |shift: u32, lo: u64, hi: u64| lo + (r >> shift) % (hi - lo + 1);
    let temp = pick(40, 361, 379);
    Json(json!({
        "patientId": patient,
        "heartRate": pick(0, 58, 104),
        "bpSystolic": pick(8, 100, 142),
        "bpDiastolic": pick(16, 60, 92),
        "spo2": pick(24, 94, 100),
        "respRate": pick(32, 12, 20),
        "tempC": temp as f64 / 10.0,
        // When it was measured (unix ms): the demo's "Updated" time.
        "at": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        "synthetic": true,
    }))
}

/// Takes a note (JSON) and says how long it was; the text is neither kept nor logged.
async fn note(body: Body) -> Result<Json<Value>, ApiError> {
    let body = axum::body::to_bytes(body, MAX_NOTE)
        .await
        .map_err(|_| ApiError::TooLarge(format!("note over {MAX_NOTE} bytes")))?;
    serde_json::from_slice::<Value>(&body)
        .map_err(|e| ApiError::BadRequest(format!("note is not JSON: {e}")))?;
    Ok(Json(json!({ "stored": true, "length": body.len() })))
}

/// Answers after `ms` (at most 30 s): a long user-started request for the SDK's tests.
async fn slow(Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    let ms = match q.get("ms") {
        None => 1000,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| ApiError::BadRequest("ms must be an integer".into()))?,
    }
    .min(SLOW_CAP_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(Json(json!({ "sleptMs": ms })))
}

/// The signed-in user's own newest audit records (the demo's audit panel).
async fn own_audit(
    State(sink): State<Option<SqlSink>>,
    Extension(live): Extension<LiveSession>,
) -> Result<Json<Value>, ApiError> {
    let Some(sink) = sink else {
        return Ok(Json(json!([])));
    };
    let filter = ExportFilter {
        user: Some(live.user),
        ..ExportFilter::default()
    };
    let rows = sink.export(&filter).await?;
    let start = rows.len().saturating_sub(AUDIT_VIEW);
    let view = rows[start..]
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["receivedAt"] = json!(iso_ms(r.received_at));
            v
        })
        .collect();
    Ok(Json(Value::Array(view)))
}
