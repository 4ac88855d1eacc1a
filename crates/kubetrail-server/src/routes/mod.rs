//! The whole HTTP surface in one [`router`]: the API (documented in OpenAPI by the same
//! `routes!` calls that mount it), `/api/v1/openapi.json`, `/metrics`, `/healthz`, `/readyz`
//! and the UI; [`metrics_router`] is the token-free surface of `serve.metrics_listen`.

mod health;
mod metrics;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::middleware;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    aggregate, alerts, analysis, events, fleet, gaps, incidents, ingest, me, silences, timeline,
};
use crate::openapi::ApiDoc;
use crate::{ApiError, AppState, Auth, telemetry, ui};

/// The API routes and the OpenAPI document describing them.
pub(crate) fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(events::list, ingest::post))
        .routes(routes!(aggregate::aggregate))
        .routes(routes!(analysis::list_patterns))
        .routes(routes!(analysis::list_anomalies))
        .routes(routes!(incidents::list))
        .routes(routes!(incidents::one))
        .routes(routes!(timeline::timeline))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::one))
        .routes(routes!(silences::list, silences::create))
        .routes(routes!(silences::expire))
        .routes(routes!(gaps::list))
        .routes(routes!(me::me))
        .routes(routes!(fleet::fleet))
        .split_for_parts()
}

/// Every route of the server, with request metrics and 5xx logging.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = std::sync::Arc::new(doc);
    Router::new()
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(ui::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            telemetry::track,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Only `/metrics`, `/healthz` and `/readyz`, answered without a token: for Prometheus and
/// the kubelet on a port of their own (`serve.metrics_listen`), while the API and the UI keep
/// requiring one on the main listener. Whoever reaches this port sees every tenant's metrics:
/// keep it to the cluster network (the manifests' NetworkPolicy says who may reach it).
pub fn metrics_router(state: AppState) -> Router {
    let state = AppState {
        auth: std::sync::Arc::new(Auth::anonymous_admin()),
        ..state
    };
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            telemetry::track,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Requests no route matched: answered in JSON and counted under one `unmatched` route.
async fn not_found(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
) -> ApiError {
    state
        .telemetry
        .observe_unmatched(&method, StatusCode::NOT_FOUND.as_u16());
    ApiError::not_found(format!("no route {}", uri.path()))
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed here"),
    )
}
