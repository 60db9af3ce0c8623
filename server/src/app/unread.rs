//! Every answer is sent after the request's body was read to its end, whatever the answer.
//!
//! When the server answers without reading the whole body (a refused token, an app too old, a
//! photo it already has, a chunk at the wrong offset), hyper closes the connection after the
//! answer, and a client that writes its whole body before it reads (Python's urllib, many
//! phone HTTP stacks) meets the close under its write: a broken pipe instead of the answer, and
//! the same request again, forever (issue 16). [`read_the_rest`] wraps every request's body so
//! that what the handlers did not read is read and dropped before the answer goes out, up to
//! the largest body the server takes. Two exceptions: a client that asked
//! `Expect: 100-continue` and was never told to go on has not sent its body (hyper sends
//! `100 Continue` only when the body is first read), so it gets the answer at once; and a body
//! declared larger than the limit is not worth reading.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio_stream::{Stream, StreamExt};

use crate::state::AppState;

/// The middleware: see the module doc.
pub(super) async fn read_the_rest(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let settings = state.settings();
    let limit = u64::try_from(settings.limits.max_body_bytes)
        .unwrap_or(u64::MAX)
        .max(settings.blobs.max_photo_bytes);
    let (parts, body) = request.into_parts();
    let shared = Arc::new(Shared {
        body: Mutex::new(Some(body.into_data_stream())),
        read: AtomicU64::new(0),
        polled: AtomicBool::new(false),
    });
    let ask = Asked::of(&parts.headers);
    let request = Request::from_parts(parts, Body::from_stream(Tap(shared.clone())));
    let response = next.run(request).await;
    shared.drain(ask, limit).await;
    response
}

/// What the request's head says of its body.
#[derive(Clone, Copy)]
struct Asked {
    /// `Expect: 100-continue`: the body comes only when the server reads it.
    expects_continue: bool,
    /// `Content-Length`.
    declared: Option<u64>,
}

impl Asked {
    fn of(headers: &HeaderMap) -> Asked {
        Asked {
            expects_continue: headers
                .get(header::EXPECT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue")),
            declared: headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok()),
        }
    }
}

/// The request's body, shared between the handler (through a [`Tap`]) and the middleware,
/// which drains what is left of it. The body stays here when the handler drops its `Tap`.
struct Shared {
    body: Mutex<Option<BodyDataStream>>,
    /// Bytes read so far, by whoever read them.
    read: AtomicU64,
    polled: AtomicBool,
}

impl Shared {
    /// Reads and drops the rest of the body, within `limit` bytes in all.
    async fn drain(&self, ask: Asked, limit: u64) {
        // A client waiting for `100 Continue` was never told to send the body: the answer is
        // all it needs.
        if ask.expects_continue && !self.polled.load(Ordering::Relaxed) {
            return;
        }
        if ask.declared.is_some_and(|n| n > limit) {
            return;
        }
        let Some(mut body) = self
            .body
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        while self.read.load(Ordering::Relaxed) <= limit {
            match body.next().await {
                Some(Ok(bytes)) => {
                    self.read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                Some(Err(_)) | None => return,
            }
        }
    }
}

/// The handler's view of the shared body: the same bytes, counted. Ends when the middleware
/// has taken the body back (only after the handler answered).
struct Tap(Arc<Shared>);

impl Stream for Tap {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let shared = &self.0;
        shared.polled.store(true, Ordering::Relaxed);
        let mut slot = shared.body.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(body) = slot.as_mut() else {
            return Poll::Ready(None);
        };
        let next = Pin::new(body).poll_next(cx);
        if let Poll::Ready(Some(Ok(bytes))) = &next {
            shared.read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        next
    }
}
