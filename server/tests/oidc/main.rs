//! The OIDC sign-in (shared/GATEWAY.md, "Signing in") end to end over real HTTP:
//! - against a real OpenID Provider, panva's `oidc-provider` (tests/oidc/provider.mjs),
//!   driven by a client that follows redirects and keeps cookies, as a browser would;
//! - against an issuer this test plays itself (discovery, JWKS, token endpoint), whose ID
//!   tokens it forges with keys it makes, for every refusal.
//!
//! Each refusal: the right status, no session in the store, no session cookie, and
//! nothing of the token or the code in what the crate logged.

#[path = "../common/mod.rs"]
mod common;
mod forger;
mod gateway;
mod op;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use autologoff_server::audit::{AuditSink, ExportFilter, Source, SqlSink};
use autologoff_server::oidc::{login_location, Oidc, OidcError, Secret, Setting};
use autologoff_server::store::{AnyStore, MemoryStore, RedisStore, SessionStore};
use autologoff_server::{oidc_routes, session_routes, Sessions};
use axum::routing::get;
use axum::Router;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

use forger::{Forger, Minted};

pub const CLIENT_ID: &str = "ward";
pub const SECRET: &str = "ward-secret-7f3a9c";

/// What the crate logged (every level of its own; others' info and up), for the whole
/// test binary: tokens and codes are unique, so one buffer serves every test.
fn logs() -> String {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let buf = LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || LogWriter(sink.clone()))
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("autologoff_server", tracing::Level::TRACE)
                    .with_default(tracing::Level::INFO),
            );
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
        buf
    });
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An axum app with the crate's OIDC router, `/session`, and a `/ward` page.
pub struct App<S> {
    pub url: String,
    pub sessions: Sessions<S>,
}

impl<S: SessionStore> App<S> {
    /// Serves on a free loopback port; `public` is the origin browsers see (default: its own).
    pub async fn start(store: S, issuer: &str, public: Option<&str>) -> App<S> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        App::serve(listener, store, issuer, public, None).await
    }

    /// Writing the server's own records (`login`, `reauth`, `switch`) into `sink`.
    pub async fn start_recorded(store: S, issuer: &str, sink: &SqlSink) -> App<S> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        App::serve(listener, store, issuer, None, Some(sink.clone())).await
    }

    /// Serves on `port` (a redirect URI registered before the app started).
    pub async fn start_on(store: S, issuer: &str, port: u16, sink: &SqlSink) -> App<S> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        App::serve(listener, store, issuer, None, Some(sink.clone())).await
    }

    async fn serve(
        listener: tokio::net::TcpListener,
        store: S,
        issuer: &str,
        public: Option<&str>,
        records: Option<SqlSink>,
    ) -> App<S> {
        logs();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut sessions = Sessions::builder(store).secure(false);
        if let Some(sink) = records {
            sessions = sessions.records(sink);
        }
        let sessions = sessions.build().unwrap();
        let oidc = Oidc::builder(issuer, CLIENT_ID)
            .secret(Secret::new(SECRET))
            .public_url(public.unwrap_or(&url))
            .discover()
            .await
            .unwrap();
        let app = Router::new()
            .route("/ward", get(|| async { "the ward" }))
            .route("/", get(|| async { "home" }))
            .merge(oidc_routes(&sessions, &oidc))
            .merge(session_routes(&sessions));
        tokio::spawn(async move { axum::serve(listener, app).await });
        App { url, sessions }
    }
}

