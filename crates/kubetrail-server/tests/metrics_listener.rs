//! `serve.metrics_listen`: the token-free listener for Prometheus and probes serves
//! `/metrics`, `/healthz` and `/readyz` and nothing else, while the main listener keeps
//! asking for a token (issue 16: in the cluster, `/metrics` answered 401 to Prometheus).

mod common;

use axum::http::StatusCode;
use common::*;
use kubetrail_server::{AppState, Auth, Limits, Telemetry, metrics_router, router};

#[tokio::test]
async fn metrics_answer_without_a_token_on_the_metrics_listener_only() {
    let (_d, store) = store_with(fixture()).await;
    let telemetry = Telemetry::new();
    telemetry.cluster("prod").processed(3);
    // As in the cluster: tenants configured, no anonymous reads on the main listener.
    let state = AppState::new(
        store,
        Auth::tokens(tenants(), false),
        Limits::default(),
        telemetry,
    );
    let main = router(state.clone());
    let metrics = metrics_router(state);

    let (s, _) = get(&main, "/metrics", None).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "the main listener wants a token"
    );
    let (s, _) = get(&main, "/metrics", Some(SHOP)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "and an admin's");

    let (s, body) = get(&metrics, "/metrics", None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let text = body.as_str().expect("the text format");
    assert!(
        text.contains("kubetrail_pipeline_events_processed_total{cluster=\"prod\"} 3"),
        "{text}"
    );
    for path in ["/healthz", "/readyz"] {
        let (s, body) = get(&metrics, path, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {body}");
    }
    // Nothing else: no API, no UI, even for an admin token.
    for path in [
        "/api/v1/events",
        "/api/v1/incidents",
        "/",
        "/api/v1/openapi.json",
    ] {
        let (s, _) = get(&metrics, path, Some(ADMIN)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        let (s, _) = get(&metrics, path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
}
