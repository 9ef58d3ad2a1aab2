//! Zero code (shared/GATEWAY.md "Zero code: --inject-sdk"): the SDK on every page the
//! gateway protects.
//!
//! - [`Injector::open`] reads the SDK's files (`--sdk-dir`, from `npm run build`) and
//!   the `--sdk-options` file, validates the options with the SDK's own rules and builds
//!   `auto.js`; an error names the flag, the file and the option.
//! - [`Injector::answer`] is the one call the proxy makes for each answer: a `text/html`
//!   answer to a navigation with a live session gets the loader script first in
//!   `<head>` (streamed, `rewrite`) and its CSP amended by exactly what the SDK needs
//!   (`csp`); every other answer passes untouched (less `Autologoff-Inject`).
//! - [`Injector::routes`] serves `/.autologoff/sdk/…`.

mod csp;
mod options;
mod rewrite;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Path as UrlPath;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{response, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use self::rewrite::Coding;

/// The answer header with which an app that calls `init` itself turns injection off.
pub const INJECT_HEADER: &str = "autologoff-inject";

/// Where the SDK is served (under the gateway's reserved prefix).
pub const SDK_PATH: &str = "/.autologoff/sdk";

/// The codings the rewriter decodes: what a navigation may accept from the upstream.
const DECODED: [&str; 3] = ["gzip", "deflate", "br"];

/// `--inject-sdk`'s flags.
#[derive(Clone, Debug)]
pub struct Inject {
    /// `--sdk-dir`: `index.js` and `autologoff_bg.wasm` of `npm run build`.
    pub sdk_dir: PathBuf,
    /// `--sdk-options`: more `init` options (JSON).
    pub options_file: Option<PathBuf>,
}

/// What the injection needs to know of the gateway.
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) flags: Inject,
    pub(crate) idle_ms: u64,
    pub(crate) absolute_ms: u64,
    /// Where "Sign in again" goes: the gateway's or the upstream's login page.
    pub(crate) login_page: String,
    /// Whether `/.autologoff/audit` exists (an audit sink is configured).
    pub(crate) audit: bool,
}

/// A start-up error of the injection: the flag, its value and what was wrong.
#[derive(Debug)]
pub(crate) struct SetupError {
    pub(crate) flag: &'static str,
    pub(crate) value: String,
    pub(crate) why: String,
}

/// The SDK's files, read once at start and served from memory.
pub(crate) struct Injector {
    auto_js: Bytes,
    auto_etag: HeaderValue,
    version: String,
    index_js: Bytes,
    wasm: Bytes,
}

impl Injector {
    pub(crate) fn open(setup: &Setup) -> Result<Injector, SetupError> {
        let dir = &setup.flags.sdk_dir;
        let read = |name: &str| -> Result<Vec<u8>, SetupError> {
            std::fs::read(dir.join(name)).map_err(|e| SetupError {
                flag: "--sdk-dir",
                value: dir.display().to_string(),
                why: format!("{name}: {e} (build the SDK with npm run build)"),
            })
        };
        let index_js = read("index.js")?;
        let wasm = read("autologoff_bg.wasm")?;
        if !wasm.starts_with(b"\0asm") {
            return Err(SetupError {
                flag: "--sdk-dir",
                value: dir.display().to_string(),
                why: "autologoff_bg.wasm is not WebAssembly".into(),
            });
        }
        let init = options::init_options(setup).map_err(|e| SetupError {
            flag: "--sdk-options",
            value: setup
                .flags
                .options_file
                .as_deref()
                .map_or_else(String::new, |p| p.display().to_string()),
            why: e.to_string(),
        })?;
        // The files' URLs carry their digest: cached for good, never stale.
        let version = digest(&[&index_js, &wasm]);
        let auto_js = options::auto_js(&init, &format!("{SDK_PATH}/{version}/index.js"));
        let auto_etag = HeaderValue::from_str(&format!("\"{}\"", digest(&[auto_js.as_bytes()])))
            .expect("hex is a header value");
        Ok(Injector {
            auto_js: Bytes::from(auto_js),
            auto_etag,
            version,
            index_js: Bytes::from(index_js),
            wasm: Bytes::from(wasm),
        })
    }

    /// `/.autologoff/sdk/…` (to be nested under the reserved prefix at `/sdk`).
    pub(crate) fn routes(self: &Arc<Self>) -> Router {
        let auto = Arc::clone(self);
        let files = Arc::clone(self);
        Router::new()
            .route(
                "/auto.js",
                get(move |headers: HeaderMap| async move { auto.serve_auto(&headers) }),
            )
            .route(
                "/{version}/{file}",
                get(
                    move |UrlPath((version, file)): UrlPath<(String, String)>| async move {
                        files.serve_file(&version, &file)
                    },
                ),
            )
    }

