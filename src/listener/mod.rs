//! One way to serve every HTTP listener of the operator (the metrics and health port, the token
//! request endpoint over HTTP and over HTTPS): an accept loop that never ends on an accept
//! error, a connection cap (in all and per client IP address, `per_ip`), timeouts on every
//! phase of a connection (writing the answer too, `write_timeout`), a bound on buffered
//! request headers, and graceful shutdown.
//!
//! hyper's HTTP/1.1 connections are driven directly (as axum::serve does inside), because
//! axum::serve has no connection cap, no header or body timeout, and takes plain TCP only.
//! What a connection may cost is in [`limits`]; whether each listener can serve, for
//! `/readyz`, in [`status`].

pub mod limits;
mod per_ip;
mod release;
pub(crate) mod status;
mod write_timeout;

pub use limits::Limits;
pub use status::ListenerStatus;
pub(crate) use status::Listeners;

use axum::Router;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

/// How long the loop waits after an accept error that is not one connection's (no file
/// descriptor or memory left) before it accepts again: axum's and hyper-util's value.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// A repeated warning (accept errors, refused connections) is logged at most once per this.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Where connections come from: a [`tokio::net::TcpListener`], or in tests one that fails.
pub trait Accept: Send {
    /// The next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<TcpStream>> + Send;
}

impl Accept for tokio::net::TcpListener {
    async fn accept(&mut self) -> io::Result<TcpStream> {
        tokio::net::TcpListener::accept(self).await.map(|(s, _)| s)
    }
}

/// What a listener serves.
#[derive(Clone)]
pub struct Service {
    /// The routes.
    pub router: Router,
    /// TLS, or plain HTTP.
    pub tls: Option<TlsAcceptor>,
    /// The answer to a request cut at [`Limits::request_timeout`] (given the timeout), in the
    /// listener's own error format; it is sent with `Connection: close`.
    pub timed_out: fn(Duration) -> Response,
}

/// Serves `service` on `listener` within `limits`, reporting into `status`, until `shutdown`
/// completes; then stops accepting, lets each open connection finish its request, and returns.
pub async fn serve(
    mut listener: impl Accept,
    service: Service,
    limits: Limits,
    status: Arc<ListenerStatus>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let stopped = Stopped(status.clone());
    // A semaphore counts permits in a u32 when taking them all back at once.
    let cap = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let open = Arc::new(Semaphore::new(cap as usize));
    let released = Arc::new(release::OnClose::default());
    let per_ip = Arc::new(per_ip::PerIp::default());
    let (stop, stopping) = watch::channel(());
    let mut accept_warning = Warning::default();
    let mut cap_warning = Warning::default();
    let mut per_ip_warning = Warning::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let tcp = match accepted {
            Ok(tcp) => tcp,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                let problem = format!("cannot accept connections: {error}");
                accept_warning.log(|suppressed| {
                    tracing::error!(%error, suppressed, "{} {problem}; retrying in {} s", status.describe(), ACCEPT_BACKOFF.as_secs());
                });
                status.set(Some(problem));
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        status.set(None);
        let Ok(permit) = open.clone().try_acquire_owned() else {
            cap_warning.log(|suppressed| {
                tracing::warn!(
                    suppressed,
                    "{} has {} connections open, its cap: refusing more",
                    status.describe(),
                    cap
                );
            });
            drop(tcp);
            continue;
        };
        // A connection whose peer address is unknown (it already closed) is dropped.
        let Some(admitted) = tcp
            .peer_addr()
            .ok()
            .and_then(|peer| per_ip.admit(peer.ip(), limits.max_connections_per_ip))
        else {
            per_ip_warning.log(|suppressed| {
                tracing::warn!(
                    suppressed,
                    "{} refuses a connection: its client address has {} open, the cap per address",
                    status.describe(),
                    limits.max_connections_per_ip
                );
            });
            drop(tcp);
            continue;
        };
        let (service, stopping, released) = (service.clone(), stopping.clone(), released.clone());
        tokio::spawn(async move {
            connection(tcp, service, limits, stopping).await;
            drop(admitted);
            drop(permit);
            released.closed();
        });
    }
    drop(listener);
    drop(stop);
    // Each connection holds a permit until it ends: all back means all ended.
    let _ = open.acquire_many(cap).await;
    drop(stopped);
}

/// Marks the listener stopped when its accept loop ends, however it ends (return, panic, abort).
struct Stopped(Arc<ListenerStatus>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.set(Some("has stopped".to_owned()));
    }
}

/// An error of one connection (the client went away before it was accepted), after which the
/// next accept succeeds at once; hyper-util's and axum's classification.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A warning logged at most once per [`WARNING_INTERVAL`], with the count it stood for.
#[derive(Default)]
struct Warning {
    last: Option<Instant>,
    suppressed: u64,
}

impl Warning {
    fn log(&mut self, log: impl FnOnce(u64)) {
        if self.last.is_some_and(|l| l.elapsed() < WARNING_INTERVAL) {
            self.suppressed += 1;
            return;
        }
        log(self.suppressed);
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}

/// One connection, TLS handshake included, until it closes or the listener stops.
async fn connection(
    tcp: TcpStream,
    service: Service,
    limits: Limits,
    stopping: watch::Receiver<()>,
) {
    // Answers are small and each is written whole: no reason to wait for a delayed ACK.
    let _ = tcp.set_nodelay(true);
    match service.tls.clone() {
        None => http(tcp, service, limits, stopping).await,
        Some(acceptor) => {
            let Ok(Ok(tls)) =
                tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await
            else {
                return;
            };
            http(tls, service, limits, stopping).await;
        }
    }
}

/// HTTP/1.1 with keep-alive on `io`, with the header, request and write timeouts and at most
/// [`limits::MAX_HEADER_BYTES`] of buffered headers.
async fn http<I>(io: I, service: Service, limits: Limits, mut stopping: watch::Receiver<()>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Service {
        router, timed_out, ..
    } = service;
    let router = hyper_util::service::TowerToHyperService::new(router);
    let answer = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let answering = hyper::service::Service::call(&router, request);
        async move {
            let answered = tokio::time::timeout(limits.request_timeout, answering).await;
            Ok::<_, std::convert::Infallible>(match answered {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => {
                    let mut response = timed_out(limits.request_timeout);
                    response.headers_mut().insert(
                        axum::http::header::CONNECTION,
                        axum::http::HeaderValue::from_static("close"),
                    );
                    response
                }
            })
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits::MAX_HEADER_BYTES)
        .serve_connection(
            TokioIo::new(write_timeout::WriteTimeout::new(io, limits.write_timeout)),
            answer,
        );
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stopping.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

#[cfg(test)]
mod tests;
