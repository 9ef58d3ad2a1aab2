//! Streams end with their session: every answer body and upgraded connection the
//! gateway passes for a session holds a [`Ticket`]; one watcher task per gateway looks
//! up, every [`WATCH_EVERY`], each session that has open streams (one store read per
//! session, so a shared Redis store carries an end on another replica) and cuts the
//! streams of a session that is no longer live. A store that cannot answer cuts too:
//! failure closes.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::watch;

use crate::store::{SessionId, SessionStore};
use crate::Sessions;

/// How often the watcher re-checks the sessions with open streams (the cut comes at
/// most this long, plus one store read, after the session's end).
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The open streams of a gateway, by session.
#[derive(Clone, Default)]
pub(super) struct Streams {
    open: Arc<Mutex<Open>>,
}

#[derive(Default)]
struct Open {
    by_session: HashMap<SessionId, Entry>,
    generation: u64,
}

struct Entry {
    count: usize,
    generation: u64,
    cut: watch::Sender<bool>,
}

/// One open stream of a session; dropping it closes the registration.
pub(super) struct Ticket {
    open: Weak<Mutex<Open>>,
    id: SessionId,
    generation: u64,
    cut: watch::Receiver<bool>,
}

impl Streams {
    pub(super) fn register(&self, id: &SessionId) -> Ticket {
        let mut open = lock(&self.open);
        open.generation += 1;
        let next = open.generation;
        let entry = open.by_session.entry(id.clone()).or_insert_with(|| Entry {
            count: 0,
            generation: next,
            cut: watch::channel(false).0,
        });
        entry.count += 1;
        Ticket {
            open: Arc::downgrade(&self.open),
            id: id.clone(),
            generation: entry.generation,
            cut: entry.cut.subscribe(),
        }
    }

    /// Open streams, all sessions together.
    pub(super) fn count(&self) -> usize {
        lock(&self.open).by_session.values().map(|e| e.count).sum()
    }

    fn sessions(&self) -> Vec<SessionId> {
        lock(&self.open).by_session.keys().cloned().collect()
    }

    fn cut(&self, id: &SessionId) {
        if let Some(entry) = lock(&self.open).by_session.remove(id) {
            entry.cut.send_replace(true);
        }
    }
}

fn lock(open: &Mutex<Open>) -> std::sync::MutexGuard<'_, Open> {
    // A panic while holding this lock leaves only counts behind: keep going.
    open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Ticket {
    /// Resolves when the session has ended (or the gateway is gone).
    pub(super) fn ended(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut cut = self.cut.clone();
        async move {
            let _ = cut.wait_for(|c| *c).await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let Some(open) = self.open.upgrade() else {
            return;
        };
        let mut open = lock(&open);
        if let Some(entry) = open.by_session.get_mut(&self.id) {
            if entry.generation == self.generation {
                entry.count -= 1;
                if entry.count == 0 {
                    open.by_session.remove(&self.id);
                }
            }
        }
    }
}

/// The watcher: runs until the gateway's [`Streams`] are dropped.
pub(super) fn spawn_watcher<S: SessionStore>(streams: &Streams, sessions: Sessions<S>) {
    let weak = Arc::downgrade(&streams.open);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut store_down = false;
        loop {
            tick.tick().await;
            let Some(open) = weak.upgrade() else { return };
            let streams = Streams { open };
            for id in streams.sessions() {
                match sessions.store().get(&id, sessions.now()).await {
                    Ok(Some(_)) => store_down = false,
                    Ok(None) => streams.cut(&id),
                    Err(e) => {
                        if !store_down {
                            tracing::error!("{e}: cutting the streams of unchecked sessions");
                        }
                        store_down = true;
                        streams.cut(&id);
                    }
                }
            }
        }
    });
}

/// An answer body that ends in an error, mid-stream, when its session ends: the
/// browser sees a broken transfer, never a complete one, and nothing after the cut.
///
/// The body registers with [`Streams`] only once it waits for the upstream or passes a
/// second frame. An answer the upstream sent at once (most of them) never takes the
/// registry's lock; one that lasts is watched from its first wait on.
pub(super) struct CutBody<B> {
    inner: B,
    streams: Streams,
    id: SessionId,
    first_passed: bool,
    watched: Option<Watched>,
}

struct Watched {
    ended: Pin<Box<dyn Future<Output = ()> + Send>>,
    _ticket: Ticket,
}

impl<B> CutBody<B> {
    pub(super) fn new(inner: B, streams: &Streams, id: SessionId) -> Self {
        CutBody {
            inner,
            streams: streams.clone(),
            id,
            first_passed: false,
            watched: None,
        }
    }
}

impl<B> Body for CutBody<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let cut = || Poll::Ready(Some(Err("the session ended".into())));
        if let Some(w) = &mut this.watched {
            if w.ended.as_mut().poll(cx).is_ready() {
                return cut();
            }
        }
        let polled = Pin::new(&mut this.inner)
            .poll_frame(cx)
            .map(|f| f.map(|r| r.map_err(Into::into)));
        let watch = match &polled {
            Poll::Ready(None) => false,
            Poll::Ready(Some(_)) if !this.first_passed => {
                this.first_passed = true;
                false
            }
            _ => this.watched.is_none(),
        };
        if watch {
            let ticket = this.streams.register(&this.id);
            let mut ended = Box::pin(ticket.ended());
            let was_cut = ended.as_mut().poll(cx).is_ready();
            this.watched = Some(Watched {
                ended,
                _ticket: ticket,
            });
            if was_cut {
                return cut();
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
