//! The operator's HTTP endpoints: `/metrics` (OpenMetrics), `/healthz` (liveness: the process
//! serves requests) and `/readyz` (readiness: every listener can accept connections and, on the
//! leader, the caches are synced; a standby replica is ready to take over, so it is ready too).

use crate::controller::Metrics;
use crate::listener::limits::{METRICS_MAX_CONNECTIONS, METRICS_MAX_CONNECTIONS_PER_IP};
use crate::listener::{self, Limits};
use crate::operator::Health;
use crate::token_requests;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The content type of OpenMetrics text.
pub(crate) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct Shared {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    token_requests: Option<Arc<token_requests::Metrics>>,
}

/// The routes, with the token request endpoint's metrics in `/metrics` when it is enabled.
pub(crate) fn router_with(
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    token_requests: Option<Arc<token_requests::Metrics>>,
) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready_handler))
        .with_state(Shared {
            metrics,
            health,
            token_requests,
        })
}

/// Serves the routes on `listener` until the process ends, within the default [`Limits`]
/// (at most [`METRICS_MAX_CONNECTIONS`] connections, [`METRICS_MAX_CONNECTIONS_PER_IP`] from one
/// client address).
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> std::io::Result<()> {
    serve_with(
        listener,
        metrics,
        health,
        None,
        Limits::new(METRICS_MAX_CONNECTIONS, METRICS_MAX_CONNECTIONS_PER_IP),
    )
    .await
}

/// [`serve`], with the token request endpoint's metrics and the given limits. The listener is
/// registered in `health`, so that `/readyz` fails while it cannot accept connections.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    token_requests: Option<Arc<token_requests::Metrics>>,
    limits: Limits,
) -> std::io::Result<()> {
    let status = health
        .listeners
        .register("metrics and health", listener.local_addr()?);
    let service = listener::Service {
        router: router_with(metrics, health, token_requests),
        tls: None,
        timed_out: |limit| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the request was not answered within {} s", limit.as_secs()),
            )
                .into_response()
        },
    };
    listener::serve(listener, service, limits, status, std::future::pending()).await;
    Ok(())
}

async fn metrics_handler(State(shared): State<Shared>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, OPENMETRICS)],
        match &shared.token_requests {
            Some(t) => shared.metrics.encode_with(&[t.registry()]),
            None => shared.metrics.encode(),
        },
    )
}

async fn ready_handler(State(shared): State<Shared>) -> impl IntoResponse {
    let mut problems = shared.health.listeners.problems();
    let leading = shared.health.leading.load(Ordering::Relaxed);
    if leading && !shared.metrics.caches_synced() {
        problems.push("caches not synced yet".to_owned());
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready".to_owned())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, problems.join("; "))
    }
}
