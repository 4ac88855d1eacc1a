//! `GET /api/v1/patterns`, `/anomalies`, `/incidents`, `/incidents/{id}` and
//! `/timeline/...`: the CLI's analyses and JSON shapes, their windows, and bad parameters.

mod common;

use axum::http::StatusCode;
use common::*;
use kubetrail_server::Auth;

const WINDOW: &str = "since=2024-05-01T11:30:00Z&until=2024-05-01T13:00:00Z";

async fn admin_app() -> (tempfile::TempDir, axum::Router) {
    let (dir, store) = store_with(fixture()).await;
    (dir, app(store, Auth::tokens(tenants(), false)))
}

#[tokio::test]
async fn patterns_group_recurring_events_as_the_cli_does() {
    let (_d, app) = admin_app().await;
    let (s, body) = get(&app, &format!("/api/v1/patterns?{WINDOW}"), Some(ADMIN)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    let patterns = body.as_array().unwrap();
    let backoff = patterns
        .iter()
        .find(|p| p["key"]["reason"] == "BackOff" && p["key"]["cluster"] == "prod")
        .unwrap_or_else(|| panic!("a BackOff pattern in {}", short(&body)));
    assert_eq!(backoff["count"], 45);
    for key in [
        "frequency_per_min",
        "first_seen",
        "last_seen",
        "objects",
        "samples",
        "severity",
    ] {
        assert!(backoff.get(key).is_some(), "{key}");
    }
    // The default window is the last hour of the matching data.
    let (_, body) = get(&app, "/api/v1/patterns?namespace=payments", Some(ADMIN)).await;
    assert_eq!(body[0]["key"]["reason"], "FailedMount");
    assert_eq!(body[0]["count"], 20);
    // Thresholds are parameters.
    let (_, body) = get(
        &app,
        &format!("/api/v1/patterns?{WINDOW}&min_count=1000"),
        Some(ADMIN),
    )
    .await;
    assert!(body.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn incidents_have_root_causes_and_are_found_by_id() {
    let (_d, app) = admin_app().await;
    listed_incidents_are_found_by_id(&app).await;
}

/// Incidents kept at ingest are listed from their summaries, their stored text copied into the
/// answer (issue 14 §1): the same incidents as found by id, which decodes them.
#[tokio::test]
async fn kept_incidents_are_listed_as_they_are_found_by_id() {
    let (_d, store) = store_with(fixture()).await;
    let done = kubetrail_query::maintain_incidents(
        store.as_ref(),
        &kubetrail_analyze::IncidentConfig::default(),
    )
    .await
    .expect("maintained")
    .expect("SQLite keeps incidents");
    assert!(done.ranges > 0, "{done:?}");
    let app = app(store, Auth::tokens(tenants(), false));
    listed_incidents_are_found_by_id(&app).await;
}

async fn listed_incidents_are_found_by_id(app: &axum::Router) {
    let app = app.clone();
    let (s, list) = get(&app, &format!("/api/v1/incidents?{WINDOW}"), Some(ADMIN)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&list));
    let list = list.as_array().unwrap();
    assert!(list.len() >= 2, "{}", list.len());
    for i in list {
        let (s, one) = get(
            &app,
            &format!("/api/v1/incidents/{}?{WINDOW}", i["id"].as_str().unwrap()),
            Some(ADMIN),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(&one, i, "the same incident by id");
        assert!(one["root_cause"]["rule"].is_string() && one["timeline"].is_array());
    }
    let (s, body) = get(
        &app,
        &format!("/api/v1/incidents/nope?{WINDOW}"),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
}

#[tokio::test]
async fn anomalies_and_timelines_answer_in_the_cli_shapes() {
    let (_d, app) = admin_app().await;
    let (s, body) = get(
        &app,
        &format!("/api/v1/anomalies?{WINDOW}&history=1d"),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    assert!(body.is_array());
    let (s, story) = get(
        &app,
        "/api/v1/timeline/payments/Pod/api-5f6d7c8b9-xyz12?since=2h",
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&story));
    assert_eq!(story["object"], "payments/Pod/api-5f6d7c8b9-xyz12");
    assert_eq!(story["root_cause"]["rule"], "failed-mount");
    assert!(!story["hints"].as_array().unwrap().is_empty());
    let (s, story) = get(&app, "/api/v1/timeline/-/Node/worker-9", Some(ADMIN)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&story));
    assert!(story["timeline"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_analysis_parameters_are_400s_naming_them() {
    let (_d, app) = admin_app().await;
    for (uri, named) in [
        ("/api/v1/patterns?min_rate=-1", "min_rate"),
        ("/api/v1/patterns?min_count=few", "min_count"),
        ("/api/v1/patterns?max_events=0", "max_events"),
        ("/api/v1/patterns?max_events=999999999", "max_events"),
        ("/api/v1/patterns?since=last%20week", "since"),
        (
            "/api/v1/patterns?since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z",
            "since",
        ),
        ("/api/v1/anomalies?bucket=0s", "bucket"),
        ("/api/v1/anomalies?threshold=-3", "bucket/threshold"),
        ("/api/v1/anomalies?history=forever", "history"),
        ("/api/v1/anomalies?history=400d", "since"),
        ("/api/v1/incidents?quiet=later", "quiet"),
        ("/api/v1/incidents?link_window=x", "link_window"),
        ("/api/v1/incidents?since=200d", "since"),
        ("/api/v1/timeline/shop/Pod/x?since=soon", "since"),
        ("/api/v1/timeline/shop/Pod/x?max_events=0", "max_events"),
        ("/api/v1/timeline/-/Pod/x", "object"),
    ] {
        let (s, body) = get(&app, uri, Some(ADMIN)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {}", short(&body));
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(named), "{uri}: {message}");
    }
}

/// Found by the `http_params`/`http_api` fuzz targets: a `since`, `until`, `history` or `bucket`
/// that reaches past the representable calendar (year -9999 to 9999) overflowed the window
/// arithmetic and panicked the handler (the connection dropped) instead of answering 400.
#[tokio::test]
async fn times_and_durations_beyond_the_calendar_are_400s_not_panics() {
    let (_d, app) = admin_app().await;
    for (uri, named) in [
        ("/api/v1/patterns?since=100000000d", "since"),
        ("/api/v1/incidents?since=100000000d", "since"),
        ("/api/v1/timeline/shop/Pod/x?since=100000000d", "since"),
        ("/api/v1/patterns?until=-009999-01-02T02:00:00Z", "until"),
        ("/api/v1/anomalies?history=100000000d", "history"),
        ("/api/v1/anomalies?bucket=2305843009213693952ms", "bucket"),
        ("/api/v1/anomalies?bucket=9000000000000000000ms", "bucket"),
    ] {
        let (s, body) = get(&app, uri, Some(ADMIN)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {}", short(&body));
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(named), "{uri}: {message}");
    }
}
