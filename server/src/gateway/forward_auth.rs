//! `/.autologoff/auth`: forward auth for a proxy in front of the app (nginx
//! `auth_request`, Caddy `forward_auth`, Traefik `forwardAuth`). The original request is
//! described by the proxy's headers and carries the browser's `Cookie`. Never extends.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{HeaderMap, HeaderValue};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::{paths, sign_in, Shared};
use crate::error::ApiError;
use crate::sessions::SessionError;

/// The original method and URI, as nginx (`X-Original-*`) or Caddy and Traefik
/// (`X-Forwarded-*`) send them.
fn original(headers: &HeaderMap, request_method: &Method) -> (Method, String) {
    let text = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
            .map(str::to_owned)
    };
    let method = text(["x-original-method", "x-forwarded-method"])
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or_else(|| request_method.clone());
    let uri = text(["x-original-uri", "x-forwarded-uri"]).unwrap_or_else(|| "/".into());
    (method, uri)
}

/// Live: `200` with the identity headers for the proxy to copy. Otherwise `401` JSON,
/// or with `?redirect=1` a navigation gets `302` to the sign-in. Store down: `503`.
pub(super) async fn auth(Extension(shared): Extension<Arc<Shared>>, request: Request) -> Response {
    let redirect = paths::query_param(request.uri().query(), "redirect").as_deref() == Some("1");
    let headers = request.headers();
    match shared.sessions.current(headers).await {
        Ok(live) => {
            let mut res = axum::http::StatusCode::OK.into_response();
            let h = res.headers_mut();
            match HeaderValue::from_bytes(live.user.as_bytes()) {
                Ok(user) => h.insert("x-autologoff-user", user),
                Err(_) => {
                    return ApiError::BadRequest("the user name cannot be sent as a header".into())
                        .into_response()
                }
            };
            h.insert("x-autologoff-expires", HeaderValue::from(live.expires_at));
            h.insert(
                shared.sessions.expires_header().clone(),
                HeaderValue::from(live.expires_at),
            );
            h.insert(
                axum::http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            res
        }
        Err(SessionError::NotLive(why)) => {
            let (method, uri) = original(headers, request.method());
            if redirect && paths::is_navigation(&method, headers) {
                sign_in::redirect_to_sign_in(&shared, paths::safe_rd(&uri))
            } else {
                ApiError::Unauthorized(why).into_response()
            }
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}
