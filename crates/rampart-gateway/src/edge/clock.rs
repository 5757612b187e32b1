//! How long an HTTP/1 connection may wait, by what it waits for.
//!
//! hyper's own header-read timer starts when a connection begins waiting
//! for a request, so it would also close a keep-alive connection that is
//! merely idle between requests, and a pooled client's next request would
//! meet an EOF. The edge keeps two clocks instead, as nginx does
//! (`keepalive_timeout` and `client_header_timeout`):
//!
//! - idle, between an answer and the first byte of the next request: the
//!   connection is closed cleanly (TLS `close_notify`) after
//!   `idle_timeout`;
//! - reading a request's head, from its first byte (or, on a new
//!   connection, from the end of the handshake) until the head is whole:
//!   the connection is cut off after `header_read_timeout`, however
//!   steadily the bytes trickle in;
//! - busy from a request's head until its answer is written and its body
//!   read: no clock here, the request falls under the pipeline's deadline.
//!
//! HTTP/2 connections have no such clock: they carry many requests at
//! once and are kept alive (or found dead) by pings.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What the connection is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests, since the instant.
    Idle(Instant),
    /// Reading a request's head, since the instant.
    Head(Instant),
    /// This many requests (or unread bodies) in progress.
    Busy(usize),
    /// An HTTP/2 connection: no clock.
    Off,
}

/// The clocks of one connection, shared by its socket ([`Timed`]) and its
/// requests ([`InProgress`]).
#[derive(Debug)]
pub struct Clock {
    phase: Mutex<Phase>,
    idle_timeout: Duration,
    header_read_timeout: Duration,
}

impl Clock {
    /// A clock for a connection whose handshake has just finished: it is
    /// reading its first request's head.
    pub fn new(idle_timeout: Duration, header_read_timeout: Duration, http2: bool) -> Arc<Self> {
        let phase = if http2 {
            Phase::Off
        } else {
            Phase::Head(Instant::now())
        };
        Arc::new(Self {
            phase: Mutex::new(phase),
            idle_timeout,
            header_read_timeout,
        })
    }

    fn with_phase<R>(&self, change: impl FnOnce(&mut Phase) -> R) -> R {
        // A panic elsewhere cannot leave the phase half-written.
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut phase)
    }

    /// A request's head has arrived: the connection is busy until the
    /// returned guard (and any others) are dropped.
    pub fn request_began(self: &Arc<Self>) -> InProgress {
        self.with_phase(|phase| {
            *phase = match *phase {
                Phase::Off => Phase::Off,
                Phase::Busy(count) => Phase::Busy(count + 1),
                Phase::Idle(_) | Phase::Head(_) => Phase::Busy(1),
            }
        });
        InProgress(self.clone())
    }

    /// Bytes arrived on the socket at `now`.
    fn bytes_arrived(&self, bytes: &[u8], now: Instant) {
        self.with_phase(|phase| match *phase {
            // A client without ALPN may still speak HTTP/2 (prior
            // knowledge); its preface is no HTTP/1 request.
            Phase::Head(_) | Phase::Idle(_) if bytes.starts_with(b"PRI * HTTP/2") => {
                *phase = Phase::Off;
            }
            Phase::Idle(_) => *phase = Phase::Head(now),
            Phase::Head(_) | Phase::Busy(_) | Phase::Off => {}
        });
    }

    /// When the connection's wait runs out, and whether that is the idle
    /// clock (`true`) or the header clock.
    fn deadline(&self) -> Option<(Instant, bool)> {
        self.with_phase(|phase| match *phase {
            Phase::Idle(since) => Some((since + self.idle_timeout, true)),
            Phase::Head(since) => Some((since + self.header_read_timeout, false)),
            Phase::Busy(_) | Phase::Off => None,
        })
    }
}

/// A request (or its unread body) in progress; dropped when it is done.
#[derive(Debug)]
pub struct InProgress(Arc<Clock>);

impl Clone for InProgress {
    fn clone(&self) -> Self {
        self.0.request_began()
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.with_phase(|phase| {
            *phase = match *phase {
                Phase::Busy(count) if count > 1 => Phase::Busy(count - 1),
                Phase::Busy(_) => Phase::Idle(Instant::now()),
                other => other,
            }
        });
    }
}

/// A connection's socket that enforces its [`Clock`] on reads: while the
/// socket has nothing to read, the clock's deadline is armed; when it
/// passes, an idle connection reads an end of stream (hyper then closes it
/// cleanly) and one reading a head reads an error.
pub struct Timed<T> {
    io: T,
    clock: Arc<Clock>,
    sleep: Option<(Pin<Box<Sleep>>, Instant)>,
}

impl<T> Timed<T> {
    pub fn new(io: T, clock: Arc<Clock>) -> Self {
        Self {
            io,
            clock,
            sleep: None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Timed<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if !read.is_empty() {
                    this.clock.bytes_arrived(read, Instant::now());
                }
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => {}
        }
        let Some((deadline, idle)) = this.clock.deadline() else {
            return Poll::Pending;
        };
        let sleep = match &mut this.sleep {
            Some((sleep, armed)) => {
                if *armed != deadline {
                    sleep.as_mut().reset(deadline);
                    *armed = deadline;
                }
                sleep
            }
            None => {
                &mut this
                    .sleep
                    .insert((Box::pin(tokio::time::sleep_until(deadline)), deadline))
                    .0
            }
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if idle {
            // An end of stream: hyper closes an idle connection cleanly.
            Poll::Ready(Ok(()))
        } else {
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request headers not received in time",
            )))
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Timed<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(75);
    const HEAD: Duration = Duration::from_secs(10);

    fn assert_between(deadline: Option<(Instant, bool)>, from: Instant, to: Instant, idle: bool) {
        let (at, is_idle) = deadline.expect("a deadline");
        assert_eq!(is_idle, idle);
        assert!(from <= at && at <= to, "{at:?} not within {from:?}..{to:?}");
    }

    #[test]
    fn the_clocks_follow_the_connection() {
        let before = Instant::now();
        let clock = Clock::new(IDLE, HEAD, false);
        // A new connection waits for its first head on the header clock.
        assert_between(
            clock.deadline(),
            before + HEAD,
            Instant::now() + HEAD,
            false,
        );
        let request = clock.request_began();
        let body = request.clone();
        assert_eq!(clock.deadline(), None);
        drop(request);
        // The answer is out but the body is still being read: no clock.
        assert_eq!(clock.deadline(), None);
        let answered = Instant::now();
        drop(body);
        assert_between(
            clock.deadline(),
            answered + IDLE,
            Instant::now() + IDLE,
            true,
        );
        // Idle for longer than the header clock, then a byte arrives: the
        // header clock starts from that byte, not from the idle start.
        let first_byte = Instant::now() + Duration::from_secs(30);
        clock.bytes_arrived(b"G", first_byte);
        assert_eq!(clock.deadline(), Some((first_byte + HEAD, false)));
        // More bytes of the same head do not restart it.
        clock.bytes_arrived(b"ET / HTTP/1.1\r\n", first_byte + Duration::from_secs(1));
        assert_eq!(clock.deadline(), Some((first_byte + HEAD, false)));
    }

    #[test]
    fn http2_has_no_clock() {
        assert_eq!(Clock::new(IDLE, HEAD, true).deadline(), None);
        let clock = Clock::new(IDLE, HEAD, false);
        clock.bytes_arrived(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Instant::now());
        assert_eq!(clock.deadline(), None);
        drop(clock.request_began());
        assert_eq!(clock.deadline(), None);
    }
}
