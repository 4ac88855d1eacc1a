//! Tenant isolation: a tenant never sees another's events by any filter, aggregation,
//! analysis, incident or timeline; tokens are required unless anonymous reads are allowed.

mod common;

use axum::http::StatusCode;
use common::*;
use kubetrail_server::Auth;
use serde_json::Value;

async fn tenant_app() -> (tempfile::TempDir, axum::Router) {
    let (dir, store) = store_with(fixture()).await;
    (dir, app(store, Auth::tokens(tenants(), false)))
}

/// Nothing of the payments namespace or of the staging cluster appears anywhere in `body`
/// (their namespaces, clusters, object names and messages are all distinct from shop's).
fn only_shop(body: &Value) {
    let text = body.to_string();
    for foreign in [
        "payments",
        "api-5f6d7c8b9",
        "api-keys",
        "staging",
        "6c5d4b3a2",
    ] {
        assert!(
            !text.contains(foreign),
            "a shop tenant saw {foreign}: {}",
            short(body)
        );
    }
}

#[tokio::test]
async fn no_token_is_401_and_a_bad_token_too() {
    let (_d, app) = tenant_app().await;
    for uri in [
        "/api/v1/events",
        "/api/v1/aggregate",
        "/api/v1/patterns",
        "/api/v1/anomalies",
        "/api/v1/incidents",
        "/api/v1/incidents/x",
        "/api/v1/timeline/shop/Pod/web",
        "/api/v1/alerts",
        "/api/v1/silences",
        "/api/v1/gaps",
        "/api/v1/me",
        "/metrics",
    ] {
        let (s, body) = get(&app, uri, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(error_code(&body), "unauthorized");
        let (s, _) = get(&app, uri, Some("not-a-known-token-at-all")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let req = axum::http::Request::get("/api/v1/events")
        .header("authorization", "Basic Zm9vOmJhcg==")
        .body(axum::body::Body::empty())
        .unwrap();
    let (s, _) = send(&app, req).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The UI's files and the health checks need no token; the data does.
    for open in ["/", "/ui/app.js", "/healthz", "/api/v1/openapi.json"] {
        let (s, _) = get(&app, open, None).await;
        assert_eq!(s, StatusCode::OK, "{open}");
    }
}

/// Issue 11, item 9: a request with two `Authorization` headers was decided by the first one
/// (a proxy adding its own header, or a client smuggling a second token, got whichever came
/// first). It is refused instead, whatever the order and whether either token is valid.
#[tokio::test]
async fn two_authorization_headers_are_refused_not_decided_by_the_first() {
    let (_d, app) = tenant_app().await;
    for (first, second) in [
        (ADMIN, SHOP),
        (SHOP, ADMIN),
        (SHOP, SHOP),
        (ADMIN, "not-a-token"),
    ] {
        let req = axum::http::Request::get("/api/v1/events?limit=1000")
            .header("authorization", format!("Bearer {first}"))
            .header("authorization", format!("Bearer {second}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let (s, body) = send(&app, req).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}", short(&body));
        assert_eq!(error_code(&body), "duplicate_authorization");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Authorization"),
            "{}",
            short(&body)
        );
    }
}

#[tokio::test]
async fn anonymous_reads_work_only_when_allowed_and_never_write() {
    let (_d, store) = store_with(fixture()).await;
    let app = app(store, Auth::tokens(tenants(), true));
    let (s, body) = get(&app, "/api/v1/events?limit=1000", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["events"].as_array().unwrap().len(), 86);
    let (s, body) = send(
        &app,
        json_req(
            "POST",
            "/api/v1/silences",
            None,
            &serde_json::json!({"matchers": ["alertname=x"], "duration": "1h"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{}", short(&body));
    // Off a loopback address, anonymous reads are turned off.
    let mut auth = Auth::tokens(tenants(), true);
    assert!(auth.restrict_to_loopback("0.0.0.0:7070".parse().unwrap()));
    assert!(!auth.anonymous_read());
    let mut auth = Auth::tokens(tenants(), true);
    assert!(!auth.restrict_to_loopback("127.0.0.1:7070".parse().unwrap()));
    assert!(auth.anonymous_read());
}

#[tokio::test]
async fn a_tenant_sees_only_its_events_in_every_endpoint() {
    let (_d, app) = tenant_app().await;
    let since = "since=2024-05-01T11:00:00Z&until=2024-05-01T14:00:00Z";
    for uri in [
        "/api/v1/events?limit=1000".to_string(),
        "/api/v1/events?limit=1000&reason=FailedMount".to_string(),
        "/api/v1/events?limit=1000&search=keys".to_string(),
        "/api/v1/events?limit=1000&correlation=payments/Pod/api-5f6d7c8b9-xyz12".to_string(),
        "/api/v1/events?limit=1000&name=api-5f6d7c8b9-xyz12".to_string(),
        "/api/v1/aggregate?group_by=cluster,namespace,reason".to_string(),
        "/api/v1/aggregate?group_by=namespace&reason=FailedMount".to_string(),
        format!("/api/v1/aggregate?group_by=cluster,namespace&interval=5m&{since}"),
        format!("/api/v1/patterns?min_count=1&min_rate=0&{since}"),
        format!("/api/v1/anomalies?{since}"),
        format!("/api/v1/incidents?{since}"),
        "/api/v1/incidents".to_string(),
    ] {
        let (s, body) = get(&app, &uri, Some(SHOP)).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {}", short(&body));
        only_shop(&body);
    }
    // Searching for the other tenant's events finds nothing.
    let (_, body) = get(&app, "/api/v1/events?reason=FailedMount", Some(SHOP)).await;
    assert_eq!(body["events"].as_array().unwrap().len(), 0);
    let (_, body) = get(&app, "/api/v1/events?search=keys", Some(SHOP)).await;
    assert_eq!(body["events"].as_array().unwrap().len(), 0);
    // The whole shop namespace of prod, and nothing of staging's shop.
    let (_, body) = get(&app, "/api/v1/events?limit=1000", Some(SHOP)).await;
    assert_eq!(body["events"].as_array().unwrap().len(), 61);
    let (_, rows) = get(&app, "/api/v1/aggregate?group_by=cluster", Some(SHOP)).await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["key"]["cluster"], "prod");
    assert_eq!(rows[0]["count"], 61);
}

#[tokio::test]
async fn naming_another_tenants_namespace_or_cluster_is_forbidden() {
    let (_d, app) = tenant_app().await;
    for uri in [
        "/api/v1/events?namespace=payments",
        "/api/v1/events?namespace=shop,payments",
        "/api/v1/events?cluster=staging",
        "/api/v1/aggregate?namespace=payments",
        "/api/v1/patterns?namespace=payments",
        "/api/v1/anomalies?cluster=staging",
        "/api/v1/incidents?namespace=payments",
        "/api/v1/timeline/payments/Pod/api-5f6d7c8b9-xyz12",
        "/api/v1/timeline/shop/Pod/web-6c5d4b3a2-zzzzz?cluster=staging",
    ] {
        let (s, body) = get(&app, uri, Some(SHOP)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{uri}: {}", short(&body));
        assert_eq!(error_code(&body), "forbidden");
    }
    let (s, _) = get(&app, "/metrics", Some(SHOP)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn incidents_and_timelines_of_another_tenant_stay_hidden() {
    let (_d, app) = tenant_app().await;
    let window = "since=2024-05-01T11:00:00Z&until=2024-05-01T14:00:00Z";
    let (_, all) = get(&app, &format!("/api/v1/incidents?{window}"), Some(ADMIN)).await;
    let payments = all
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["subject"]
                .as_str()
                .unwrap_or_default()
                .starts_with("payments/")
        })
        .unwrap_or_else(|| panic!("a payments incident in {}", short(&all)))
        .clone();
    let id = payments["id"].as_str().unwrap();
    let (s, body) = get(
        &app,
        &format!("/api/v1/incidents/{id}?{window}"),
        Some(PAYMENTS),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    assert_eq!(
        body["root_cause"]["rule"],
        "failed-mount",
        "{}",
        short(&body)
    );
    let (s, body) = get(
        &app,
        &format!("/api/v1/incidents/{id}?{window}"),
        Some(SHOP),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{}", short(&body));
    assert_eq!(error_code(&body), "not_found");
    // Its own object's story is there, the other tenant's events are not part of it.
    let (s, story) = get(
        &app,
        "/api/v1/timeline/shop/Pod/web-7d9f8b6c5-x2k4p",
        Some(SHOP),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&story));
    assert!(!story["timeline"].as_array().unwrap().is_empty());
    only_shop(&story);
    let (s, story) = get(
        &app,
        "/api/v1/timeline/payments/Pod/api-5f6d7c8b9-xyz12",
        Some(PAYMENTS),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(story["root_cause"]["rule"], "failed-mount");
}

#[tokio::test]
async fn me_tells_the_ui_who_is_calling() {
    let (_d, app) = tenant_app().await;
    let (_, me) = get(&app, "/api/v1/me", Some(SHOP)).await;
    assert_eq!(me["name"], "shop");
    assert_eq!(me["admin"], false);
    assert_eq!(me["writer"], true);
    assert_eq!(me["namespaces"], serde_json::json!(["shop"]));
    let (_, me) = get(&app, "/api/v1/me", Some(ADMIN)).await;
    assert_eq!(me["admin"], true);
    assert_eq!(me["namespaces"], Value::Null);
}
