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

/// The alert page's API (issue 16, item 2): one alert by id with its deliveries and the
/// matchers of its one-click silence; another tenant's alert is an unknown one.
#[tokio::test]
async fn one_alert_by_id_within_the_tenant_with_its_silence_matchers() {
    let (_d, store, app) = with_alerts().await;
    let mut a = alert("oom-killed", "shop", "web-2");
    a.labels
        .insert("group_key".into(), "prod/shop/Deployment/x".into());
    a.labels.insert("cluster".into(), "prod".into());
    a.labels.insert("reason".into(), "OOMKilling".into());
    let id = store
        .save_alert(
            &a,
            &[kubetrail_store::NewDelivery {
                notifier: "hook".into(),
                due_at: at(60),
            }],
            at(60),
        )
        .await
        .unwrap();
    let uri = format!("/api/v1/alerts/{id}");
    for token in [ADMIN, SHOP] {
        let (s, body) = get(&app, &uri, Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{}", short(&body));
        assert_eq!(body["id"], id);
        assert_eq!(body["rule"], "oom-killed");
        assert_eq!(body["deliveries"][0]["notifier"], "hook");
        assert_eq!(body["deliveries"][0]["state"], "pending");
        assert_eq!(
            body["silence_matchers"],
            json!([
                "alertname=oom-killed",
                "group_key=prod/shop/Deployment/x",
                "cluster=prod",
                "namespace=shop"
            ])
        );
    }
    let (s, body) = get(&app, &uri, Some(PAYMENTS)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{}", short(&body));
    assert_eq!(body["error"]["message"], format!("no alert {id}"));
    let (s, _) = get(&app, "/api/v1/alerts/987654", Some(ADMIN)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = get(&app, "/api/v1/alerts/x", Some(ADMIN)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "bad_parameter");
    let (s, _) = get(&app, &uri, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The shop tenant silences the alert's group with those matchers: it owns the silence.
    let (_, page) = get(&app, &uri, Some(SHOP)).await;
    let (s, silence) = send(
        &app,
        json_req(
            "POST",
            "/api/v1/silences",
            Some(SHOP),
            &json!({"matchers": page["silence_matchers"], "duration": "2h"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{}", short(&silence));
    // An alert recorded without a `group_key` label is silenced on all its labels.
    let (_, all) = get(&app, "/api/v1/alerts?rule=crash-loop", Some(ADMIN)).await;
    let old = all[0]["id"].as_i64().unwrap();
    let (_, page) = get(&app, &format!("/api/v1/alerts/{old}"), Some(ADMIN)).await;
    assert_eq!(
        page["silence_matchers"],
        json!(["alertname=crash-loop", "namespace=shop"])
    );
}

/// Links sent before alert pages existed, `<ui_url>/alerts/<id>`, redirect to the page.
#[tokio::test]
async fn old_alert_links_redirect_to_the_alert_page() {
    let (_d, _s, app) = with_alerts().await;
    let response = tower::ServiceExt::oneshot(app.clone(), get_req("/alerts/7", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "../#/alert/7");
    let (s, _) = get(&app, "/alerts/seven", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
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
