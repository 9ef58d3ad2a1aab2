//! The server half of autologoff: sessions that only user activity extends.
//!
//! Every server-side session system we measured extends the idle timer on *any* request,
//! so a dashboard that polls keeps a walked-away session alive forever. Here only two
//! things extend a session: the SDK's keepalive (`POST /session`, sent after trusted
//! input, saying how long ago that input was) and a login. Ordinary requests through
//! [`SessionLayer`] are checked (live, or `401` and ended) and answered with
//! `Session-Expires`, never extended.
//!
//! - [`Sessions`]: the policy (idle and absolute limits), the store, the cookie, the
//!   server's own audit records; the calls an app's own login code makes
//!   ([`Sessions::start`], [`Sessions::end`], [`Sessions::lookup`]).
//! - [`SessionLayer`]: a `tower::Layer` that guards routes.
//! - [`session_routes`]: `GET`/`POST`/`DELETE /session`, the SDK's expiry protocol.
//! - [`audit_routes`]: `POST /audit` into an [`audit::AuditSink`] (SQLite or Postgres).
//! - [`oidc`]: signing in through the hospital's identity provider (OpenID Connect code
//!   flow with PKCE, ID-token checks, re-authentication that is real): [`oidc_routes`].
//! - [`store`]: where sessions live ([`store::MemoryStore`], [`store::RedisStore`]).
//! - [`recorder`]: the server's own records and the sweeper of expired sessions.
//!
//! The modules form a one-way graph: `store`, `clock`, `value` at the bottom; `recorder`,
//! `audit`, `sessions` on them (none knows HTTP); `error` maps [`SessionError`],
//! [`store::StoreError`] and [`audit::AuditError`] to HTTP answers, in one place
//! ([`ApiError`]); `routes` and `layer` on top; `oidc` beside them (on `sessions`,
//! `store` and `clock`; nothing imports it but this file and the gateway, which mounts
//! its sign-in and, for every login source, its popup's `done` page).

pub mod audit;
mod clock;
mod error;
pub mod gateway;
mod layer;
pub mod oidc;
mod page;
pub mod recorder;
mod routes;
mod sessions;
pub mod store;
mod value;

pub use clock::{iso_ms, parse_iso_utc, Clock, Ms};
pub use error::ApiError;
pub use layer::{SessionLayer, SessionService};
pub use oidc::{oidc_routes, Oidc};
pub use recorder::SignIn;
pub use routes::{audit_routes, read_body, session_routes};
pub use sessions::{
    ConfigError, IdSource, LiveSession, SameSite, SessionError, Sessions, SessionsBuilder, Started,
    LOCK_REASONS,
};
pub use value::{logged_path, redacted};

/// The README's quick-start, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
