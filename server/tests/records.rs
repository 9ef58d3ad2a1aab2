//! The server's own audit records (SERVER.md "What the server records itself"), written
//! into a real SQLite file and a real Postgres: a browser's shift told apart as login,
//! reauth, switch and logout; a timeout recorded with no request at all; exactly one
//! timeout per session across two replicas on one Redis, also when one of them stops
//! in the middle of a sweep; an audit database of the previous release upgraded in place.

mod common;

use std::time::{Duration, Instant};

use autologoff_server::audit::{AuditSink, ExportFilter, Source, SqlSink};
use autologoff_server::store::{AnyStore, MemoryStore, RedisStore, SessionStore};
use autologoff_server::{Sessions, SignIn};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::Router;
use common::{server_rows, wait_for_server_rows as wait_for, Postgres, Redis};
use tower::ServiceExt;

const IDLE: u64 = 60_000;

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("alo-records-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite:{}", dir.join("audit.db").display())
}

fn deployment<S: SessionStore>(store: S, sink: &SqlSink) -> Sessions<S> {
    Sessions::builder(store)
        .idle(Duration::from_millis(IDLE))
        .secure(false)
        .records(sink.clone())
        .build()
        .unwrap()
}

/// The `name=value` pairs a response sets, as one `Cookie` header.
fn cookies_of(headers: &HeaderMap) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .filter(|kv| !kv.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn delete(app: &Router, cookie: &str, body: &str) -> HeaderMap {
    let req = Request::builder()
        .method("DELETE")
        .uri("/session")
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    res.headers().clone()
}

fn with_cookie(cookie: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if !cookie.is_empty() {
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_at_one_browser_is_on_the_record() {
    let sink = SqlSink::open(&temp_db("shift")).await.unwrap();
    let s = deployment(MemoryStore::new(), &sink);
    let app = autologoff_server::session_routes(&s);

    // Nurse A signs in at a browser that had no session: login.
    let a = s
        .start_by("nurse-a", &HeaderMap::new(), SignIn::Demo)
        .await
        .unwrap();
    let sid_a = format!("sid={}", a.id().as_str());
    let answer = app
        .clone()
        .oneshot(
            Request::get("/session")
                .header(header::COOKIE, &sid_a)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(answer.into_body(), 4096)
        .await
        .unwrap();
    let live: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(live["user"], "nurse-a", "the live answer names the user");

    // The page locks at idle: its DELETE says why, and leaves a token naming the user.
    let ended = delete(&app, &sid_a, r#"{"reason":"idle"}"#).await;
    let ended_cookie = cookies_of(&ended);
    assert!(ended_cookie.starts_with("sid_ended="), "{ended_cookie}");
    assert!(
        !ended_cookie.contains(a.id().as_str()),
        "the ended cookie must not carry the session id"
    );

    // A signs in again on that browser: reauth. Then a DELETE with a bad body: logout, request.
    let again = s
        .start_by("nurse-a", &with_cookie(&ended_cookie), SignIn::Demo)
        .await
        .unwrap();
    let sid_again = format!("sid={}", again.id().as_str());
    let ended = delete(&app, &sid_again, "{not json").await;
    // Nurse B signs in at the same browser: switch.
    let b = s
        .start_by("nurse-b", &with_cookie(&cookies_of(&ended)), SignIn::Demo)
        .await
        .unwrap();
    let b_expires = b.session.expires_at;

    // The locked page's queue reaches the server after B signed in: what A's page made
    // before B's session started is A's, what comes after is B's.
    let b_cookie = format!("sid={}", b.id().as_str());
    let started = s.now();
    let batch = format!(
        r#"[{{"seq":1,"type":"lock","at":"{}","reason":"idle","tab":"t-ward"}},
            {{"seq":2,"type":"warn","at":"{}","tab":"t-ward"}}]"#,
        autologoff_server::iso_ms(started - 60_000),
        autologoff_server::iso_ms(started + 1_000),
    );
    let audit = autologoff_server::audit_routes(&s, sink.clone());
    let posted = audit
        .oneshot(
            Request::post("/audit")
                .header(header::COOKIE, &b_cookie)
                .body(Body::from(batch))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    let client = sink
        .export(&ExportFilter {
            source: Some(Source::Client),
            ..ExportFilter::default()
        })
        .await
        .unwrap();
    let who: Vec<_> = client
        .iter()
        .map(|r| (r.record.seq, r.user.as_deref()))
        .collect();
    assert_eq!(who, [(1, Some("nurse-a")), (2, Some("nurse-b"))]);

    // B walks away and no request ever comes again: a timeout, at B's expiresAt, within 5 s.
    s.clock().set_offset(IDLE as i64 + 1);
    let expired_at = Instant::now();
    let rows = wait_for(&sink, 6, Duration::from_secs(5)).await;
    assert!(expired_at.elapsed() < Duration::from_secs(5));
    // A DELETE after the expiry writes no logout: the timeout stands.
    delete(
        &app,
        &format!("sid={}", b.id().as_str()),
        r#"{"reason":"idle"}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows_after = server_rows(&sink).await;
    assert_eq!(rows_after.len(), rows.len(), "nothing after the timeout");

    let got: Vec<(&str, Option<&str>, Option<&str>)> = rows
        .iter()
        .map(|r| {
            (
                r.record.kind.as_str(),
                r.record.reason.as_deref(),
                r.user.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("login", Some("demo"), Some("nurse-a")),
            ("logout", Some("idle"), Some("nurse-a")),
            ("reauth", Some("demo"), Some("nurse-a")),
            ("logout", Some("request"), Some("nurse-a")),
            ("switch", Some("demo"), Some("nurse-b")),
            ("timeout", Some("idle"), Some("nurse-b")),
        ]
    );
    assert!(rows.iter().all(|r| r.record.tab.is_empty()));
    let seqs: Vec<i64> = rows.iter().map(|r| r.record.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq increases: {seqs:?}"
    );
    let timeout = &rows[5];
    assert_eq!(
        autologoff_server::parse_iso_utc(&timeout.record.at),
        Some(b_expires),
        "the timeout's at is the session's expiresAt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_record_each_timeout_once_even_when_one_stops_mid_sweep() {
    let redis = Redis::start();
    let pg = Postgres::start();
    let sink_a = SqlSink::open(&pg.url()).await.unwrap();
    let sink_b = SqlSink::open(&pg.url()).await.unwrap();
    let store = || async { AnyStore::Redis(RedisStore::connect(&redis.url()).await.unwrap()) };
    let a = deployment(store().await, &sink_a);
    let b = deployment(store().await, &sink_b);

    // 100 sessions expiring in the same second, both replicas sweeping.
    for i in 0..100 {
        let s = if i % 2 == 0 { &a } else { &b };
        s.start(&format!("dr-{i:03}"), &HeaderMap::new())
            .await
            .unwrap();
    }
    for s in [&a, &b] {
        s.clock().set_offset(IDLE as i64 + 500);
    }
    let rows = wait_for(&sink_a, 200, Duration::from_secs(5)).await;
    assert_eq!(rows.len(), 200, "100 logins + 100 timeouts within 5 s");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let rows = server_rows(&sink_a).await;
    let timeouts = rows.iter().filter(|r| r.record.kind == "timeout").count();
    assert_eq!(timeouts, 100, "exactly once across replicas");

    // Replica A alone claims the next 100 and hangs before writing them (as if killed).
    drop(b);
    a.stall_sweeper(600_000);
    for i in 0..100 {
        a.start(&format!("dr-late-{i:03}"), &HeaderMap::new())
            .await
            .unwrap();
    }
    a.clock().set_offset(2 * (IDLE as i64 + 500));
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let held: i64 = redis::cmd("ZCARD")
            .arg("alo:claims")
            .query_async(&mut conn)
            .await
            .unwrap();
        if held == 100 {
            break;
        }
        assert!(Instant::now() < until, "A did not claim (held {held})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Replica B starts; it takes A's claims over when their lease ends.
    let b = deployment(store().await, &sink_b);
    b.clock().set_offset(2 * (IDLE as i64 + 500));
    let rows = wait_for(&sink_b, 400, Duration::from_secs(5)).await;
    let late: Vec<_> = rows
        .iter()
        .filter(|r| {
            r.record.kind == "timeout" && r.user.as_deref().unwrap_or("").starts_with("dr-late")
        })
        .collect();
    assert_eq!(late.len(), 100, "none lost when a replica stops mid-sweep");
    drop((a, b));
}

/// The schema as the previous release left it: only the first migration.
async fn previous_release(url: &str) {
    let dir = std::env::temp_dir().join(format!("alo-mig-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let first = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations/0001_audit_records.sql"
    );
    std::fs::copy(first, dir.join("0001_audit_records.sql")).unwrap();
    let old = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
    let insert = "INSERT INTO audit_records (tab, seq, type, at, reason, user_name, received_at) \
                  VALUES ('tab-old', 1, 'lock', '2026-11-30T08:00:00.000Z', 'idle', 'dr-old', 1000), \
                         ('tab-old', 2, 'unlock', '2026-11-30T08:05:00.000Z', NULL, 'dr-old', 2000)";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        old.run(&pool).await.unwrap();
        sqlx::query(insert).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        old.run(&pool).await.unwrap();
        sqlx::query(insert).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn upgraded_keeps_every_row(url: &str) {
    previous_release(url).await;
    let sink = SqlSink::open(url).await.unwrap();
    let all = sink.export(&ExportFilter::default()).await.unwrap();
    let kept: Vec<_> = all
        .iter()
        .map(|r| {
            (
                r.record.tab.as_str(),
                r.record.seq,
                r.user.as_deref(),
                r.source,
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("tab-old", 1, Some("dr-old"), Source::Client),
            ("tab-old", 2, Some("dr-old"), Source::Client),
        ]
    );
    // And the upgraded database takes the server's records.
    let s = deployment(MemoryStore::new(), &sink);
    s.start("dr-new", &HeaderMap::new()).await.unwrap();
    let rows = wait_for(&sink, 1, Duration::from_secs(5)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].record.kind, "login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_release_sqlite_database_is_upgraded_in_place() {
    upgraded_keeps_every_row(&temp_db("upgrade")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_release_postgres_database_is_upgraded_in_place() {
    let pg = Postgres::start();
    upgraded_keeps_every_row(&pg.url()).await;
}
