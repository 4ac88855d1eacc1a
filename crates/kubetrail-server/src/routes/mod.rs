//! The whole HTTP surface in one [`router`]: the API (documented in OpenAPI by the same
//! `routes!` calls that mount it), its document at `/api/v1/openapi.json` and `/openapi.json`,
//! the API root `/api/v1/` pointing at it, `/metrics`, `/healthz`, `/readyz` and the UI;
//! [`metrics_router`] is the token-free surface of `serve.metrics_listen`.

mod health;
mod metrics;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::middleware;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    aggregate, alerts, analysis, changes, events, fleet, gaps, incidents, ingest, me, silences,
    timeline,
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
        .routes(routes!(changes::list))
        .split_for_parts()
}

/// Every route of the server, with request metrics and 5xx logging.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let index = Arc::new(api_index(&doc));
    let doc = Arc::new(doc);
    let openapi = get(move || {
        let doc = doc.clone();
        async move { Json(doc.as_ref().clone()) }
    });
    let root = get(move || {
        let index = index.clone();
        async move { ([(header::LINK, SERVICE_DESC)], Json(index.as_ref().clone())) }
    });
    Router::new()
        .merge(api)
        .route(OPENAPI_PATH, openapi.clone())
        .route("/openapi.json", openapi)
        .route("/api/v1", root.clone())
        .route("/api/v1/", root)
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

/// Where the OpenAPI document is served (also at `/openapi.json`).
const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The API root's pointer to its description (RFC 8631), which tools follow to find it.
const SERVICE_DESC: &str = "</api/v1/openapi.json>; rel=\"service-desc\"; type=\"application/vnd.oai.openapi+json;version=3.1\"";

/// The API root (`GET /api/v1/`): where the OpenAPI document is, and every operation it
/// describes, so that a person or a tool starting at the root finds the rest.
fn api_index(doc: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let operations: Vec<serde_json::Value> = doc
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ]
            .into_iter()
            .filter_map(move |(method, op)| {
                op.as_ref().map(|op| {
                    serde_json::json!({
                        "method": method,
                        "path": path,
                        "operation_id": op.operation_id,
                        "summary": op.summary,
                    })
                })
            })
        })
        .collect();
    serde_json::json!({
        "name": "kubetrail",
        "version": env!("CARGO_PKG_VERSION"),
        "openapi": OPENAPI_PATH,
        "operations": operations,
    })
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
