//! Requests counted by route template, method and status, and timed: one layer around the
//! whole HTTPS application.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Instant;

/// Request latency buckets, in seconds: from a cached page (a millisecond) to a large
/// export (tens of seconds).
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The route of a request that matched none (a 404 from the fallback): one series for all,
/// whatever path was asked for.
pub const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
}

impl HttpMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTPS requests answered, by method, route template and status",
            requests.clone(),
        );
        let durations: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(BUCKETS.iter().copied()));
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response's headers, by method and route template",
            durations.clone(),
        );
        Self {
            requests,
            durations,
        }
    }

    fn observe(&self, method: &'static str, route: String, status: u16, seconds: f64) {
        let route = RouteLabels { method, route };
        self.durations.get_or_create(&route).observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.route,
                status,
            })
            .inc();
    }
}

/// The method as a label: the standard ones by name, anything else as `other` (a client
/// must not be able to make a series per made-up method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A route template as a label: axum's `{name}` parameters written `:name`, so that the
/// value needs no escaping in a PromQL regular expression (`{` is a repetition there) and
/// every text-format parser reads it (some stop a label set at the first `}`).
pub fn route_label(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push(':');
                out.push_str(after[..close].trim_start_matches('*'));
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Counts and times every request by its route template (the path itself could hold a
/// tenant's name or a record's id).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| route_label(p.as_str()))
        .unwrap_or_else(|| UNMATCHED.to_string());
    let res = next.run(req).await;
    state.metrics.http.observe(
        method,
        route,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_colon_parameters() {
        assert_eq!(
            route_label("/{tenant}/api/v1/persons/{id}"),
            "/:tenant/api/v1/persons/:id"
        );
        assert_eq!(route_label("/healthz"), "/healthz");
        assert_eq!(route_label("/static/{*path}"), "/static/:path");
        assert_eq!(route_label("/odd/{x"), "/odd/{x");
    }
}
