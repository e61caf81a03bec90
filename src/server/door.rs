//! The service's door: accepting connections with limits anyone on the network
//! would otherwise use up.
//!
//! `axum::serve` keeps a connection open for as long as the client likes, so a
//! client sending its headers one byte a second, or opening sockets and saying
//! nothing, would hold them forever. Here every connection is served by hyper with
//! a header read timeout (which also closes a connection idle between requests:
//! hyper starts the timer whenever it waits for a request head), at most
//! [`Door::max_connections`] are open at once (the next ones wait in the listen
//! backlog until one closes), and on shutdown idle connections close at once while
//! requests in progress are answered. The body's own timeout is the webhook
//! handler's ([`super::extract`]), which knows the body is still coming.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// The limits of the door (`--header-timeout-ms`, `--body-timeout-ms`,
/// `--max-connections`).
#[derive(Debug, Clone, Copy)]
pub struct Door {
    /// Time to send a request's headers; also how long an idle connection stays.
    pub header_timeout: Duration,
    /// Time to send a request's body, once its headers are in.
    pub body_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

/// Resolves once `stop` says so (already or later). Holds no guard of the channel
/// when it returns, so the futures awaiting it stay `Send`.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves `app` on `listener` until `stop` resolves, then lets every open
/// connection finish the request it is in (idle ones close at once) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    door: Door,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let permits = Arc::new(Semaphore::new(door.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut stopping = stop_rx.clone();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stopped(&mut stopping) => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped(&mut stopping) => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(door.header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Reap the finished ones so the set stays as small as the open connections.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}