/// A browser without a page: keeps cookies, follows no redirect unless told.
pub fn browser(follow: bool) -> reqwest::Client {
    let policy = if follow {
        reqwest::redirect::Policy::limited(20)
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(policy)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The user of the browser's live session, if any.
async fn whoami(client: &reqwest::Client, app: &str) -> Option<String> {
    let res = client.get(format!("{app}/session")).send().await.unwrap();
    if res.status() != StatusCode::OK {
        return None;
    }
    let v: Value = res.json().await.unwrap();
    v["user"].as_str().map(str::to_owned)
}

/// The authorization request a login redirected to.
#[derive(Debug)]
pub struct Authorize {
    pub params: std::collections::HashMap<String, String>,
}

impl Authorize {
    pub fn get(&self, k: &str) -> &str {
        self.params.get(k).map(String::as_str).unwrap_or("")
    }
}

/// `GET /.autologoff/login?QUERY`: a `302` to the issuer's authorization endpoint.
async fn login(client: &reqwest::Client, app: &str, issuer: &str, query: &str) -> Authorize {
    let res = client
        .get(format!("{app}/.autologoff/login?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("autologoff_oidc="))
        .expect("the sign-in is bound to the browser by a cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{issuer}/authorize?")),
        "{location}"
    );
    let url = url::Url::parse(location).unwrap();
    Authorize {
        params: url.query_pairs().into_owned().collect(),
    }
}

/// What a callback answered.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub cookies: Vec<String>,
    pub body: String,
}

impl Answer {
    fn session_cookie(&self) -> bool {
        self.cookies
            .iter()
            .any(|c| c.starts_with("sid=") && !c.starts_with("sid=;"))
    }
}

async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let cookies = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = res.text().await.unwrap();
    Answer {
        status,
        location,
        cookies,
        body,
    }
}

async fn callback(client: &reqwest::Client, app: &str, query: &str) -> Answer {
    let res = client
        .get(format!("{app}/.autologoff/callback?{query}"))
        .send()
        .await
        .unwrap();
    answer(res).await
}

/// A sign-in with a forged issuer: login, the issuer hands out `token` for a new code,
/// the browser comes back with it.
async fn forged(
    client: &reqwest::Client,
    app: &str,
    forger: &Forger,
    query: &str,
    token: impl FnOnce(&Authorize) -> String,
) -> (Answer, Minted) {
    let auth = login(client, app, &forger.url, query).await;
    let minted = forger.mint(token(&auth), auth.get("code_challenge"));
    let res = callback(
        client,
        app,
        &format!("code={}&state={}", minted.code, auth.get("state")),
    )
    .await;
    (res, minted)
}

/// A refusal as a user and a reviewer see it: the status, the page naming the problem,
/// no session (store and cookie), nothing of the token or code in the logs.
fn refused(
    res: &Answer,
    status: StatusCode,
    problem: &str,
    minted: Option<&Minted>,
    store: &MemoryStore,
    before: usize,
) {
    assert_eq!(res.status, status, "{problem}: {}", res.body);
    assert!(
        res.body.contains(problem),
        "page names {problem:?}: {}",
        res.body
    );
    assert!(!res.session_cookie(), "{problem}: a session cookie was set");
    assert_eq!(store.len(), before, "{problem}: a session was created");
    if let Some(m) = minted {
        assert!(!res.body.contains(&m.code) && !res.body.contains(&m.id_token));
        let logs = logs();
        for secret in [m.code.as_str(), m.id_token.as_str(), m.signature(), SECRET] {
            assert!(
                !logs.contains(secret),
                "{problem}: the logs hold a token, code or secret"
            );
        }
    }
}

