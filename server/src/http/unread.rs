//! A request body that can be read to its end before the answer goes out.
//!
//! When a handler answers without reading the whole body, hyper closes the connection after
//! the answer, and a client that writes its whole body before reading (Python's urllib, many
//! phone HTTP stacks) meets the close under its write: a broken pipe instead of the answer,
//! and the same request again, forever. [`Unread`] counts what was read, so the rest can be
//! read and dropped, within a limit, whatever the answer is; a client that asked
//! `Expect: 100-continue` and was never told to go on has not sent its body and is left alone.

use axum::body::{BodyDataStream, Bytes};
use axum::http::{HeaderMap, header};
use tokio_stream::{Stream, StreamExt};

/// A body, counted as it is read.
pub(super) struct Unread {
    body: BodyDataStream,
    read: u64,
    polled: bool,
    /// `Expect: 100-continue`: hyper sends `100 Continue` on the first read of the body.
    expects_continue: bool,
    declared: Option<u64>,
    /// Read at most this much in all: beyond the size limit a body is not worth reading.
    limit: u64,
}

impl Unread {
    pub(super) fn new(body: BodyDataStream, headers: &HeaderMap, limit: u64) -> Unread {
        let expects_continue = headers
            .get(header::EXPECT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        Unread {
            body,
            read: 0,
            polled: false,
            expects_continue,
            declared,
            limit,
        }
    }

    /// Reads and drops the rest of the body, within the limit.
    pub(super) async fn drain(&mut self) {
        // A client waiting for `100 Continue` was never told to send the body: the answer is
        // all it needs.
        if self.expects_continue && !self.polled {
            return;
        }
        if self.declared.is_some_and(|n| n > self.limit) {
            return;
        }
        while self.read <= self.limit {
            match self.next().await {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    }
}

impl Stream for Unread {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.polled = true;
        let next = std::pin::Pin::new(&mut self.body).poll_next(cx);
        if let std::task::Poll::Ready(Some(Ok(bytes))) = &next {
            self.read = self.read.saturating_add(bytes.len() as u64);
        }
        next
    }
}
