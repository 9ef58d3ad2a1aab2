//! Signing clinicians in through the hospital's identity provider: an OpenID Connect
//! relying party as a router of the crate (shared/GATEWAY.md, "Signing in").
//!
//! ```text
//! GET /.autologoff/login?rd=PATH[&reauth=1]  302 to the issuer (code flow, PKCE S256)
//! GET /.autologoff/callback                  the redirect URI: code → ID token → session
//! GET /.autologoff/done                      the end of a sign-in in a popup
//! ```
//!
//! `state`, `nonce`, the PKCE verifier, `rd`, the re-authentication flag and the start
//! time are kept in the session store for 10 minutes and taken once ([`SessionStore::stash`]
//! / [`SessionStore::take`]), so a sign-in started on one replica completes on another
//! and a replayed callback finds nothing. A short-lived `HttpOnly` cookie holding the
//! `state` binds the sign-in to the browser that started it.
//!
//! The ID token is accepted only when its signature verifies with a key of the issuer's
//! JWKS (`kid` match; an unknown `kid` re-reads the JWKS at most once a minute), its `alg`
//! is RS256, PS256, ES256 or EdDSA, and `iss`, `aud`/`azp`, `exp` and `nonce` are right.
//! A re-authentication (`reauth=1`) asks the issuer for `prompt=login&max_age=0` and is
//! accepted only with an `auth_time` no earlier than 5 s before the sign-in started: an
//! SSO cookie at the identity provider alone never unlocks a page.
//!
//! Modules: `provider` (discovery, JWKS, token endpoint: the only network), `token` (the
//! ID token's checks: no I/O, told the time), `flow` (what is stashed, PKCE, `rd`),
//! `pages` (the answers' HTML), `routes` (the handlers).
//!
//! [`SessionStore::stash`]: crate::store::SessionStore::stash
//! [`SessionStore::take`]: crate::store::SessionStore::take

mod flow;
mod pages;
mod provider;
mod routes;
mod token;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use self::flow::safe_rd;
use self::provider::Provider;
use self::routes::LOGIN_PATH as LOGIN;
pub(crate) use self::routes::{done_routes, sign_in_routes};
pub use self::routes::{oidc_routes, CALLBACK_PATH, DONE_PATH, LOGIN_PATH};

/// The longest a call to the issuer (discovery, JWKS, token endpoint) may take.
pub const ISSUER_TIMEOUT: Duration = Duration::from_secs(10);

/// A client secret: never printed, not even in debug output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Why the relying party could not be set up. The message names the setting or the
/// issuer's document and what was wrong: a binary prints it and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
    /// A builder setting is wrong: which one ([`OidcError::setting`]), and the message
    /// (the value and why).
    Config { setting: Setting, message: String },
    /// The issuer's discovery document or keys could not be read or are unusable.
    Issuer(String),
}

/// The builder's settings, so that a binary can name its own flag for one
/// (`Setting::Issuer` → `--oidc-issuer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Issuer,
    ClientId,
    PublicUrl,
    UserClaim,
    Scope,
    Timeout,
}

impl OidcError {
    /// The setting at fault: the one named, or the issuer when its documents failed.
    pub fn setting(&self) -> Setting {
        match self {
            OidcError::Config { setting, .. } => *setting,
            OidcError::Issuer(_) => Setting::Issuer,
        }
    }
}

impl fmt::Display for OidcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OidcError::Config { message, .. } | OidcError::Issuer(message) => f.write_str(message),
        }
    }
}

/// Where to send a browser to sign in: `/.autologoff/login?rd=…[&reauth=1]`, `rd`
/// (a path and query of this origin) encoded as a query value.
pub fn login_location(rd: &str, reauth: bool) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if reauth {
        q.append_pair("reauth", "1");
    }
    q.append_pair("rd", rd);
    format!("{LOGIN}?{}", q.finish())
}

impl std::error::Error for OidcError {}

/// An OpenID Provider this deployment signs in with: the issuer's endpoints and keys,
/// the client registration and the claim that names the user. Cheap to clone.
///
/// ```no_run
/// # async fn f() -> Result<(), autologoff_server::oidc::OidcError> {
/// use autologoff_server::oidc::{Oidc, Secret};
/// let oidc = Oidc::builder("https://login.example-hospital.org/realms/ward", "ward-app")
///     .secret(Secret::new(std::env::var("OIDC_CLIENT_SECRET").unwrap_or_default()))
///     .public_url("https://ward.example-hospital.org")
///     .user_claim("preferred_username")
///     .discover()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Oidc {
    pub(crate) inner: Arc<Provider>,
}

impl fmt::Debug for Oidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.inner.issuer)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

/// Configures an [`Oidc`]: `Oidc::builder(issuer, client_id)…discover().await`.
#[derive(Debug)]
pub struct OidcBuilder {
    issuer: String,
    client_id: String,
    secret: Option<Secret>,
    public_url: Option<String>,
    user_claim: String,
    scopes: Vec<String>,
    timeout: Duration,
}

impl Oidc {
    /// `issuer`: the issuer URL exactly as its discovery document's `issuer` says it;
    /// `client_id`: this app's registration at the issuer.
    pub fn builder(issuer: impl Into<String>, client_id: impl Into<String>) -> OidcBuilder {
        OidcBuilder {
            issuer: issuer.into(),
            client_id: client_id.into(),
            secret: None,
            public_url: None,
            user_claim: "sub".into(),
            scopes: Vec::new(),
            timeout: ISSUER_TIMEOUT,
        }
    }

    /// The issuer, as configured (and as its discovery document says).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The redirect URI registered at the issuer: `<public url>/.autologoff/callback`.
    pub fn redirect_uri(&self) -> &str {
        self.inner.redirect_uri.as_str()
    }

    /// Whether the issuer's keys answer now (a health check). Each call reads the JWKS
    /// once (bounded by the builder's timeout); a health endpoint polled often may keep
    /// the answer for a few seconds.
    pub async fn keys_answer(&self) -> Result<(), OidcError> {
        self.inner.read_keys().await.map(|_| ())
    }
}

impl OidcBuilder {
    /// The client secret (`client_secret_basic`, or `client_secret_post` when the issuer
    /// offers only that). None: a public client, PKCE only. Read it from a file or the
    /// environment, never from a command-line flag's value.
    pub fn secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// The origin browsers see (`https://ward.example.org`); the redirect URI is
    /// `<public url>/.autologoff/callback`. Required.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// The ID token claim that names the user (default `sub`; e.g. `preferred_username`,
    /// `email`, `upn`): a string of 1–256 printable characters, else the sign-in is refused.
    pub fn user_claim(mut self, claim: impl Into<String>) -> Self {
        self.user_claim = claim.into();
        self
    }

    /// A scope to ask for besides `openid` (repeat for more).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// The longest one call to the issuer may take (default 10 s; 1 s ..= 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the settings, reads the issuer's discovery document and its keys.
    pub async fn discover(self) -> Result<Oidc, OidcError> {
        let provider = Provider::discover(self).await?;
        Ok(Oidc {
            inner: Arc::new(provider),
        })
    }
}
