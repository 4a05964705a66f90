//! The HTTP listener: health check and Prometheus metrics now; the REST API, Manager console and
//! webmail of later issues mount here too.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

/// What HTTP handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: PrometheusHandle,
    pub health: Arc<dyn Fn() -> futures_health::HealthFuture + Send + Sync>,
}

/// Builds the router.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `GET /healthz`: 200 when the store answers a query, 503 otherwise, for load balancers.
async fn healthz(State(state): State<HttpState>) -> impl IntoResponse {
    metrics::counter!("postwerk_http_requests_total", "route" => "healthz").increment(1);
    match (state.health)().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text exposition format (OPS-2).
async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let body = state.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// The health probe's future type, boxed so any store can plug in.
pub mod futures_health {
    use std::future::Future;
    use std::pin::Pin;
    /// Resolves to `Err(reason)` when the platform cannot serve.
    pub type HealthFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
}
