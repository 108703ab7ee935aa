//! The REST listener's connections: HTTP/1.1 and HTTP/2 (in clear or over TLS) served by
//! hyper, with the bounds a listener open to a network needs and `axum::serve` does not set.
//!
//! - A connection has [`HEADER_READ_TIMEOUT`] to send each request's headers (HTTP/1.1, idle
//!   keep-alive included) and its first request (either version); a client that opens
//!   connections and sends half a request holds none for longer.
//! - HTTP/2 connections are pinged every [`KEEP_ALIVE`] and closed when a ping is not
//!   answered; each carries at most [`MAX_STREAMS`] requests at once and [`MAX_HEADERS`] bytes
//!   of headers.
//! - At most [`MAX_CONNECTIONS`] connections are served at once; more wait in the kernel's
//!   backlog.
//! - Bodies are bounded by the guard ([`super::guard::MAX_BODY`], read within
//!   [`super::guard::BODY_READ_TIMEOUT`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper::service::Service as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

/// How long a client has to send a request's headers.
pub(super) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once.
const MAX_CONNECTIONS: usize = 1024;
/// Requests one HTTP/2 connection carries at once.
const MAX_STREAMS: u32 = 64;
/// The most header bytes of a request.
const MAX_HEADERS: usize = 64 * 1024;
/// How often an HTTP/2 connection is pinged, and how long the answer may take.
const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// How long a stop waits for requests in progress.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener`'s connections until `shutdown` resolves, then lets requests
/// in progress finish (for [`DRAIN_TIMEOUT`] at most).
pub(super) async fn serve_connections<L>(
    mut listener: L,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Io: Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).max_buf_size(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE)
        .keep_alive_timeout(KEEP_ALIVE)
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(MAX_HEADERS as u32);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (io, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let served = Arc::new(AtomicBool::new(false));
        let service = {
            let (served, inner) = (served.clone(), TowerToHyperService::new(router.clone()));
            hyper::service::service_fn(move |request| {
                served.store(true, Ordering::Relaxed);
                inner.call(request)
            })
        };
        let connection = graceful.watcher().watch(builder.serve_connection_with_upgrades(TokioIo::new(io), service).into_owned());
        tokio::spawn(async move {
            tokio::pin!(connection);
            // Telling HTTP/1 from HTTP/2 waits for the client's first bytes without a limit of
            // its own: a connection that brought no request within the header timeout is closed.
            tokio::select! {
                _ = &mut connection => return drop(permit),
                () = tokio::time::sleep(HEADER_READ_TIMEOUT) => {}
            }
            if served.load(Ordering::Relaxed) {
                let _ = connection.await;
            }
            drop(permit);
        });
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::debug!("REST connections still open after the drain timeout were closed");
    }
    Ok(())
}
