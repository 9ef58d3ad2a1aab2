//! The session policy of a deployment, and the calls an app's own code makes.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use crate::clock::{Clock, Ms};
use crate::recorder::{self, RecordKind, RecordSink, Recorder, ServerRecord, SignIn};
use crate::store::{Session, SessionId, SessionStore, StoreError};

/// The reasons a `DELETE /session` body may give (CONTRACT.md's lock reasons); any
/// other body ends the session all the same, with reason `request`.
pub const LOCK_REASONS: [&str; 7] = [
    "idle", "absolute", "server", "remote", "manual", "hidden", "screen",
];

/// A `Cookie` header longer than this is refused (`431`) before anything is looked up.
pub const MAX_COOKIE_HEADER: usize = 8192;
/// The longest user name a session can carry.
pub const MAX_USER_LEN: usize = 256;

/// Where a request carries its session id.
#[derive(Clone, Debug)]
pub enum IdSource {
    /// A cookie of this name (the default, `sid`). Sessions started here set it.
    Cookie(String),
    /// A request header of this name (e.g. for a native client); the app hands the id
    /// out itself from [`Started::id`].
    Header(HeaderName),
}

/// The `SameSite` attribute of the session cookies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// The default: the cookie never rides on a cross-site request.
    Strict,
    /// Sent on top-level navigations from other sites too (a gateway whose sign-in
    /// comes back from an identity provider or a link from another app).
    Lax,
}

/// A live session as a request sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSession {
    #[serde(skip)]
    pub id: SessionId,
    /// The signed-in user's name (the SDK's same-clinician check).
    pub user: String,
    /// `min(lastActivity + idle, createdAt + absolute)`, unix ms on the server's clock.
    pub expires_at: Ms,
    /// The server's clock when this was read (the SDK's skew measure).
    pub server_time: Ms,
}

/// Whose audit records a request carries: the user of the browser's session, and for
/// records made before that session started, the user of the browser's session before it
/// (a locked page's queue reaches the server after the next clinician signed in).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribution {
    pub user: Option<String>,
    /// When the live session started (records made before it are `before`'s).
    pub since: Option<Ms>,
    pub before: Option<String>,
}

impl Attribution {
    /// The user of a record made at `at` (unix ms; the client's clock, skew-corrected).
    /// With no previous user known, the session's user.
    pub fn user_at(&self, at: Ms) -> Option<&str> {
        match (self.since, &self.before) {
            (Some(since), Some(before)) if at < since => Some(before),
            _ => self.user.as_deref(),
        }
    }
}

/// A session that [`Sessions::start`] just made.
#[derive(Clone, Debug)]
pub struct Started {
    pub session: LiveSession,
    /// `Set-Cookie` for the new id (with [`IdSource::Cookie`]).
    pub set_cookie: Option<HeaderValue>,
    /// Clears the cookie that attributed an ended session's late audit records.
    pub clear_ended: Option<HeaderValue>,
}

impl Started {
    pub fn id(&self) -> &SessionId {
        &self.session.id
    }

    /// The cookie headers to send with the login's answer.
    pub fn cookies(&self) -> impl Iterator<Item = (HeaderName, HeaderValue)> + '_ {
        [&self.set_cookie, &self.clear_ended]
            .into_iter()
            .flatten()
            .map(|v| (header::SET_COOKIE, v.clone()))
    }
}

/// What a request presented as its session id.
enum Presented {
    Nothing,
    Malformed,
    Id(SessionId),
}

/// Why a session call did not give a live session. Turned into an HTTP answer in one
/// place (`SessionError`'s `From`), never here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// No live session: missing, malformed, ended or expired (the reason, for the answer).
    NotLive(&'static str),
    /// A user name [`Sessions::start`] cannot take (the message names the rule).
    BadUser(String),
    /// The request's `Cookie` headers are over [`MAX_COOKIE_HEADER`] bytes.
    CookieTooLarge,
    /// The store could not answer, or answered garbage: nothing may be treated as live.
    Store(StoreError),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::NotLive(why) => f.write_str(why),
            SessionError::BadUser(m) => f.write_str(m),
            SessionError::CookieTooLarge => {
                write!(f, "Cookie header over {MAX_COOKIE_HEADER} bytes")
            }
            SessionError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> SessionError {
        SessionError::Store(e)
    }
}

