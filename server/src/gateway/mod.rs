//! The gateway (shared/GATEWAY.md): the crate's own [`Sessions`], store and audit sink
//! in front of any backend, as a reverse proxy (`--upstream`) or beside one as its
//! forward-auth service (`/.autologoff/auth`).
//!
//! - [`Config`] says what to run; [`Gateway::open`] opens the store and the sink (an
//!   error names the flag and its value); [`Gateway::serve`] accepts connections.
//! - `proxy`: the reverse proxy (bodies streamed); `link`: each client connection's own
//!   upstream connection, driven in the client connection's task.
//! - `streams`: answers and upgraded connections cut when their session ends.
//! - `forward_auth`: `/.autologoff/auth` for nginx, Caddy, Traefik.
//! - `sign_in`: the login sources (`--demo-login`, `--login-from-upstream`); OIDC is the
//!   crate's own router ([`crate::oidc`]), mounted here.
//! - `paths`: path normalisation and the sign-in redirects.
//! - `inject`: `--inject-sdk`, the SDK on every page (shared/GATEWAY.md "Zero code").
//!
//! Nothing else in the crate imports this module.

mod forward_auth;
mod framing;
mod inject;
mod link;
mod paths;
mod proxy;
mod sign_in;
mod streams;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::audit::{AuditSink, SqlSink};
use crate::error::ApiError;
use crate::oidc::{Oidc, OidcError, Secret, Setting};
use crate::store::{AnyStore, SessionStore};
use crate::{Clock, SameSite, Sessions};

pub use self::inject::Inject;
pub use self::streams::WATCH_EVERY;

/// The reserved prefix: never forwarded upstream.
pub const RESERVED: &str = "/.autologoff";

/// How the gateway signs clinicians in (exactly one).
#[derive(Clone, Debug)]
pub enum LoginSource {
    /// `POST /.autologoff/demo-login {"user": …}` with no password (tests and demos).
    Demo,
    /// The upstream's own login page at this path; its answers' `Autologoff-Login`
    /// header starts a session.
    Upstream(String),
    /// The hospital's identity provider (`--oidc-issuer …`): the crate's OIDC router at
    /// `/.autologoff/login` and `/.autologoff/callback`.
    Oidc(OidcLogin),
}

/// The OIDC flags: the issuer (discovered when the gateway opens), the client
/// registration and the claim that names the user. The redirect URI is
/// `<public url>/.autologoff/callback`.
#[derive(Clone, Debug)]
pub struct OidcLogin {
    /// `--oidc-issuer`.
    pub issuer: String,
    /// `--oidc-client-id`.
    pub client_id: String,
    /// From `--oidc-client-secret-file` or `AUTOLOGOFF_OIDC_CLIENT_SECRET`; `None`: a
    /// public client (PKCE only).
    pub secret: Option<Secret>,
    /// `--oidc-user-claim` (default `sub`).
    pub user_claim: String,
    /// `--oidc-scope`, each besides `openid`.
    pub scopes: Vec<String>,
}

impl OidcLogin {
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> OidcLogin {
        OidcLogin {
            issuer: issuer.into(),
            client_id: client_id.into(),
            secret: None,
            user_claim: "sub".into(),
            scopes: Vec::new(),
        }
    }

    /// Reads the issuer's discovery document and keys; an error names the flag at fault.
    async fn discover(&self, public_url: &Uri) -> Result<Oidc, StartError> {
        let public = public_url.to_string();
        let mut builder = Oidc::builder(&self.issuer, &self.client_id)
            .public_url(public.trim_end_matches('/'))
            .user_claim(&self.user_claim);
        if let Some(secret) = &self.secret {
            builder = builder.secret(secret.clone());
        }
        for scope in &self.scopes {
            builder = builder.scope(scope);
        }
        builder.discover().await.map_err(|e: OidcError| {
            let (flag, value) = match e.setting() {
                Setting::Issuer | Setting::Timeout => ("--oidc-issuer", self.issuer.clone()),
                Setting::ClientId => ("--oidc-client-id", self.client_id.clone()),
                Setting::PublicUrl => ("--public-url", public.clone()),
                Setting::UserClaim => ("--oidc-user-claim", self.user_claim.clone()),
                Setting::Scope => ("--oidc-scope", self.scopes.join(" ")),
            };
            StartError {
                flag,
                value: redacted(&value),
                why: e.to_string(),
            }
        })
    }
}

