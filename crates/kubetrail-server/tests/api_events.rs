//! `GET /api/v1/events`, `GET /api/v1/aggregate`, `GET /api/v1/gaps`: filters, pages, limits
//! and errors, against a real SQLite store through the router.

mod common;

use std::collections::HashSet;

use axum::http::StatusCode;
use common::*;
use kubetrail_server::Auth;
use serde_json::Value;

async fn admin_app() -> (tempfile::TempDir, axum::Router) {
    let (dir, store) = store_with(fixture()).await;
    (dir, app(store, Auth::tokens(tenants(), false)))
}

fn uids(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {}", short(body)))
        .iter()
        .map(|e| e["uid"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn filters_select_what_the_cli_would() {
    let (_d, app) = admin_app().await;
    let (s, body) = get(
        &app,
        "/api/v1/events?namespace=payments&limit=1000",
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    assert_eq!(uids(&body).len(), 20);
    let (_, body) = get(
        &app,
        "/api/v1/events?cluster=prod&namespace=shop&reason=Pulled&limit=1000",
        Some(ADMIN),
    )
    .await;
    assert_eq!(uids(&body).len(), 15);
    let (_, body) = get(
        &app,
        "/api/v1/events?severity=error%2B&namespace=shop&cluster=prod&limit=1000",
        Some(ADMIN),
    )
    .await;
    assert!(
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["severity"] == "error" || e["severity"] == "critical"),
        "{}",
        short(&body)
    );
    let (_, body) = get(&app, "/api/v1/events?search=keys&limit=1000", Some(ADMIN)).await;
    assert_eq!(uids(&body).len(), 20);
    // since/until select events whose first–last seen overlaps the range.
    let (_, body) = get(
        &app,
        "/api/v1/events?namespace=payments&since=2024-05-01T12:05:00Z&until=2024-05-01T12:10:00Z",
        Some(ADMIN),
    )
    .await;
    assert_eq!(uids(&body).len(), 5, "{}", short(&body));
    // The same event JSON the CLI prints.
    let e = &body["events"][0];
    for key in [
        "cluster",
        "uid",
        "regarding",
        "reason",
        "note",
        "type",
        "first_seen",
        "last_seen",
        "count",
        "category",
        "severity",
        "correlation_id",
        "template",
    ] {
        assert!(e.get(key).is_some(), "{key} missing in {e}");
    }
}

#[tokio::test]
async fn pages_cover_every_event_once_in_order() {
    let (_d, app) = admin_app().await;
    let (_, all) = get(&app, "/api/v1/events?cluster=prod&limit=1000", Some(ADMIN)).await;
    let expected = uids(&all);
    assert_eq!(expected.len(), 81);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/api/v1/events?cluster=prod&limit=7&cursor={c}"),
            None => "/api/v1/events?cluster=prod&limit=7".to_string(),
        };
        let (s, page) = get(&app, &uri, Some(ADMIN)).await;
        assert_eq!(s, StatusCode::OK, "{}", short(&page));
        let got = uids(&page);
        assert!(got.len() <= 7);
        seen.extend(got);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, expected, "pages must neither skip nor repeat");
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len());
}

#[tokio::test]
async fn a_relative_since_means_the_same_range_on_every_page() {
    let (_d, app) = admin_app().await;
    // The fixture is from 2024: "since=1000d" is a relative range resolved once.
    let (_, first) = get(&app, "/api/v1/events?since=5000d&limit=10", Some(ADMIN)).await;
    let c = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (s, second) = get(
        &app,
        &format!("/api/v1/events?since=5000d&limit=10&cursor={c}"),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&second));
    assert_eq!(uids(&second).len(), 10);
}

#[tokio::test]
async fn bad_parameters_get_a_json_400_naming_them() {
    let (_d, app) = admin_app().await;
    for (uri, named) in [
        ("/api/v1/events?severity=loud", "severity"),
        ("/api/v1/events?category=weird", "category"),
        ("/api/v1/events?since=yesterday", "since"),
        ("/api/v1/events?until=soon", "until"),
        (
            "/api/v1/events?since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z",
            "since",
        ),
        ("/api/v1/events?limit=0", "limit"),
        ("/api/v1/events?limit=5000", "limit"),
        ("/api/v1/events?limit=many", "limit"),
        ("/api/v1/events?namespaces=shop", "namespaces"),
        ("/api/v1/events?cursor=garbage", "cursor"),
        ("/api/v1/events?search=a%20AND%20(", "search"),
        ("/api/v1/aggregate?group_by=colour", "group_by"),
        ("/api/v1/aggregate?interval=5x&since=1h", "interval"),
        ("/api/v1/aggregate?interval=1s&since=400d", "since"),
        ("/api/v1/aggregate?interval=1m", "since"),
        ("/api/v1/aggregate?interval=1s&since=30d", "interval"),
        ("/api/v1/gaps?since=never", "since"),
    ] {
        let (s, body) = get(&app, uri, Some(ADMIN)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {}", short(&body));
        let code = error_code(&body);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        if code == "bad_parameter" {
            assert!(message.starts_with(named), "{uri}: {message}");
        } else {
            assert_eq!(code, "invalid_query", "{uri}: {}", short(&body));
        }
    }
    // A cursor made for one filter is refused with another.
    let (_, page) = get(&app, "/api/v1/events?namespace=shop&limit=2", Some(ADMIN)).await;
    let c = page["next_cursor"].as_str().unwrap();
    let (s, body) = get(
        &app,
        &format!("/api/v1/events?namespace=payments&limit=2&cursor={c}"),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cursor")
    );
}

#[tokio::test]
async fn aggregate_counts_occurrences_by_dimension_and_bucket() {
    let (_d, app) = admin_app().await;
    let (s, rows) = get(
        &app,
        "/api/v1/aggregate?group_by=cluster,namespace",
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&rows));
    let rows = rows.as_array().unwrap();
    let count = |c: &str, n: &str| {
        rows.iter()
            .find(|r| r["key"]["cluster"] == c && r["key"]["namespace"] == n)
            .map(|r| r["count"].as_u64().unwrap())
    };
    assert_eq!(count("prod", "shop"), Some(61));
    assert_eq!(count("prod", "payments"), Some(20));
    assert_eq!(count("staging", "shop"), Some(5));
    let (s, rows) = get(
        &app,
        "/api/v1/aggregate?group_by=severity&interval=10m&since=2024-05-01T12:00:00Z&until=2024-05-01T13:00:00Z&namespace=payments",
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&rows));
    let total: u64 = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["bucket"].is_string(), "{r}");
            r["count"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(total, 20);
}

#[tokio::test]
async fn gaps_are_listed_for_the_callers_clusters() {
    let (_d, store) = store_with(fixture()).await;
    let mut txn = store.begin().await.unwrap();
    for cluster in ["prod", "staging"] {
        txn.save_gap(kubetrail_store::Gap {
            cluster: cluster.into(),
            stream: "events".into(),
            from: at(0),
            to: at(60),
            cause: "410 Gone".into(),
        })
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();
    let app = app(store, Auth::tokens(tenants(), false));
    let (_, all) = get(&app, "/api/v1/gaps", Some(ADMIN)).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, shop) = get(&app, "/api/v1/gaps", Some(SHOP)).await;
    let shop = shop.as_array().unwrap();
    assert_eq!(shop.len(), 1);
    assert_eq!(shop[0]["cluster"], "prod");
}
