//! Zero code (`--inject-sdk`, shared/GATEWAY.md): pages through the gateway get exactly
//! one loader script first in `<head>` and a CSP amended by exactly what the SDK needs;
//! compressed and large streamed pages too; everything else passes untouched.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder};
use autologoff_server::gateway::{Config, Gateway, Inject, LoginSource};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const PAGE: &str = "<!doctype html><html lang=en><head><meta charset=utf-8><title>Ward</title></head><body><p>Test Patient 01</p></body></html>";
const STRICT: &str = "default-src 'none'; script-src 'nonce-X' 'strict-dynamic'; style-src 'self'";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR<head>";
const BIG_CHUNKS: usize = 64;
const BIG_CHUNK: usize = 64 * 1024;

// ---------------------------------------------------------------- the upstream

fn html(body: impl Into<Body>) -> Response {
    let mut res = Response::new(body.into());
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

async fn compressed(coding: &'static str) -> Response {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            GzipEncoder::new(PAGE.as_bytes())
                .read_to_end(&mut out)
                .await
        }
        _ => {
            BrotliEncoder::new(PAGE.as_bytes())
                .read_to_end(&mut out)
                .await
        }
    }
    .unwrap();
    let mut res = html(out);
    res.headers_mut()
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    res
}

/// Several MB of HTML, sent slowly; `done` is set once the last piece has left.
fn big(done: Arc<AtomicBool>) -> Response {
    let pieces = futures_util::stream::unfold(0usize, move |n| {
        let done = Arc::clone(&done);
        async move {
            if n > BIG_CHUNKS {
                done.store(true, Ordering::SeqCst);
                return None;
            }
            let piece = if n == 0 {
                Bytes::from_static(b"<!doctype html><html><head><title>big</title></head><body>")
            } else {
                tokio::time::sleep(Duration::from_millis(30)).await;
                Bytes::from(format!("<p>{}</p>", "x".repeat(BIG_CHUNK - 7)))
            };
            Some((Ok::<_, std::io::Error>(piece), n + 1))
        }
    });
    html(Body::from_stream(pieces))
}

fn with(mut res: Response, name: &'static str, value: &'static str) -> Response {
    res.headers_mut()
        .insert(name, HeaderValue::from_static(value));
    res
}

