//! The `tower::Layer` that guards routes: live sessions pass (never extended), every
//! 2xx answer says when the session expires, anything else is refused.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::error::ApiError;
use crate::sessions::Sessions;
use crate::store::SessionStore;

/// Guards the routes it wraps with [`Sessions`]: a request whose session is missing,
/// malformed, ended or expired gets `401` (and the session is ended in the store); a
/// store that cannot answer gets `503` and the request never reaches the route. A
/// passed request carries its [`crate::LiveSession`] as an extension.
pub struct SessionLayer<S> {
    sessions: Sessions<S>,
}

impl<S> Clone for SessionLayer<S> {
    fn clone(&self) -> Self {
        SessionLayer {
            sessions: self.sessions.clone(),
        }
    }
}

impl<S> SessionLayer<S> {
    pub fn new(sessions: Sessions<S>) -> Self {
        SessionLayer { sessions }
    }
}

impl<S, I> Layer<I> for SessionLayer<S> {
    type Service = SessionService<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        SessionService {
            sessions: self.sessions.clone(),
            inner,
        }
    }
}

/// The service [`SessionLayer`] makes.
pub struct SessionService<S, I> {
    sessions: Sessions<S>,
    inner: I,
}

impl<S, I: Clone> Clone for SessionService<S, I> {
    fn clone(&self) -> Self {
        SessionService {
            sessions: self.sessions.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<S, I> Service<Request> for SessionService<S, I>
where
    S: SessionStore,
    I: Service<Request, Response = Response> + Clone + Send + 'static,
    I::Future: Send + 'static,
{
    type Response = Response;
    type Error = I::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, I::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone is the one that was not polled ready: keep the ready one for this call.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let sessions = self.sessions.clone();
        Box::pin(async move {
            let live = match sessions.current(request.headers()).await {
                Ok(live) => live,
                Err(refused) => return Ok(ApiError::from(refused).into_response()),
            };
            let expires = HeaderValue::from(live.expires_at);
            request.extensions_mut().insert(live);
            let mut response = inner.call(request).await?;
            if response.status().is_success() {
                response
                    .headers_mut()
                    .insert(sessions.expires_header().clone(), expires);
            }
            Ok(response)
        })
    }
}
