//! `/healthz`, `/readyz`, `/metrics`, the UI's files, and errors for unknown routes.

mod common;

use std::sync::atomic::Ordering;

use axum::http::{StatusCode, header};
use common::*;
use kubetrail_server::{AppState, Auth, Limits, Telemetry, router};
use tower::ServiceExt;

#[tokio::test]
async fn health_is_always_up_and_readiness_waits_for_the_watchers() {
    let (_d, store) = store_with(fixture()).await;
    let telemetry = Telemetry::new();
    let app = router(AppState::new(
        store,
        Auth::tokens(tenants(), false),
        Limits::default(),
        telemetry.clone(),
    ));
    let (s, body) = get(&app, "/healthz", None).await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, _) = get(&app, "/readyz", None).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "no watcher: ready once the store answers"
    );
    let stats = telemetry.cluster("prod").watch_stats();
    let (s, body) = get(&app, "/readyz", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["watchers"]["total"], 1);
    stats.synced.store(1, Ordering::Relaxed);
    let (s, _) = get(&app, "/readyz", None).await;
    assert_eq!(s, StatusCode::OK);
}

/// Issue 11, item 2: a store that kept failing every write (the pipeline spooling batch after
/// batch) left `/readyz` saying ready, since its reads still worked.
#[tokio::test]
async fn readiness_reports_a_store_that_keeps_failing_writes_and_recovers_with_one_success() {
    let (_d, store) = store_with(fixture()).await;
    let telemetry = Telemetry::new();
    let app = router(AppState::new(
        store,
        Auth::tokens(tenants(), false),
        Limits::default(),
        telemetry.clone(),
    ));
    let prod = telemetry.cluster("prod");
    prod.watch_stats().synced.store(1, Ordering::Relaxed);
    prod.write_failed("connection refused");
    let (s, _) = get(&app, "/readyz", None).await;
    assert_eq!(s, StatusCode::OK, "one failure is a hiccup");
    for _ in 1..kubetrail_server::FAILING_WRITES {
        prod.write_failed("connection refused");
    }
    let (s, body) = get(&app, "/readyz", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let why = body["store"].as_str().unwrap_or_default();
    assert!(
        why.contains("writes in a row failed") && why.contains("connection refused"),
        "{body}"
    );
    // A refused event is not the store's failure; a write that goes through makes it ready.
    let quarantined = kubetrail_store::WriteSummary {
        new: 3,
        quarantined: 1,
        ..Default::default()
    };
    prod.stored(&quarantined, std::time::Duration::from_millis(2));
    let (s, body) = get(&app, "/readyz", None).await;
    assert_eq!((s, body["store"].as_str()), (StatusCode::OK, Some("ok")));
    let (_, text) = send(&app, get_req("/metrics", Some(ADMIN))).await;
    let text = text.as_str().unwrap().to_string();
    assert!(
        text.contains("kubetrail_pipeline_events_quarantined_total{cluster=\"prod\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("kubetrail_store_write_failures_total{cluster=\"prod\"} 3"),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_show_pipeline_and_rates() {
    let (_d, store) = store_with(fixture()).await;
    let telemetry = Telemetry::new();
    let app = router(AppState::new(
        store,
        Auth::tokens(tenants(), false),
        Limits::default(),
        telemetry.clone(),
    ));
    let prod = telemetry.cluster("prod");
    prod.watch_stats().received.fetch_add(7, Ordering::Relaxed);
    prod.watch_stats().expired.fetch_add(1, Ordering::Relaxed);
    prod.processed(7);
    prod.stored(
        &kubetrail_store::WriteSummary {
            new: 5,
            updated: 1,
            unchanged: 1,
            occurrences: 6,
            conflicts: 0,
            quarantined: 0,
        },
        std::time::Duration::from_millis(3),
    );
    prod.dropped("spool_full", 2);
    prod.spool_bytes(4096);
    for id in ["a", "b", "c"] {
        get(&app, &format!("/api/v1/incidents/{id}"), Some(ADMIN)).await;
    }
    get(&app, "/no/such/page", Some(ADMIN)).await;
    let response = app
        .clone()
        .oneshot(get_req("/metrics", Some(ADMIN)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let (_, text) = send(&app, get_req("/metrics", Some(ADMIN))).await;
    let text = text.as_str().unwrap().to_string();
    for line in [
        r#"kubetrail_http_requests_total{route="/api/v1/incidents/{id}",method="GET",status="404"} 3"#,
        r#"kubetrail_events_received_total{cluster="prod",source="watch"} 7"#,
        r#"kubetrail_watch_expired_total{cluster="prod"} 1"#,
        r#"kubetrail_pipeline_events_processed_total{cluster="prod"} 7"#,
        r#"kubetrail_pipeline_events_stored_total{cluster="prod",outcome="new"} 5"#,
        r#"kubetrail_pipeline_events_deduplicated_total{cluster="prod"} 1"#,
        r#"kubetrail_pipeline_events_dropped_total{cluster="prod",reason="spool_full"} 2"#,
        r#"kubetrail_spool_bytes{cluster="prod"} 4096"#,
        r#"kubetrail_store_write_duration_seconds_count{cluster="prod"} 1"#,
        r#"kubetrail_alerts{status="firing"} 0"#,
        "# TYPE kubetrail_analyze_event_rate_per_minute gauge",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(
        !text.contains("/api/v1/incidents/a"),
        "raw paths are never labels"
    );
    assert_eq!(text.matches("# EOF").count(), 1);
    assert!(text.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn the_ui_is_served_with_a_strict_content_security_policy() {
    let (_d, store) = store_with(Vec::new()).await;
    let app = app(store, Auth::anonymous_admin());
    let response = app.clone().oneshot(get_req("/", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let (_, html) = send(&app, get_req("/", None)).await;
    let html = html.as_str().unwrap();
    assert!(html.contains("/ui/app.js"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external requests"
    );
    for file in [
        "app.js",
        "dom.js",
        "charts.js",
        "pages.js",
        "alert.js",
        "app.css",
    ] {
        let (s, body) = send(&app, get_req(&format!("/ui/{file}"), None)).await;
        assert_eq!(s, StatusCode::OK, "{file}");
        // The SVG namespace is a name, not an address that is fetched.
        let body = body
            .as_str()
            .unwrap_or_default()
            .replace("http://www.w3.org/2000/svg", "");
        assert!(!body.contains("innerHTML"), "{file} must not write HTML");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{file} fetches only this server"
        );
    }
    let (s, body) = get(&app, "/ui/missing.js", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let (_d, store) = store_with(Vec::new()).await;
    let app = app(store, Auth::anonymous_admin());
    let (s, body) = get(&app, "/api/v1/nothing", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
    let (s, body) = send(
        &app,
        json_req("PUT", "/api/v1/events", None, &serde_json::json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&body), "method_not_allowed");
}
