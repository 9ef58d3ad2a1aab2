//! The gateway (shared/GATEWAY.md) in front of a tiny upstream on a free port: what is
//! forwarded and what never is, sign-in and its redirects, streams cut when their
//! session ends (also across two gateways on one real Redis), and the faults of
//! issue 23 ("Bad input and faults").

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autologoff_server::audit::SqlSink;
use autologoff_server::gateway::{Config, Gateway, LoginSource};
use autologoff_server::Clock;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

// ---------------------------------------------------------------- the upstream

/// What the upstream saw.
#[derive(Clone, Default)]
struct Seen {
    hits: Arc<AtomicUsize>,
    last: Arc<Mutex<Option<(String, HeaderMap)>>>,
}

impl Seen {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
    fn last_headers(&self) -> HeaderMap {
        self.last.lock().unwrap().clone().expect("a request").1
    }
    fn last_target(&self) -> String {
        self.last.lock().unwrap().clone().expect("a request").0
    }
}

async fn upstream() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/sse", get(sse))
        .route("/ws", get(ws))
        .route("/hang", get(std::future::pending::<()>))
        .route("/truncated", get(truncated))
        .route("/login", any(login))
        .route("/logout", get(logout))
        .route("/plant", get(plant))
        .fallback(any(echo))
        .layer(axum::middleware::from_fn_with_state(seen.clone(), count))
        .with_state(());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

async fn count(
    State(seen): State<Seen>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    let target = request.uri().path_and_query().unwrap().to_string();
    *seen.last.lock().unwrap() = Some((target, request.headers().clone()));
    next.run(request).await
}

/// Tries to plant the gateway's cookie next to one of its own.
async fn plant() -> Response {
    let mut res = "planted".into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("app=1; Path=/"),
    );
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "autologoff=0000000000000000000000000000000000000000000000000000000000000000; Path=/",
        ),
    );
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("autologoff_ended=x; Path=/"),
    );
    res
}

/// `200 ok`, cacheable for an hour (the gateway must say no-store instead), and
/// trying to sign the browser in (only `--login-from-upstream` may believe it).
async fn echo(body: Body) -> Response {
    let len = body
        .collect()
        .await
        .map(|b| b.to_bytes().len())
        .unwrap_or(0);
    let mut res = format!("ok {len}").into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=3600"),
    );
    res
}

async fn login(request: Request) -> Response {
    let user = request
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("user="))
        .unwrap_or("")
        .to_owned();
    let mut res = "welcome".into_response();
    if !user.is_empty() {
        res.headers_mut()
            .insert("autologoff-login", HeaderValue::from_str(&user).unwrap());
    }
    res
}

async fn logout() -> Response {
    let mut res = "bye".into_response();
    res.headers_mut()
        .insert("autologoff-logout", HeaderValue::from_static("1"));
    res
}

/// Server-sent events, one every 50 ms, forever.
async fn sse() -> Response {
    let events = futures_util::stream::unfold(0u64, |n| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Some((
            Ok::<_, std::io::Error>(Bytes::from(format!("data: {n}\n\n"))),
            n + 1,
        ))
    });
    let mut res = Body::from_stream(events).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    res
}

/// Claims 100,000 bytes, sends 10 and breaks the connection.
async fn truncated() -> Response {
    let parts = futures_util::stream::unfold(0, |n| async move {
        match n {
            0 => Some((Ok(Bytes::from_static(b"0123456789")), 1)),
            1 => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Err(std::io::Error::other("upstream broke")), 2))
            }
            _ => None,
        }
    });
    let mut res = Body::from_stream(parts).into_response();
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("100000"));
    res
}

/// A WebSocket that sends a message every 50 ms.
async fn ws(mut request: Request) -> Response {
    let key = request
        .headers()
        .get("sec-websocket-key")
        .cloned()
        .unwrap_or(HeaderValue::from_static(""));
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(io) = upgrade.await else { return };
        let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Server, None).await;
        for n in 0u64.. {
            if ws.send(Message::text(n.to_string())).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header("sec-websocket-accept", accept)
        .body(Body::empty())
        .unwrap()
}

// ---------------------------------------------------------------- the gateway

struct Running {
    addr: SocketAddr,
    gateway: Gateway,
    clock: Clock,
}

