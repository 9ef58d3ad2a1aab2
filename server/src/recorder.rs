//! The server's own audit records (SERVER.md "What the server records itself"): every
//! sign-in, end and timeout goes into the audit sink, whatever the browser did.
//!
//! One writer task per process takes records in the order they were made and writes them
//! to the sink; when the sink is down they wait in a bounded queue and are written once it
//! answers (sign-ins and `DELETE`s never wait for the sink: the session store decides).
//! The same task is the sweeper: about once a second it claims the sessions that expired
//! without being ended ([`SessionStore::claim_expired`]) and writes one `timeout` each.
//!
//! Why a `timeout` is written exactly once:
//! - the store hands each expired session to one claimer (a Redis script, or the memory
//!   store's lock), and ending it by `DELETE` or a rotation is the same kind of atomic
//!   step, so a session gets a `logout` or a `timeout`, never both;
//! - a claim is settled only after the sink said the rows are durable; a replica that
//!   stops before that leaves a lease that another replica takes over after
//!   [`CLAIM_LEASE_MS`], so none is lost;
//! - a taken-over claim may be written twice (the first replica was only slow), and the
//!   sink stores one `timeout` per session event token, so none is doubled.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::{Clock, Ms};
use crate::store::{Expired, SessionStore};

/// How often the sweeper looks for expired sessions (a `timeout` is recorded within 5 s).
pub const SWEEP_EVERY: Duration = Duration::from_millis(1000);
/// Expired sessions claimed per store call.
const CLAIM_BATCH: usize = 500;
/// Records waiting for a sink that is down; past this the oldest are dropped (and said).
const MAX_QUEUED: usize = 100_000;

/// The kinds of record the server writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Login,
    Reauth,
    Switch,
    Logout,
    Timeout,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Login => "login",
            RecordKind::Reauth => "reauth",
            RecordKind::Switch => "switch",
            RecordKind::Logout => "logout",
            RecordKind::Timeout => "timeout",
        }
    }
}

/// How a session was started: the reason of its `login`, `reauth` or `switch` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// The app's own code ([`crate::Sessions::start`]).
    App,
    /// The demo's passwordless login.
    Demo,
    /// An upstream's `Autologoff-Login` header (the gateway).
    Upstream,
    /// The OIDC sign-in.
    Oidc,
}

impl SignIn {
    pub fn as_str(self) -> &'static str {
        match self {
            SignIn::App => "app",
            SignIn::Demo => "demo",
            SignIn::Upstream => "upstream",
            SignIn::Oidc => "oidc",
        }
    }
}

/// One record of the server's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRecord {
    pub kind: RecordKind,
    /// When the session started or ended (server clock, unix ms).
    pub at: Ms,
    pub reason: &'static str,
    pub user: String,
    /// For a `timeout`: the session's event token; the sink stores one row per token.
    pub event: Option<String>,
}

impl ServerRecord {
    pub fn timeout(e: &Expired) -> ServerRecord {
        ServerRecord {
            kind: RecordKind::Timeout,
            at: e.expires_at,
            reason: if e.absolute { "absolute" } else { "idle" },
            user: e.user.clone(),
            event: Some(e.event.clone()),
        }
    }
}

type Pending<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Where server records are written: an audit sink, seen through one object-safe call.
pub trait RecordSink: Send + Sync + 'static {
    /// Writes the records in one transaction, in order, each with `written_at` as its
    /// `received_at`; returns once they are durable. `Err` says why (never a record).
    fn write<'a>(&'a self, records: &'a [ServerRecord], written_at: Ms) -> Pending<'a>;
}

/// The queue between the request path and the writer task.
pub(crate) struct Recorder {
    /// `None`: no audit sink; expired sessions are still swept (claimed and settled, so the
    /// store's expiry index does not grow), and nothing is written.
    sink: Option<Arc<dyn RecordSink>>,
    queue: Mutex<VecDeque<ServerRecord>>,
    wake: Notify,
    /// Test deployments only: how long the sweeper holds its claims before writing them
    /// (so that a test can stop the process in the middle of a sweep).
    stall_ms: AtomicU64,
}