    fn serve_auto(&self, headers: &HeaderMap) -> Response {
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == self.auto_etag.as_bytes());
        let mut res = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            Body::from(self.auto_js.clone()).into_response()
        };
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        );
        // The gateway's configuration: revalidated on each load (a restart may change it).
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::ETAG, self.auto_etag.clone());
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        res
    }

    fn serve_file(&self, version: &str, file: &str) -> Response {
        let (body, kind) = match file {
            _ if version != self.version => return not_found(),
            "index.js" => (self.index_js.clone(), "text/javascript; charset=utf-8"),
            "autologoff_bg.wasm" => (self.wasm.clone(), "application/wasm"),
            _ => return not_found(),
        };
        let mut res = Body::from(body).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        res
    }

    /// The request side of a navigation that may be injected: `Accept-Encoding`
    /// narrowed to the codings the rewriter decodes (a page in another coding could
    /// not be injected).
    pub(crate) fn narrow_accept_encoding(headers: &mut HeaderMap) {
        let kept: Vec<String> = headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| {
                let coding = t.split(';').next().unwrap_or("").trim();
                DECODED.iter().any(|d| coding.eq_ignore_ascii_case(d))
                    || coding.eq_ignore_ascii_case("identity")
            })
            .map(str::to_owned)
            .collect();
        headers.remove(header::ACCEPT_ENCODING);
        if let Ok(v) = HeaderValue::from_str(&kept.join(", ")) {
            if !kept.is_empty() {
                headers.insert(header::ACCEPT_ENCODING, v);
            }
        }
    }

    /// Every answer of the proxy. `page`: the request was a `GET` navigation with a live
    /// session. A `text/html` answer to it gets the loader and an amended CSP; `Err`
    /// when it cannot (a coding or charset not handled here): the page is not sent
    /// unprotected.
    pub(crate) fn answer(
        &self,
        page: bool,
        method: &Method,
        parts: &mut response::Parts,
        body: Body,
    ) -> Result<Body, Box<Response>> {
        let off = parts
            .headers
            .remove(INJECT_HEADER)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"off"));
        let no_body = matches!(
            parts.status,
            StatusCode::NO_CONTENT | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
        ) || parts.status.is_informational();
        if off || !page || method != Method::GET || no_body || !is_html(&parts.headers) {
            return Ok(body);
        }
        let coding = Coding::of(
            parts
                .headers
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap_or("?")),
        )
        .ok_or_else(|| cannot("the page's Content-Encoding is not one the gateway decodes"))?;
        let encoding =
            rewrite::encoding_of(charset(&parts.headers).as_deref()).map_err(|why| cannot(&why))?;
        let nonce = nonce();
        for name in [
            header::CONTENT_SECURITY_POLICY,
            header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
        ] {
            amend_all(&mut parts.headers, &name, &nonce);
        }
        for name in [
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
            header::ETAG,
            header::ACCEPT_RANGES,
            HeaderName::from_static("content-md5"),
        ] {
            parts.headers.remove(name);
        }
        Ok(rewrite::page(
            body,
            coding,
            encoding,
            script_tag(&nonce),
            nonce,
        ))
    }
}

/// The tag put first in `<head>`.
pub(crate) fn script_tag(nonce: &str) -> String {
    format!("<script type=\"module\" src=\"{SDK_PATH}/auto.js\" nonce=\"{nonce}\"></script>")
}

fn amend_all(headers: &mut HeaderMap, name: &HeaderName, nonce: &str) {
    let amended: Vec<HeaderValue> = headers
        .get_all(name)
        .iter()
        .map(|v| {
            // A policy that is not text cannot be read: dropping it would open the page,
            // keeping it unamended would only block the SDK (the page still locks on the
            // server side), so it is kept. Only visible ASCII is added, so re-encoding
            // cannot fail; if it did, the policy would stay as it was.
            match v.to_str() {
                Ok(text) => {
                    HeaderValue::from_str(&csp::amend(text, nonce)).unwrap_or_else(|_| v.clone())
                }
                Err(_) => v.clone(),
            }
        })
        .collect();
    if amended.is_empty() {
        return;
    }
    headers.remove(name);
    for v in amended {
        headers.append(name.clone(), v);
    }
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/html"))
}

fn charset(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// 128 random bits, hex (a subset of the nonce's base64 grammar).
fn nonce() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS's random numbers");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A short content digest (FNV-1a 64, hex) for cache-busting URLs and ETags.
fn digest(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn cannot(why: &str) -> Box<Response> {
    Box::new(super::json_error(
        StatusCode::BAD_GATEWAY,
        &format!("the page cannot be protected: {why}"),
    ))
}

fn not_found() -> Response {
    super::json_error(StatusCode::NOT_FOUND, "not found")
}

#[cfg(test)]
mod tests;
