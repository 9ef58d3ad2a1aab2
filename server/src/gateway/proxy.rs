//! The reverse proxy: requests checked (never extended) and forwarded on the client
//! connection's own upstream connection (`link`; upgrades through hyper-util's pooled
//! client), bodies streamed both ways, answers cut when their session ends.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::framing::Verdict;
use super::inject::Injector;
use super::link::LinkError;
use super::streams::CutBody;
use super::{json_error, paths, sign_in, ConnInfo, LoginSource, Shared};
use crate::error::ApiError;
use crate::sessions::SessionError;
use crate::LiveSession;

/// Idle pooled connections kept per upstream (upgrades only).
const POOL_IDLE_PER_HOST: usize = 256;

/// Headers that describe one hop, never forwarded either way (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_AUTOLOGOFF_USER: HeaderName = HeaderName::from_static("x-autologoff-user");
const X_AUTOLOGOFF_EXPIRES: HeaderName = HeaderName::from_static("x-autologoff-expires");

/// Request headers the gateway sets itself; a client's copies never pass.
const SET_HERE: [HeaderName; 6] = [
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    header::FORWARDED,
    sign_in::AUTOLOGOFF_LOGIN,
    sign_in::AUTOLOGOFF_LOGOUT,
];

/// The app behind the gateway, and the pooled client that reaches it for upgrades.
pub(super) struct Upstream {
    origin: String,
    /// `host:port`, what a client connection's link connects to.
    authority: String,
    /// The `Host` the app is sent.
    host: HeaderValue,
    base: String,
    client: Client<HttpConnector, Body>,
    timeout: Duration,
}

impl Upstream {
    pub(super) fn new(uri: &Uri, timeout: Duration) -> Result<Upstream, String> {
        if uri.scheme_str() != Some("http") {
            return Err(
                "expected http://host:port (the gateway speaks plain HTTP to the app)".into(),
            );
        }
        let Some(authority) = uri.authority() else {
            return Err("expected http://host:port".into());
        };
        if uri.query().is_some() {
            return Err("the upstream URL cannot have a query".into());
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST)
            .build(connector);
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| "expected http://host:port".to_owned())?;
        Ok(Upstream {
            origin: format!("http://{authority}"),
            authority: authority.to_string(),
            host,
            base: uri.path().trim_end_matches('/').to_owned(),
            client,
            timeout,
        })
    }

    /// The target as sent to the app: absolute for the pooled client (`upgrade`),
    /// origin-form on a link.
    fn uri_for(&self, original: &Uri, upgrade: bool) -> Result<Uri, ApiError> {
        let pq = original.path_and_query();
        if !upgrade && self.base.is_empty() {
            if let Some(pq) = pq {
                return Ok(Uri::from(pq.clone()));
            }
        }
        let pq = pq.map_or("/", |pq| pq.as_str());
        let origin = if upgrade { self.origin.as_str() } else { "" };
        format!("{origin}{}{pq}", self.base)
            .parse()
            .map_err(|_| ApiError::BadRequest("the request target cannot be forwarded".into()))
    }

    /// Sends a request: on the client connection's link, or through the pool when it
    /// upgrades. A `504` past the timeout, a `502` when the app cannot be reached or
    /// breaks off, a `400` when the client's own body fails.
    async fn send(
        &self,
        link: Option<&super::link::Link>,
        mut request: hyper::Request<Body>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, Response> {
        let sent = async {
            match link {
                Some(link) => {
                    request
                        .headers_mut()
                        .insert(header::HOST, self.host.clone());
                    link.send(&self.authority, request).await
                }
                None => self.client.request(request).await.map_err(|e| {
                    if e.is_connect() {
                        LinkError::Connect
                    } else if request_body_failed(&e) {
                        LinkError::RequestBody
                    } else {
                        LinkError::Upstream
                    }
                }),
            }
        };
        match tokio::time::timeout(self.timeout, sent).await {
            Ok(Ok(answer)) => Ok(answer),
            Err(_) => Err(json_error(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream did not answer in time",
            )),
            Ok(Err(LinkError::Connect)) => {
                Err(json_error(StatusCode::BAD_GATEWAY, "upstream unreachable"))
            }
            Ok(Err(LinkError::RequestBody)) => Err(ApiError::BadRequest(
                "the request body could not be read".into(),
            )
            .into_response()),
            Ok(Err(LinkError::Upstream)) => Err(json_error(
                StatusCode::BAD_GATEWAY,
                "upstream failed to answer",
            )),
        }
    }
}

