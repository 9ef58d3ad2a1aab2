//! The layer and the routers in process (tower `oneshot`, no network), with the server's
//! clock driven: what a guarded route, `/session` and `/audit` answer, and what they store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use autologoff_server::audit::{AuditSink, ExportFilter, SqlSink};
use autologoff_server::store::{
    Expired, MemoryStore, Session, SessionId, SessionStore, StoreError,
};
use autologoff_server::{audit_routes, session_routes, LiveSession, SessionLayer, Sessions};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use tower::ServiceExt;

const IDLE: i64 = 60_000;

fn app<S: SessionStore>(sessions: &Sessions<S>, reached: Arc<AtomicBool>) -> Router {
    let whoami = move |Extension(live): Extension<LiveSession>| {
        let reached = reached.clone();
        async move {
            reached.store(true, Ordering::SeqCst);
            live.user
        }
    };
    Router::new()
        .route("/api/whoami", get(whoami))
        .route_layer(SessionLayer::new(sessions.clone()))
        .merge(session_routes(sessions))
}

fn sessions<S: SessionStore>(store: S) -> Sessions<S> {
    Sessions::builder(store)
        .idle(Duration::from_millis(IDLE as u64))
        .secure(false)
        .build()
        .unwrap()
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> Response {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    app.clone()
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap()
}

async fn json(res: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
}

fn expires(res: &Response) -> Option<i64> {
    res.headers()
        .get("session-expires")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Logs in through the crate's own call and returns the `Cookie` header to send.
async fn login<S: SessionStore>(sessions: &Sessions<S>, user: &str) -> (String, LiveSession) {
    let started = sessions.start(user, &Default::default()).await.unwrap();
    let cookie = started.set_cookie.as_ref().unwrap().to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/")
    );
    (
        cookie.split(';').next().unwrap().to_owned(),
        started.session,
    )
}

#[tokio::test]
async fn api_requests_are_checked_but_never_extend_the_session() {
    let s = sessions(MemoryStore::new());
    let reached = Arc::new(AtomicBool::new(false));
    let app = app(&s, reached.clone());
    let (cookie, live) = login(&s, "dr-poll").await;
    // A dashboard polling every 2 s for a whole idle period: each answer is 200 with the
    // same expiry; then the session is over.
    for tick in 0..(IDLE / 2000) {
        s.clock().set_offset(tick * 2000);
        let res = send(&app, "GET", "/api/whoami", Some(&cookie), "").await;
        assert_eq!(res.status(), StatusCode::OK, "tick {tick}");
        assert_eq!(
            expires(&res),
            Some(live.expires_at),
            "tick {tick}: the poll moved the expiry"
        );
    }
    s.clock().set_offset(IDLE);
    reached.store(false, Ordering::SeqCst);
    let res = send(&app, "GET", "/api/whoami", Some(&cookie), "").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert!(json(res).await["error"].is_string());
    assert!(
        !reached.load(Ordering::SeqCst),
        "a refused request reached the route"
    );
    // Ended in the store: moving the clock back does not bring it back.
    s.clock().set_offset(0);
    assert_eq!(
        send(&app, "GET", "/session", Some(&cookie), "")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_keepalive_lands_on_the_clients_instant() {
    let s = sessions(MemoryStore::new());
    let app = app(&s, Arc::default());
    let (cookie, live) = login(&s, "dr-type").await;
    s.clock().set_offset(40_000);
    let res = send(
        &app,
        "POST",
        "/session",
        Some(&cookie),
        r#"{"lastActivityAgoMs": 15000}"#,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json(res).await;
    let now = body["serverTime"].as_i64().unwrap();
    assert_eq!(
        body["expiresAt"].as_i64(),
        Some(now - 15_000 + IDLE),
        "lastActivity = now − N"
    );
    // An older instant never moves it back; an empty body counts as now.
    let res = send(
        &app,
        "POST",
        "/session",
        Some(&cookie),
        r#"{"lastActivityAgoMs": 39000}"#,
    )
    .await;
    assert_eq!(
        json(res).await["expiresAt"].as_i64(),
        Some(now - 15_000 + IDLE)
    );
    let res = send(&app, "POST", "/session", Some(&cookie), "").await;
    let body = json(res).await;
    assert_eq!(
        body["expiresAt"].as_i64(),
        Some(body["serverTime"].as_i64().unwrap() + IDLE)
    );
    assert!(body["expiresAt"].as_i64() > Some(live.expires_at));
}

#[tokio::test]
async fn bad_keepalive_bodies_are_400_and_extend_nothing() {
    let s = sessions(MemoryStore::new());
    let app = app(&s, Arc::default());
    let (cookie, live) = login(&s, "dr-bad").await;
    s.clock().set_offset(10_000);
    for (body, names) in [
        (r#"{"lastActivityAgoMs": -5}"#, "lastActivityAgoMs"),
        (r#"{"lastActivityAgoMs": "5"}"#, "lastActivityAgoMs"),
        (r#"{"idleMs": 5}"#, "idleMs"),
        ("[]", "object"),
        ("{", "JSON"),
    ] {
        let res = send(&app, "POST", "/session", Some(&cookie), body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let msg = json(res).await["error"].as_str().unwrap().to_owned();
        assert!(msg.contains(names), "{body}: {msg}");
    }
    let res = send(&app, "POST", "/session", Some(&cookie), &"x".repeat(2000)).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(json(res).await["error"].is_string());
    let res = send(&app, "GET", "/session", Some(&cookie), "").await;
    assert_eq!(
        json(res).await["expiresAt"].as_i64(),
        Some(live.expires_at),
        "a refused keepalive extended"
    );
}

#[tokio::test]
async fn malformed_and_oversized_cookies_are_refused() {
    let s = sessions(MemoryStore::new());
    let app = app(&s, Arc::default());
    for (cookie, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (
            Some("sid=../../etc/passwd".to_owned()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(format!("sid={}", "A".repeat(64))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(format!("sid={}", "0".repeat(64))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(format!("other={}", "x".repeat(9000))),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
    ] {
        let res = send(&app, "GET", "/api/whoami", cookie.as_deref(), "").await;
        assert_eq!(res.status(), status, "{:?}", cookie.map(|c| c.len()));
        assert!(json(res).await["error"].is_string());
    }
}

#[tokio::test]
async fn delete_ends_for_good_and_login_rotates() {
    let s = sessions(MemoryStore::new());
    let app = app(&s, Arc::default());
    let (cookie, _) = login(&s, "dr-end").await;
    let res = send(&app, "DELETE", "/session", Some(&cookie), "").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cookies: Vec<_> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("sid=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    assert!(res.headers().contains_key("clear-site-data"));
    assert_eq!(
        send(&app, "GET", "/api/whoami", Some(&cookie), "")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, "POST", "/session", Some(&cookie), "{}")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Without a session DELETE still answers 204.
    assert_eq!(
        send(&app, "DELETE", "/session", None, "").await.status(),
        StatusCode::NO_CONTENT
    );

    // A login with the old cookie ends that session and hands out a new id.
    let (first, _) = login(&s, "dr-rot").await;
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(header::COOKIE, first.parse().unwrap());
    let second = s.start("dr-rot", &headers).await.unwrap();
    assert_ne!(format!("sid={}", second.id().as_str()), first);
    assert_eq!(
        send(&app, "GET", "/session", Some(&first), "")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

/// A store that cannot be reached.
#[derive(Clone)]
struct Down;

impl SessionStore for Down {
    async fn create(
        &self,
        _: &SessionId,
        _: &Session,
        _: Option<&SessionId>,
        _: i64,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn get(&self, _: &SessionId, _: i64) -> Result<Option<Session>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn touch(&self, _: &SessionId, _: i64, _: i64) -> Result<Option<Session>, StoreError> {
        Err(StoreError::Corrupt("garbage".into()))
    }
    async fn end(&self, _: &SessionId, _: i64) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn owner(&self, _: &SessionId, _: i64) -> Result<Option<String>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn remember(&self, _: &SessionId, _: &str, _: i64, _: i64) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn remembered(&self, _: &SessionId, _: i64) -> Result<Option<String>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn stash(&self, _: &SessionId, _: &str, _: i64, _: i64) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn take(&self, _: &SessionId, _: i64) -> Result<Option<String>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn claim_expired(&self, _: i64, _: usize) -> Result<Vec<Expired>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn settle(&self, _: &[Expired]) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn a_store_that_cannot_answer_fails_closed() {
    let s = sessions(Down);
    let reached = Arc::new(AtomicBool::new(false));
    let app = app(&s, reached.clone());
    let cookie = format!("sid={}", SessionId::generate().unwrap().as_str());
    for (method, path) in [
        ("GET", "/api/whoami"),
        ("GET", "/session"),
        ("POST", "/session"),
    ] {
        let res = send(&app, method, path, Some(&cookie), "").await;
        assert_eq!(
            res.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}"
        );
        assert!(expires(&res).is_none());
    }
    assert!(
        !reached.load(Ordering::SeqCst),
        "the route ran without a live session"
    );
    assert!(
        s.start("dr-x", &Default::default()).await.is_err(),
        "login with the store down"
    );
}

#[tokio::test]
async fn audit_batches_are_validated_whole_and_attributed_after_the_delete() {
    let s = sessions(MemoryStore::new());
    let path = std::env::temp_dir().join(format!("alo-layer-audit-{}.db", std::process::id()));
    let sink = SqlSink::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let app = app(&s, Arc::default()).merge(audit_routes(&s, sink.clone()));
    let rec = |seq: u64| {
        format!(
            r#"{{"seq":{seq},"type":"lock","at":"2026-12-03T06:51:00Z","reason":"idle","tab":"tab-z"}}"#
        )
    };

    for (body, status) in [
        ("{}".to_owned(), StatusCode::BAD_REQUEST),
        ("[]".to_owned(), StatusCode::BAD_REQUEST),
        (
            format!(
                "[{}]",
                (0..10_000)
                    .map(|i| format!(r#"{{"seq":{i}}}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!(
                "[{},{}]",
                rec(1),
                r#"{"seq":2,"type":"lock","tab":"tab-z"}"#
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("[{}]", vec![rec(1); 3500].join(",")),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let res = send(&app, "POST", "/audit", None, &body).await;
        assert_eq!(res.status(), status, "{}", &body[..body.len().min(80)]);
        assert!(json(res).await["error"].is_string());
    }
    assert!(
        sink.export(&ExportFilter::default())
            .await
            .unwrap()
            .is_empty(),
        "a refused batch left rows"
    );

    // The lock's record arrives after the lock's DELETE cleared the session cookie: the
    // cookie the DELETE left still names the user.
    let (cookie, _) = login(&s, "dr-late").await;
    let res = send(&app, "DELETE", "/session", Some(&cookie), "").await;
    let ended = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("sid_ended=") && c.len() > "sid_ended=".len())
        .expect("the DELETE leaves the ended id for attribution");
    let res = send(
        &app,
        "POST",
        "/audit",
        Some(&ended),
        &format!("[{}]", rec(7)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        json(res).await,
        serde_json::json!({ "accepted": 1, "duplicates": 0 })
    );
    let res = send(
        &app,
        "POST",
        "/audit",
        Some(&ended),
        &format!("[{},{}]", rec(7), rec(8)),
    )
    .await;
    assert_eq!(
        json(res).await,
        serde_json::json!({ "accepted": 1, "duplicates": 1 })
    );
    let rows = sink.export(&ExportFilter::default()).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.user.as_deref()).collect::<Vec<_>>(),
        vec![Some("dr-late"); 2]
    );
    // A record from nobody's browser is kept, attributed to nobody (never to a name the client wrote).
    let forged =
        r#"[{"seq":9,"type":"lock","at":"2026-12-03T06:51:00Z","tab":"tab-f","user":"dr-boss"}]"#;
    assert_eq!(
        send(&app, "POST", "/audit", None, forged).await.status(),
        StatusCode::OK
    );
    let rows = sink
        .export(&ExportFilter {
            user: Some("dr-boss".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(rows.is_empty());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
