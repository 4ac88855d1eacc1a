//! `auth: kubernetes` against the simulator: callers' tokens are checked with a real
//! TokenReview, namespaces with SubjectAccessReviews answered from the simulator's policy
//! table, through a real kube client.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kubetrail_server::{Auth, REVIEW_DEADLINE};
use kubetrail_sim::{InjectedFailure, Rule, SimHandle, Simulator};
use kubetrail_source::review::KubeReviewer;
use serde_json::json;

const ALICE: &str = "alice-kubernetes-token";
const OPS: &str = "ops-kubernetes-token";

async fn reviewer(sim: &SimHandle, dir: &std::path::Path) -> KubeReviewer {
    let path = dir.join("sim.kubeconfig");
    sim.write_kubeconfig(&path).expect("kubeconfig written");
    let kc = Kubeconfig::read_from(&path).expect("kubeconfig read");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    KubeReviewer::from_config(config).expect("kube client")
}

async fn setup(ttl: Duration) -> (tempfile::TempDir, SimHandle, axum::Router) {
    let sim = Simulator::start().await.expect("the simulator starts");
    let policy = sim.policy();
    policy.add_token(ALICE, "alice", &["shop-team"]);
    policy.add_token(OPS, "ops", &["sre"]);
    policy.allow("group:shop-team", Rule::new("list", "events", Some("shop")));
    policy.allow("group:sre", Rule::new("list", "events", None));
    let (dir, store) = store_with(fixture()).await;
    let auth = Auth::tokens(tenants(), false).with_kubernetes(
        Box::new(reviewer(&sim, dir.path()).await),
        "prod",
        ttl,
    );
    (dir, sim, app(store, auth))
}

#[tokio::test]
async fn a_kubernetes_user_sees_the_namespaces_rbac_allows() {
    let (_d, sim, app) = setup(Duration::from_secs(30)).await;
    let (s, body) = get(&app, "/api/v1/events?limit=1000", Some(ALICE)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 61, "prod/shop only");
    assert!(
        events
            .iter()
            .all(|e| e["namespace"] == "shop" && e["cluster"] == "prod")
    );
    let (_, rows) = get(
        &app,
        "/api/v1/aggregate?group_by=cluster,namespace",
        Some(ALICE),
    )
    .await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{}", short(&rows));
    let (s, body) = get(&app, "/api/v1/events?namespace=payments", Some(ALICE)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{}", short(&body));
    let (s, _) = get(&app, "/metrics", Some(ALICE)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A cluster-wide reader sees every namespace of the reviewed cluster, not another cluster.
    let (_, body) = get(&app, "/api/v1/events?limit=1000", Some(OPS)).await;
    assert_eq!(body["events"].as_array().unwrap().len(), 81);
    let (s, _) = get(&app, "/api/v1/events?cluster=staging", Some(OPS)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = get(&app, "/metrics", Some(OPS)).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the cluster's admin is not every cluster's"
    );
    // Unknown tokens fail the TokenReview; configured tenant tokens still work.
    let (s, body) = get(&app, "/api/v1/events", Some("nobody-knows-this-token")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthorized");
    let (s, _) = get(&app, "/api/v1/events", Some(SHOP)).await;
    assert_eq!(s, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn writes_need_create_events_in_the_namespace() {
    let (_d, sim, app) = setup(Duration::from_secs(30)).await;
    let event = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "checkout.1", "namespace": "shop"},
        "regarding": {"kind": "Deployment", "namespace": "shop", "name": "checkout"},
        "reason": "PaymentDeclined",
        "note": "declined",
        "type": "Warning",
    });
    sim.policy()
        .allow("alice", Rule::new("create", "events", Some("shop")));
    let (s, body) = send(
        &app,
        json_req("POST", "/api/v1/events", Some(ALICE), &event),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    // Listing events in a namespace is not creating them.
    sim.policy()
        .allow("alice", Rule::new("list", "events", Some("payments")));
    let mut theirs = event.clone();
    theirs["metadata"]["namespace"] = json!("payments");
    theirs["regarding"]["namespace"] = json!("payments");
    let (s, body) = send(
        &app,
        json_req("POST", "/api/v1/events", Some(ALICE), &theirs),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{}", short(&body));
    let (_, body) = get(&app, "/api/v1/events?reason=PaymentDeclined", Some(ALICE)).await;
    let stored = &body["events"][0];
    assert_eq!(stored["cluster"], "prod");
    assert_eq!(stored["labels"]["kubetrail.io/tenant"], "alice");
    sim.shutdown().await;
}

#[tokio::test]
async fn answers_are_cached_for_the_ttl_then_asked_again() {
    let ttl = Duration::from_millis(300);
    let (_d, sim, app) = setup(ttl).await;
    let (s, _) = get(&app, "/api/v1/events?namespace=payments", Some(ALICE)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    sim.policy()
        .allow("alice", Rule::new("list", "events", Some("payments")));
    let (s, _) = get(&app, "/api/v1/events?namespace=payments", Some(ALICE)).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the cached answer holds within the TTL"
    );
    // What is tested here is the passing of time itself: wait out the TTL.
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let (s, body) = get(&app, "/api/v1/events?namespace=payments", Some(ALICE)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    assert_eq!(body["events"].as_array().unwrap().len(), 20);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_api_server_is_a_503_not_a_401() {
    let (_d, sim, app) = setup(Duration::from_secs(30)).await;
    sim.shutdown().await;
    let (s, body) = get(&app, "/api/v1/events", Some(ALICE)).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{}", short(&body));
    assert_eq!(error_code(&body), "auth_unavailable");
}

/// Issue 11, item 8: while the API server answered 503 to TokenReview, a request hung for a
/// minute or more (the client retried with the server's `Retry-After`, over and over). A
/// review now has a short total deadline and no retries: the request fails closed, fast,
/// with our own 503.
#[tokio::test]
async fn reviews_answered_503_fail_closed_within_the_deadline() {
    let (_d, sim, app) = setup(Duration::from_secs(30)).await;
    // One answered review first, so that the second request's token is cached and only the
    // SubjectAccessReviews fail.
    let (s, _) = get(&app, "/api/v1/events?namespace=shop", Some(ALICE)).await;
    assert_eq!(s, StatusCode::OK);
    sim.faults().fail_next(
        100_000,
        InjectedFailure::ServiceUnavailable {
            retry_after_seconds: 1,
        },
    );
    for (token, uri) in [
        (OPS, "/api/v1/events"),
        (ALICE, "/api/v1/events?namespace=payments"),
    ] {
        let started = Instant::now();
        let (s, body) = tokio::time::timeout(Duration::from_secs(15), get(&app, uri, Some(token)))
            .await
            .unwrap_or_else(|_| panic!("{uri}: no answer within 15 s: the request hangs"));
        let took = started.elapsed();
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{}", short(&body));
        assert_eq!(error_code(&body), "auth_unavailable");
        assert!(
            took < REVIEW_DEADLINE + Duration::from_secs(1),
            "{uri}: answered after {took:?}"
        );
    }
    sim.shutdown().await;
}
