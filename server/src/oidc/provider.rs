//! The only network of the relying party: the issuer's discovery document, its JWKS
//! (kept, re-read on an unknown `kid` at most once a minute) and its token endpoint.
//! Every call has a timeout and a size limit, follows no redirect, and logs nothing of
//! what it sends or gets (codes, tokens, secrets).

use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};
use url::Url;

use super::{OidcBuilder, OidcError, Secret, Setting};
use crate::clock::Ms;

/// The largest discovery document or JWKS read.
pub const MAX_DOCUMENT: usize = 256 * 1024;
/// The largest token endpoint answer read.
pub const MAX_TOKEN_ANSWER: usize = 64 * 1024;
/// An unknown `kid` re-reads the JWKS at most this often.
pub const JWKS_REREAD_MS: Ms = 60_000;
/// The longest user claim name and scope accepted in the settings.
const MAX_SETTING: usize = 256;

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuth {
    /// A public client: PKCE only.
    None,
    Basic,
    Post,
}

struct Keys {
    set: JwkSet,
    /// When an unknown `kid` last re-read them (the server's clock); `None`: not since start.
    reread_at: Option<Ms>,
}

pub(crate) struct Provider {
    pub issuer: String,
    pub client_id: String,
    secret: Option<Secret>,
    pub redirect_uri: Url,
    pub user_claim: String,
    pub scope: String,
    pub authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
    auth: ClientAuth,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    reread: Mutex<()>,
}

/// Why the token endpoint gave no ID token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redeem {
    /// The issuer answered `4xx`: the code (or the verifier, or the client) was refused.
    Refused,
    /// No answer, a timeout, a `5xx`, or an answer that is not a token response.
    Unreachable,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

fn config(setting: Setting, value: &str, why: &str) -> OidcError {
    let field = match setting {
        Setting::Issuer => "issuer",
        Setting::ClientId => "client id",
        Setting::PublicUrl => "public url",
        Setting::UserClaim => "user claim",
        Setting::Scope => "scope",
        Setting::Timeout => "timeout",
    };
    OidcError::Config {
        setting,
        message: format!("oidc {field} {value:?}: {why}"),
    }
}