/// What a gateway runs with (the `gateway` subcommand's flags).
#[derive(Clone, Debug)]
pub struct Config {
    /// `--upstream`: the app (`http://host:port`); `None`: forward-auth only.
    pub upstream: Option<Uri>,
    /// `--public-url`: the origin browsers see (default `http://<bound address>`).
    pub public_url: Option<Uri>,
    pub idle: Duration,
    pub absolute: Duration,
    /// `--store`: `memory` or `redis://…`.
    pub store: String,
    /// `--audit`: `none`, `sqlite:PATH` or `postgres://…`.
    pub audit: String,
    /// `--public PREFIX`: forwarded with no session and no identity headers.
    pub public: Vec<String>,
    /// `--upstream-timeout-secs`: connect and answer head, else `504`.
    pub upstream_timeout: Duration,
    pub login: LoginSource,
    /// `--keep-cache-control`: the upstream's `Cache-Control` passes unchanged.
    pub keep_cache_control: bool,
    /// Connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// A connection that has not sent a whole request head in this long is closed.
    pub header_read_timeout: Duration,
    /// `--inject-sdk`: the SDK on every page.
    pub inject: Option<Inject>,
    /// The server's clock (tests move it).
    pub clock: Clock,
}

impl Config {
    pub fn new(login: LoginSource) -> Config {
        Config {
            upstream: None,
            public_url: None,
            idle: Duration::from_secs(900),
            absolute: Duration::from_secs(43_200),
            store: "memory".into(),
            audit: "none".into(),
            public: Vec::new(),
            upstream_timeout: Duration::from_secs(60),
            login,
            keep_cache_control: false,
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            inject: None,
            clock: Clock::default(),
        }
    }
}

/// A start-up error: the flag, its value (without a password) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    pub flag: &'static str,
    pub value: String,
    pub why: String,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.flag, self.value, self.why)
    }
}

impl std::error::Error for StartError {}

pub use crate::value::redacted;

/// A running deployment's state, shared by every request.
pub(crate) struct Shared {
    pub(crate) sessions: Sessions<AnyStore>,
    sink: Option<SqlSink>,
    /// With `--oidc-issuer`: the issuer (its keys are part of the health check).
    oidc: Option<Oidc>,
    upstream: Option<proxy::Upstream>,
    public: Vec<String>,
    login: LoginSource,
    keep_cache_control: bool,
    /// The session cookie's and the ended-session cookie's names (never forwarded).
    cookies: [String; 2],
    forwarded_proto: &'static str,
    streams: streams::Streams,
    /// Upgraded connections (WebSockets) open at once: they outlive the connection slot.
    upgrades: Arc<Semaphore>,
    reserved: Router,
    injector: Option<Arc<inject::Injector>>,
}

/// A gateway, ready to serve. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    max_connections: usize,
    header_read_timeout: Duration,
}

/// What each request of a client connection is handed of it: the peer's address (as
/// `X-Forwarded-For` sends it), what the wire said of this request's framing, and the
/// connection's upstream link.
#[derive(Clone)]
struct ConnInfo {
    peer_ip: HeaderValue,
    wire: Option<framing::Verdict>,
    link: Arc<link::Link>,
}