/// `Content-Length` with `Transfer-Encoding` (a smuggling attempt) is refused, as the
/// headers show it or as the wire did (`wire`: the connection's watcher, which sees
/// what hyper drops; `None` when it could not follow the connection). hyper itself
/// refuses a `Transfer-Encoding` other than a final `chunked`, and a bad
/// `Content-Length`, with `400`.
pub(super) fn check_framing(headers: &HeaderMap, wire: Option<Verdict>) -> Result<(), String> {
    let both = headers.contains_key(header::CONTENT_LENGTH)
        && headers.contains_key(header::TRANSFER_ENCODING);
    match wire {
        _ if both => Err("Content-Length and Transfer-Encoding together".into()),
        Some(Verdict::Ambiguous) => Err("Content-Length and Transfer-Encoding together".into()),
        Some(Verdict::Plain) => Ok(()),
        None => Err("the request's framing could not be checked".into()),
    }
}

/// A request outside `/.autologoff/`: forwarded when public or when its session is live.
pub(super) async fn handle(shared: &Arc<Shared>, request: Request, path: &str) -> Response {
    let Some(upstream) = &shared.upstream else {
        return json_error(
            StatusCode::NOT_FOUND,
            "not found (forward-auth only: no --upstream)",
        );
    };
    let login_page = match &shared.login {
        LoginSource::Upstream(p) => paths::under(path, p),
        LoginSource::Demo | LoginSource::Oidc(_) => false,
    };
    let public = login_page || shared.public.iter().any(|p| paths::under(path, p));
    let live = if public {
        None
    } else {
        match shared.sessions.current(request.headers()).await {
            Ok(live) => Some(live),
            Err(SessionError::NotLive(why)) => return refuse(shared, &request, why),
            Err(e) => return ApiError::from(e).into_response(),
        }
    };
    forward(shared, upstream, request, live, public && !login_page).await
}

/// No live session: a navigation goes to the sign-in, anything else gets `401`.
fn refuse(shared: &Shared, request: &Request, why: &'static str) -> Response {
    if !paths::is_navigation(request.method(), request.headers()) {
        return ApiError::Unauthorized(why).into_response();
    }
    let asked = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    sign_in::redirect_to_sign_in(shared, asked)
}

