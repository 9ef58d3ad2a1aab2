//! The login sources besides OIDC: `--demo-login` (a passwordless form and
//! `POST /.autologoff/demo-login`) and `--login-from-upstream` (the app's own login page
//! says who signed in with an `Autologoff-Login` answer header), both started in
//! [`start`]; and where a navigation without a session is sent to sign in. OIDC sign-ins
//! are the crate's router's (`crate::oidc`), recorded with reason `oidc` there.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value;

use super::{paths, LoginSource, Shared, RESERVED};
use crate::error::ApiError;
use crate::page::{escape, html};
use crate::routes::read_body;
use crate::{LiveSession, SignIn, Started};

const MAX_LOGIN_BODY: usize = 1024;

/// The one place a gateway session starts (a new id; the browser's previous one ends),
/// recorded as a `login`, `reauth` or `switch` with reason `how`.
async fn start(
    shared: &Shared,
    user: &str,
    request: &HeaderMap,
    how: SignIn,
) -> Result<Started, ApiError> {
    Ok(shared.sessions.start_by(user, request, how).await?)
}

/// `302` to the sign-in, coming back to `asked` (a path and query).
pub(super) fn redirect_to_sign_in(shared: &Shared, asked: &str) -> Response {
    let location = match &shared.login {
        LoginSource::Demo => format!("{RESERVED}/login?rd={}", paths::query_value(asked)),
        LoginSource::Upstream(path) => format!("{path}?rd={}", paths::query_value(asked)),
        LoginSource::Oidc(_) => crate::oidc::login_location(asked, false),
    };
    let mut res = StatusCode::FOUND.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /login` (a form) and `POST /demo-login` under the reserved prefix.
pub(super) fn demo_routes() -> Router {
    Router::new()
        .route("/login", get(demo_form))
        .route("/demo-login", post(demo_login))
}

/// A sign-in form with no password: for demos and tests only.
async fn demo_form(request: Request) -> Response {
    let rd = paths::query_param(request.uri().query(), "rd").unwrap_or_else(|| "/".into());
    let rd = escape(paths::safe_rd(&rd));
    let page = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Sign in (demo)</title>\
         <h1>Sign in</h1><p>Demo sign-in: no password. Not for production.</p>\
         <form method=post action=\"{RESERVED}/demo-login\">\
         <input type=hidden name=rd value=\"{rd}\">\
         <label>User <input name=user required maxlength=256 autofocus></label> \
         <button>Sign in</button></form></html>"
    );
    html(
        StatusCode::OK,
        "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
        page,
    )
}

/// `POST /.autologoff/demo-login`: `{"user": NAME}` (JSON, `204`) or the form's
/// `user=NAME&rd=PATH` (`303` to `rd`). No password.
async fn demo_login(Extension(shared): Extension<Arc<Shared>>, request: Request) -> Response {
    match demo_login_inner(&shared, request).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

async fn demo_login_inner(shared: &Shared, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let form = parts.headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    });
    let body = read_body(body, MAX_LOGIN_BODY, "login body").await?;
    let (user, rd) = if form {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::BadRequest("login form is not UTF-8".into()))?;
        let user = paths::query_param(Some(text), "user")
            .ok_or_else(|| ApiError::BadRequest("user is missing".into()))?;
        (
            user,
            Some(paths::query_param(Some(text), "rd").unwrap_or_default()),
        )
    } else {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("login body is not JSON: {e}")))?;
        let user = match value.get("user") {
            Some(Value::String(u)) => u.clone(),
            Some(_) => return Err(ApiError::BadRequest("user must be a string".into())),
            None => {
                return Err(ApiError::BadRequest(
                    "user is missing: {\"user\": NAME}".into(),
                ))
            }
        };
        (user, None)
    };
    let started = start(shared, user.trim(), &parts.headers, SignIn::Demo).await?;
    let mut res = match rd {
        Some(rd) => {
            let mut res = StatusCode::SEE_OTHER.into_response();
            let to =
                HeaderValue::from_str(paths::safe_rd(&rd)).unwrap_or(HeaderValue::from_static("/"));
            res.headers_mut().insert(header::LOCATION, to);
            res
        }
        None => StatusCode::NO_CONTENT.into_response(),
    };
    let h = res.headers_mut();
    for (name, value) in started.cookies() {
        h.append(name, value);
    }
    h.insert(
        shared.sessions.expires_header().clone(),
        HeaderValue::from(started.session.expires_at),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The upstream's answer header that signs a user in (`--login-from-upstream`).
pub(super) const AUTOLOGOFF_LOGIN: HeaderName = HeaderName::from_static("autologoff-login");
/// The upstream's answer header that signs the browser out (`1`).
pub(super) const AUTOLOGOFF_LOGOUT: HeaderName = HeaderName::from_static("autologoff-logout");

/// Reads (and always removes) the upstream's `Autologoff-Login`/`Autologoff-Logout`
/// answer headers; with `--login-from-upstream` they start or end the session of the
/// browser that made `request`. `Ok(Some)`: the session now live. `Err`: the answer to
/// send instead (a malformed login header, a store that cannot answer).
pub(super) async fn from_upstream(
    shared: &Shared,
    request: &HeaderMap,
    answer: &mut HeaderMap,
) -> Result<Option<LiveSession>, Response> {
    if !answer.contains_key(AUTOLOGOFF_LOGIN) && !answer.contains_key(AUTOLOGOFF_LOGOUT) {
        return Ok(None);
    }
    let logins: Vec<HeaderValue> = answer.get_all(AUTOLOGOFF_LOGIN).iter().cloned().collect();
    let logout = answer
        .get_all(AUTOLOGOFF_LOGOUT)
        .iter()
        .any(|v| v.as_bytes() == b"1");
    answer.remove(AUTOLOGOFF_LOGIN);
    answer.remove(AUTOLOGOFF_LOGOUT);
    if !matches!(shared.login, LoginSource::Upstream(_)) {
        return Ok(None);
    }
    if logout {
        // Recorded as a `logout` (reason `request`) when the session was live.
        return match shared.sessions.end_request(request, "request").await {
            Ok(cookies) => {
                for c in cookies {
                    answer.append(header::SET_COOKIE, c);
                }
                Ok(None)
            }
            Err(e) => {
                let mut refused = ApiError::from(e).into_response();
                if let Some(c) = shared.sessions.cleared_cookie() {
                    refused.headers_mut().append(header::SET_COOKIE, c);
                }
                Err(refused)
            }
        };
    }
    let [login] = logins.as_slice() else {
        if logins.is_empty() {
            return Ok(None);
        }
        return Err(bad_login("more than one Autologoff-Login header"));
    };
    let user = std::str::from_utf8(login.as_bytes())
        .ok()
        .filter(|u| (1..=256).contains(&u.chars().count()))
        .filter(|u| !u.chars().any(char::is_control));
    let Some(user) = user else {
        return Err(bad_login(
            "Autologoff-Login must be 1-256 printable characters",
        ));
    };
    let started = match start(shared, user, request, SignIn::Upstream).await {
        Ok(s) => s,
        Err(e) => return Err(e.into_response()),
    };
    for (name, value) in started.cookies() {
        answer.append(name, value);
    }
    Ok(Some(started.session))
}

/// The upstream's answer was malformed: nothing signed in, `502`.
fn bad_login(what: &str) -> Response {
    tracing::error!("upstream answer refused: {what}");
    super::json_error(StatusCode::BAD_GATEWAY, "upstream answer malformed")
}