async fn upstream() -> (SocketAddr, Arc<AtomicBool>) {
    let done = Arc::new(AtomicBool::new(false));
    let big_done = Arc::clone(&done);
    let app = Router::new()
        .route("/page", get(|| async { html(PAGE) }))
        .route(
            "/strict",
            get(|| async { with(html(PAGE), "content-security-policy", STRICT) }),
        )
        .route("/gz", get(|| compressed("gzip")))
        .route("/br", get(|| compressed("br")))
        .route(
            "/zstd",
            get(|| async { with(html("(zstd)"), "content-encoding", "zstd") }),
        )
        .route("/big", get(move || async move { big(big_done) }))
        .route(
            "/off",
            get(|| async { with(html(PAGE), "autologoff-inject", "off") }),
        )
        .route(
            "/json",
            get(|| async {
                with(
                    "{\"head\":\"<head>\"}".into_response(),
                    "content-type",
                    "application/json",
                )
            }),
        )
        .route(
            "/css",
            get(|| async {
                with(
                    "head{color:red}".into_response(),
                    "content-type",
                    "text/css",
                )
            }),
        )
        .route(
            "/png",
            get(|| async { with(PNG.into_response(), "content-type", "image/png") }),
        )
        .route("/public/page", get(|| async { html(PAGE) }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, done)
}

// ---------------------------------------------------------------- the gateway

/// A stand-in SDK build (the gateway serves whatever `npm run build` made).
fn sdk_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("autologoff-inject-sdk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.js"), "export async function init() {}\n").unwrap();
    std::fs::write(dir.join("autologoff_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    dir
}

async fn gateway(upstream: SocketAddr) -> SocketAddr {
    gateway_with(upstream, LoginSource::Demo).await
}

async fn gateway_with(upstream: SocketAddr, login: LoginSource) -> SocketAddr {
    let mut config = Config::new(login);
    config.upstream = Some(format!("http://{upstream}").parse().unwrap());
    config.public = vec!["/public".into()];
    config.idle = Duration::from_secs(120);
    config.inject = Some(Inject {
        sdk_dir: sdk_dir(),
        options_file: None,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gateway = Gateway::open(config, addr).await.expect("gateway opens");
    tokio::spawn(gateway.serve(listener, std::future::pending()));
    addr
}

type Http = Client<HttpConnector, Full<Bytes>>;

fn client() -> Http {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

async fn head(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> hyper::Response<hyper::body::Incoming> {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    client().request(req).await.expect("an answer")
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let res = head(addr, Method::GET, path, headers, "").await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("a whole body");
    Answer {
        status,
        headers,
        body: body.to_bytes().to_vec(),
    }
}

async fn sign_in(addr: SocketAddr) -> String {
    let res = head(
        addr,
        Method::POST,
        "/.autologoff/demo-login",
        &[("content-type", "application/json")],
        "{\"user\": \"nurse1\"}",
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("autologoff=") && !c.starts_with("autologoff=;"))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .expect("a session cookie")
}

async fn setup() -> (SocketAddr, String, Arc<AtomicBool>) {
    let (up, done) = upstream().await;
    let gw = gateway(up).await;
    let cookie = sign_in(gw).await;
    (gw, cookie, done)
}

fn navigate(cookie: &str) -> [(&str, &str); 3] {
    [
        ("cookie", cookie),
        ("sec-fetch-mode", "navigate"),
        ("accept", "text/html"),
    ]
}

const TAG_START: &str = "<script type=\"module\" src=\"/.autologoff/sdk/auto.js\" nonce=\"";

/// The page's nonce, checking the tag is first in `<head>` and there only once.
fn injected(page: &str) -> String {
    assert_eq!(
        page.matches("/.autologoff/sdk/auto.js").count(),
        1,
        "{page}"
    );
    let at = page.find("<head>").expect("a head") + "<head>".len();
    assert!(page[at..].starts_with(TAG_START), "{page}");
    let rest = &page[at + TAG_START.len()..];
    let nonce = &rest[..rest.find('"').unwrap()];
    assert!(rest[nonce.len()..].starts_with("\"></script><meta charset=utf-8>"));
    assert_eq!(nonce.len(), 32);
    nonce.to_owned()
}

fn length_is_right(a: &Answer) {
    if let Some(len) = a.headers.get(header::CONTENT_LENGTH) {
        assert_eq!(len.to_str().unwrap(), a.body.len().to_string());
    }
}

// ---------------------------------------------------------------- the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_gets_one_script_first_in_head_and_the_rest_unchanged() {
    let (gw, cookie, _) = setup().await;
    let a = get_with(gw, "/page", &navigate(&cookie)).await;
    assert_eq!(a.status, StatusCode::OK);
    let page = a.text();
    let nonce = injected(&page);
    let tag = format!("{TAG_START}{nonce}\"></script>");
    assert_eq!(page.replacen(&tag, "", 1), PAGE);
    length_is_right(&a);
    assert!(a.headers.get("autologoff-inject").is_none());
    // A new nonce for every page.
    let again = get_with(gw, "/page", &navigate(&cookie)).await;
    assert_ne!(injected(&again.text()), nonce);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strict_policy_is_amended_by_exactly_what_the_sdk_needs() {
    let (gw, cookie, _) = setup().await;
    let a = get_with(gw, "/strict", &navigate(&cookie)).await;
    let nonce = injected(&a.text());
    let csp = a.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert_eq!(
        csp,
        format!(
            "default-src 'none'; script-src 'nonce-X' 'strict-dynamic' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_brotli_pages_are_injected_and_sent_uncompressed() {
    let (gw, cookie, _) = setup().await;
    for path in ["/gz", "/br"] {
        let mut h = navigate(&cookie).to_vec();
        h.push(("accept-encoding", "gzip, deflate, br, zstd"));
        let a = get_with(gw, path, &h).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert!(a.headers.get(header::CONTENT_ENCODING).is_none(), "{path}");
        let page = a.text();
        let nonce = injected(&page);
        let tag = format!("{TAG_START}{nonce}\"></script>");
        assert_eq!(page.replacen(&tag, "", 1), PAGE, "{path}");
        length_is_right(&a);
    }
    // A coding the gateway cannot decode: the page is refused, not sent unprotected.
    let a = get_with(gw, "/zstd", &navigate(&cookie)).await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert!(!a.text().contains("(zstd)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_page_arrives_while_the_upstream_is_still_sending() {
    let (gw, cookie, done) = setup().await;
    let started = Instant::now();
    let res = head(gw, Method::GET, "/big", &navigate(&cookie), "").await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let mut first = Vec::new();
    while first.len() < 100 {
        let frame = body.frame().await.expect("a frame").expect("no error");
        if let Some(data) = frame.data_ref() {
            first.extend_from_slice(data);
        }
    }
    let first_at = started.elapsed();
    assert!(
        !done.load(Ordering::SeqCst),
        "the page's start came only after the upstream had sent it all"
    );
    assert!(String::from_utf8_lossy(&first).contains(TAG_START));
    let mut total = first.len();
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.expect("no error").data_ref() {
            total += data.len();
        }
    }
    let all_at = started.elapsed();
    assert!(done.load(Ordering::SeqCst));
    let sent =
        "<!doctype html><html><head><title>big</title></head><body>".len() + BIG_CHUNKS * BIG_CHUNK;
    let tag = TAG_START.len() + 32 + "\"></script>".len();
    assert_eq!(total, sent + tag);
    eprintln!(
        "big page: {} MB, first bytes after {first_at:?}, all after {all_at:?}",
        sent / 1_000_000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_css_and_images_pass_untouched() {
    let (gw, cookie, _) = setup().await;
    let cases: [(&str, &[u8]); 3] = [
        ("/json", b"{\"head\":\"<head>\"}"),
        ("/css", b"head{color:red}"),
        ("/png", PNG),
    ];
    for (path, want) in cases {
        let a = get_with(gw, path, &navigate(&cookie)).await;
        assert_eq!(a.body, want, "{path}");
        assert_eq!(
            a.headers[header::CONTENT_LENGTH].to_str().unwrap(),
            want.len().to_string()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autologoff_inject_off_is_respected_and_removed() {
    let (gw, cookie, _) = setup().await;
    let a = get_with(gw, "/off", &navigate(&cookie)).await;
    assert_eq!(a.text(), PAGE);
    assert!(a.headers.get("autologoff-inject").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_injection_without_a_navigation_or_a_live_session() {
    let (gw, cookie, _) = setup().await;
    // fetch() of an HTML fragment.
    let a = get_with(
        gw,
        "/page",
        &[("cookie", &cookie), ("sec-fetch-mode", "cors")],
    )
    .await;
    assert_eq!(a.text(), PAGE);
    // A public page (no session needed, none checked).
    let a = get_with(gw, "/public/page", &navigate(&cookie)).await;
    assert_eq!(a.text(), PAGE);
    // No session: the sign-in, not the page.
    let a = get_with(
        gw,
        "/page",
        &[("sec-fetch-mode", "navigate"), ("accept", "text/html")],
    )
    .await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert!(!a.text().contains("auto.js"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_is_served_with_its_config_and_long_lived_caching() {
    let (gw, _, _) = setup().await;
    let a = get_with(gw, "/.autologoff/sdk/auto.js", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(a.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-cache");
    let js = a.text();
    assert!(js.contains("\"idleTimeoutMs\":120000"), "{js}");
    assert!(js.contains("\"url\":\"/.autologoff/session\""), "{js}");
    // "Sign in again" in a popup that ends at the gateway's done page.
    assert!(
        js.contains("\"signin\":\"/.autologoff/login?reauth=1&rd=/.autologoff/done\""),
        "{js}"
    );
    let etag = a.headers[header::ETAG].to_str().unwrap().to_owned();
    let again = get_with(gw, "/.autologoff/sdk/auto.js", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let index = js
        .split('"')
        .find(|s| s.starts_with("/.autologoff/sdk/") && s.ends_with("/index.js"))
        .expect("the SDK's versioned URL")
        .to_owned();
    let a = get_with(gw, &index, &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text(), "export async function init() {}\n");
    assert_eq!(
        a.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let wasm = index.replace("index.js", "autologoff_bg.wasm");
    let a = get_with(gw, &wasm, &[]).await;
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(a.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(a.body, b"\0asm\x01\0\0\0");
    let a = get_with(gw, "/.autologoff/sdk/0000000000000000/index.js", &[]).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_upstreams_login_page_sign_in_again_opens_it_and_ends_at_done() {
    let (up, _) = upstream().await;
    let gw = gateway_with(up, LoginSource::Upstream("/login".into())).await;
    let js = get_with(gw, "/.autologoff/sdk/auto.js", &[]).await.text();
    assert!(
        js.contains("\"signin\":\"/login?reauth=1&rd=/.autologoff/done\""),
        "{js}"
    );
    let done = get_with(gw, "/.autologoff/done", &[]).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.text().contains("signed-in"));
}

#[test]
fn bad_sdk_options_stop_the_gateway_with_exit_2_naming_file_and_option() {
    let dir = sdk_dir();
    let cases = [
        ("{\"lock\": {\"mode\": \"fade\"}}", "lock.mode"),
        ("{\"idelTimeoutMs\": 5000}", "idelTimeoutMs"),
        (
            "{\"idleTimeoutMs\": 5000}",
            "idleTimeoutMs: set by the gateway",
        ),
        ("{\"warnBeforeMs\": 1,}", "is not JSON"),
    ];
    for (i, (text, want)) in cases.into_iter().enumerate() {
        let file = dir.join(format!("options-{i}.json"));
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_autologoff-server"))
            .args([
                "gateway",
                "--demo-login",
                "--listen",
                "127.0.0.1:0",
                "--inject-sdk",
            ])
            .arg("--sdk-dir")
            .arg(&dir)
            .arg("--sdk-options")
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(
            err.contains(&format!("--sdk-options {}", file.display())),
            "{err}"
        );
        assert!(err.contains(want), "{text}: {err}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autologoff-server"))
        .args([
            "gateway",
            "--demo-login",
            "--listen",
            "127.0.0.1:0",
            "--inject-sdk",
        ])
        .args(["--sdk-dir", "/nonexistent/pkg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sdk-dir /nonexistent/pkg: index.js"));
}
