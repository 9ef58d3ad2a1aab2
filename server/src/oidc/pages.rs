//! The pages of a sign-in: the refusal (names the problem class, never a token or a
//! code) and the popup's `done` page. Each is served with its own strict
//! `Content-Security-Policy`; the `done` page's one script runs by a per-answer nonce.

use axum::http::StatusCode;
use axum::response::Response;

use crate::page::{escape, html};
use crate::store::{SessionId, StoreError};

/// A short page saying the sign-in was refused and why (a fixed text of this crate's).
pub fn refused(status: StatusCode, problem: &'static str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Sign-in refused</title>\
         <h1>Sign-in refused</h1><p>{}</p><p><a href=\"/\">Start again</a></p></html>\n",
        escape(problem)
    );
    html(
        status,
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        body,
    )
}

/// The end of a sign-in in a popup: tells the opener (same origin only) and closes;
/// opened outside a popup, goes to `/`.
pub fn done() -> Result<Response, StoreError> {
    let nonce = SessionId::generate()?;
    let nonce = &nonce.as_str()[..32];
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Signed in</title>\
         <p>Signed in. <a href=\"/\">Continue</a></p>\
         <script nonce=\"{nonce}\">\
         if (window.opener && window.opener !== window) {{\
           try {{ window.opener.postMessage({{ autologoff: \"signed-in\" }}, location.origin); }} catch (e) {{}}\
           window.close();\
         }} else {{ location.replace(\"/\"); }}\
         </script></html>\n"
    );
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    Ok(html(StatusCode::OK, &csp, body))
}
