//! HTTP request metrics by matched route (never the raw path: `/api/v1/incidents/{id}`, not
//! each id), and the log line of every 5xx answer.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::AppState;
use crate::error::ServerFault;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub route: String,
    pub method: &'static str,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub route: String,
    pub method: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
    ])
}

pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl HttpMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "kubetrail_http_requests",
            "HTTP requests, by matched route, method and status",
            self.requests.clone(),
        );
        registry.register(
            "kubetrail_http_request_duration_seconds",
            "HTTP request latency, by matched route and method",
            self.latency.clone(),
        );
    }

    pub fn observe(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                method,
            })
            .observe(seconds);
    }
}

/// Methods from a fixed set, so that a client cannot grow the label set.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Counts the request under its matched route (or `unmatched`) and logs 5xx answers.
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    state.telemetry.http().observe(
        &route,
        &method,
        status.as_u16(),
        started.elapsed().as_secs_f64(),
    );
    if status.is_server_error() {
        let detail = response
            .extensions()
            .get::<ServerFault>()
            .map_or("", |f| f.0.as_str());
        if status == axum::http::StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(%route, %method, status = status.as_u16(), error = detail, "request failed");
        } else {
            tracing::warn!(%route, %method, status = status.as_u16(), error = detail, "request failed");
        }
    }
    response
}
