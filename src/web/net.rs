//! Requests the SDK makes itself: the session protocol on `server.url` and audit delivery.
//! They go through the page's original `fetch` (glue/net.js `send`) so they are never counted
//! as activity; the answer is classified here, trusting none of it.
//!
//! Callbacks instead of futures: one `Closure::once_into_js` per request keeps the
//! async executor (and ~5 KB of wasm) out of the bundle.

use crate::prelude::*;
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::util::{field, kind, num, Kind};
use crate::core::config::{Credentials, ServerCfg};
use crate::core::policy::{user_id, Ms, Reason, ServerAnswer};

/// How long a server answer may take before it counts as failed.
pub const SERVER_TIMEOUT_MS: u32 = 10_000;

#[wasm_bindgen(module = "/src/web/glue/net.js")]
extern "C" {
    /// `fetch` with the page's original function; calls `done([status, body, errorName])` once:
    /// status 0 = no answer; body = the parsed JSON of a 200 when `json` (undefined if not JSON).
    /// JS values only (strings, booleans): no converting wrapper of its own.
    #[allow(clippy::too_many_arguments)]
    fn send(
        url: &JsValue,
        method: &JsValue,
        credentials: &JsValue,
        headers: &Array,
        body: &JsValue,
        keepalive: &JsValue,
        json: &JsValue,
        timeout_ms: f64,
        done: JsValue,
    );
}

type Done = Box<dyn FnOnce(u16, JsValue, Option<String>)>;

#[allow(clippy::too_many_arguments)]
fn request(
    url: &str,
    method: &str,
    cred: &str,
    headers: &Array,
    body: JsValue,
    keepalive: bool,
    json: bool,
    done: Done,
) {
    // One argument in, one out: the closure shape every other callback has (one invoke shim).
    let cb = Closure::once_into_js(move |a: JsValue| -> JsValue {
        let a: &Array = a.unchecked_ref();
        done(num(&a.get(0)) as u16, a.get(1), a.get(2).as_string());
        JsValue::UNDEFINED
    });
    send(
        &JsValue::from_str(url),
        &JsValue::from_str(method),
        &JsValue::from_str(cred),
        headers,
        &body,
        &JsValue::from_bool(keepalive),
        &JsValue::from_bool(json),
        SERVER_TIMEOUT_MS as f64,
        cb,
    );
}

fn credentials(c: Credentials) -> &'static str {
    match c {
        Credentials::Omit => "omit",
        Credentials::SameOrigin => "same-origin",
        Credentials::Include => "include",
    }
}

/// The keepalive's body: `{"lastActivityAgoMs": ago}`.
pub fn keepalive_body(ago: Ms) -> String {
    let mut b = String::from("{\"lastActivityAgoMs\":");
    crate::core::text::push_int(&mut b, ago.max(0));
    b.push('}');
    b
}

/// The lock's `DELETE` body: `{"reason": "<the lock's reason>"}` (a fixed word, no escaping).
pub fn reason_body(reason: Reason) -> String {
    crate::core::text::cat(&["{\"reason\":\"", reason.as_str(), "\"}"])
}

/// `method` on `server.url`; `keepalive` lets it outlive the page (lock at pagehide).
/// `body`, when given, is sent as JSON (the keepalive's, the lock's reason).
pub fn session_call(
    cfg: &ServerCfg,
    method: &'static str,
    body: Option<String>,
    keepalive: bool,
    then: impl FnOnce(ServerAnswer) + 'static,
) {
    call_boxed(cfg, method, body, keepalive, Box::new(then))
}

fn call_boxed(
    cfg: &ServerCfg,
    method: &'static str,
    body: Option<String>,
    keepalive: bool,
    then: Box<dyn FnOnce(ServerAnswer)>,
) {
    let headers = Array::new();
    header(&headers, "Accept", "application/json");
    if body.is_some() {
        header(&headers, "Content-Type", "application/json");
    }
    for (k, v) in &cfg.headers {
        header(&headers, k, v);
    }
    request(
        &cfg.url,
        method,
        credentials(cfg.credentials),
        &headers,
        body.map_or(JsValue::UNDEFINED, |b| JsValue::from_str(&b)),
        keepalive,
        true,
        Box::new(move |status, body, err| then(classify(method, status, &body, err.as_deref()))),
    );
}

/// POST a JSON array of audit records; `then(true)` on a 2xx answer.
pub fn post_audit(url: &str, body: JsValue, then: impl FnOnce(bool) + 'static) {
    let headers = Array::new();
    header(&headers, "Content-Type", "application/json");
    request(
        url,
        "POST",
        "same-origin",
        &headers,
        body,
        true,
        false,
        Box::new(move |status, _, _| then((200..300).contains(&status))),
    );
}

/// `name: value` appended to the flat `[name, value, …]` list glue/net.js `send` takes.
fn header(headers: &Array, name: &str, value: &str) {
    headers.push(&name.into());
    headers.push(&value.into());
}

/// A plausible unix-ms field of the server's answer.
fn ms_field(v: &JsValue, key: &str) -> Option<Ms> {
    let x = num(&field(v, &JsValue::from_str(key)));
    (x.is_finite() && x > 0.0 && x < 1e15).then_some(x as Ms)
}

/// What an answer means: 401 (and 204 to DELETE) end the session; a 200 must carry both
/// plausible unix-ms numbers, and `user`, when there, must be a string; anything else is a
/// failure that changes no deadline.
fn classify(method: &str, status: u16, body: &JsValue, err: Option<&str>) -> ServerAnswer {
    match status {
        0 => ServerAnswer::Failed(match err {
            Some("TimeoutError" | "AbortError") => "server timeout",
            _ => "server unreachable",
        }),
        401 => ServerAnswer::Expired,
        204 if method == "DELETE" => ServerAnswer::Expired,
        200 if err.is_some() => ServerAnswer::Failed("server answer not JSON"),
        200 if matches!(kind(body), Kind::Array | Kind::Object) => {
            let user = field(body, &JsValue::from_str("user"));
            let user = match kind(&user) {
                Kind::Null => Some(None),
                Kind::Str => user.as_string().map(|u| Some(user_id(&u))),
                _ => None,
            };
            match (
                ms_field(body, "expiresAt"),
                ms_field(body, "serverTime"),
                user,
            ) {
                (Some(expires_at), Some(server_time), Some(user)) => ServerAnswer::Live {
                    expires_at,
                    server_time,
                    user,
                },
                _ => ServerAnswer::Failed("server answer malformed"),
            }
        }
        200 => ServerAnswer::Failed("server answer malformed"),
        s if s >= 500 => ServerAnswer::Failed("server error"),
        _ => ServerAnswer::Failed("server unexpected status"),
    }
}