impl Gateway {
    /// Opens the store and the sink and builds the sessions; `bound` is the listening
    /// address (the default public URL).
    pub async fn open(config: Config, bound: SocketAddr) -> Result<Gateway, StartError> {
        let bad = |flag, value: &str, why: String| StartError {
            flag,
            value: redacted(value),
            why,
        };
        let public_url = match &config.public_url {
            Some(u) => u.clone(),
            None => format!("http://{bound}")
                .parse()
                .map_err(|e| bad("--listen", &bound.to_string(), format!("{e}")))?,
        };
        let https = match public_url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(bad(
                    "--public-url",
                    &public_url.to_string(),
                    "expected http://… or https://…".into(),
                ))
            }
        };
        for prefix in &config.public {
            if !prefix.starts_with('/') || paths::decoded(prefix).as_deref() != Ok(prefix) {
                return Err(bad(
                    "--public",
                    prefix,
                    "expected a plain path prefix like /public".into(),
                ));
            }
            if paths::under(RESERVED, prefix) || paths::under(prefix, RESERVED) {
                return Err(bad(
                    "--public",
                    prefix,
                    format!("{RESERVED}/ is the gateway's own"),
                ));
            }
        }
        if let LoginSource::Upstream(path) = &config.login {
            let plain = path.starts_with('/') && paths::decoded(path).as_deref() == Ok(path);
            if !plain || paths::under(path, RESERVED) {
                return Err(bad(
                    "--login-from-upstream",
                    path,
                    "expected a plain path of the upstream like /login".into(),
                ));
            }
        }
        // Discovery at start: an issuer that cannot be read stops the gateway (exit 2).
        let oidc = match &config.login {
            LoginSource::Oidc(login) => Some(login.discover(&public_url).await?),
            _ => None,
        };
        let upstream = match &config.upstream {
            Some(u) => Some(
                proxy::Upstream::new(u, config.upstream_timeout)
                    .map_err(|why| bad("--upstream", &u.to_string(), why))?,
            ),
            None => None,
        };
        let store = AnyStore::open(&config.store)
            .await
            .map_err(|e| bad("--store", &config.store, e.to_string()))?;
        let sink = match config.audit.as_str() {
            "none" => None,
            url => Some(
                SqlSink::open(url)
                    .await
                    .map_err(|e| bad("--audit", url, e.to_string()))?,
            ),
        };
        let cookie = if https {
            "__Host-autologoff"
        } else {
            "autologoff"
        };
        let mut builder = Sessions::builder(store)
            .idle(config.idle)
            .absolute(config.absolute)
            .id_source(crate::IdSource::Cookie(cookie.into()))
            .secure(https)
            .same_site(SameSite::Lax)
            .clear_site_data(Some(HeaderValue::from_static("\"cache\"")))
            .clock(config.clock.clone());
        if let Some(sink) = &sink {
            // The server's own login / logout / timeout records, as the binary's `serve`.
            builder = builder.records(sink.clone());
        }
        let sessions = builder.build().map_err(|e| {
            bad(
                "--idle-secs/--absolute-secs",
                &format!("{}/{}", config.idle.as_secs(), config.absolute.as_secs()),
                e.to_string(),
            )
        })?;
        let streams = streams::Streams::default();
        streams::spawn_watcher(&streams, sessions.clone());
        let injector = match &config.inject {
            None => None,
            Some(flags) => {
                let setup = inject::Setup {
                    flags: flags.clone(),
                    idle_ms: duration_ms(config.idle),
                    absolute_ms: duration_ms(config.absolute),
                    login_page: match &config.login {
                        LoginSource::Demo | LoginSource::Oidc(_) => format!("{RESERVED}/login"),
                        LoginSource::Upstream(path) => path.clone(),
                    },
                    audit: sink.is_some(),
                };
                let injector = inject::Injector::open(&setup).map_err(|e| StartError {
                    flag: e.flag,
                    value: e.value,
                    why: e.why,
                })?;
                Some(Arc::new(injector))
            }
        };
        let mut reserved = reserved_routes(&sessions, sink.as_ref(), &config.login, oidc.as_ref());
        if let Some(injector) = &injector {
            reserved = reserved.nest(inject::SDK_PATH, injector.routes());
        }
        let shared = Shared {
            sessions,
            sink,
            oidc,
            upstream,
            public: config.public,
            login: config.login,
            keep_cache_control: config.keep_cache_control,
            cookies: [cookie.to_owned(), format!("{cookie}_ended")],
            forwarded_proto: if https { "https" } else { "http" },
            streams,
            upgrades: Arc::new(Semaphore::new(config.max_connections.max(1))),
            reserved,
            injector,
        };
        Ok(Gateway {
            shared: Arc::new(shared),
            max_connections: config.max_connections.max(1),
            header_read_timeout: config.header_read_timeout,
        })
    }

    /// Streams (answers and upgraded connections) open now, for tests and metrics.
    pub fn open_streams(&self) -> usize {
        self.shared.streams.count()
    }

    /// Accepts connections until `shutdown` resolves. At most `max_connections` are
    /// open at once; a connection slow to send its request head is closed.
    ///
    /// Connections are served on lanes: one thread per runtime worker, each with its own
    /// single-threaded runtime, handed connections in turn. A connection, its upstream
    /// link and its requests stay on one thread; the work-stealing runtime woke a second
    /// worker for about every other request, which cost more than the proxying
    /// (docs/perf-log.md). The store, the sink and the watchers stay on the runtime
    /// `serve` runs on. When `serve` returns or is dropped, the lanes stop and close
    /// their connections.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        let mut lanes = Vec::with_capacity(workers);
        for _ in 0..workers.max(1) {
            lanes.push(self.clone().lane()?);
        }
        let mut lanes = lanes.iter().cycle();
        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => slot,
                () = &mut shutdown => return Ok(()),
            };
            let Ok(slot) = slot else { return Ok(()) };
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = &mut shutdown => return Ok(()),
            };
            let accepted = accepted.and_then(|(tcp, peer)| {
                tcp.set_nodelay(true)?;
                Ok((tcp.into_std()?, peer))
            });
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::error!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let sent = lanes.next().map(|lane| lane.send((tcp, peer, slot)));
            if !matches!(sent, Some(Ok(()))) {
                return Err(std::io::Error::other("a connection thread stopped"));
            }
        }
    }

    /// Starts one lane: a thread whose own runtime serves the connections sent to it,
    /// until the sender is dropped.
    fn lane(self) -> std::io::Result<tokio::sync::mpsc::UnboundedSender<Handed>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (send, mut handed) = tokio::sync::mpsc::unbounded_channel::<Handed>();
        std::thread::Builder::new()
            .name("gateway-lane".into())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some((tcp, peer, slot)) = handed.recv().await {
                        match tokio::net::TcpStream::from_std(tcp) {
                            Ok(tcp) => {
                                tokio::spawn(self.clone().connection(tcp, peer, slot));
                            }
                            Err(e) => tracing::error!("accept: {e}"),
                        }
                    }
                });
            })?;
        Ok(send)
    }

    /// Serves one client connection and drives its upstream link, in one task.
    async fn connection(
        self,
        tcp: tokio::net::TcpStream,
        peer: SocketAddr,
        slot: OwnedSemaphorePermit,
    ) {
        let shared = Arc::clone(&self.shared);
        let verdicts = framing::Verdicts::default();
        let io = framing::Watched::new(tcp, verdicts.clone());
        let link = Arc::new(link::Link::default());
        let driven = Arc::clone(&link);
        let peer_ip = HeaderValue::from_maybe_shared(peer.ip().to_string())
            .unwrap_or(HeaderValue::from_static("unknown"));
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnInfo {
                peer_ip: peer_ip.clone(),
                wire: verdicts.next(),
                link: Arc::clone(&link),
            });
            let shared = Arc::clone(&shared);
            async move { Ok::<_, std::convert::Infallible>(entry(shared, req.map(Body::new)).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_buf_size(MAX_HEAD)
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let mut conn = std::pin::pin!(conn);
        let _ = std::future::poll_fn(|cx| {
            let done = conn.as_mut().poll(cx);
            driven.drive(cx);
            done
        })
        .await;
        drop(slot);
    }
}

