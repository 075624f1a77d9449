//! The operator's HTTP endpoints: `/metrics` (OpenMetrics), `/healthz` (liveness: the process
//! serves requests) and `/readyz` (readiness: the CRDs are installed and, on the leader, the
//! caches are synced; a standby replica is ready to take over, so it is ready too).

use crate::controller::Metrics;
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
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct Shared {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    token_requests: Option<Arc<token_requests::Metrics>>,
}

/// The routes, for serving and for tests.
pub fn router(metrics: Arc<Metrics>, health: Arc<Health>) -> Router {
    router_with(metrics, health, None)
}

/// The routes, with the token request endpoint's metrics in `/metrics` when it is enabled.
pub fn router_with(
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

/// Serves the routes on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> std::io::Result<()> {
    serve_with(listener, metrics, health, None).await
}

/// [`serve`], with the token request endpoint's metrics.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    token_requests: Option<Arc<token_requests::Metrics>>,
) -> std::io::Result<()> {
    axum::serve(listener, router_with(metrics, health, token_requests)).await
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
    let leading = shared.health.leading.load(Ordering::Relaxed);
    if !leading || shared.metrics.caches_synced() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet")
    }
}
