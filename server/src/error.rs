//! Every error of the crate becomes an HTTP answer here, and only here: the sessions',
//! the store's and the audit sink's errors are plain Rust types that know nothing of HTTP.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::audit::AuditError;
use crate::sessions::SessionError;
use crate::store::StoreError;

/// An answer that is not a success: always JSON `{"error": …}` with `Cache-Control:
/// no-store`, never a framework's default text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// `400`: the request was wrong; the message names the field and what was wrong.
    BadRequest(String),
    /// `413`: a body over its limit.
    TooLarge(String),
    /// `431` (RFC 6585): a request header over its limit (a header is not a payload).
    HeaderTooLarge(String),
    /// `401`: no live session (missing, malformed, ended or expired).
    Unauthorized(&'static str),
    /// `404`: nothing here.
    NotFound(&'static str),
    /// `405`: the path is known, the method is not (the router adds `Allow`).
    MethodNotAllowed,
    /// `503`: the session store or the audit sink did not answer (or answered garbage);
    /// nothing was treated as live and nothing half-stored.
    Unavailable(&'static str),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeaderTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn message(&self) -> &str {
        match self {
            ApiError::BadRequest(m) | ApiError::TooLarge(m) | ApiError::HeaderTooLarge(m) => m,
            ApiError::Unauthorized(m) | ApiError::Unavailable(m) | ApiError::NotFound(m) => m,
            ApiError::MethodNotAllowed => "method not allowed",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!("{e}");
        ApiError::Unavailable("session store unavailable")
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> ApiError {
        match e {
            SessionError::NotLive(why) => ApiError::Unauthorized(why),
            SessionError::BadUser(m) => ApiError::BadRequest(m),
            SessionError::CookieTooLarge => ApiError::HeaderTooLarge(e.to_string()),
            SessionError::Store(e) => e.into(),
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> ApiError {
        match e {
            AuditError::Invalid(m) => ApiError::BadRequest(m),
            AuditError::TooLarge(m) => ApiError::TooLarge(m),
            AuditError::Unavailable(why) => {
                tracing::error!("audit sink unavailable: {why}");
                ApiError::Unavailable("audit sink unavailable")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status(),
            Json(serde_json::json!({ "error": self.message() })),
        )
            .into_response();
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}
