//! Downstream HTTP/1.1 connections that hold no request state while they are idle.
//!
//! Pingora's own connection loop builds a connection's request machinery as soon as the
//! connection is accepted, and again as soon as a keep-alive request has finished: the proxy's
//! request future (~14 KB), its connection loop (~4 KB) and the request-head buffer (~4 KB).
//! It then keeps them for as long as the client sends nothing, which is most of the time on
//! the connections browsers keep open: ~38 KB per idle keep-alive connection
//! (bench/RESULTS.md). [`KeepAlive`] runs the same HTTP/1.1 loop but waits for the first octet
//! of each request before it builds anything, so an idle connection holds only its socket,
//! Pingora's accept task and this loop's few hundred bytes.
//!
//! The wait is bounded by the keep-alive timeout (`server.keepalive_timeout_seconds`), for the
//! first request of a connection as for the next ones, and ends when the server shuts down:
//! an idle connection is then closed, as Pingora does, while a request whose first octet has
//! arrived is still served (without keep-alive), as Pingora serves a request it has buffered.
//!
//! HTTP/2 (ALPN `h2`), custom ALPN, and every connection when `h2c` or `force_custom` is set
//! go to Pingora's loop unchanged. On streams that cannot be peeked at (TLS), the session is
//! built at once, as Pingora does, and the session's own keep-alive timeout bounds the wait.
//!
//! Two things this loop relies on, both true of the gateway: HTTP/1.1 pipelining stays off
//! (Pingora's default: the next request of a pipelining client is not read ahead into the
//! persistent settings, where this loop would not see it and would wait for the socket), and
//! no request changes its session's keep-alive timeout (the wait between requests uses the
//! configured one; Pingora's persistent settings do not expose the session's).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Stream, ALPN};
use pingora::server::ShutdownWatch;
use prometheus::IntGauge;

/// A Pingora HTTP application behind an HTTP/1.1 loop that is lean while idle.
#[derive(Debug)]
pub struct KeepAlive<A> {
    inner: Arc<A>,
    timeout: Duration,
    gauges: Gauges,
}

/// The connection gauges this loop keeps.
#[derive(Debug, Clone)]
pub struct Gauges {
    /// Connections in [`KeepAlive`] (every protocol).
    pub open: IntGauge,
    /// Connections waiting for a request's first octet.
    pub waiting: IntGauge,
}

impl<A> KeepAlive<A> {
    /// Serves `inner`'s HTTP/1.1 connections; an idle one is closed after `timeout`.
    pub fn new(inner: A, timeout: Duration, gauges: Gauges) -> Self {
        Self {
            inner: Arc::new(inner),
            timeout,
            gauges,
        }
    }
}

/// One unit of a gauge, given back when dropped (also when the connection's task is).
struct Held<'a>(&'a IntGauge);

impl<'a> Held<'a> {
    fn new(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// How waiting for a request's first octet ended.
enum Wait {
    /// It arrived (and is still there to be read).
    Ready,
    /// The stream cannot be peeked at: build the session now.
    Unsupported,
    /// Timeout, shutdown, the client closed, or a read error: close the connection.
    Close,
}

/// Waits until `stream` has an octet to read, `timeout` passes or the server shuts down; an
/// octet that is already there wins over both.
///
/// No octet is lost when another branch wins: the plain stream's `try_peek` reads exactly one
/// octet and rewinds it within the same poll, so it is either still unread or already back.
/// (A longer peek could be cut off half-read.)
async fn first_octet(
    stream: &mut Stream,
    timeout: Duration,
    shutdown: &ShutdownWatch,
    waiting: &IntGauge,
) -> Wait {
    let _waiting = Held::new(waiting);
    let mut shutdown = shutdown.clone();
    let mut octet = [0u8; 1];
    tokio::select! {
        biased;
        peeked = stream.try_peek(&mut octet) => match peeked {
            Ok(true) => Wait::Ready,
            Ok(false) => Wait::Unsupported,
            // Closed by the client, reset: nothing to answer.
            Err(_) => Wait::Close,
        },
        _ = shutdown.wait_for(|down| *down) => Wait::Close,
        () = tokio::time::sleep(timeout) => Wait::Close,
    }
}

#[async_trait]
impl<A> ServerApp for KeepAlive<A>
where
    A: HttpServerApp + Send + Sync + 'static,
{
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let _open = Held::new(&self.gauges.open);
        let options = self.inner.server_options();
        let pingoras_own = matches!(
            stream.selected_alpn_proto(),
            Some(ALPN::H2 | ALPN::Custom(_))
        ) || options.is_some_and(|o| o.h2c || o.force_custom);
        if pingoras_own {
            return ServerApp::process_new(&self.inner, stream, shutdown).await;
        }
        let keepalive_secs = self.timeout.as_secs().max(1);
        let mut settings: Option<HttpPersistentSettings> = None;
        let mut first = true;
        loop {
            match first_octet(&mut stream, self.timeout, shutdown, &self.gauges.waiting).await {
                Wait::Ready | Wait::Unsupported => {}
                Wait::Close => return None,
            }
            let mut session = ServerSession::new_http1(stream);
            match settings.take() {
                Some(kept) => kept.apply_to_session(&mut session),
                // As Pingora's loop does for a new connection, with our timeout.
                None if first => {
                    session.set_keepalive(Some(keepalive_secs));
                    session.set_keepalive_reuses_remaining(
                        options.and_then(|o| o.keepalive_request_limit),
                    );
                }
                // A reuse without settings keeps the session's defaults, as in Pingora's loop.
                None => {}
            }
            first = false;
            if *shutdown.borrow() {
                session.set_keepalive(None);
            }
            let reused = self.inner.process_new_http(session, shutdown).await?;
            (stream, settings) = reused.consume();
        }
    }

    async fn cleanup(&self) {
        self.inner.http_cleanup().await;
    }
}