async fn gateway(upstream: Option<SocketAddr>, set: impl FnOnce(&mut Config)) -> Running {
    let clock = Clock::default();
    let mut config = Config::new(LoginSource::Demo);
    config.upstream = upstream.map(|a| format!("http://{a}").parse().unwrap());
    config.public = vec!["/public".into()];
    config.upstream_timeout = Duration::from_secs(2);
    config.clock = clock.clone();
    set(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gateway = Gateway::open(config, addr).await.expect("gateway opens");
    tokio::spawn(gateway.clone().serve(listener, std::future::pending()));
    Running {
        addr,
        gateway,
        clock,
    }
}

type Http = Client<HttpConnector, Full<Bytes>>;

fn client() -> Http {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let res = client().request(req).await.expect("an answer");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("a whole body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    send(addr, Method::GET, path, headers, "").await
}

/// `autologoff=<id>` after a demo sign-in as `user`.
async fn sign_in(addr: SocketAddr, user: &str) -> String {
    let a = send(
        addr,
        Method::POST,
        "/.autologoff/demo-login",
        &[("content-type", "application/json")],
        &format!("{{\"user\": \"{user}\"}}"),
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    session_cookie(&a.headers).expect("a session cookie")
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("autologoff=") && !c.starts_with("autologoff=;"))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

/// A raw request (for what no HTTP client would send); the whole answer as text.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(raw: &str) -> u16 {
    raw.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"))
}

// ---------------------------------------------------------------- forwarding

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_is_forwarded_with_identity_and_nothing_of_the_gateways() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |_| {}).await;
    let cookie = sign_in(g.addr, "dr.alice").await;
    let a = get_with(
        g.addr,
        "/chart/7?tab=vitals",
        &[
            (
                "cookie",
                &format!("app=1; {cookie}; autologoff_ended=x; other=2"),
            ),
            ("x-autologoff-user", "mallory"),
            ("x-autologoff-expires", "99999999999999"),
            ("x-autologoff-whatever", "1"),
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("autologoff-login", "mallory"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let h = seen.last_headers();
    assert_eq!(seen.last_target(), "/chart/7?tab=vitals");
    assert_eq!(h["x-autologoff-user"], "dr.alice");
    let expires: i64 = h["x-autologoff-expires"].to_str().unwrap().parse().unwrap();
    assert!(expires > g.clock.now());
    assert!(h.get("x-autologoff-whatever").is_none());
    assert_eq!(h.get_all("x-autologoff-user").iter().count(), 1);
    assert_eq!(
        h["cookie"], "app=1; other=2",
        "the gateway's cookies never pass"
    );
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], g.addr.to_string().as_str());
    assert!(h.get("forwarded").is_none());
    assert!(
        h.get("x-hop").is_none(),
        "a header Connection names is hop-by-hop"
    );
    assert!(h.get("autologoff-login").is_none());
    assert_eq!(a.headers["session-expires"], expires.to_string().as_str());
    assert_eq!(
        a.headers["cache-control"], "no-store",
        "not the upstream's max-age"
    );
    // A client-sent Autologoff-Login signed nobody in.
    assert!(session_cookie(&a.headers).is_none());
    // The app cannot set the gateway's cookies (session fixation); its own pass.
    let planted = get_with(g.addr, "/plant", &[("cookie", &cookie)]).await;
    let set: Vec<&str> = planted
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(set, ["app=1; Path=/"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_requests_never_extend_the_session() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |c| c.idle = Duration::from_secs(60)).await;
    let cookie = sign_in(g.addr, "alice").await;
    let first = get_with(g.addr, "/poll", &[("cookie", &cookie)]).await;
    let expires = first.headers["session-expires"].clone();
    for minute_part in [20_000, 40_000, 59_000] {
        g.clock.set_offset(minute_part);
        let a = get_with(g.addr, "/poll", &[("cookie", &cookie)]).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(
            a.headers["session-expires"], expires,
            "a poll moved the deadline"
        );
    }
    g.clock.set_offset(60_001);
    let hits = seen.hits();
    let late = get_with(g.addr, "/poll", &[("cookie", &cookie)]).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        seen.hits(),
        hits,
        "an expired session's request was forwarded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_navigations_go_to_sign_in_and_the_rest_get_401() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |_| {}).await;
    let nav = get_with(
        g.addr,
        "/chart?id=1&x=a%20b",
        &[("sec-fetch-mode", "navigate"), ("accept", "text/html")],
    )
    .await;
    assert_eq!(nav.status, StatusCode::FOUND);
    assert_eq!(
        nav.headers["location"],
        "/.autologoff/login?rd=/chart%3Fid%3D1%26x%3Da%2520b"
    );
    let old_browser = get_with(g.addr, "/", &[("accept", "text/html,*/*")]).await;
    assert_eq!(old_browser.status, StatusCode::FOUND);
    let fetch = get_with(
        g.addr,
        "/api/x",
        &[("sec-fetch-mode", "cors"), ("accept", "text/html")],
    )
    .await;
    assert_eq!(fetch.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fetch.headers["cache-control"], "no-store");
    assert!(fetch.body.contains("\"error\""));
    let post = send(
        g.addr,
        Method::POST,
        "/chart",
        &[("accept", "text/html")],
        "x",
    )
    .await;
    assert_eq!(post.status, StatusCode::UNAUTHORIZED);
    let forged = get_with(
        g.addr,
        "/api/x",
        &[("cookie", &format!("autologoff={}", "a".repeat(64)))],
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let malformed = get_with(g.addr, "/api/x", &[("cookie", "autologoff=../../etc")]).await;
    assert_eq!(malformed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.hits(), 0, "forwarded without a session");

    // The demo form signs in and comes back to rd (only a path of this origin).
    let form = get_with(g.addr, "/.autologoff/login?rd=%2Fchart%3Fid%3D1", &[]).await;
    assert!(form.body.contains("value=\"/chart?id=1\""), "{}", form.body);
    let posted = send(
        g.addr,
        Method::POST,
        "/.autologoff/demo-login",
        &[("content-type", "application/x-www-form-urlencoded")],
        "user=dr+bob&rd=%2Fchart%3Fid%3D1",
    )
    .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert_eq!(posted.headers["location"], "/chart?id=1");
    let cookie = session_cookie(&posted.headers).unwrap();
    let set = posted.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );
    let evil = send(
        g.addr,
        Method::POST,
        "/.autologoff/demo-login",
        &[("content-type", "application/x-www-form-urlencoded")],
        "user=bob&rd=%2F%2Fevil.example%2F",
    )
    .await;
    assert_eq!(evil.headers["location"], "/");
    let a = get_with(g.addr, "/chart?id=1", &[("cookie", &cookie)]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(seen.last_headers()["x-autologoff-user"], "dr bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_prefixes_pass_without_a_session_or_identity() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |_| {}).await;
    let cookie = sign_in(g.addr, "alice").await;
    for path in ["/public", "/public/app.css"] {
        let a = get_with(
            g.addr,
            path,
            &[("cookie", &cookie), ("x-autologoff-user", "mallory")],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        let h = seen.last_headers();
        assert!(
            h.get("x-autologoff-user").is_none(),
            "{path}: identity on a public request"
        );
        assert!(
            h.get("cookie").is_none(),
            "{path}: the session cookie passed"
        );
        assert_eq!(
            a.headers["cache-control"], "max-age=3600",
            "public answers keep theirs"
        );
    }
    let hits = seen.hits();
    let outside = get_with(g.addr, "/publicity", &[]).await;
    assert_eq!(outside.status, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.hits(), hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escapes_by_dot_segments_or_encoding_are_refused_and_never_forwarded() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |_| {}).await;
    for path in [
        "/public/../chart",
        "/public/%2e%2e/chart",
        "/public/.%2E/chart",
        "/public/..;/chart",
        "/public%2F..%2Fchart",
        "/public%2f%2e%2e%2fchart",
        "/public%5C..%5Cchart",
        "/public/%252e%252e/chart",
        "/x/../.autologoff/session",
        "/x/%2e%2e/.autologoff/session",
        "/.autologoff/../chart",
        "/.autologoff/%2e%2e/chart",
        "/x/./chart",
        "/bad%zz",
        "/bad%c3%28",
    ] {
        let a = raw(
            g.addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(status_of(&a), 400, "{path}: {a}");
    }
    let a = raw(
        g.addr,
        b"GET /public\\..\\chart HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&a), 400, "backslash: {a}");
    assert_eq!(seen.hits(), 0, "an escape reached the upstream");
    // One percent-decode: an encoded reserved path is the gateway's, never the upstream's.
    let reserved = get_with(g.addr, "/%2Eautologoff/session", &[]).await;
    assert_eq!(reserved.status, StatusCode::UNAUTHORIZED);
    assert!(reserved.body.contains("no session"), "{}", reserved.body);
    let unknown = get_with(g.addr, "/.autologoff/nothing-here", &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(seen.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_transfer_encoding_is_400_and_never_forwarded() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |_| {}).await;
    let cookie = sign_in(g.addr, "alice").await;
    for (first, second) in [
        ("Content-Length: 5", "Transfer-Encoding: chunked"),
        ("Transfer-Encoding: chunked", "Content-Length: 5"),
    ] {
        let a = raw(
            g.addr,
            format!(
                "POST /public/x HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n{first}\r\n{second}\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(status_of(&a), 400, "{first} + {second}: {a}");
    }
    let bad_te = raw(
        g.addr,
        b"POST /public/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nhello",
    )
    .await;
    assert_eq!(status_of(&bad_te), 400);
    let bad_chunks = raw(
        g.addr,
        b"POST /public/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&bad_chunks) / 100, 4, "{bad_chunks}");
    let bad_cl = raw(
        g.addr,
        b"POST /public/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello",
    )
    .await;
    assert_eq!(status_of(&bad_cl), 400);
    assert_eq!(
        seen.hits(),
        0,
        "a request with ambiguous framing was forwarded"
    );
}

/// An upstream that answers one request per connection and then closes it: with
/// `Connection: close` on even connections, silently (an idle timeout) on odd ones.
async fn one_answer_per_connection() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let n = counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => head.extend_from_slice(&buf[..k]),
                    }
                }
                let close = if n.is_multiple_of(2) {
                    "Connection: close\r\n"
                } else {
                    ""
                };
                let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n{close}\r\nok {n}");
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    (addr, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_closing_between_requests_is_reconnected_for_the_next() {
    let (up, accepted) = one_answer_per_connection().await;
    let g = gateway(Some(up), |_| {}).await;
    // One kept-alive client connection: the gateway's link to the app closes after
    // each answer, and each next request opens a new one.
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    for i in 0..4 {
        let request = format!("GET /public/{i} HTTP/1.1\r\nHost: x\r\n\r\n");
        s.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while !answer.ends_with(format!("ok {i}").as_bytes()) {
            let k = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
                .await
                .expect("an answer in time")
                .unwrap();
            assert!(
                k > 0,
                "the gateway closed the client connection after {i} answers"
            );
            answer.extend_from_slice(&buf[..k]);
        }
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status_of(&answer), 200, "{answer}");
        // Let the app's close reach the gateway before the next request.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_pipelined_requests_with_bodies_are_all_forwarded() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |_| {}).await;
    // Bodies that look like request heads must not confuse the framing check.
    let sized = "Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n";
    let requests = format!(
        "GET /public/1 HTTP/1.1\r\nHost: x\r\n\r\n\
         POST /public/2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{sized}\
         POST /public/3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         5;ext=1\r\nhello\r\n4\r\n\r\n\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n\
         GET /public/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        sized.len()
    );
    let answer = raw(g.addr, requests.as_bytes()).await;
    let statuses: Vec<u16> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| answer[i + 9..i + 12].parse().unwrap())
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200], "{answer}");
    assert!(answer.contains(&format!("ok {}", sized.len())), "{answer}");
    assert!(
        answer.contains("ok 9"),
        "the chunked body arrived whole: {answer}"
    );
    assert_eq!(seen.hits(), 4);
    assert_eq!(seen.last_target(), "/public/4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_cookies_and_headers_get_4xx() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |_| {}).await;
    let cookie = sign_in(g.addr, "alice").await;
    let big = format!("{cookie}; pad={}", "x".repeat(9000));
    let a = get_with(g.addr, "/chart", &[("cookie", &big)]).await;
    assert_eq!(a.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let huge = raw(
        g.addr,
        format!(
            "GET /chart HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "y".repeat(70_000)
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(status_of(&huge), 431, "{}", &huge[..huge.len().min(200)]);
    let many: String = (0..200).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let many = raw(
        g.addr,
        format!("GET /chart HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status_of(&many) / 100, 4, "{many}");
    let binary = raw(
        g.addr,
        &[b"GET /chart HTTP/1.1\r\nHost: x\r\nCookie: autologoff=\xff\xfe\r\nConnection: close\r\n\r\n".as_slice()].concat(),
    )
    .await;
    assert_eq!(status_of(&binary), 401, "{binary}");
    let garbage = raw(
        g.addr,
        b"GET /chart HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&garbage), 400);
    let demo = send(
        g.addr,
        Method::POST,
        "/.autologoff/demo-login",
        &[],
        "{\"user\": 5}",
    )
    .await;
    assert_eq!(demo.status, StatusCode::BAD_REQUEST);
    assert!(demo.body.contains("user"), "{}", demo.body);
    assert_eq!(seen.hits(), 0);
}

// ---------------------------------------------------------------- faults

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_hanging_or_breaking_mid_body() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let down = gateway(Some(closed), |_| {}).await;
    let cookie = sign_in(down.addr, "alice").await;
    let a = get_with(down.addr, "/chart", &[("cookie", &cookie)]).await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert!(a.body.contains("\"error\""));

    let (up, _) = upstream().await;
    let g = gateway(Some(up), |c| c.upstream_timeout = Duration::from_secs(1)).await;
    let cookie = sign_in(g.addr, "alice").await;
    let started = Instant::now();
    let hang = get_with(g.addr, "/hang", &[("cookie", &cookie)]).await;
    assert_eq!(hang.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(hang.body.contains("\"error\""));

    let req = hyper::Request::get(format!("http://{}/truncated", g.addr))
        .header("cookie", &cookie)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = client().request(req).await.expect("the head arrives");
    assert_eq!(res.status(), StatusCode::OK);
    let whole = res.into_body().collect().await;
    assert!(whole.is_err(), "a truncated body was delivered as complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_503_and_nothing_is_forwarded() {
    let mut redis = common::Redis::start();
    let (up, seen) = upstream().await;
    let url = redis.url();
    let g = gateway(Some(up), |c| c.store = url).await;
    let cookie = sign_in(g.addr, "alice").await;
    assert_eq!(
        get_with(g.addr, "/chart", &[("cookie", &cookie)])
            .await
            .status,
        StatusCode::OK
    );
    let hits = seen.hits();
    redis.stop();
    let a = get_with(g.addr, "/chart", &[("cookie", &cookie)]).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(a.body.contains("store"), "{}", a.body);
    let health = get_with(g.addr, "/.autologoff/healthz", &[]).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    let auth = get_with(g.addr, "/.autologoff/auth", &[("cookie", &cookie)]).await;
    assert_eq!(auth.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(seen.hits(), hits, "forwarded while the store was down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_holding_connections_are_bounded_and_others_are_served() {
    let (up, _) = upstream().await;
    let g = gateway(Some(up), |c| {
        c.max_connections = 100;
        c.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    // 250 connections that never finish their request head: at most 100 are held at
    // once, each for at most a second, so the ones waiting behind them get their turn.
    let mut slow = Vec::new();
    for _ in 0..250 {
        let mut s = TcpStream::connect(g.addr).await.unwrap();
        s.write_all(b"GET /public HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    let started = Instant::now();
    let a = tokio::time::timeout(Duration::from_secs(6), get_with(g.addr, "/public", &[]))
        .await
        .expect("served while slow clients hold connections");
    assert_eq!(a.status, StatusCode::OK);
    let waited = started.elapsed();
    // The first slow connection was closed by the gateway, not left open.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(2), slow[0].read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "a slow connection was kept open");
    eprintln!("served after {waited:?} behind 250 slow connections");
}

// ---------------------------------------------------------------- streams

/// Reads an answer body frame by frame; returns (frames before `mark` resolves, the
/// instant the body ended, whether it ended in an error).
async fn sse_open(addr: SocketAddr, cookie: &str) -> hyper::body::Incoming {
    let req = hyper::Request::get(format!("http://{addr}/sse"))
        .header("cookie", cookie)
        .header("accept", "text/event-stream")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = client().request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.into_body()
}

/// Frames of `body` until it ends (or 5 s): (data frames, when it ended, ended in error).
async fn drain(mut body: hyper::body::Incoming) -> (Vec<Instant>, Instant, bool) {
    let mut at = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(until.into(), body.frame()).await {
            Err(_) => return (at, Instant::now(), false),
            Ok(None) => return (at, Instant::now(), false),
            Ok(Some(Err(_))) => return (at, Instant::now(), true),
            Ok(Some(Ok(_))) => at.push(Instant::now()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_is_cut_within_a_second_of_delete_and_of_expiry() {
    let (up, _) = upstream().await;
    let g = gateway(Some(up), |c| c.idle = Duration::from_secs(60)).await;

    let cookie = sign_in(g.addr, "alice").await;
    let mut body = sse_open(g.addr, &cookie).await;
    assert!(
        body.frame().await.unwrap().is_ok(),
        "events flow while live"
    );
    assert_eq!(g.gateway.open_streams(), 1);
    let reader = tokio::spawn(drain(body));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let del = send(
        g.addr,
        Method::DELETE,
        "/.autologoff/session",
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(del.headers["clear-site-data"], "\"cache\"");
    let ended_at = Instant::now();
    let (frames, closed, broken) = reader.await.unwrap();
    assert!(broken, "the stream must end in an error, not look complete");
    assert!(
        closed - ended_at < Duration::from_secs(1),
        "cut after {:?}",
        closed - ended_at
    );
    let after = frames
        .iter()
        .filter(|t| **t > ended_at + Duration::from_secs(1))
        .count();
    assert_eq!(after, 0, "messages more than 1 s after the end");
    assert!(
        frames.len() >= 3,
        "events flowed before the end: {}",
        frames.len()
    );

    // Idle expiry, on the server's clock.
    let cookie = sign_in(g.addr, "alice").await;
    let body = sse_open(g.addr, &cookie).await;
    let reader = tokio::spawn(drain(body));
    tokio::time::sleep(Duration::from_millis(300)).await;
    g.clock.set_offset(61_000);
    let expired_at = Instant::now();
    let (_, closed, broken) = reader.await.unwrap();
    assert!(broken);
    assert!(
        closed - expired_at < Duration::from_secs(1),
        "cut after {:?}",
        closed - expired_at
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(g.gateway.open_streams(), 0);
}

async fn ws_open(addr: SocketAddr, cookie: &str) -> WebSocketStream<TcpStream> {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("cookie", HeaderValue::from_str(cookie).unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, res) = tokio_tungstenite::client_async(req, tcp)
        .await
        .expect("the WebSocket opens through the gateway");
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws
}

/// Messages until the socket ends (or 5 s): (their instants, when it ended).
async fn ws_drain(mut ws: WebSocketStream<TcpStream>) -> (Vec<Instant>, Instant) {
    let mut at = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(until.into(), ws.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => at.push(Instant::now()),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) | Err(_) => return (at, Instant::now()),
        }
    }
}

async fn assert_ws_cut(ws: WebSocketStream<TcpStream>, end: impl std::future::Future<Output = ()>) {
    let reader = tokio::spawn(ws_drain(ws));
    tokio::time::sleep(Duration::from_millis(300)).await;
    end.await;
    let ended_at = Instant::now();
    let (messages, closed) = reader.await.unwrap();
    assert!(
        messages.len() >= 3,
        "messages flowed while live: {}",
        messages.len()
    );
    assert!(
        closed - ended_at < Duration::from_secs(1),
        "cut after {:?}",
        closed - ended_at
    );
    let after = messages
        .iter()
        .filter(|t| **t > ended_at + Duration::from_secs(1))
        .count();
    assert_eq!(after, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_is_cut_within_a_second_of_delete_expiry_and_a_new_sign_in() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |c| c.idle = Duration::from_secs(60)).await;

    let cookie = sign_in(g.addr, "alice").await;
    let ws = ws_open(g.addr, &cookie).await;
    assert_eq!(seen.last_headers()["x-autologoff-user"], "alice");
    let addr = g.addr;
    let c = cookie.clone();
    assert_ws_cut(ws, async move {
        let del = send(
            addr,
            Method::DELETE,
            "/.autologoff/session",
            &[("cookie", &c)],
            "",
        )
        .await;
        assert_eq!(del.status, StatusCode::NO_CONTENT);
    })
    .await;

    let cookie = sign_in(g.addr, "alice").await;
    let ws = ws_open(g.addr, &cookie).await;
    let clock = g.clock.clone();
    assert_ws_cut(ws, async move { clock.set_offset(61_000) }).await;
    g.clock.set_offset(0);

    // A new sign-in of the same browser ends its old session, and so its streams.
    let cookie = sign_in(g.addr, "alice").await;
    let ws = ws_open(g.addr, &cookie).await;
    let c = cookie.clone();
    assert_ws_cut(ws, async move {
        let a = send(
            addr,
            Method::POST,
            "/.autologoff/demo-login",
            &[("cookie", &c), ("content-type", "application/json")],
            "{\"user\": \"bob\"}",
        )
        .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT);
    })
    .await;
    // The WebSocket's messages never extended the session.
    let ws_cookie = sign_in(g.addr, "alice").await;
    let before = get_with(g.addr, "/.autologoff/session", &[("cookie", &ws_cookie)]).await;
    let mut ws = ws_open(g.addr, &ws_cookie).await;
    for _ in 0..5 {
        ws.next().await.unwrap().unwrap();
        ws.send(Message::text("typing")).await.unwrap();
    }
    let after = get_with(g.addr, "/.autologoff/session", &[("cookie", &ws_cookie)]).await;
    assert_eq!(
        before.headers["session-expires"],
        after.headers["session-expires"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgraded_connections_are_bounded_too() {
    let (up, _) = upstream().await;
    let g = gateway(Some(up), |c| c.max_connections = 2).await;
    let cookie = sign_in(g.addr, "alice").await;
    let first = ws_open(g.addr, &cookie).await;
    let _second = ws_open(g.addr, &cookie).await;
    let mut req = format!("ws://{}/ws", g.addr).into_client_request().unwrap();
    req.headers_mut()
        .insert("cookie", HeaderValue::from_str(&cookie).unwrap());
    let tcp = TcpStream::connect(g.addr).await.unwrap();
    match tokio_tungstenite::client_async(req, tcp).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE)
        }
        other => panic!("a third upgrade over the bound: {:?}", other.map(|_| ())),
    }
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _third = ws_open(g.addr, &cookie).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_redis_a_delete_through_a_cuts_a_websocket_through_b() {
    let redis = common::Redis::start();
    let (up, _) = upstream().await;
    let url = redis.url();
    let a = gateway(Some(up), |c| c.store = url.clone()).await;
    let b = gateway(Some(up), |c| c.store = url).await;
    let cookie = sign_in(a.addr, "alice").await;
    let ws = ws_open(b.addr, &cookie).await;
    let addr = a.addr;
    assert_ws_cut(ws, async move {
        let del = send(
            addr,
            Method::DELETE,
            "/.autologoff/session",
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(del.status, StatusCode::NO_CONTENT);
    })
    .await;
    assert_eq!(b.gateway.open_streams(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_redis_and_one_postgres_are_one_deployment_on_the_record() {
    let redis = common::Redis::start();
    let pg = common::Postgres::start();
    let (up, _) = upstream().await;
    let (store, audit) = (redis.url(), pg.url());
    let one = |c: &mut Config| {
        c.store = store.clone();
        c.audit = audit.clone();
        c.idle = Duration::from_secs(60);
    };
    let a = gateway(Some(up), one).await;
    let b = gateway(Some(up), one).await;
    // One browser: alice signs in on A, bob on B over her session, B's DELETE through A.
    let alice = sign_in(a.addr, "alice").await;
    let over = send(
        b.addr,
        Method::POST,
        "/.autologoff/demo-login",
        &[("content-type", "application/json"), ("cookie", &alice)],
        r#"{"user": "bob"}"#,
    )
    .await;
    assert_eq!(over.status, StatusCode::NO_CONTENT, "{}", over.body);
    let bob = session_cookie(&over.headers).expect("bob's cookie");
    assert_eq!(
        get_with(a.addr, "/chart", &[("cookie", &alice)])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let del = send(
        a.addr,
        Method::DELETE,
        "/.autologoff/session",
        &[("cookie", &bob), ("content-type", "application/json")],
        r#"{"reason": "idle"}"#,
    )
    .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    // Another browser, left alone: both gateways sweep, one timeout is written.
    let carol = sign_in(b.addr, "carol").await;
    assert_eq!(
        get_with(a.addr, "/chart", &[("cookie", &carol)])
            .await
            .status,
        StatusCode::OK
    );
    a.clock.set_offset(61_000);
    b.clock.set_offset(61_000);
    let sink = SqlSink::open(&pg.url()).await.unwrap();
    let rows = common::wait_for_server_rows(&sink, 5, Duration::from_secs(8)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // a second sweep on each
    let again = common::server_rows(&sink).await;
    let seen: Vec<_> = again
        .iter()
        .map(|r| {
            (
                r.record.kind.as_str(),
                r.record.reason.as_deref(),
                r.user.as_deref(),
            )
        })
        .collect();
    assert_eq!(rows.len(), again.len(), "a record written twice: {seen:?}");
    assert_eq!(
        seen,
        [
            ("login", Some("demo"), Some("alice")),
            ("switch", Some("demo"), Some("bob")),
            ("logout", Some("idle"), Some("bob")),
            ("login", Some("demo"), Some("carol")),
            ("timeout", Some("idle"), Some("carol")),
        ]
    );
    let seqs: Vec<_> = again.iter().map(|r| r.record.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq grows across both: {seqs:?}"
    );
}

// ---------------------------------------------------------------- sign-in sources

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstreams_own_login_page_signs_in_and_out() {
    let (up, seen) = upstream().await;
    let g = gateway(Some(up), |c| {
        c.login = LoginSource::Upstream("/login".into())
    })
    .await;
    // Navigations without a session go to the upstream's page; it is reachable.
    let nav = get_with(g.addr, "/ward?bed=3", &[("sec-fetch-mode", "navigate")]).await;
    assert_eq!(nav.status, StatusCode::FOUND);
    assert_eq!(nav.headers["location"], "/login?rd=/ward%3Fbed%3D3");
    // Rotation: the new session replaces the one the browser had.
    let first = get_with(g.addr, "/login?user=nurse.kim", &[]).await;
    assert_eq!(first.body, "welcome");
    assert!(
        first.headers.get("autologoff-login").is_none(),
        "the header reached the browser"
    );
    let old = session_cookie(&first.headers).expect("signed in");
    let second = get_with(g.addr, "/login?user=nurse.kim", &[("cookie", &old)]).await;
    let cookie = session_cookie(&second.headers).unwrap();
    assert_ne!(cookie, old);
    assert_eq!(
        get_with(g.addr, "/x", &[("cookie", &old)]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let a = get_with(g.addr, "/x", &[("cookie", &cookie)]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(seen.last_headers()["x-autologoff-user"], "nurse.kim");
    // The demo login is not a source here.
    let demo = send(
        g.addr,
        Method::POST,
        "/.autologoff/demo-login",
        &[],
        "{\"user\":\"x\"}",
    )
    .await;
    assert_eq!(demo.status, StatusCode::NOT_FOUND);
    // Sign-out.
    let out = get_with(g.addr, "/logout", &[("cookie", &cookie)]).await;
    assert!(out.headers.get("autologoff-logout").is_none());
    let cleared = out
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("autologoff=;"));
    assert!(cleared, "the cookie is cleared");
    assert_eq!(
        get_with(g.addr, "/x", &[("cookie", &cookie)]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// `/.autologoff/done`: the page that ends a sign-in in a popup (tells the opener,
/// closes), whatever the login source, also forward-auth only.
fn assert_done_page(a: &Answer) {
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
    assert!(a.body.contains("autologoff: \"signed-in\"") && a.body.contains("window.close()"));
    let csp = a.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a script nonce");
    assert!(a.body.contains(&format!("<script nonce=\"{nonce}\">")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_popups_done_page_is_served_for_every_login_source() {
    let (up, _) = upstream().await;
    // --demo-login: the form's rd leads there.
    let g = gateway(Some(up), |_| {}).await;
    let form = send(
        g.addr,
        Method::POST,
        "/.autologoff/demo-login",
        &[("content-type", "application/x-www-form-urlencoded")],
        "user=nurse.kim&rd=%2F.autologoff%2Fdone",
    )
    .await;
    assert_eq!(form.status, StatusCode::SEE_OTHER);
    assert_eq!(form.headers["location"], "/.autologoff/done");
    assert_done_page(&get_with(g.addr, "/.autologoff/done", &[]).await);
    // --login-from-upstream, and forward-auth only.
    let g = gateway(Some(up), |c| {
        c.login = LoginSource::Upstream("/login".into())
    })
    .await;
    assert_done_page(&get_with(g.addr, "/.autologoff/done", &[]).await);
    let g = gateway(None, |_| {}).await;
    assert_done_page(&get_with(g.addr, "/.autologoff/done", &[]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_demo_login_an_upstream_login_header_signs_nobody_in() {
    let (up, _) = upstream().await;
    let g = gateway(Some(up), |c| c.public.push("/login".into())).await;
    let a = get_with(g.addr, "/login?user=mallory", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers.get("autologoff-login").is_none());
    assert!(session_cookie(&a.headers).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_https_the_cookies_are_host_prefixed_and_secure_and_audit_is_served() {
    use autologoff_server::audit::{AuditSink, ExportFilter, SqlSink};
    let (up, seen) = upstream().await;
    let db = std::env::temp_dir().join(format!("alo-gw-audit-{}.db", std::process::id()));
    let audit = format!("sqlite:{}", db.display());
    let a2 = audit.clone();
    let g = gateway(Some(up), |c| {
        c.public_url = Some("https://ward.example.org".parse().unwrap());
        c.audit = a2;
    })
    .await;
    let a = send(
        g.addr,
        Method::POST,
        "/.autologoff/demo-login",
        &[("content-type", "application/json")],
        "{\"user\": \"dr-tls\"}",
    )
    .await;
    let cookies: Vec<&str> = a
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-autologoff="))
        .expect("__Host- cookie");
    assert!(
        session.contains("; Secure")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/"),
        "{session}"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-autologoff_ended=")),
        "{cookies:?}"
    );
    let cookie = session.split(';').next().unwrap().to_owned();
    let r = get_with(g.addr, "/chart", &[("cookie", &format!("{cookie}; app=1"))]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(seen.last_headers()["cookie"], "app=1");
    assert_eq!(seen.last_headers()["x-forwarded-proto"], "https");
    let record =
        r#"[{"seq":1,"type":"lock","at":"2026-12-07T10:00:00.000Z","reason":"idle","tab":"t1"}]"#;
    let stored = send(
        g.addr,
        Method::POST,
        "/.autologoff/audit",
        &[("cookie", &cookie), ("content-type", "application/json")],
        record,
    )
    .await;
    assert!(
        stored.status.is_success(),
        "{} {}",
        stored.status,
        stored.body
    );
    let sink = SqlSink::open(&audit).await.unwrap();
    let rows = sink
        .export(&ExportFilter {
            source: Some(autologoff_server::audit::Source::Client),
            ..ExportFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user.as_deref(), Some("dr-tls"));
    // The gateway's sign-in is on the record too, written by the server itself.
    let mut server = Vec::new();
    for _ in 0..40 {
        server = sink
            .export(&ExportFilter {
                source: Some(autologoff_server::audit::Source::Server),
                ..ExportFilter::default()
            })
            .await
            .unwrap();
        if !server.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let kinds: Vec<_> = server
        .iter()
        .map(|r| {
            (
                r.record.kind.as_str(),
                r.record.reason.as_deref(),
                r.user.as_deref(),
            )
        })
        .collect();
    assert_eq!(kinds, [("login", Some("demo"), Some("dr-tls"))]);
    let _ = std::fs::remove_file(&db);
}

// ---------------------------------------------------------------- forward auth

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_auth_answers_for_a_proxy() {
    let g = gateway(None, |_| {}).await;
    let cookie = sign_in(g.addr, "alice").await;
    let ok = get_with(
        g.addr,
        "/.autologoff/auth",
        &[("cookie", &cookie), ("x-original-uri", "/chart")],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers["x-autologoff-user"], "alice");
    assert_eq!(
        ok.headers["x-autologoff-expires"],
        ok.headers["session-expires"]
    );
    let before = ok.headers["session-expires"].clone();
    g.clock.set_offset(30_000);
    let again = send(
        g.addr,
        Method::POST,
        "/.autologoff/auth",
        &[("cookie", &cookie)],
        "ignored",
    )
    .await;
    assert_eq!(
        again.headers["session-expires"], before,
        "forward auth extended"
    );
    let nav = [
        ("x-original-uri", "/chart?id=2"),
        ("x-original-method", "GET"),
        ("sec-fetch-mode", "navigate"),
    ];
    let no = get_with(g.addr, "/.autologoff/auth", &nav).await;
    assert_eq!(no.status, StatusCode::UNAUTHORIZED);
    let redirect = get_with(g.addr, "/.autologoff/auth?redirect=1", &nav).await;
    assert_eq!(redirect.status, StatusCode::FOUND);
    assert_eq!(
        redirect.headers["location"],
        "/.autologoff/login?rd=/chart%3Fid%3D2"
    );
    let caddy = [
        ("x-forwarded-uri", "//evil.example/"),
        ("x-forwarded-method", "GET"),
        ("accept", "text/html"),
    ];
    let r = get_with(g.addr, "/.autologoff/auth?redirect=1", &caddy).await;
    assert_eq!(r.headers["location"], "/.autologoff/login?rd=/");
    let api = [
        ("x-forwarded-uri", "/api"),
        ("x-forwarded-method", "POST"),
        ("sec-fetch-mode", "navigate"),
    ];
    assert_eq!(
        get_with(g.addr, "/.autologoff/auth?redirect=1", &api)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Forward-auth only: nothing else is served.
    assert_eq!(
        get_with(g.addr, "/chart", &[("cookie", &cookie)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

// ---------------------------------------------------------------- the binary

#[test]
fn the_binary_needs_exactly_one_login_source_and_prints_where_it_listens() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_autologoff-server");
    for (args, names) in [
        (vec![], "no login source"),
        (
            vec!["--demo-login", "--login-from-upstream", "/login"],
            "two login sources",
        ),
    ] {
        let out = Command::new(bin)
            .arg("gateway")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(names)
                && err.contains("--oidc-issuer")
                && err.contains("--login-from-upstream")
                && err.contains("--demo-login"),
            "{err}"
        );
    }
    let out = Command::new(bin)
        .args([
            "gateway",
            "--demo-login",
            "--store",
            "redis://127.0.0.1:1/0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--store redis://127.0.0.1:1/0"));
    let out = Command::new(bin)
        .args(["gateway", "--demo-login", "--public", "/.autologoff/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public /.autologoff/x"));

    let mut child = Command::new(bin)
        .args(["gateway", "--demo-login", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("listening on http://127.0.0.1:") && line.ends_with("/\n"),
        "{line:?}"
    );
}
