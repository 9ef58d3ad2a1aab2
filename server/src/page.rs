//! The crate's own small HTML pages (the demo sign-in form, a refused sign-in, the popup's
//! `done` page): never cached, never sniffed, no referrer, each under its own strict
//! `Content-Security-Policy`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `body` as an HTML answer with `status`, under the policy `csp`. A policy that is not a
/// valid header value gets `500`, never the page without it.
pub(crate) fn html(status: StatusCode, csp: &str, body: String) -> Response {
    let Ok(csp) = HeaderValue::from_str(csp) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    res
}

/// `s` safe as HTML text and inside a double-quoted attribute.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
