//! `GET /.autologoff/login`, `/.autologoff/callback` and `/.autologoff/done`.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::flow::{self, Fresh, Pending, PENDING_MS};
use super::pages;
use super::provider::Redeem;
use super::token::{self, Expected, TokenProblem};
use super::Oidc;
use crate::recorder::SignIn;
use crate::sessions::{SessionError, Sessions};
use crate::store::{SessionId, SessionStore, StoreError};

pub const LOGIN_PATH: &str = "/.autologoff/login";
pub const CALLBACK_PATH: &str = "/.autologoff/callback";
pub const DONE_PATH: &str = "/.autologoff/done";

/// The cookie that binds a sign-in to the browser that started it (its `state`).
const FLOW_COOKIE: &str = "autologoff_oidc";
/// The longest query string read by the login and the callback.
const MAX_QUERY: usize = 8192;

/// The OIDC sign-in of `oidc` into `sessions`: `GET /.autologoff/login?rd=PATH[&reauth=1]`,
/// `GET /.autologoff/callback` (the redirect URI) and `GET /.autologoff/done`.
pub fn oidc_routes<S: SessionStore>(sessions: &Sessions<S>, oidc: &Oidc) -> Router {
    sign_in_routes(sessions, oidc).merge(done_routes())
}

/// The login and the callback alone (the gateway mounts the `done` page on its own).
pub(crate) fn sign_in_routes<S: SessionStore>(sessions: &Sessions<S>, oidc: &Oidc) -> Router {
    Router::new()
        .route(LOGIN_PATH, get(login::<S>))
        .route(CALLBACK_PATH, get(callback::<S>))
        .with_state((sessions.clone(), oidc.clone()))
}

/// `GET /.autologoff/done`: the end of a sign-in in a popup.
pub(crate) fn done_routes() -> Router {
    Router::new().route(DONE_PATH, get(done))
}

/// Why a callback starts no session: the answer's status and the problem class its page
/// and the log line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    Malformed,
    ProviderError,
    UnknownState,
    OtherBrowser,
    CodeRefused,
    Token(TokenProblem),
    Unreachable,
    Store,
}

impl Problem {
    fn status(self) -> StatusCode {
        match self {
            Problem::Malformed => StatusCode::BAD_REQUEST,
            Problem::Unreachable => StatusCode::BAD_GATEWAY,
            Problem::Store => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Problem::Malformed => "malformed callback: it needs state, and code or error",
            Problem::ProviderError => "the identity provider answered with an error",
            Problem::UnknownState => "sign-in unknown, expired or already used",
            Problem::OtherBrowser => "sign-in started in another browser",
            Problem::CodeRefused => "the identity provider refused the code",
            Problem::Token(t) => t.as_str(),
            Problem::Unreachable => "the identity provider did not answer (or answered garbage)",
            Problem::Store => "session store unavailable",
        }
    }

    /// The refusal page; `forget` clears the browser's binding cookie (its sign-in was
    /// taken from the store). A callback that took nothing leaves it: a forged callback
    /// sent to a browser in the middle of a sign-in does not break that sign-in.
    fn answer(self, forget: Option<bool>) -> Response {
        tracing::info!(problem = self.text(), "oidc: sign-in refused");
        let mut res = pages::refused(self.status(), self.text());
        if let Some(c) = forget.and_then(|secure| flow_cookie("", 0, secure)) {
            res.headers_mut().append(header::SET_COOKIE, c);
        }
        res
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        tracing::error!("{e}");
        Problem::Store
    }
}

fn flow_cookie(value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let mut c = format!(
        "{FLOW_COOKIE}={value}; HttpOnly; SameSite=Lax; Path={CALLBACK_PATH}; Max-Age={max_age}"
    );
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).ok()
}