/// A bad builder setting; the message names it and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The sessions of a deployment: policy, store, cookie and clock. Cheap to clone.
pub struct Sessions<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Sessions<S> {
    fn clone(&self) -> Self {
        Sessions {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<S> {
    store: S,
    idle_ms: Ms,
    absolute_ms: Ms,
    source: IdSource,
    secure: bool,
    same_site: SameSite,
    expires_header: HeaderName,
    clear_site_data: Option<HeaderValue>,
    clock: Clock,
    recorder: Arc<Recorder>,
}

/// Configures [`Sessions`]: `Sessions::builder(store).idle(…).absolute(…).build()`.
pub struct SessionsBuilder<S> {
    store: S,
    idle: Duration,
    absolute: Duration,
    source: IdSource,
    secure: bool,
    same_site: SameSite,
    expires_header: HeaderName,
    clear_site_data: Option<HeaderValue>,
    clock: Clock,
    records: Option<Arc<dyn RecordSink>>,
}

impl<S: SessionStore> SessionsBuilder<S> {
    /// Inactivity after which a session ends: 1 s ..= 24 h (default 15 min).
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// The longest a session lives whatever the activity: idle ..= 7 days (default 12 h).
    pub fn absolute(mut self, absolute: Duration) -> Self {
        self.absolute = absolute;
        self
    }

    /// Where requests carry the session id (default: the `sid` cookie).
    pub fn id_source(mut self, source: IdSource) -> Self {
        self.source = source;
        self
    }

    /// Whether cookies are `Secure` (default true; only plain-http loopback turns it off).
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The cookies' `SameSite` (default `Strict`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The expiry header on guarded answers (default `Session-Expires`).
    pub fn expires_header(mut self, name: HeaderName) -> Self {
        self.expires_header = name;
        self
    }

    /// `Clear-Site-Data` sent by `DELETE /session` (default `"cache", "storage"`; `None`: not sent).
    pub fn clear_site_data(mut self, value: Option<HeaderValue>) -> Self {
        self.clear_site_data = value;
        self
    }

    /// The clock (default: the system's; tests move a shared one).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Where the server writes its own audit records (`login`, `reauth`, `switch`,
    /// `logout`, `timeout`): usually the same sink as `POST /audit`. With one, `build`
    /// starts the writer and sweeper task on the current tokio runtime; it stops when the
    /// last clone of the [`Sessions`] is dropped.
    pub fn records(mut self, sink: impl RecordSink) -> Self {
        self.records = Some(Arc::new(sink));
        self
    }

    pub fn build(self) -> Result<Sessions<S>, ConfigError> {
        let idle = self.idle.as_millis();
        let absolute = self.absolute.as_millis();
        if !(1000..=86_400_000).contains(&idle) {
            return Err(ConfigError(format!(
                "idle ({idle} ms) must be 1 s ..= 24 h"
            )));
        }
        if !(idle..=604_800_000).contains(&absolute) {
            return Err(ConfigError(format!(
                "absolute ({absolute} ms) must be from idle ({idle} ms) to 7 days"
            )));
        }
        if let IdSource::Cookie(name) = &self.source {
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !token {
                return Err(ConfigError(format!(
                    "cookie name {name:?} is not a cookie token"
                )));
            }
        }
        // The sweeper runs on the current runtime; without one (a `Sessions` built outside
        // tokio, which then cannot serve) there is none, and with a sink that is an error.
        let runtime = tokio::runtime::Handle::try_current().ok();
        if runtime.is_none() && self.records.is_some() {
            return Err(ConfigError(
                "records: the audit sweeper needs a tokio runtime (build inside one)".into(),
            ));
        }
        let recorder = Arc::new(Recorder::new(self.records));
        let inner = Arc::new(Inner {
            store: self.store,
            idle_ms: idle as Ms,
            absolute_ms: absolute as Ms,
            source: self.source,
            secure: self.secure,
            same_site: self.same_site,
            expires_header: self.expires_header,
            clear_site_data: self.clear_site_data,
            clock: self.clock,
            recorder: recorder.clone(),
        });
        if let Some(runtime) = runtime {
            let weak: Weak<Inner<S>> = Arc::downgrade(&inner);
            let task = recorder::run(
                recorder,
                inner.store.clone(),
                inner.clock.clone(),
                move || weak.strong_count() > 0,
            );
            runtime.spawn(task);
        }
        Ok(Sessions { inner })
    }
}

impl<S: SessionStore> Sessions<S> {
    pub fn builder(store: S) -> SessionsBuilder<S> {
        SessionsBuilder {
            store,
            idle: Duration::from_secs(900),
            absolute: Duration::from_secs(43_200),
            source: IdSource::Cookie("sid".into()),
            secure: true,
            same_site: SameSite::Strict,
            expires_header: HeaderName::from_static("session-expires"),
            clear_site_data: Some(HeaderValue::from_static("\"cache\", \"storage\"")),
            clock: Clock::default(),
            records: None,
        }
    }

    pub fn store(&self) -> &S {
        &self.inner.store
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn now(&self) -> Ms {
        self.inner.clock.now()
    }

    pub fn idle_ms(&self) -> Ms {
        self.inner.idle_ms
    }

    pub(crate) fn expires_header(&self) -> &HeaderName {
        &self.inner.expires_header
    }

    pub(crate) fn clear_site_data(&self) -> Option<&HeaderValue> {
        self.inner.clear_site_data.as_ref()
    }

    /// Starts a session for `user` (a login or a re-authentication the app verified).
    /// The id is new every time; any session of the id this request presented is ended.
    /// Recorded as a `login`, `reauth` or `switch` with reason `app`.
    pub async fn start(&self, user: &str, request: &HeaderMap) -> Result<Started, SessionError> {
        self.start_by(user, request, SignIn::App).await
    }

    /// [`Sessions::start`], saying how the user signed in (the records' reason).
    pub async fn start_by(
        &self,
        user: &str,
        request: &HeaderMap,
        how: SignIn,
    ) -> Result<Started, SessionError> {
        if user.is_empty() || user.len() > MAX_USER_LEN || user.chars().any(char::is_control) {
            return Err(SessionError::BadUser(format!(
                "user must be 1..={MAX_USER_LEN} bytes without control characters"
            )));
        }
        let previous = match self.presented(request)? {
            Presented::Id(id) => Some(id),
            Presented::Nothing | Presented::Malformed => None,
        };
        let id = SessionId::generate()?;
        let event = SessionId::generate()?;
        let now = self.now();
        let before = self.previous_user(previous.as_ref(), request, now).await?;
        let session = Session {
            user: user.to_owned(),
            created_at: now,
            last_activity: now,
            idle_ms: self.inner.idle_ms,
            absolute_ms: self.inner.absolute_ms,
            event: event.as_str()[..32].to_owned(),
            previous_user: before.clone(),
        };
        self.inner
            .store
            .create(&id, &session, previous.as_ref(), now)
            .await?;
        let kind = match before {
            None => RecordKind::Login,
            Some(u) if u == user => RecordKind::Reauth,
            Some(_) => RecordKind::Switch,
        };
        self.record(kind, now, how.as_str(), user);
        let set_cookie = self.cookie_value(self.cookie_name(), id.as_str(), None);
        let clear_ended = self.cookie_value(&self.ended_cookie_name(), "", Some(0));
        Ok(Started {
            session: self.live(id, session, now),
            set_cookie,
            clear_ended,
        })
    }

    /// Ends a session for good (a logout of the app's own; recorded as a `logout` with
    /// reason `request` when it was live).
    pub async fn end(&self, id: &SessionId) -> Result<bool, SessionError> {
        self.end_by(id, "request").await
    }

    /// [`Sessions::end`] with the reason of its `logout` record.
    pub async fn end_by(&self, id: &SessionId, reason: &'static str) -> Result<bool, SessionError> {
        let now = self.now();
        let user = self.inner.store.owner(id, now).await?;
        let ended = self.inner.store.end(id, now).await?;
        if let (true, Some(user)) = (ended, user) {
            self.record(RecordKind::Logout, now, reason, &user);
        }
        Ok(ended)
    }

    /// The user of the browser's previous session: the presented id's (live, or ended
    /// within its absolute period), else the one its `*_ended` cookie names.
    async fn previous_user(
        &self,
        presented: Option<&SessionId>,
        request: &HeaderMap,
        now: Ms,
    ) -> Result<Option<String>, SessionError> {
        if let Some(id) = presented {
            if let Some(user) = self.inner.store.owner(id, now).await? {
                return Ok(Some(user));
            }
        }
        let ended = cookie(request, &self.ended_cookie_name())?.and_then(SessionId::parse);
        match ended {
            Some(token) => Ok(self.inner.store.remembered(&token, now).await?),
            None => Ok(None),
        }
    }

    fn record(&self, kind: RecordKind, at: Ms, reason: &'static str, user: &str) {
        self.inner.recorder.record(ServerRecord {
            kind,
            at,
            reason,
            user: user.to_owned(),
            event: None,
        });
    }

    /// Test builds only: the sweeper holds its claims this long before writing them (so
    /// that a test can stop the process in the middle of a sweep).
    #[cfg(feature = "test-hooks")]
    pub fn stall_sweeper(&self, ms: u64) {
        self.inner.recorder.stall(ms);
    }

    /// The live session of `id`, if any (an expired one is ended).
    pub async fn lookup(&self, id: &SessionId) -> Result<Option<LiveSession>, SessionError> {
        let now = self.now();
        let found = self.inner.store.get(id, now).await?;
        Ok(found.map(|s| self.live(id.clone(), s, now)))
    }

    /// The live session of a request, or `401`. Nothing is extended.
    pub async fn current(&self, request: &HeaderMap) -> Result<LiveSession, SessionError> {
        let id = self.required(request)?;
        self.lookup(&id)
            .await?
            .ok_or(SessionError::NotLive("session ended or expired"))
    }

    /// A keepalive: the user was active `ago_ms` ago, so last activity moves to
    /// `max(stored, now − ago_ms)`. `401` when the session is not live.
    pub async fn keepalive(
        &self,
        request: &HeaderMap,
        ago_ms: u64,
    ) -> Result<LiveSession, SessionError> {
        let id = self.required(request)?;
        let now = self.now();
        let at = now.saturating_sub(Ms::try_from(ago_ms).unwrap_or(Ms::MAX));
        let touched = self.inner.store.touch(&id, at, now).await?;
        touched
            .map(|s| self.live(id, s, now))
            .ok_or(SessionError::NotLive("session ended or expired"))
    }

    /// Ends the request's session (`DELETE /session`, with the reason its body gave) and
    /// returns the `Set-Cookie` values of the answer: the session cookie cleared and, when
    /// the session (live or stale) is known, a `*_ended` token that names its user (never
    /// its id) for the absolute period, so that the lock's late audit records are
    /// attributed and the next sign-in is told apart as a `reauth` or a `switch`.
    pub(crate) async fn end_request(
        &self,
        request: &HeaderMap,
        reason: &'static str,
    ) -> Result<Vec<HeaderValue>, SessionError> {
        let mut cookies: Vec<HeaderValue> = self
            .cookie_value(self.cookie_name(), "", Some(0))
            .into_iter()
            .collect();
        let Presented::Id(id) = self.presented(request)? else {
            return Ok(cookies);
        };
        let now = self.now();
        let user = self.inner.store.owner(&id, now).await?;
        let ended = self.inner.store.end(&id, now).await?;
        let Some(user) = user else {
            return Ok(cookies);
        };
        if ended {
            self.record(RecordKind::Logout, now, reason, &user);
        }
        let token = SessionId::generate()?;
        let keep = self.inner.absolute_ms;
        self.inner.store.remember(&token, &user, keep, now).await?;
        cookies.extend(self.cookie_value(
            &self.ended_cookie_name(),
            token.as_str(),
            Some(keep / 1000),
        ));
        Ok(cookies)
    }

    /// The cleared session cookie alone (the answer of a `DELETE` the store could not
    /// carry out: the browser forgets its id all the same).
    pub(crate) fn cleared_cookie(&self) -> Option<HeaderValue> {
        self.cookie_value(self.cookie_name(), "", Some(0))
    }

    /// Whose records a request carries: the user of its session (live, or ended within
    /// its absolute period), else the one its browser's `*_ended` cookie names (the lock's
    /// `DELETE` cleared the session cookie before the lock's own audit record was
    /// flushed); and for a live session, who the browser's previous user was, for the
    /// records made before it started.
    pub async fn attribute(&self, request: &HeaderMap) -> Result<Attribution, SessionError> {
        let presented = match self.presented(request)? {
            Presented::Id(id) => Some(id),
            Presented::Nothing | Presented::Malformed => None,
        };
        let now = self.now();
        if let Some(id) = &presented {
            if let Some(s) = self.inner.store.get(id, now).await? {
                return Ok(Attribution {
                    since: Some(s.created_at),
                    before: s.previous_user,
                    user: Some(s.user),
                });
            }
        }
        Ok(Attribution {
            user: self.previous_user(presented.as_ref(), request, now).await?,
            ..Attribution::default()
        })
    }

    fn live(&self, id: SessionId, s: Session, now: Ms) -> LiveSession {
        LiveSession {
            id,
            expires_at: s.expires_at(),
            user: s.user,
            server_time: now,
        }
    }

    fn cookie_name(&self) -> &str {
        match &self.inner.source {
            IdSource::Cookie(name) => name,
            IdSource::Header(_) => "",
        }
    }

    fn ended_cookie_name(&self) -> String {
        match &self.inner.source {
            IdSource::Cookie(name) => format!("{name}_ended"),
            IdSource::Header(_) => String::new(),
        }
    }

    fn cookie_value(&self, name: &str, value: &str, max_age: Option<i64>) -> Option<HeaderValue> {
        if name.is_empty() {
            return None;
        }
        let same_site = match self.inner.same_site {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
        };
        let mut c = format!("{name}={value}; HttpOnly; SameSite={same_site}; Path=/");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if self.inner.secure {
            c.push_str("; Secure");
        }
        HeaderValue::from_str(&c).ok()
    }

    fn required(&self, request: &HeaderMap) -> Result<SessionId, SessionError> {
        match self.presented(request)? {
            Presented::Id(id) => Ok(id),
            Presented::Nothing => Err(SessionError::NotLive("no session")),
            Presented::Malformed => Err(SessionError::NotLive("malformed session id")),
        }
    }

    fn presented(&self, request: &HeaderMap) -> Result<Presented, SessionError> {
        let raw = match &self.inner.source {
            IdSource::Cookie(name) => cookie(request, name)?,
            IdSource::Header(name) => match request.get(name) {
                None => None,
                Some(v) => Some(
                    v.to_str()
                        .map_err(|_| SessionError::NotLive("malformed session id"))?,
                ),
            },
        };
        Ok(match raw {
            None => Presented::Nothing,
            Some(v) => SessionId::parse(v).map_or(Presented::Malformed, Presented::Id),
        })
    }
}

/// The value of cookie `name` in the request's `Cookie` headers (the first one).
fn cookie<'a>(request: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, SessionError> {
    let total: usize = request
        .get_all(header::COOKIE)
        .iter()
        .map(HeaderValue::len)
        .sum();
    if total > MAX_COOKIE_HEADER {
        return Err(SessionError::CookieTooLarge);
    }
    for value in request.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == name {
                    return Ok(Some(v.trim_matches('"')));
                }
            }
        }
    }
    Ok(None)
}
