//! Requests the SDK makes itself: the session protocol on `server.url` and audit delivery.
//! They go through the page's original `fetch` so they are never counted as activity.

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestCredentials, RequestInit, Response};

use crate::core::config::{Credentials, ServerCfg};
use crate::core::policy::{Ms, ServerAnswer};

/// How long a server answer may take before it counts as failed.
pub const SERVER_TIMEOUT_MS: u32 = 10_000;

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn raw_fetch(url: &str, init: &RequestInit) -> Promise;
}

fn credentials(c: Credentials) -> RequestCredentials {
    match c {
        Credentials::Omit => RequestCredentials::Omit,
        Credentials::SameOrigin => RequestCredentials::SameOrigin,
        Credentials::Include => RequestCredentials::Include,
    }
}

async fn send(url: &str, init: &RequestInit) -> Result<Response, JsValue> {
    let r = JsFuture::from(raw_fetch(url, init)).await?;
    r.dyn_into::<Response>()
}

/// `method` on `server.url`; classifies the answer without trusting any of it.
pub async fn session_call(cfg: &ServerCfg, method: &str, keepalive: bool) -> ServerAnswer {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(credentials(cfg.credentials));
    init.set_cache(web_sys::RequestCache::NoStore);
    if keepalive {
        // Outlives the page (lock at pagehide, audit at unload).
        let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
    }
    if let Ok(h) = Headers::new() {
        let _ = h.set("Accept", "application/json");
        for (k, v) in &cfg.headers {
            let _ = h.set(k, v);
        }
        init.set_headers(&h);
    }
    init.set_signal(Some(&AbortSignal::timeout_with_u32(SERVER_TIMEOUT_MS)));
    let resp = match send(&cfg.url, &init).await {
        Ok(r) => r,
        Err(e) => {
            let timeout = Reflect::get(&e, &"name".into())
                .ok()
                .and_then(|n| n.as_string())
                .is_some_and(|n| n == "TimeoutError" || n == "AbortError");
            return ServerAnswer::Failed(if timeout { "server timeout" } else { "server unreachable" });
        }
    };
    match resp.status() {
        401 => ServerAnswer::Expired,
        204 if method == "DELETE" => ServerAnswer::Expired,
        200 => {
            let body = match resp.json() {
                Ok(p) => JsFuture::from(p).await,
                Err(e) => Err(e),
            };
            match body {
                Ok(v) => classify(&v),
                Err(_) => ServerAnswer::Failed("server answer not JSON"),
            }
        }
        s if s >= 500 => ServerAnswer::Failed("server error"),
        _ => ServerAnswer::Failed("server unexpected status"),
    }
}

fn num(v: &JsValue, key: &str) -> Option<Ms> {
    let x = Reflect::get(v, &JsValue::from_str(key)).ok()?.as_f64()?;
    (x.is_finite() && x > 0.0 && x < 1e15).then_some(x as Ms)
}

/// A `200` body: both fields must be plausible unix-ms numbers.
fn classify(v: &JsValue) -> ServerAnswer {
    if !v.is_object() {
        return ServerAnswer::Failed("server answer malformed");
    }
    match (num(v, "expiresAt"), num(v, "serverTime")) {
        (Some(expires_at), Some(server_time)) => ServerAnswer::Live { expires_at, server_time },
        _ => ServerAnswer::Failed("server answer malformed"),
    }
}

/// POST a JSON array of audit records; true on a 2xx answer.
pub async fn post_audit(url: &str, body: &str, keepalive: bool) -> bool {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_credentials(RequestCredentials::SameOrigin);
    init.set_body(&JsValue::from_str(body));
    if keepalive {
        // Outlives the page (lock at pagehide, audit at unload).
        let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
    }
    if let Ok(h) = Headers::new() {
        let _ = h.set("Content-Type", "application/json");
        init.set_headers(&h);
    }
    init.set_signal(Some(&AbortSignal::timeout_with_u32(SERVER_TIMEOUT_MS)));
    match send(url, &init).await {
        Ok(r) => r.ok(),
        Err(_) => false,
    }
}