/// An accepted connection on its way to a lane, with its connection slot.
type Handed = (std::net::TcpStream, SocketAddr, OwnedSemaphorePermit);

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The most header bytes a request may carry (`431` past it).
const MAX_HEADERS: usize = 32 * 1024;

/// The read buffer of a connection, and so the largest request head (`431` past it).
const MAX_HEAD: usize = 64 * 1024;

/// Every request: refused, served by the gateway itself, or forwarded.
async fn entry(shared: Arc<Shared>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let logged = crate::value::logged_path(request.uri());
    let response = route(&shared, request).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!("{method} {logged} {} {ms:.1}ms", response.status().as_u16());
    response
}

async fn route(shared: &Arc<Shared>, mut request: Request) -> Response {
    let path = match paths::decoded(request.uri().path()) {
        Ok(p) => p,
        Err(why) => return ApiError::BadRequest(why).into_response(),
    };
    let head: usize = request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if head > MAX_HEADERS {
        return json_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("request headers over {MAX_HEADERS} bytes"),
        );
    }
    let wire = request.extensions().get::<ConnInfo>().and_then(|c| c.wire);
    if let Err(why) = proxy::check_framing(request.headers(), wire) {
        return ApiError::BadRequest(why).into_response();
    }
    if paths::under(&path, RESERVED) {
        // Served here, matched on the decoded path.
        let query = request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        match format!("{path}{query}").parse::<Uri>() {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => {
                return ApiError::BadRequest("path is not a valid URI".into()).into_response()
            }
        }
        request.extensions_mut().insert(Arc::clone(shared));
        return shared
            .reserved
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
    }
    proxy::handle(shared, request, &path).await
}

