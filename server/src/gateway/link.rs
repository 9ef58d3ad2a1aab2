//! A client connection's own upstream connection. It opens at the connection's first
//! forwarded request and stays open (keep-alive) for the requests after it. The client
//! connection's task polls it ([`Link::drive`]), so a request and its answer cross no
//! task, channel or thread on the way. hyper-util's pooled client handed each request
//! through a channel to a connection task of its own: the gateway's largest cost per
//! request (docs/perf-log.md).
//!
//! HTTP/1.1 sends one request at a time per connection, and so does a client
//! connection: one upstream connection per client connection is always enough.
//! Upgrades (WebSockets) do not use the link; they go through the pooled client, as
//! the upgraded connection outlives the client connection's task.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::Context;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Upstream = Connection<TokioIo<TcpStream>, Body>;

/// Why a request could not be sent or answered on the link.
#[derive(Debug)]
pub(super) enum LinkError {
    /// The upstream could not be reached.
    Connect,
    /// Sending failed on the client's own request body (the client's fault).
    RequestBody,
    /// The upstream closed or broke the connection before its answer's head.
    Upstream,
}

/// The upstream connection of one client connection (none until it is first needed).
#[derive(Default)]
pub(super) struct Link(Mutex<State>);

#[derive(Default)]
struct State {
    sender: Option<SendRequest<Body>>,
    upstream: Option<Pin<Box<Upstream>>>,
}

impl Link {
    fn state(&self) -> MutexGuard<'_, State> {
        // Only ever locked briefly by the one task that owns the client connection.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Polls the upstream connection, if one is open. The client connection's task
    /// calls this each time it is woken, after polling the client connection.
    pub(super) fn drive(&self, cx: &mut Context<'_>) {
        let Some(mut upstream) = self.state().upstream.take() else {
            return;
        };
        if upstream.as_mut().poll(cx).is_pending() {
            self.state().upstream = Some(upstream);
        }
        // Ended (closed, broken, or not kept alive): the sender reports it closed and
        // the next request opens a new connection.
    }

    /// Sends `request` (origin-form URI, `Host` set) to `addr`, opening the connection
    /// first when there is none or it was closed. A request the closed connection
    /// never took is sent again once, on a new connection.
    pub(super) async fn send(
        &self,
        addr: &str,
        request: hyper::Request<Body>,
    ) -> Result<hyper::Response<Incoming>, LinkError> {
        let mut request = request;
        for attempt in 0..2 {
            let mut sender = match self.ready_sender().await {
                Some(s) => s,
                None => self.open(addr).await?,
            };
            let answer = sender.try_send_request(request);
            self.state().sender = Some(sender);
            match answer.await {
                Ok(a) => return Ok(a),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if attempt == 0 => request = unsent,
                    _ if body_failed(e.error()) => return Err(LinkError::RequestBody),
                    _ => return Err(LinkError::Upstream),
                },
            }
        }
        Err(LinkError::Upstream)
    }

    /// The open connection's sender once it can take a request; `None` when closed.
    async fn ready_sender(&self) -> Option<SendRequest<Body>> {
        let mut sender = self.state().sender.take()?;
        sender.ready().await.ok()?;
        Some(sender)
    }

    async fn open(&self, addr: &str) -> Result<SendRequest<Body>, LinkError> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|_| LinkError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let (sender, upstream) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(|_| LinkError::Connect)?;
        self.state().upstream = Some(Box::pin(upstream));
        Ok(sender)
    }
}

/// Whether a failed send failed on the client's own request body (malformed chunks, a
/// broken upload): the client's fault (`400`), not the upstream's.
pub(super) fn body_failed(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_user)
        {
            return true;
        }
        source = s.source();
    }
    false
}
