//! The metrics listener: plain HTTP, `GET /metrics` and nothing else. It is not the HTTPS
//! application (whose routes, sessions and audit records it has none of), so a scrape is
//! neither audited nor counted as a request.

use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The OpenMetrics text format, which Prometheus asks for and prefers.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The metrics listener's application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics is served here\n") })
        .with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    state.metrics.gauges.refresh(&state).await;
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        state.metrics.encode(),
    )
        .into_response()
}