fn reserved_routes(
    sessions: &Sessions<AnyStore>,
    sink: Option<&SqlSink>,
    login: &LoginSource,
    oidc: Option<&Oidc>,
) -> Router {
    let mut own = crate::routes::session_routes(sessions)
        .route("/auth", any(forward_auth::auth))
        .route("/healthz", get(health));
    if let Some(sink) = sink {
        own = own.merge(crate::routes::audit_routes(sessions, sink.clone()));
    }
    if matches!(login, LoginSource::Demo) {
        own = own.merge(sign_in::demo_routes());
    }
    // The end of a sign-in in a popup ("Sign in again" opens `server.signin`, whose `rd`
    // is this page), whatever the login source.
    let mut reserved = Router::new()
        .nest(RESERVED, own)
        .merge(crate::oidc::done_routes());
    if let Some(oidc) = oidc {
        // The crate's OIDC router (full paths: /.autologoff/login, /.autologoff/callback).
        reserved = reserved.merge(crate::oidc::sign_in_routes(sessions, oidc));
    }
    reserved
        .fallback(|| async { json_error(StatusCode::NOT_FOUND, "not found") })
        .layer(axum::middleware::from_fn(not_found_json))
}

/// The framework's own empty 404/405 answers become JSON errors like every other.
async fn not_found_json(request: Request, next: axum::middleware::Next) -> Response {
    let res = next.run(request).await;
    let status = res.status();
    let empty = res.headers().get(header::CONTENT_TYPE).is_none();
    if empty && (status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED) {
        let what = if status == StatusCode::NOT_FOUND {
            "not found"
        } else {
            "method not allowed"
        };
        return json_error(status, what);
    }
    res
}

/// `{"error": …}` with `Cache-Control: no-store`.
pub(crate) fn json_error(status: StatusCode, what: &str) -> Response {
    let mut res = (status, axum::Json(serde_json::json!({ "error": what }))).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /.autologoff/healthz`: `200` when the store, the sink and (OIDC) the issuer's
/// keys answer.
async fn health(Extension(shared): Extension<Arc<Shared>>) -> Response {
    let store = shared.sessions.store().ping().await.is_ok();
    let sink = match &shared.sink {
        Some(s) => s.ping().await.is_ok(),
        None => true,
    };
    let issuer = match &shared.oidc {
        Some(o) => o.keys_answer().await.is_ok(),
        None => true,
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let status = if store && sink && issuer {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::json!({ "store": word(store), "audit": word(sink) });
    if shared.oidc.is_some() {
        body["issuer"] = serde_json::Value::from(word(issuer));
    }
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