fn endpoint(issuer: &str, name: &str, value: &str) -> Result<Url, OidcError> {
    let url = Url::parse(value).map_err(|e| {
        OidcError::Issuer(format!(
            "oidc issuer {issuer}: discovery document's {name} {value:?} is not a URL: {e}"
        ))
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(OidcError::Issuer(format!(
            "oidc issuer {issuer}: discovery document's {name} {value:?} is not http(s)"
        )));
    }
    Ok(url)
}

/// Reads `url` (GET or the given request) whole, at most `limit` bytes, status 2xx only.
async fn read(request: reqwest::RequestBuilder, limit: usize) -> Result<Vec<u8>, String> {
    let mut res = request.send().await.map_err(|e| describe(&e))?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("answered {status}"));
    }
    if res.content_length().is_some_and(|n| n > limit as u64) {
        return Err(format!("answer over {limit} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > limit {
            return Err(format!("answer over {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What failed, without the error's text (which may quote a URL with its query).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else if e.is_redirect() {
        "redirected (not followed)".into()
    } else if e.is_body() || e.is_decode() {
        "answer could not be read".into()
    } else {
        "request failed".into()
    }
}

impl Provider {
    pub async fn discover(b: OidcBuilder) -> Result<Provider, OidcError> {
        let issuer = b.issuer.clone();
        let issuer_url =
            Url::parse(&issuer).map_err(|e| config(Setting::Issuer, &issuer, &e.to_string()))?;
        if !matches!(issuer_url.scheme(), "https" | "http")
            || issuer_url.query().is_some()
            || issuer_url.fragment().is_some()
        {
            return Err(config(
                Setting::Issuer,
                &issuer,
                "must be an http(s) URL without query or fragment",
            ));
        }
        let id_ok = !b.client_id.is_empty()
            && b.client_id.len() <= MAX_SETTING
            && !b.client_id.chars().any(char::is_control);
        if !id_ok {
            return Err(config(
                Setting::ClientId,
                &b.client_id,
                "must be 1–256 characters without control characters",
            ));
        }
        let claim_ok = !b.user_claim.is_empty()
            && b.user_claim.len() <= MAX_SETTING
            && b.user_claim.bytes().all(|c| c.is_ascii_graphic());
        if !claim_ok {
            return Err(config(
                Setting::UserClaim,
                &b.user_claim,
                "must be a claim name (1–256 visible ASCII characters)",
            ));
        }
        for s in &b.scopes {
            let ok = !s.is_empty()
                && s.len() <= MAX_SETTING
                && s.bytes()
                    .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\');
            if !ok {
                return Err(config(Setting::Scope, s, "must be one scope token"));
            }
        }
        let public = b.public_url.clone().ok_or_else(|| OidcError::Config {
            setting: Setting::PublicUrl,
            message: "oidc public url: required (the origin browsers see)".into(),
        })?;
        let public_url =
            Url::parse(&public).map_err(|e| config(Setting::PublicUrl, &public, &e.to_string()))?;
        let bare = matches!(public_url.scheme(), "https" | "http")
            && public_url.path() == "/"
            && public_url.query().is_none()
            && public_url.fragment().is_none()
            && public_url.username().is_empty()
            && public_url.password().is_none();
        if !bare {
            return Err(config(
                Setting::PublicUrl,
                &public,
                "must be an origin like https://ward.example.org (no path, query or credentials)",
            ));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&b.timeout) {
            return Err(config(
                Setting::Timeout,
                &format!("{:?}", b.timeout),
                "must be 1 s ..= 60 s",
            ));
        }
        let redirect_uri = public_url
            .join(super::CALLBACK_PATH)
            .map_err(|e| config(Setting::PublicUrl, &public, &e.to_string()))?;

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(b.timeout)
            .connect_timeout(b.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|_| OidcError::Issuer("oidc: cannot build the HTTP client".into()))?;

        let well_known = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let fail = |why: String| {
            OidcError::Issuer(format!(
                "oidc issuer {issuer}: cannot read its discovery document {well_known}: {why}"
            ))
        };
        let body = read(http.get(&well_known), MAX_DOCUMENT)
            .await
            .map_err(&fail)?;
        let doc: Discovery = serde_json::from_slice(&body)
            .map_err(|e| fail(format!("not a discovery document ({e})")))?;
        if doc.issuer != issuer {
            return Err(fail(format!(
                "its issuer is {:?}, not the configured {issuer:?} (they must be identical)",
                doc.issuer
            )));
        }
        if let Some(methods) = &doc.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(fail(
                    "PKCE S256 is not among its code_challenge_methods_supported".into(),
                ));
            }
        }
        let auth = match (&b.secret, &doc.token_endpoint_auth_methods_supported) {
            (None, _) => ClientAuth::None,
            (Some(_), None) => ClientAuth::Basic,
            (Some(_), Some(m)) if m.iter().any(|x| x == "client_secret_basic") => ClientAuth::Basic,
            (Some(_), Some(m)) if m.iter().any(|x| x == "client_secret_post") => ClientAuth::Post,
            (Some(_), Some(m)) => {
                return Err(fail(format!(
                    "a client secret was given, but its token endpoint takes neither client_secret_basic nor client_secret_post ({m:?})"
                )))
            }
        };
        let mut scope = String::from("openid");
        for s in &b.scopes {
            if s != "openid" && !scope.split(' ').any(|x| x == s) {
                scope.push(' ');
                scope.push_str(s);
            }
        }
        let provider = Provider {
            authorization_endpoint: endpoint(
                &issuer,
                "authorization_endpoint",
                &doc.authorization_endpoint,
            )?,
            token_endpoint: endpoint(&issuer, "token_endpoint", &doc.token_endpoint)?,
            jwks_uri: endpoint(&issuer, "jwks_uri", &doc.jwks_uri)?,
            issuer,
            client_id: b.client_id,
            secret: b.secret,
            redirect_uri,
            user_claim: b.user_claim,
            scope,
            auth,
            http,
            keys: RwLock::new(Keys {
                set: JwkSet { keys: Vec::new() },
                reread_at: None,
            }),
            reread: Mutex::new(()),
        };
        let set = provider.read_keys().await?;
        provider.keys.write().await.set = set;
        Ok(provider)
    }

    /// Reads the issuer's JWKS (a set with at least one key).
    pub async fn read_keys(&self) -> Result<JwkSet, OidcError> {
        let fail = |why: String| {
            OidcError::Issuer(format!(
                "oidc issuer {}: cannot read its keys {}: {why}",
                self.issuer, self.jwks_uri
            ))
        };
        let body = read(self.http.get(self.jwks_uri.clone()), MAX_DOCUMENT)
            .await
            .map_err(&fail)?;
        // Keys of types this crate does not know are skipped, not fatal.
        let raw: Value =
            serde_json::from_slice(&body).map_err(|e| fail(format!("not JSON ({e})")))?;
        let Some(list) = raw.get("keys").and_then(Value::as_array) else {
            return Err(fail("not a JWK set (no \"keys\" array)".into()));
        };
        let keys: Vec<Jwk> = list
            .iter()
            .filter_map(|k| serde_json::from_value(k.clone()).ok())
            .collect();
        if keys.is_empty() {
            return Err(fail("no usable key".into()));
        }
        Ok(JwkSet { keys })
    }

    /// The key with id `kid`: from the kept set, else from the JWKS read again when it
    /// was not re-read in the last minute (an issuer that rotated its keys).
    pub async fn key(&self, kid: &str, now: Ms) -> Option<Jwk> {
        if let Some(k) = self.keys.read().await.set.find(kid) {
            return Some(k.clone());
        }
        let _one_at_a_time = self.reread.lock().await;
        {
            let keys = self.keys.read().await;
            if let Some(k) = keys.set.find(kid) {
                return Some(k.clone());
            }
            if keys
                .reread_at
                .is_some_and(|at| now.saturating_sub(at) < JWKS_REREAD_MS)
            {
                return None;
            }
        }
        let fresh = self.read_keys().await;
        let mut keys = self.keys.write().await;
        keys.reread_at = Some(now);
        match fresh {
            Ok(set) => {
                tracing::info!(
                    keys = set.keys.len(),
                    "oidc: issuer keys re-read (unknown key id)"
                );
                keys.set = set;
            }
            Err(e) => tracing::warn!("{e}"),
        }
        keys.set.find(kid).cloned()
    }

    /// Redeems `code` at the token endpoint and returns the ID token.
    pub async fn redeem(&self, code: &str, verifier: &str) -> Result<String, Redeem> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let secret = self.secret.as_ref().map(Secret::expose).unwrap_or("");
        match self.auth {
            ClientAuth::None => form.push(("client_id", &self.client_id)),
            ClientAuth::Post => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", secret));
            }
            ClientAuth::Basic => {}
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = self
            .http
            .post(self.token_endpoint.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body);
        if self.auth == ClientAuth::Basic {
            // RFC 6749 2.3.1: both form-encoded, then Basic.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(enc(&self.client_id), Some(enc(secret)));
        }
        let mut res = request.send().await.map_err(|e| {
            tracing::warn!("oidc: token endpoint: {}", describe(&e));
            Redeem::Unreachable
        })?;
        let status = res.status();
        if status.is_client_error() {
            tracing::info!("oidc: token endpoint refused the code ({status})");
            return Err(Redeem::Refused);
        }
        if !status.is_success() {
            tracing::warn!("oidc: token endpoint answered {status}");
            return Err(Redeem::Unreachable);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|_| Redeem::Unreachable)? {
            if bytes.len() + chunk.len() > MAX_TOKEN_ANSWER {
                tracing::warn!("oidc: token endpoint answer over {MAX_TOKEN_ANSWER} bytes");
                return Err(Redeem::Unreachable);
            }
            bytes.extend_from_slice(&chunk);
        }
        let answer: Value = serde_json::from_slice(&bytes).map_err(|_| {
            tracing::warn!("oidc: token endpoint answer is not JSON");
            Redeem::Unreachable
        })?;
        match answer.get("id_token").and_then(Value::as_str) {
            Some(t) => Ok(t.to_owned()),
            None => {
                tracing::warn!("oidc: token endpoint answer has no id_token");
                Err(Redeem::Unreachable)
            }
        }
    }
}