/// A SQLite audit trail in a temp dir.
async fn trail(name: &str) -> SqlSink {
    let dir = std::env::temp_dir().join(format!("alo-oidc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    SqlSink::open(&format!("sqlite:{}", dir.join("audit.db").display()))
        .await
        .unwrap()
}

/// The server's own records, `(type, reason, user)`, once `n` are written (at most 5 s).
async fn records(sink: &SqlSink, n: usize) -> Vec<(String, String, String)> {
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rows = sink
            .export(&ExportFilter {
                source: Some(Source::Server),
                ..ExportFilter::default()
            })
            .await
            .unwrap();
        if rows.len() >= n || std::time::Instant::now() > until {
            return rows
                .into_iter()
                .map(|r| {
                    (
                        r.record.kind,
                        r.record.reason.unwrap_or_default(),
                        r.user.unwrap_or_default(),
                    )
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rec(kind: &str, user: &str) -> (String, String, String) {
    (kind.into(), "oidc".into(), user.into())
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn claims(issuer: &str, auth: &Authorize) -> Value {
    json!({
        "iss": issuer,
        "aud": CLIENT_ID,
        "exp": now_s() + 300,
        "iat": now_s(),
        "nonce": auth.get("nonce"),
        "sub": "dr-forged",
        "auth_time": now_s(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_token_signs_in_with_es256_and_eddsa() {
    let forger = Forger::start().await;
    let store = MemoryStore::new();
    let sink = trail("forged").await;
    let app = App::start_recorded(store.clone(), &forger.url, &sink).await;
    let client = browser(false);
    let auth = login(&client, &app.url, &forger.url, "rd=/ward%3Fpatient%3D7").await;
    assert_eq!(auth.get("response_type"), "code");
    assert_eq!(auth.get("client_id"), CLIENT_ID);
    assert_eq!(
        auth.get("redirect_uri"),
        format!("{}/.autologoff/callback", app.url)
    );
    assert_eq!(auth.get("scope"), "openid");
    assert_eq!(auth.get("code_challenge_method"), "S256");
    assert!(auth.get("prompt").is_empty() && auth.get("max_age").is_empty());
    let token = forger.es.sign(&claims(&forger.url, &auth));
    let minted = forger.mint(token, auth.get("code_challenge"));
    let res = callback(
        &client,
        &app.url,
        &format!("code={}&state={}", minted.code, auth.get("state")),
    )
    .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/ward?patient=7"));
    assert!(res.session_cookie());
    assert!(
        forger.pkce_checked(),
        "the token endpoint saw the right PKCE verifier"
    );
    assert_eq!(
        whoami(&client, &app.url).await.as_deref(),
        Some("dr-forged")
    );
    assert_eq!(store.len(), 1);

    let (res, _) = forged(&client, &app.url, &forger, "rd=/", |a| {
        let mut c = claims(&forger.url, a);
        c["sub"] = json!("dr-ed");
        forger.ed.sign(&c)
    })
    .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(whoami(&client, &app.url).await.as_deref(), Some("dr-ed"));
    // Another clinician at the same browser: a `switch`.
    assert_eq!(
        records(&sink, 2).await,
        [rec("login", "dr-forged"), rec("switch", "dr-ed")]
    );
    let logs = logs();
    assert!(!logs.contains(&minted.code) && !logs.contains(&minted.id_token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_forged_token_is_refused_and_starts_no_session() {
    let forger = Forger::start().await;
    let store = MemoryStore::new();
    let app = App::start(store.clone(), &forger.url, None).await;
    let client = browser(false);
    let f = &forger;
    type Forge<'a> = Box<dyn Fn(&Authorize) -> String + 'a>;
    let cases: Vec<(&str, &str, Forge)> = vec![
        (
            "bad signature",
            "signature invalid",
            Box::new(|a| f.stranger.sign_as(&f.es.kid, &claims(&f.url, a))),
        ),
        (
            "alg none",
            "algorithm not allowed",
            Box::new(|a| forger::unsigned(&f.es.kid, &claims(&f.url, a))),
        ),
        (
            "HMAC with the client secret",
            "algorithm not allowed",
            Box::new(|a| forger::hmac(SECRET, &f.es.kid, &claims(&f.url, a))),
        ),
        (
            "wrong iss",
            "another issuer",
            Box::new(|a| {
                let mut c = claims(&f.url, a);
                c["iss"] = json!("https://evil.example");
                f.es.sign(&c)
            }),
        ),
        (
            "wrong aud",
            "another client (aud)",
            Box::new(|a| {
                let mut c = claims(&f.url, a);
                c["aud"] = json!(["other-app"]);
                f.es.sign(&c)
            }),
        ),
        (
            "azp mismatch",
            "another client (azp)",
            Box::new(|a| {
                let mut c = claims(&f.url, a);
                c["aud"] = json!([CLIENT_ID, "other-app"]);
                c["azp"] = json!("other-app");
                f.es.sign(&c)
            }),
        ),
        (
            "expired",
            "expired",
            Box::new(|a| {
                let mut c = claims(&f.url, a);
                c["exp"] = json!(now_s() - 1);
                f.es.sign(&c)
            }),
        ),
        (
            "wrong nonce",
            "nonce mismatch",
            Box::new(|a| {
                let mut c = claims(&f.url, a);
                c["nonce"] = json!("not-the-one-sent");
                f.es.sign(&c)
            }),
        ),
        (
            "no user claim",
            "user claim",
            Box::new(|a| {
                let mut c = claims(&f.url, a);
                c.as_object_mut().unwrap().remove("sub");
                f.es.sign(&c)
            }),
        ),
        (
            "user claim with a newline",
            "user claim",
            Box::new(|a| {
                let mut c = claims(&f.url, a);
                c["sub"] = json!("dr-a\nadmin");
                f.ed.sign(&c)
            }),
        ),
        (
            "an EC key's kid on an EdDSA token",
            "unknown key",
            Box::new(|a| f.ed.sign_as(&f.es.kid, &claims(&f.url, a))),
        ),
    ];
    for (name, problem, forge) in cases {
        let before = store.len();
        let (res, minted) = forged(&client, &app.url, f, "rd=/ward", |a| forge(a)).await;
        refused(
            &res,
            StatusCode::UNAUTHORIZED,
            problem,
            Some(&minted),
            &store,
            before,
        );
        let _ = name;
    }
    assert_eq!(whoami(&client, &app.url).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthentication_needs_a_fresh_auth_time() {
    let forger = Forger::start().await;
    let store = MemoryStore::new();
    let app = App::start(store.clone(), &forger.url, None).await;
    let client = browser(false);
    let rd = "reauth=1&rd=/.autologoff/done";
    for (what, auth_time) in [("missing", None), ("a minute old", Some(now_s() - 60))] {
        let before = store.len();
        let (res, minted) = forged(&client, &app.url, &forger, rd, |a| {
            assert_eq!(
                (a.get("prompt"), a.get("max_age")),
                ("login", "0"),
                "{what}"
            );
            let mut c = claims(&forger.url, a);
            match auth_time {
                None => c.as_object_mut().unwrap().remove("auth_time"),
                Some(t) => c
                    .as_object_mut()
                    .unwrap()
                    .insert("auth_time".into(), json!(t)),
            };
            forger.es.sign(&c)
        })
        .await;
        refused(
            &res,
            StatusCode::UNAUTHORIZED,
            "re-authentication not proven",
            Some(&minted),
            &store,
            before,
        );
    }
    // A fresh one (the same second the sign-in started) is accepted.
    let (res, _) = forged(&client, &app.url, &forger, rd, |a| {
        forger.es.sign(&claims(&forger.url, a))
    })
    .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/.autologoff/done"));
    assert_eq!(
        whoami(&client, &app.url).await.as_deref(),
        Some("dr-forged")
    );
    // Not a re-authentication: an old auth_time does not matter.
    let (res, _) = forged(&client, &app.url, &forger, "rd=/", |a| {
        let mut c = claims(&forger.url, a);
        c["auth_time"] = json!(now_s() - 3600);
        forger.es.sign(&c)
    })
    .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_rereads_the_jwks_at_most_once_a_minute() {
    let forger = Forger::start().await;
    let store = MemoryStore::new();
    let app = App::start(store.clone(), &forger.url, None).await;
    let client = browser(false);
    let reads = forger.jwks_reads();
    assert_eq!(reads, 1, "read once at start");

    // A key the issuer never published: refused after one re-read.
    let (res, minted) = forged(&client, &app.url, &forger, "rd=/", |a| {
        forger.stranger.sign(&claims(&forger.url, a))
    })
    .await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "unknown key",
        Some(&minted),
        &store,
        0,
    );
    assert_eq!(forger.jwks_reads(), 2);

    // The issuer rotates to a new key: within the minute, no re-read (refused)...
    forger.rotate();
    let (res, minted) = forged(&client, &app.url, &forger, "rd=/", |a| {
        forger.rotated.sign(&claims(&forger.url, a))
    })
    .await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "unknown key",
        Some(&minted),
        &store,
        0,
    );
    assert_eq!(forger.jwks_reads(), 2, "re-read within the minute");

    // ...a minute later, one re-read finds it.
    app.sessions.clock().set_offset(61_000);
    let (res, _) = forged(&client, &app.url, &forger, "rd=/", |a| {
        forger.rotated.sign(&claims(&forger.url, a))
    })
    .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(forger.jwks_reads(), 3);
    // The kept set is the new one: no more reads for it.
    let (res, _) = forged(&client, &app.url, &forger, "rd=/", |a| {
        forger.rotated.sign(&claims(&forger.url, a))
    })
    .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(forger.jwks_reads(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_provider_errors_and_malformed_callbacks_start_no_session() {
    let forger = Forger::start().await;
    let store = MemoryStore::new();
    let app = App::start(store.clone(), &forger.url, None).await;
    let client = browser(false);

    // A good sign-in, then its callback again (with the browser's binding cookie).
    let auth = login(&client, &app.url, &forger.url, "rd=/").await;
    let minted = forger.mint(
        forger.es.sign(&claims(&forger.url, &auth)),
        auth.get("code_challenge"),
    );
    let query = format!("code={}&state={}", minted.code, auth.get("state"));
    let res = callback(&client, &app.url, &query).await;
    assert_eq!(res.status, StatusCode::FOUND);
    let before = store.len();
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/.autologoff/callback?{query}", app.url))
        .header("cookie", format!("autologoff_oidc={}", auth.get("state")))
        .send()
        .await
        .unwrap();
    refused(
        &answer(replay).await,
        StatusCode::UNAUTHORIZED,
        "already used",
        Some(&minted),
        &store,
        before,
    );

    // The same code with a new sign-in: the issuer refuses it (single use).
    let auth = login(&client, &app.url, &forger.url, "rd=/").await;
    let res = callback(
        &client,
        &app.url,
        &format!("code={}&state={}", minted.code, auth.get("state")),
    )
    .await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "refused the code",
        Some(&minted),
        &store,
        before,
    );

    // A code the issuer hands out for another verifier (a stolen code): refused.
    let auth = login(&client, &app.url, &forger.url, "rd=/").await;
    let other = forger.mint(
        forger.es.sign(&claims(&forger.url, &auth)),
        "not-this-challenge",
    );
    let res = callback(
        &client,
        &app.url,
        &format!("code={}&state={}", other.code, auth.get("state")),
    )
    .await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "refused the code",
        Some(&other),
        &store,
        before,
    );

    // An error from the provider; the sign-in is used up by it.
    let auth = login(&client, &app.url, &forger.url, "rd=/").await;
    let state = auth.get("state");
    let res = callback(
        &client,
        &app.url,
        &format!("error=access_denied&state={state}"),
    )
    .await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "answered with an error",
        None,
        &store,
        before,
    );
    let late = forger.mint(
        forger.es.sign(&claims(&forger.url, &auth)),
        auth.get("code_challenge"),
    );
    let replay = reqwest::Client::new()
        .get(format!(
            "{}/.autologoff/callback?code={}&state={state}",
            app.url, late.code
        ))
        .header("cookie", format!("autologoff_oidc={state}"))
        .send()
        .await
        .unwrap();
    refused(
        &answer(replay).await,
        StatusCode::UNAUTHORIZED,
        "already used",
        Some(&late),
        &store,
        before,
    );

    // Malformed callbacks: 400.
    let auth = login(&client, &app.url, &forger.url, "rd=/").await;
    let state = auth.get("state");
    for query in [
        "",
        "code=abc",
        &format!("state={state}"),
        &format!("state={state}&state={state}&code=x"),
    ] {
        let res = callback(&client, &app.url, query).await;
        refused(
            &res,
            StatusCode::BAD_REQUEST,
            "malformed callback",
            None,
            &store,
            before,
        );
    }

    // A callback in a browser that did not start the sign-in (a login CSRF): refused, and
    // the sign-in stays usable by the browser that started it.
    let minted = forger.mint(
        forger.es.sign(&claims(&forger.url, &auth)),
        auth.get("code_challenge"),
    );
    let query = format!("code={}&state={state}", minted.code);
    let res = answer(
        browser(false)
            .get(format!("{}/.autologoff/callback?{query}", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "another browser",
        Some(&minted),
        &store,
        before,
    );
    let res = callback(&client, &app.url, &query).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);

    // An issuer in trouble at the token endpoint: 502, no session.
    for (status, body) in [
        (StatusCode::INTERNAL_SERVER_ERROR, "{}"),
        (StatusCode::OK, "<html>not a token response</html>"),
        (
            StatusCode::OK,
            r#"{"access_token":"at","token_type":"Bearer"}"#,
        ),
    ] {
        let auth = login(&client, &app.url, &forger.url, "rd=/").await;
        let code = forger.mint_broken(status, body);
        let res = callback(
            &client,
            &app.url,
            &format!("code={code}&state={}", auth.get("state")),
        )
        .await;
        refused(
            &res,
            StatusCode::BAD_GATEWAY,
            "did not answer",
            None,
            &store,
            before + 1,
        );
    }

    // An unknown state.
    let res = callback(&client, &app.url, "code=x&state=0123").await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "unknown",
        None,
        &store,
        before + 1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rd_is_only_ever_a_same_origin_path() {
    let forger = Forger::start().await;
    let app = App::start(MemoryStore::new(), &forger.url, None).await;
    let client = browser(false);
    // What a guard sends a browser to (the gateway's 302 to the sign-in).
    let location = login_location("/ward?bed=4&x=1", true);
    assert_eq!(
        location,
        "/.autologoff/login?reauth=1&rd=%2Fward%3Fbed%3D4%26x%3D1"
    );
    let (res, _) = forged(
        &client,
        &app.url,
        &forger,
        location.split_once('?').unwrap().1,
        |a| forger.es.sign(&claims(&forger.url, a)),
    )
    .await;
    assert_eq!(res.location.as_deref(), Some("/ward?bed=4&x=1"));
    for (rd, want) in [
        ("%2F%2Fevil.example", "/"),
        ("%2F%5Cevil", "/"),
        ("https%3A%2F%2Fevil", "/"),
        ("%252F%252Fevil", "/"),
        ("%2F%255Cevil", "/"),
        ("%2F%09%2Fevil", "/"),
        ("", "/"),
        ("%2Fward%3Fbed%3D4", "/ward?bed=4"),
    ] {
        let (res, _) = forged(&client, &app.url, &forger, &format!("rd={rd}"), |a| {
            forger.es.sign(&claims(&forger.url, a))
        })
        .await;
        assert_eq!(res.status, StatusCode::FOUND, "{rd}: {}", res.body);
        assert_eq!(res.location.as_deref(), Some(want), "rd={rd}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_started_on_one_replica_completes_on_the_other() {
    let redis = common::Redis::start();
    let forger = Forger::start().await;
    let a_store = AnyStore::Redis(RedisStore::connect(&redis.url()).await.unwrap());
    let b_store = AnyStore::Redis(RedisStore::connect(&redis.url()).await.unwrap());
    let a = App::start(a_store, &forger.url, None).await;
    // Both replicas serve the same public origin (a load balancer's); B is reached directly.
    let b = App::start(b_store, &forger.url, Some(&a.url)).await;
    let client = browser(false);
    let auth = login(&client, &a.url, &forger.url, "rd=/ward").await;
    let minted = forger.mint(
        forger.es.sign(&claims(&forger.url, &auth)),
        auth.get("code_challenge"),
    );
    let query = format!("code={}&state={}", minted.code, auth.get("state"));
    let res = callback(&client, &b.url, &query).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/ward"));
    assert_eq!(whoami(&client, &a.url).await.as_deref(), Some("dr-forged"));
    // Taken once: the same callback on A finds nothing.
    let replay = reqwest::Client::new()
        .get(format!("{}/.autologoff/callback?{query}", a.url))
        .header("cookie", format!("autologoff_oidc={}", auth.get("state")))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_cannot_be_read_is_an_error_naming_it() {
    let port = common::free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let err = Oidc::builder(&issuer, CLIENT_ID)
        .public_url("http://127.0.0.1:1")
        .discover()
        .await
        .unwrap_err();
    assert_eq!(err.setting(), Setting::Issuer);
    let OidcError::Issuer(m) = &err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains(&format!("{issuer}/.well-known/openid-configuration"))
            && m.contains("cannot connect"),
        "{m}"
    );

    let forger = Forger::start().await;
    let err = Oidc::builder(format!("{}/", forger.url), CLIENT_ID)
        .public_url("http://127.0.0.1:1")
        .discover()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must be identical"), "{err}");

    // The health check's question: do the issuer's keys answer?
    let oidc = Oidc::builder(&forger.url, CLIENT_ID)
        .public_url("http://127.0.0.1:1")
        .discover()
        .await
        .unwrap();
    let reads = forger.jwks_reads();
    assert_eq!(oidc.keys_answer().await, Ok(()));
    assert_eq!(forger.jwks_reads(), reads + 1);

    let x = "http://x";
    for (b, names, setting) in [
        (
            Oidc::builder(&forger.url, "").public_url(x),
            "client id",
            Setting::ClientId,
        ),
        (
            Oidc::builder(&forger.url, CLIENT_ID).public_url("http://x/app"),
            "public url",
            Setting::PublicUrl,
        ),
        (
            Oidc::builder(&forger.url, CLIENT_ID),
            "public url",
            Setting::PublicUrl,
        ),
        (
            Oidc::builder(&forger.url, CLIENT_ID)
                .public_url(x)
                .user_claim("a b"),
            "user claim",
            Setting::UserClaim,
        ),
        (
            Oidc::builder(&forger.url, CLIENT_ID)
                .public_url(x)
                .scope("a\"b"),
            "scope",
            Setting::Scope,
        ),
        (
            Oidc::builder("ftp://x", CLIENT_ID).public_url(x),
            "issuer",
            Setting::Issuer,
        ),
        (
            Oidc::builder(&forger.url, CLIENT_ID)
                .public_url(x)
                .timeout(Duration::ZERO),
            "timeout",
            Setting::Timeout,
        ),
    ] {
        let err = b.discover().await.unwrap_err();
        assert!(
            matches!(err, OidcError::Config { .. }) && err.to_string().contains(names),
            "{err}"
        );
        assert_eq!(err.setting(), setting, "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_done_page_tells_the_opener_under_a_strict_policy() {
    let forger = Forger::start().await;
    let app = App::start(MemoryStore::new(), &forger.url, None).await;
    let res = reqwest::get(format!("{}/.autologoff/done", app.url))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = res.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("a script nonce");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(body.contains(&format!("<script nonce=\"{nonce}\">")));
    assert!(body.contains("postMessage({ autologoff: \"signed-in\" }, location.origin)"));
    assert!(body.contains("window.close()") && body.contains("location.replace(\"/\")"));
    let again = reqwest::get(format!("{}/.autologoff/done", app.url))
        .await
        .unwrap();
    assert!(
        !again.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(nonce),
        "a nonce per answer"
    );
}

/// Against panva's oidc-provider: a sign-in, SSO, a re-authentication that the provider
/// really asks credentials for, and one it reports stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_provider_signs_in_and_reauthentication_asks_again() {
    let redirect_port = common::free_port();
    let public = format!("http://127.0.0.1:{redirect_port}");
    let op = op::Provider::start(&format!("{public}/.autologoff/callback"));
    let store = MemoryStore::new();
    let sink = trail("op").await;
    // The app listens where the redirect URI says.
    let app = App::start_on(store.clone(), &op.issuer, redirect_port, &sink).await;
    let client = browser(true);

    // A first sign-in: the provider asks for credentials.
    let res = client
        .get(format!("{}/.autologoff/login?rd=/ward", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.url().as_str(), format!("{}/ward", app.url));
    assert_eq!(res.text().await.unwrap(), "the ward");
    assert_eq!(op.logins().await, 1);
    assert_eq!(whoami(&client, &app.url).await.as_deref(), Some("dr-a"));

    // Again without reauth: the provider's SSO session signs in without asking.
    let res = client
        .get(format!("{}/.autologoff/login?rd=/ward", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(op.logins().await, 1, "SSO: no credentials asked");

    // reauth=1: the SSO session is alive, yet the provider asks again (prompt=login).
    let res = client
        .get(format!(
            "{}/.autologoff/login?reauth=1&rd=/.autologoff/done",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.url().path(), "/.autologoff/done");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(op.logins().await, 2, "credentials asked again");
    assert_eq!(whoami(&client, &app.url).await.as_deref(), Some("dr-a"));

    // A provider that reports the SSO session's old authentication time: refused.
    op.next("dr-a", "stale").await;
    let before = store.len();
    let res = client
        .get(format!(
            "{}/.autologoff/login?reauth=1&rd=/.autologoff/done",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.url().path(), "/.autologoff/callback");
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("re-authentication not proven"));
    assert_eq!(store.len(), before, "no session");
}