impl Recorder {
    pub(crate) fn new(sink: Option<Arc<dyn RecordSink>>) -> Recorder {
        Recorder {
            sink,
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            stall_ms: AtomicU64::new(0),
        }
    }

    #[cfg(feature = "test-hooks")]
    pub(crate) fn stall(&self, ms: u64) {
        self.stall_ms.store(ms, Ordering::Relaxed);
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<ServerRecord>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a record for the writer task; never waits for the sink.
    pub(crate) fn record(&self, record: ServerRecord) {
        if self.sink.is_none() {
            return;
        }
        let mut q = self.queue();
        if q.len() == MAX_QUEUED {
            q.pop_front();
            tracing_warn("audit sink down: the oldest queued server record was dropped");
        }
        q.push_back(record);
        drop(q);
        self.wake.notify_one();
    }

    /// Writes what is queued, in order; on failure it stays queued. `true` when the queue
    /// was emptied.
    async fn flush(&self, clock: &Clock) -> bool {
        let Some(sink) = &self.sink else {
            return true;
        };
        loop {
            let batch: Vec<ServerRecord> = self.queue().iter().take(1000).cloned().collect();
            if batch.is_empty() {
                return true;
            }
            if let Err(why) = sink.write(&batch, clock.now()).await {
                tracing_warn(&format!(
                    "audit sink: server records not written yet: {why}"
                ));
                return false;
            }
            let mut q = self.queue();
            // Only the writer task removes from the front, so the batch is still there.
            let done = batch.len().min(q.len());
            q.drain(..done);
        }
    }

    /// Claims expired sessions and writes their `timeout`s until none is left (or the
    /// sink fails: the claims then wait for their lease to end). Returns how many were
    /// written.
    pub(crate) async fn sweep<S: SessionStore>(&self, store: &S, clock: &Clock) -> usize {
        let mut written = 0;
        loop {
            let claims = match store.claim_expired(clock.now(), CLAIM_BATCH).await {
                Ok(c) => c,
                Err(e) => {
                    tracing_warn(&format!("sweeper: {e}"));
                    return written;
                }
            };
            if claims.is_empty() {
                return written;
            }
            let stall = self.stall_ms.load(Ordering::Relaxed);
            if stall > 0 {
                tokio::time::sleep(Duration::from_millis(stall)).await;
            }
            if let Some(sink) = &self.sink {
                let records: Vec<ServerRecord> = claims.iter().map(ServerRecord::timeout).collect();
                if let Err(why) = sink.write(&records, clock.now()).await {
                    tracing_warn(&format!("sweeper: timeouts not written yet: {why}"));
                    return written;
                }
            }
            if let Err(e) = store.settle(&claims).await {
                // The rows are durable; a taken-over claim is stored once by its token.
                tracing_warn(&format!("sweeper: {e}"));
            }
            written += claims.len();
            if claims.len() < CLAIM_BATCH {
                return written;
            }
        }
    }

    /// Waits for the next record or the next sweep, whichever comes first.
    async fn idle(&self, until: tokio::time::Instant) {
        let queued = !self.queue().is_empty();
        if queued {
            return;
        }
        tokio::select! {
            () = self.wake.notified() => {}
            () = tokio::time::sleep_until(until) => {}
        }
    }
}

/// The writer and sweeper task of one process: runs until `alive` says the deployment
/// is gone.
pub(crate) async fn run<S: SessionStore>(
    recorder: Arc<Recorder>,
    store: S,
    clock: Clock,
    alive: impl Fn() -> bool + Send,
) {
    let mut next_sweep = tokio::time::Instant::now();
    while alive() {
        let flushed = recorder.flush(&clock).await;
        if tokio::time::Instant::now() >= next_sweep {
            recorder.sweep(&store, &clock).await;
            next_sweep = tokio::time::Instant::now() + SWEEP_EVERY;
        }
        if flushed {
            recorder.idle(next_sweep).await;
        } else {
            // The sink is down: try again at the next sweep.
            tokio::time::sleep_until(next_sweep).await;
        }
    }
}

fn tracing_warn(msg: &str) {
    tracing::warn!("{msg}");
}
