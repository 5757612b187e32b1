//! Reading what is left of a request body after an early answer.
//!
//! A handler that answers before it has read the body (401 without a key,
//! 404, 413 for a declared length over the limit) drops the body. hyper
//! then stops reading: over HTTP/1 it closes the connection with the
//! client's bytes unread, so the kernel resets it and a client that writes
//! its whole body before reading never sees the answer; over HTTP/2 it
//! resets the stream, which clients such as curl 7.x report as a stream
//! error instead of the answer. [`DrainOnDrop`] instead hands a body
//! dropped unfinished to a task that reads and discards it, within
//! [`DRAIN_BYTES`] and [`DRAIN_TIME`], while the answer goes out; past
//! either bound the body is dropped as before.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::clock::InProgress;

/// The most of an unread body the edge reads after answering: far more
/// than any request the gateway accepts (64 KiB by default), enough for a
/// client uploading a file of a few MB to finish and read the 413.
pub const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// The longest the edge keeps reading an unread body after answering.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// A request body that, dropped before its end, is read to its end in the
/// background (within [`DRAIN_BYTES`] and [`DRAIN_TIME`]).
pub struct DrainOnDrop {
    incoming: Option<Incoming>,
    /// Keeps the connection counted as busy until the body is read, so
    /// the idle and header clocks do not run while it drains.
    in_progress: Option<InProgress>,
}

impl DrainOnDrop {
    /// `incoming`, drained on drop unless the client asked for
    /// `100-continue` (it has then sent no body yet, and hyper answers it
    /// without one and closes).
    pub fn new(incoming: Incoming, expects_continue: bool, in_progress: InProgress) -> Self {
        let drain = !expects_continue && !incoming.is_end_stream();
        Self {
            incoming: Some(incoming),
            in_progress: drain.then_some(in_progress),
        }
    }
}

impl Body for DrainOnDrop {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let Some(incoming) = this.incoming.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(incoming).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            // Read to its end (or broken): nothing is left to drain.
            this.incoming = None;
            this.in_progress = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(in_progress) = self.in_progress.take() else {
            return;
        };
        let Some(incoming) = self.incoming.take() else {
            return;
        };
        if incoming.is_end_stream() {
            return;
        }
        // No runtime only while the process is ending; then the body
        // simply goes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(incoming, in_progress));
        }
    }
}

/// Reads and discards `body` to its end, within the bounds.
async fn drain(mut body: Incoming, in_progress: InProgress) {
    let mut drained = 0usize;
    let read_all = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let Ok(frame) = frame else { return false };
            drained += frame.data_ref().map_or(0, Bytes::len);
            if drained > DRAIN_BYTES {
                return false;
            }
        }
        true
    })
    .await;
    if read_all != Ok(true) {
        tracing::debug!(drained, "unread request body given up");
    }
    drop(in_progress);
}
