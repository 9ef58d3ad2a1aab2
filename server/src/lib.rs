//! The server half of autologoff: sessions that only user activity extends.
//!
//! Every server-side session system we measured extends the idle timer on *any* request,
//! so a dashboard that polls keeps a walked-away session alive forever. Here only two
//! things extend a session: the SDK's keepalive (`POST /session`, sent after trusted
//! input, saying how long ago that input was) and a login. Ordinary requests through
//! [`SessionLayer`] are checked (live, or `401` and ended) and answered with
//! `Session-Expires`, never extended.
//!
//! - [`Sessions`]: the policy (idle and absolute limits), the store, the cookie; the calls
//!   an app's own login code makes ([`Sessions::start`], [`Sessions::end`],
//!   [`Sessions::lookup`]).
//! - [`SessionLayer`]: a `tower::Layer` that guards routes.
//! - [`Sessions::router`]: `GET`/`POST`/`DELETE /session`, the SDK's expiry protocol.
//! - [`audit::router`]: `POST /audit` into an [`audit::AuditSink`] (SQLite or Postgres).
//! - [`store`]: where sessions live ([`store::MemoryStore`], [`store::RedisStore`]).
//!
//! Errors: [`store::StoreError`] and [`audit::AuditError`] per layer, turned into HTTP
//! answers in one place, [`ApiError`].

pub mod audit;
mod clock;
mod error;
pub mod gateway;
mod layer;
mod routes;
mod sessions;
pub mod store;

pub use clock::{iso_ms, parse_iso_utc, Clock, Ms};
pub use error::ApiError;
pub use layer::{SessionLayer, SessionService};
pub use sessions::{IdSource, LiveSession, SameSite, Sessions, SessionsBuilder, Started};

/// The README's quick-start, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