async fn forward(
    shared: &Arc<Shared>,
    upstream: &Upstream,
    mut request: Request,
    live: Option<LiveSession>,
    public: bool,
) -> Response {
    let upgrade = wants_upgrade(request.headers());
    let upgrade_slot = match &upgrade {
        None => None,
        Some(_) => match Arc::clone(&shared.upgrades).try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                return json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many open upgraded connections",
                )
            }
        },
    };
    let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
    // --inject-sdk: a navigation with a live session may get the SDK on its page.
    let method = request.method().clone();
    let page = live.is_some() && paths::is_navigation(&method, request.headers());
    let conn = request.extensions().get::<ConnInfo>().cloned();
    let (mut parts, body) = request.into_parts();
    let uri = match upstream.uri_for(&parts.uri, upgrade.is_some()) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let mut headers = forwarded_headers(shared, &parts.headers);
    if let Some(conn) = &conn {
        headers.insert(X_FORWARDED_FOR, conn.peer_ip.clone());
    }
    headers.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(shared.forwarded_proto),
    );
    if let Some(host) = parts.headers.get(header::HOST) {
        headers.insert(X_FORWARDED_HOST, host.clone());
    }
    if let Some(protocol) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
    if let Some(live) = &live {
        let Ok(user) = HeaderValue::from_bytes(live.user.as_bytes()) else {
            return ApiError::BadRequest("the user name cannot be sent as a header".into())
                .into_response();
        };
        headers.insert(X_AUTOLOGOFF_USER, user);
        headers.insert(X_AUTOLOGOFF_EXPIRES, HeaderValue::from(live.expires_at));
    }
    if page && shared.injector.is_some() {
        Injector::narrow_accept_encoding(&mut headers);
    }
    // The client's own headers stay for a sign-in or sign-out the answer may carry.
    let presented = std::mem::replace(&mut parts.headers, headers);
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    let outgoing = hyper::Request::from_parts(parts, body);
    let link = match (&conn, &upgrade) {
        (Some(conn), None) => Some(&*conn.link),
        _ => None,
    };
    let mut answer = match upstream.send(link, outgoing).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    if answer.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return json_error(
                StatusCode::BAD_GATEWAY,
                "upstream switched protocols unasked",
            );
        };
        let upstream_upgrade = hyper::upgrade::on(&mut answer);
        let ticket = live.as_ref().map(|l| shared.streams.register(&l.id));
        tokio::spawn(async move {
            let (Ok(client), Ok(app)) = tokio::join!(client_upgrade, upstream_upgrade) else {
                return;
            };
            let ended = ticket.as_ref().map(|t| t.ended());
            let ended = async move {
                match ended {
                    Some(e) => e.await,
                    None => std::future::pending().await,
                }
            };
            let mut client = TokioIo::new(client);
            let mut app = TokioIo::new(app);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut app) => {}
                () = ended => {}
            }
            drop(ticket);
            drop(upgrade_slot);
        });
        let (mut parts, _) = answer.into_parts();
        let protocol = parts.headers.get(header::UPGRADE).cloned().or(upgrade);
        strip_hop_by_hop(&mut parts.headers);
        drop_own_cookies(&mut parts.headers, &shared.cookies);
        // A sign-in is read from ordinary answers only; never passed to the browser.
        parts.headers.remove(sign_in::AUTOLOGOFF_LOGIN);
        parts.headers.remove(sign_in::AUTOLOGOFF_LOGOUT);
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(protocol) = protocol {
            parts.headers.insert(header::UPGRADE, protocol);
        }
        return Response::from_parts(parts, Body::empty());
    }
    let (mut parts, body) = answer.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    drop_own_cookies(&mut parts.headers, &shared.cookies);
    let signed_in = match sign_in::from_upstream(shared, &presented, &mut parts.headers).await {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let expires = signed_in.as_ref().or(live.as_ref()).map(|l| l.expires_at);
    if let Some(at) = expires {
        parts.headers.insert(
            shared.sessions.expires_header().clone(),
            HeaderValue::from(at),
        );
    }
    if !public && !shared.keep_cache_control {
        parts
            .headers
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let body = match live {
        Some(live) => Body::new(CutBody::new(body, &shared.streams, live.id)),
        None => Body::new(body),
    };
    let body = match &shared.injector {
        Some(injector) => match injector.answer(page, &method, &mut parts, body) {
            Ok(body) => body,
            Err(refused) => return *refused,
        },
        None => body,
    };
    Response::from_parts(parts, body)
}

/// Whether sending failed on the client's own body (malformed chunks, a broken upload):
/// the client's fault (`400`), not the upstream's.
fn request_body_failed(e: &hyper_util::client::legacy::Error) -> bool {
    std::error::Error::source(e).is_some_and(super::link::body_failed)
}

/// The protocol a request asks to upgrade to (`Connection: upgrade` + `Upgrade`).
fn wants_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    let asked = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    asked
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// The names a `Connection` header lists (also hop-by-hop).
fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect()
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        for name in connection_listed(headers) {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The request headers as the upstream gets them, before the gateway adds its own:
/// no hop-by-hop header, no `Host` (the client sets the upstream's), no client copy
/// of a header the gateway sets, no `X-Autologoff-*`, and none of the gateway's cookies.
fn forwarded_headers(shared: &Shared, original: &HeaderMap) -> HeaderMap {
    let listed = if original.contains_key(header::CONNECTION) {
        connection_listed(original)
    } else {
        Vec::new()
    };
    let mut out = HeaderMap::with_capacity(original.len() + 6);
    for (name, value) in original {
        let dropped = HOP_BY_HOP.contains(name)
            || SET_HERE.contains(name)
            || name.as_str().starts_with("x-autologoff-")
            || name == header::HOST
            || listed.contains(name);
        if dropped {
            continue;
        }
        if name == header::COOKIE {
            if let Some(kept) = without_cookies(value, &shared.cookies) {
                out.append(header::COOKIE, kept);
            }
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Removes the upstream's `Set-Cookie` for the gateway's own cookie names: the app
/// cannot plant a session id (fixation) or clear the gateway's cookie.
fn drop_own_cookies(headers: &mut HeaderMap, names: &[String]) {
    if !headers.contains_key(header::SET_COOKIE) {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter(|v| {
            let name = v
                .to_str()
                .ok()
                .and_then(|t| t.split_once('='))
                .map(|(k, _)| k.trim());
            !name.is_some_and(|n| names.iter().any(|own| own == n))
        })
        .cloned()
        .collect();
    headers.remove(header::SET_COOKIE);
    for v in kept {
        headers.append(header::SET_COOKIE, v);
    }
}

/// A `Cookie` value without the named cookies; `None` when nothing is left, or when
/// it is not text (it cannot be told whether the session id is in it: not forwarded).
fn without_cookies(value: &HeaderValue, names: &[String]) -> Option<HeaderValue> {
    let text = value.to_str().ok()?;
    let kept: Vec<&str> = text
        .split(';')
        .map(str::trim)
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(k, _)| k).trim();
            !pair.is_empty() && !names.iter().any(|n| n == name)
        })
        .collect();
    if kept.is_empty() {
        return None;
    }
    HeaderValue::from_str(&kept.join("; ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateways_cookies_are_removed() {
        let names = ["autologoff".to_owned(), "autologoff_ended".to_owned()];
        let v = HeaderValue::from_static("a=1; autologoff=abc; b=2;autologoff_ended=x");
        assert_eq!(without_cookies(&v, &names).unwrap(), "a=1; b=2");
        let only = HeaderValue::from_static("autologoff=abc");
        assert_eq!(without_cookies(&only, &names), None);
        let lookalike = HeaderValue::from_static("xautologoff=1; autologoffx=2");
        assert_eq!(
            without_cookies(&lookalike, &names).unwrap(),
            "xautologoff=1; autologoffx=2"
        );
    }
}
