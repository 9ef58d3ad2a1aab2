//! The gateway (shared/GATEWAY.md) signing in through OIDC: the crate's router behind
//! `--oidc-issuer`, the records it writes, two gateways on one Redis, and the binary's
//! flags.

use std::net::SocketAddr;
use std::time::Duration;

use autologoff_server::audit::SqlSink;
use autologoff_server::gateway::{Config, Gateway, LoginSource, OidcLogin};
use autologoff_server::oidc::Secret;
use axum::http::HeaderMap;
use axum::routing::any;
use axum::Router;
use reqwest::StatusCode;

use super::forger::Forger;
use super::{browser, callback, claims, common, login, logs, op, rec, records, CLIENT_ID, SECRET};

/// An upstream that answers with who the gateway said is signed in.
async fn upstream() -> SocketAddr {
    let app = Router::new().fallback(any(|headers: HeaderMap| async move {
        let user = headers
            .get("x-autologoff-user")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nobody")
            .to_owned();
        format!("ward of {user}")
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A gateway signing in through `issuer`, listening on `listener`, for `public` (default:
/// its own address).
async fn gateway(
    listener: tokio::net::TcpListener,
    issuer: &str,
    store: &str,
    audit: &str,
    public: Option<&str>,
) -> String {
    logs();
    let addr = listener.local_addr().unwrap();
    let mut oidc = OidcLogin::new(issuer, CLIENT_ID);
    oidc.secret = Some(Secret::new(SECRET));
    let mut config = Config::new(LoginSource::Oidc(oidc));
    config.upstream = Some(format!("http://{}", upstream().await).parse().unwrap());
    config.public_url = public.map(|p| p.parse().unwrap());
    config.store = store.into();
    config.audit = audit.into();
    let gateway = Gateway::open(config, addr).await.expect("gateway opens");
    tokio::spawn(gateway.serve(listener, std::future::pending()));
    format!("http://{addr}")
}

async fn bound() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// The user of the browser's live gateway session, if any.
async fn whoami(client: &reqwest::Client, gw: &str) -> Option<String> {
    let res = client
        .get(format!("{gw}/.autologoff/session"))
        .send()
        .await
        .unwrap();
    if res.status() != StatusCode::OK {
        return None;
    }
    let v: serde_json::Value = res.json().await.unwrap();
    v["user"].as_str().map(str::to_owned)
}

/// The provider's self-submitting form ("Submitting Callback"), submitted as a browser's
/// script would.
async fn submit_auto_form(client: &reqwest::Client, res: reqwest::Response) -> reqwest::Response {
    let url = res.url().clone();
    let text = res.text().await.unwrap();
    assert!(text.contains("<form method=\"post\""), "{url}: {text}");
    let attr = |tag: &str, name: &str| {
        tag.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|v| v.split('"').next())
            .map(str::to_owned)
    };
    let action = attr(&text, "action").expect("a form action");
    let fields: Vec<(String, String)> = text
        .split("<input")
        .skip(1)
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value")?)))
        .collect();
    client.post(action).form(&fields).send().await.unwrap()
}

fn sqlite(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("alo-oidc-gw-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite:{}", dir.join("audit.db").display())
}

/// Against panva's oidc-provider: a navigation without a session goes to the OIDC login,
/// comes back signed in; "Sign in again" (reauth) asks for credentials again although the
/// provider's SSO session is alive; another user's re-authentication is a `switch`. The
/// server's own records say `login`, `reauth`, `switch`, each with reason `oidc`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_signs_in_through_a_real_provider_and_records_oidc() {
    let listener = bound().await;
    let public = format!("http://{}", listener.local_addr().unwrap());
    let op = op::Provider::start(&format!("{public}/.autologoff/callback"));
    let audit = sqlite("op");
    let gw = gateway(listener, &op.issuer, "memory", &audit, None).await;
    let client = browser(true);

    // A navigation without a session: to the OIDC login, the provider, back at /ward.
    let first = browser(false)
        .get(format!("{gw}/ward?bed=7"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::FOUND);
    assert_eq!(
        first.headers()["location"],
        "/.autologoff/login?rd=%2Fward%3Fbed%3D7"
    );
    let res = client
        .get(format!("{gw}/ward?bed=7"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.url().as_str(), format!("{gw}/ward?bed=7"));
    assert_eq!(res.text().await.unwrap(), "ward of dr-a");
    assert_eq!(op.logins().await, 1);
    // Beside a proxy: forward auth sends a navigation to the same OIDC login.
    let auth = browser(false)
        .get(format!("{gw}/.autologoff/auth?redirect=1"))
        .header("x-original-uri", "/ward?bed=7")
        .header("x-original-method", "GET")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(auth.status(), StatusCode::FOUND);
    assert_eq!(
        auth.headers()["location"],
        "/.autologoff/login?rd=%2Fward%3Fbed%3D7"
    );
    // Not a navigation: 401, never the login.
    let api = browser(false)
        .get(format!("{gw}/api"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    // "Sign in again" in a popup: the provider's SSO session is alive, yet it asks again.
    let res = client
        .get(format!(
            "{gw}/.autologoff/login?reauth=1&rd=/.autologoff/done"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.url().path(), "/.autologoff/done");
    assert!(res.text().await.unwrap().contains("signed-in"));
    assert_eq!(op.logins().await, 2, "credentials asked again");
    assert_eq!(whoami(&client, &gw).await.as_deref(), Some("dr-a"));

    // A provider reporting the SSO session's old authentication time: refused.
    op.next("dr-a", "stale").await;
    let res = client
        .get(format!(
            "{gw}/.autologoff/login?reauth=1&rd=/.autologoff/done"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("re-authentication not proven"));

    // Another clinician signs in at the locked page.
    op.next("dr-b", "fresh").await;
    let res = client
        .get(format!(
            "{gw}/.autologoff/login?reauth=1&rd=/.autologoff/done"
        ))
        .send()
        .await
        .unwrap();
    // The provider ends dr-a's SSO session first: a form a browser's script submits.
    let res = submit_auto_form(&client, res).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.url().path(), "/.autologoff/done");
    assert_eq!(whoami(&client, &gw).await.as_deref(), Some("dr-b"));

    let sink = SqlSink::open(&audit).await.unwrap();
    assert_eq!(
        records(&sink, 3).await,
        vec![
            rec("login", "dr-a"),
            rec("reauth", "dr-a"),
            rec("switch", "dr-b")
        ]
    );
    assert!(!logs().contains(SECRET), "the logs hold the client secret");
}

/// Two gateways on one Redis are one deployment: a sign-in started on A (its `state`,
/// `nonce` and verifier in Redis) completes with the callback on B, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_redis_a_sign_in_started_on_a_completes_on_b() {
    let redis = common::Redis::start();
    let forger = Forger::start().await;
    let a_listener = bound().await;
    let a_public = format!("http://{}", a_listener.local_addr().unwrap());
    let a = gateway(a_listener, &forger.url, &redis.url(), "none", None).await;
    // Both behind one public origin (a load balancer's); B is reached directly.
    let b = gateway(
        bound().await,
        &forger.url,
        &redis.url(),
        "none",
        Some(&a_public),
    )
    .await;
    let client = browser(false);

    let auth = login(&client, &a, &forger.url, "rd=/ward").await;
    assert_eq!(auth.get("prompt"), "", "no prompt without reauth");
    let minted = forger.mint(
        forger.es.sign(&claims(&forger.url, &auth)),
        auth.get("code_challenge"),
    );
    let query = format!("code={}&state={}", minted.code, auth.get("state"));
    let res = callback(&client, &b, &query).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/ward"));
    let sid = res
        .cookies
        .iter()
        .find(|c| c.starts_with("autologoff=") && !c.starts_with("autologoff=;"))
        .expect("the gateway's session cookie")
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("autologoff=")
        .to_owned();
    assert!(
        res.cookies.iter().any(|c| c.contains("SameSite=Lax")),
        "{:?}",
        res.cookies
    );
    // Seen by both at once.
    assert_eq!(whoami(&client, &a).await.as_deref(), Some("dr-forged"));
    assert_eq!(whoami(&client, &b).await.as_deref(), Some("dr-forged"));

    // Single use: the same callback, on either gateway, finds nothing.
    for gw in [&a, &b] {
        let replay = reqwest::Client::new()
            .get(format!("{gw}/.autologoff/callback?{query}"))
            .header("cookie", format!("autologoff_oidc={}", auth.get("state")))
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
        assert!(replay.text().await.unwrap().contains("already used"));
    }

    // Re-authentication through A, completed on B, asks for prompt=login&max_age=0.
    let auth = login(&client, &a, &forger.url, "reauth=1&rd=/.autologoff/done").await;
    assert_eq!(
        (auth.get("prompt"), auth.get("max_age")),
        ("login", "0"),
        "{auth:?}"
    );
    let minted2 = forger.mint(
        forger.es.sign(&claims(&forger.url, &auth)),
        auth.get("code_challenge"),
    );
    let res = callback(
        &client,
        &b,
        &format!("code={}&state={}", minted2.code, auth.get("state")),
    )
    .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/.autologoff/done"));

    let logs = logs();
    for secret in [
        minted.code.as_str(),
        minted.id_token.as_str(),
        minted2.code.as_str(),
        auth.get("state"),
        auth.get("nonce"),
        sid.as_str(),
        SECRET,
    ] {
        assert!(!logs.contains(secret), "the logs hold a code, token or id");
    }
    assert!(
        logs.contains("GET /.autologoff/callback 302"),
        "the request log"
    );
}

/// The binary: OIDC flags, the secret from a file or the environment (never a flag's
/// value), discovery at start, and bad values exit 2 naming the flag and the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_takes_oidc_flags_and_refuses_bad_ones_naming_them() {
    use tokio::io::AsyncBufReadExt;
    use tokio::process::Command;
    let bin = env!("CARGO_BIN_EXE_autologoff-server");
    let forger = Forger::start().await;
    let dead = format!("http://127.0.0.1:{}", common::free_port());
    let dir = std::env::temp_dir().join(format!("alo-oidc-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let secret_path = secret_file.to_str().unwrap();
    let issuer = forger.url.as_str();

    let dead_msg = format!("--oidc-issuer {dead}");
    let refused: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec!["--oidc-issuer", &dead, "--oidc-client-id", "ward"],
            None,
            &dead_msg,
        ),
        (
            vec!["--oidc-issuer", issuer],
            None,
            "needs --oidc-client-id",
        ),
        (
            vec!["--oidc-client-id", "ward", "--demo-login"],
            None,
            "--oidc-client-id needs --oidc-issuer",
        ),
        (
            vec![
                "--oidc-issuer",
                issuer,
                "--oidc-client-id",
                "ward",
                "--demo-login",
            ],
            None,
            "two login sources",
        ),
        (
            vec![
                "--oidc-issuer",
                issuer,
                "--oidc-client-id",
                "ward",
                "--oidc-user-claim",
                "a b",
            ],
            None,
            "--oidc-user-claim a b",
        ),
        (
            vec![
                "--oidc-issuer",
                issuer,
                "--oidc-client-id",
                "ward",
                "--oidc-scope",
                "a\"b",
            ],
            None,
            "--oidc-scope a\"b",
        ),
        (
            vec![
                "--oidc-issuer",
                issuer,
                "--oidc-client-id",
                "ward",
                "--oidc-client-secret-file",
                "/nonexistent/secret",
            ],
            None,
            "--oidc-client-secret-file /nonexistent/secret",
        ),
        (
            vec![
                "--oidc-issuer",
                issuer,
                "--oidc-client-id",
                "ward",
                "--oidc-client-secret-file",
                secret_path,
            ],
            Some("x"),
            "both give a secret",
        ),
        // A secret is never a flag's value.
        (
            vec![
                "--oidc-issuer",
                issuer,
                "--oidc-client-id",
                "ward",
                "--oidc-client-secret",
                "s3",
            ],
            None,
            "--oidc-client-secret",
        ),
    ];
    for (args, env, names) in &refused {
        let mut cmd = Command::new(bin);
        cmd.arg("gateway")
            .args(args)
            .env_remove("AUTOLOGOFF_OIDC_CLIENT_SECRET");
        if let Some(v) = env {
            cmd.env("AUTOLOGOFF_OIDC_CLIENT_SECRET", v);
        }
        let out = cmd.output().await.unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(names), "{args:?}: {err}");
        assert!(!err.contains("s3") && !err.contains(SECRET), "{err}");
    }

    // The secret from the environment or a file: it starts, and the login goes to the
    // issuer with the client id and the redirect URI of its public URL.
    for (file, env) in [(None, Some(SECRET)), (Some(secret_path), None)] {
        let mut cmd = Command::new(bin);
        cmd.args([
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--oidc-issuer",
            issuer,
        ])
        .args(["--oidc-client-id", "ward", "--oidc-scope", "profile"])
        .env_remove("AUTOLOGOFF_OIDC_CLIENT_SECRET")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
        if let Some(f) = file {
            cmd.args(["--oidc-client-secret-file", f]);
        }
        if let Some(v) = env {
            cmd.env("AUTOLOGOFF_OIDC_CLIENT_SECRET", v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
        tokio::time::timeout(Duration::from_secs(10), out.read_line(&mut line))
            .await
            .expect("it starts")
            .unwrap();
        let gw = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{line:?}"))
            .trim_end()
            .trim_end_matches('/')
            .to_owned();
        let auth = login(&browser(false), &gw, issuer, "rd=/").await;
        assert_eq!(auth.get("client_id"), "ward");
        assert_eq!(auth.get("scope"), "openid profile");
        assert_eq!(
            auth.get("redirect_uri"),
            format!("{gw}/.autologoff/callback")
        );
        let health = reqwest::get(format!("{gw}/.autologoff/healthz"))
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let body: serde_json::Value = health.json().await.unwrap();
        assert_eq!(body["issuer"], "ok");
        let _ = child.kill().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
