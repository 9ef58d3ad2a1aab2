//! Starting the reference deployment: store, audit sink, routes, listener.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use autologoff_server::audit::{AuditSink, SqlSink};
use autologoff_server::store::{AnyStore, SessionStore};
use autologoff_server::{ApiError, SessionLayer, Sessions};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower::limit::ConcurrencyLimitLayer;
use tower_http::services::ServeDir;

use crate::cli::{redacted, Serve};
use crate::demo;
use crate::deployment::Deployment;
use crate::listener::Bounded;

/// Requests handled at once; more wait for a slot.
const MAX_IN_FLIGHT: usize = 1024;
/// Connections open at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 4096;

/// The demo page's policy: its own scripts and wasm, nothing inline, nothing framed.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

pub async fn run(args: Serve) -> ExitCode {
    if args.absolute_secs < args.idle_secs {
        eprintln!(
            "error: --absolute-secs ({}) must be at least --idle-secs ({})",
            args.absolute_secs, args.idle_secs
        );
        return ExitCode::from(2);
    }
    let store = match AnyStore::open(&args.store).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --store {}: {e}", redacted(&args.store));
            return ExitCode::from(2);
        }
    };
    let sink = match args.audit.as_str() {
        "none" => None,
        url => match SqlSink::open(url).await {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("error: --audit {}: {e}", redacted(url));
                return ExitCode::from(2);
            }
        },
    };
    let mut sessions = Sessions::builder(store)
        .idle(Duration::from_secs(args.idle_secs))
        .absolute(Duration::from_secs(args.absolute_secs))
        .secure(!args.listen.ip().is_loopback());
    if let Some(sink) = &sink {
        sessions = sessions.records(sink.clone());
    }
    let sessions = sessions.build();
    let sessions = match sessions {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --listen {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let Ok(addr) = listener.local_addr() else {
        eprintln!("error: --listen {}: no local address", args.listen);
        return ExitCode::FAILURE;
    };
    let app = app(&args, sessions, sink);
    println!("listening on http://{addr}/");
    #[cfg(feature = "test-hooks")]
    if args.test_hooks {
        tracing::warn!("test hooks enabled (/__test/*): not for production");
    }
    if args.demo_login {
        tracing::warn!("demo login enabled (POST /login without a password): not for production");
    }
    let listener = Bounded::new(listener, MAX_CONNECTIONS);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}

fn app(args: &Serve, sessions: Deployment, sink: Option<SqlSink>) -> Router {
    #[cfg(feature = "test-hooks")]
    let hooks = args.test_hooks.then(crate::hooks::Hooks::default);
    #[cfg_attr(not(feature = "test-hooks"), allow(unused_mut))]
    let mut session_routes = autologoff_server::session_routes(&sessions);
    #[cfg(feature = "test-hooks")]
    if let Some(h) = &hooks {
        session_routes = session_routes.layer(middleware::from_fn_with_state(
            h.clone(),
            crate::hooks::session_modes,
        ));
    }
    #[cfg(feature = "test-hooks")]
    let on_login = hooks.clone().map(|h| h.login_watcher());
    #[cfg(not(feature = "test-hooks"))]
    let on_login = None;
    let mut app = Router::new().merge(session_routes).route(
        "/healthz",
        get(health).with_state((sessions.clone(), sink.clone())),
    );
    if let Some(sink) = &sink {
        app = app.merge(autologoff_server::audit_routes(&sessions, sink.clone()));
    }
    if args.demo_login {
        // The demo's sign-in and its synthetic clinical API: only in a demo deployment.
        app = app
            .merge(demo::login(sessions.clone(), on_login))
            .merge(demo::api(sink.clone()).route_layer(SessionLayer::new(sessions.clone())));
    }
    #[cfg(feature = "test-hooks")]
    if let Some(h) = hooks {
        app = app.merge(crate::hooks::router(h, sessions.clone(), sink.clone()));
    }
    if let Some(pkg) = &args.pkg {
        app = app.nest_service("/pkg", static_files(ServeDir::new(pkg)));
    }
    if let Some(dir) = &args.static_dir {
        app = app.fallback_service(static_files(ServeDir::new(dir)));
    }
    app.layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(log))
        .layer(ConcurrencyLimitLayer::new(MAX_IN_FLIGHT))
}

/// Files with the headers a page holding PHI needs: HTML never cached, under the CSP.
fn static_files(dir: ServeDir) -> Router {
    let dir = dir.append_index_html_on_directories(true);
    Router::new()
        .fallback_service(dir)
        .layer(middleware::from_fn(static_headers))
}

async fn static_headers(request: Request, next: Next) -> Response {
    let hidden = request
        .uri()
        .path()
        .split('/')
        .any(|seg| seg.starts_with('.'));
    if hidden {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let mut res = next.run(request).await;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = res.headers_mut();
    if html {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    } else {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// `GET /healthz`: `200` when the store and the audit sink answer, `503` otherwise.
async fn health(State((sessions, sink)): State<(Deployment, Option<SqlSink>)>) -> Response {
    let store = sessions.store().ping().await;
    let audit = match &sink {
        Some(s) => s.ping().await.map_err(|e| e.to_string()),
        None => Ok(()),
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = serde_json::json!({ "store": word(store.is_ok()), "audit": word(audit.is_ok()) });
    let status = if store.is_ok() && audit.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A request line on stderr: method, path, status, duration. Never a query string, a
/// body, a cookie or an id.
async fn log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = autologoff_server::logged_path(request.uri());
    let started = Instant::now();
    let res = next.run(request).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!("{method} {path} {} {ms:.1}ms", res.status().as_u16());
    res
}

/// The framework's own empty 404/405 answers get a JSON error like every other.
async fn json_errors(request: Request, next: Next) -> Response {
    let res = next.run(request).await;
    let status = res.status();
    let empty = res.headers().get(header::CONTENT_TYPE).is_none();
    if !(empty && (status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED)) {
        return res;
    }
    let error = if status == StatusCode::NOT_FOUND {
        ApiError::NotFound("not found")
    } else {
        ApiError::MethodNotAllowed
    };
    // The framework's headers (`Allow` on a 405) stay; the body is ours.
    let mut json = error.into_response();
    for (name, value) in res.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}
