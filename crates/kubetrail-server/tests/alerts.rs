//! `GET /api/v1/alerts` and silences (create, list, expire), per tenant.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use kubetrail_model::Severity;
use kubetrail_server::Auth;
use kubetrail_store::{AlertEvent, AlertRecord, AlertStatus, Store};
use serde_json::json;

fn alert(rule: &str, ns: &str, pod: &str) -> AlertRecord {
    AlertRecord {
        rule: rule.into(),
        group_key: format!("prod/{ns}/Deployment/x"),
        status: AlertStatus::Firing,
        severity: Severity::Error,
        labels: BTreeMap::from([
            ("alertname".to_string(), rule.to_string()),
            ("namespace".to_string(), ns.to_string()),
        ]),
        annotations: BTreeMap::new(),
        starts_at: at(0),
        ends_at: None,
        first_seen: at(0),
        last_seen: at(60),
        event_count: 5,
        silenced_by: None,
        events: vec![AlertEvent {
            cluster: "prod".into(),
            uid: format!("{ns}-1"),
            object: format!("{ns}/Pod/{pod}"),
            reason: "BackOff".into(),
            note: "restarting".into(),
            count: 5,
            last_seen: at(60),
        }],
    }
}

async fn with_alerts() -> (tempfile::TempDir, Arc<dyn Store>, axum::Router) {
    let (dir, store) = store_with(fixture()).await;
    store
        .save_alert(&alert("crash-loop", "shop", "web-1"), &[], at(60))
        .await
        .unwrap();
    store
        .save_alert(&alert("failed-mount", "payments", "api-1"), &[], at(60))
        .await
        .unwrap();
    let app = app(store.clone(), Auth::tokens(tenants(), false));
    (dir, store, app)
}

#[tokio::test]
async fn tenants_see_their_alerts_and_admins_all() {
    let (_d, _s, app) = with_alerts().await;
    let (s, all) = get(&app, "/api/v1/alerts", Some(ADMIN)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&all));
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, shop) = get(&app, "/api/v1/alerts", Some(SHOP)).await;
    let shop = shop.as_array().unwrap();
    assert_eq!(shop.len(), 1);
    assert_eq!(shop[0]["rule"], "crash-loop");
    let (_, firing) = get(
        &app,
        "/api/v1/alerts?status=firing&rule=failed-mount",
        Some(ADMIN),
    )
    .await;
    assert_eq!(firing.as_array().unwrap().len(), 1);
    for bad in [
        "/api/v1/alerts?status=open",
        "/api/v1/alerts?limit=0",
        "/api/v1/alerts?since=later",
        "/api/v1/alerts?state=firing",
    ] {
        let (s, body) = get(&app, bad, Some(ADMIN)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(&body), "bad_parameter");
    }
}

#[tokio::test]
async fn silences_are_created_listed_and_expired_within_the_tenant() {
    let (_d, _s, app) = with_alerts().await;
    let new = json!({
        "matchers": ["alertname=crash-loop", "namespace=shop", "cluster=prod"],
        "duration": "2h",
        "comment": "deploying a fix",
    });
    let (s, created) = send(&app, json_req("POST", "/api/v1/silences", Some(SHOP), &new)).await;
    assert_eq!(s, StatusCode::CREATED, "{}", short(&created));
    assert_eq!(created["created_by"], "shop");
    let id = created["id"].as_i64().unwrap();
    // A silence that would also silence other tenants' alerts is refused.
    for matchers in [
        json!(["alertname=crash-loop"]),
        json!(["namespace=payments", "cluster=prod"]),
        json!(["namespace=shop"]),
        json!(["namespace=~shop|payments", "cluster=prod"]),
    ] {
        let body = json!({"matchers": matchers, "duration": "1h"});
        let (s, answer) = send(
            &app,
            json_req("POST", "/api/v1/silences", Some(SHOP), &body),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{matchers}: {}", short(&answer));
    }
    for (body, why) in [
        (
            json!({"matchers": ["alertname"], "duration": "1h"}),
            "matchers",
        ),
        (
            json!({"matchers": ["namespace=shop"], "duration": "soon"}),
            "duration",
        ),
        (
            json!({"matchers": ["namespace=shop"], "duration": "1h", "extra": 1}),
            "unknown field",
        ),
    ] {
        let (s, answer) = send(
            &app,
            json_req("POST", "/api/v1/silences", Some(ADMIN), &body),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(why),
            "{}",
            short(&answer)
        );
    }
    let (_, mine) = get(&app, "/api/v1/silences", Some(SHOP)).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let (_, theirs) = get(&app, "/api/v1/silences", Some(PAYMENTS)).await;
    assert!(theirs.as_array().unwrap().is_empty());
    let (s, _) = send(
        &app,
        json_req(
            "DELETE",
            &format!("/api/v1/silences/{id}"),
            Some(PAYMENTS),
            &json!({}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another tenant cannot end it");
    let (s, ended) = send(
        &app,
        json_req(
            "DELETE",
            &format!("/api/v1/silences/{id}"),
            Some(SHOP),
            &json!({}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&ended));
    let (_, active) = get(&app, "/api/v1/silences", Some(SHOP)).await;
    assert!(active.as_array().unwrap().is_empty());
    let (_, all) = get(&app, "/api/v1/silences?all=true", Some(ADMIN)).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (s, _) = send(
        &app,
        json_req("DELETE", "/api/v1/silences/x", Some(ADMIN), &json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