/// The query's pairs (form-decoded); `None` when it is over [`MAX_QUERY`].
fn pairs(query: Option<&str>) -> Option<Vec<(String, String)>> {
    let q = query.unwrap_or("");
    (q.len() <= MAX_QUERY).then(|| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
}

/// The one value of `name`; `Err` when it is given twice.
fn one<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ()> {
    let mut found = pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = found.next();
    match found.next() {
        Some(_) => Err(()),
        None => Ok(first),
    }
}

fn redirect(location: &str) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn login<S: SessionStore>(
    State((sessions, oidc)): State<(Sessions<S>, Oidc)>,
    RawQuery(query): RawQuery,
) -> Response {
    let p = &oidc.inner;
    let secure = p.redirect_uri.scheme() == "https";
    let pairs = pairs(query.as_deref()).unwrap_or_default();
    let rd = one(&pairs, "rd").ok().flatten().unwrap_or("/");
    let reauth = one(&pairs, "reauth").ok().flatten() == Some("1");
    let now = sessions.now();
    let fresh = match Fresh::new(rd, reauth, now) {
        Ok(f) => f,
        Err(e) => return Problem::from(e).answer(None),
    };
    let stashed = serde_json::to_string(&fresh.pending).unwrap_or_default();
    if let Err(e) = sessions
        .store()
        .stash(&fresh.state, &stashed, PENDING_MS, now)
        .await
    {
        return Problem::from(e).answer(None);
    }
    let mut url = p.authorization_endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &p.client_id)
            .append_pair("redirect_uri", p.redirect_uri.as_str())
            .append_pair("scope", &p.scope)
            .append_pair("state", fresh.state.as_str())
            .append_pair("nonce", &fresh.pending.nonce)
            .append_pair("code_challenge", &flow::challenge(&fresh.pending.verifier))
            .append_pair("code_challenge_method", "S256");
        if reauth {
            q.append_pair("prompt", "login").append_pair("max_age", "0");
        }
    }
    let mut res = redirect(url.as_str());
    let max_age = PENDING_MS / 1000;
    if let Some(c) = flow_cookie(fresh.state.as_str(), max_age, secure) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// The value of cookie `name` in the request (the first one).
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn callback<S: SessionStore>(
    State((sessions, oidc)): State<(Sessions<S>, Oidc)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let secure = oidc.inner.redirect_uri.scheme() == "https";
    let mut taken = false;
    match sign_in(&sessions, &oidc, &headers, query.as_deref(), &mut taken).await {
        Ok(res) => res,
        Err(problem) => problem.answer(taken.then_some(secure)),
    }
}

async fn sign_in<S: SessionStore>(
    sessions: &Sessions<S>,
    oidc: &Oidc,
    headers: &HeaderMap,
    query: Option<&str>,
    taken: &mut bool,
) -> Result<Response, Problem> {
    let p = &oidc.inner;
    let pairs = pairs(query).ok_or(Problem::Malformed)?;
    let state = one(&pairs, "state").map_err(|_| Problem::Malformed)?;
    let code = one(&pairs, "code").map_err(|_| Problem::Malformed)?;
    let error = one(&pairs, "error").map_err(|_| Problem::Malformed)?;
    let Some(state) = state else {
        return Err(Problem::Malformed);
    };
    if code.is_none() && error.is_none() {
        return Err(Problem::Malformed);
    }
    let state = SessionId::parse(state).ok_or(Problem::UnknownState)?;
    // The browser that started the sign-in holds its state; another browser's callback
    // (a login CSRF, a link sent to someone) does not even consume it.
    if cookie(headers, FLOW_COOKIE) != Some(state.as_str()) {
        return Err(Problem::OtherBrowser);
    }
    let now = sessions.now();
    let stashed = sessions
        .store()
        .take(&state, now)
        .await?
        .ok_or(Problem::UnknownState)?;
    *taken = true;
    let pending: Pending = serde_json::from_str(&stashed)
        .map_err(|_| Problem::from(StoreError::Corrupt("a stashed sign-in is not one".into())))?;
    // RFC 9207: an issuer that names itself in the callback must be ours (mix-up).
    if one(&pairs, "iss")
        .map_err(|_| Problem::Malformed)?
        .is_some_and(|iss| iss != p.issuer)
    {
        return Err(Problem::Token(TokenProblem::Issuer));
    }
    if error.is_some() {
        return Err(Problem::ProviderError);
    }
    let code = code.ok_or(Problem::Malformed)?;
    let id_token = p
        .redeem(code, &pending.verifier)
        .await
        .map_err(|r| match r {
            Redeem::Refused => Problem::CodeRefused,
            Redeem::Unreachable => Problem::Unreachable,
        })?;
    let (alg, kid) = token::header(&id_token).map_err(Problem::Token)?;
    let key = p
        .key(&kid, now)
        .await
        .ok_or(Problem::Token(TokenProblem::UnknownKey))?;
    let claims = token::verify(&id_token, alg, &key).map_err(Problem::Token)?;
    let expected = Expected {
        issuer: &p.issuer,
        client_id: &p.client_id,
        nonce: &pending.nonce,
        user_claim: &p.user_claim,
        reauth_since: pending.reauth.then_some(pending.started_at),
        now: sessions.now(),
    };
    let user = token::check(&claims, &expected).map_err(Problem::Token)?;
    let started = sessions
        .start_by(&user, headers, SignIn::Oidc)
        .await
        .map_err(|e| match e {
            SessionError::Store(e) => Problem::from(e),
            _ => Problem::Token(TokenProblem::User),
        })?;
    tracing::info!(reauth = pending.reauth, "oidc: signed in");
    let mut res = redirect(&flow::safe_rd(&pending.rd));
    let h = res.headers_mut();
    for (name, value) in started.cookies() {
        h.append(name, value);
    }
    if let Some(c) = flow_cookie("", 0, p.redirect_uri.scheme() == "https") {
        h.append(header::SET_COOKIE, c);
    }
    Ok(res)
}

async fn done() -> Response {
    match pages::done() {
        Ok(res) => res,
        Err(e) => Problem::from(e).answer(None),
    }
}
