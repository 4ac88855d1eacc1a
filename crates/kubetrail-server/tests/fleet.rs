//! `GET /api/v1/fleet`: rows per cluster and tenant for those who see everything, a tenant's
//! own row only for a tenant, namespaces when no tenants are configured.

mod common;

use axum::http::StatusCode;
use common::*;
use kubetrail_server::Auth;
use serde_json::Value;

fn rows(body: &Value) -> Vec<(String, String)> {
    body["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {}", short(body)))
        .iter()
        .map(|r| {
            (
                r["cluster"].as_str().unwrap().to_string(),
                r["group"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row<'a>(body: &'a Value, cluster: &str, group: &str) -> &'a Value {
    body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cluster"] == cluster && r["group"] == group)
        .unwrap_or_else(|| panic!("no row {cluster}/{group}: {}", short(body)))
}

#[tokio::test]
async fn an_admin_sees_every_cluster_and_tenant_with_incidents_errors_and_workloads() {
    let (_d, store) = store_with(fixture()).await;
    let app = app(store, Auth::tokens(tenants(), false));
    let (s, body) = get(&app, "/api/v1/fleet", Some(ADMIN)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    assert_eq!(body["grouping"], "tenant");
    let mut got = rows(&body);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("prod".to_string(), "payments".to_string()),
            ("prod".to_string(), "shop".to_string()),
            ("staging".to_string(), "(no tenant)".to_string()),
        ]
    );
    let shop = row(&body, "prod", "shop");
    assert_eq!(shop["events"], 61, "{}", short(shop));
    assert_eq!(shop["namespaces"], serde_json::json!(["shop"]));
    assert!(
        shop["incident_count"].as_u64().unwrap() >= 1,
        "{}",
        short(shop)
    );
    assert_eq!(
        shop["worst_workloads"][0]["workload"],
        "shop/Deployment/web",
        "{}",
        short(shop)
    );
    let trend: u64 = shop["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(trend, shop["errors"].as_u64().unwrap(), "{}", short(shop));
    let payments = row(&body, "prod", "payments");
    assert_eq!(payments["events"], 20);
    assert_eq!(row(&body, "staging", "(no tenant)")["events"], 5);
}

/// A tenant gets its own row, and no trace of another tenant or cluster: not its events,
/// workloads, incidents, nor the other tenants' names.
#[tokio::test]
async fn a_tenant_sees_only_its_own_row() {
    let (_d, store) = store_with(fixture()).await;
    let app = app(store, Auth::tokens(tenants(), false));
    let (s, body) = get(&app, "/api/v1/fleet?since=7d", Some(SHOP)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    assert_eq!(rows(&body), vec![("prod".to_string(), "shop".to_string())]);
    let text = body.to_string();
    for foreign in [
        "payments",
        "api-5f6d7c8b9",
        "staging",
        "6c5d4b3a2",
        "ops",
        "(no tenant)",
    ] {
        assert!(
            !text.contains(foreign),
            "shop saw {foreign}: {}",
            short(&body)
        );
    }
    assert_eq!(body["rows"][0]["events"], 61);

    let (s, body) = get(&app, "/api/v1/fleet", Some(PAYMENTS)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        rows(&body),
        vec![("prod".to_string(), "payments".to_string())]
    );
    assert!(!body.to_string().contains("shop"), "{}", short(&body));

    let (s, body) = get(&app, "/api/v1/fleet?cluster=staging", Some(SHOP)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{}", short(&body));
    let (s, _) = get(&app, "/api/v1/fleet", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_tenants_the_rows_are_namespaces_and_a_cluster_filter_narrows_them() {
    let (_d, store) = store_with(fixture()).await;
    let app = app(store, Auth::anonymous_admin());
    let (s, body) = get(&app, "/api/v1/fleet", None).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    assert_eq!(body["grouping"], "namespace");
    let mut got = rows(&body);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("prod".to_string(), "payments".to_string()),
            ("prod".to_string(), "shop".to_string()),
            ("staging".to_string(), "shop".to_string()),
        ]
    );
    let (_, body) = get(&app, "/api/v1/fleet?cluster=staging", None).await;
    assert_eq!(
        rows(&body),
        vec![("staging".to_string(), "shop".to_string())]
    );
    // The longest range allowed works: the window before it is a query of its own.
    let (s, body) = get(&app, "/api/v1/fleet?since=90d", None).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    let (s, body) = get(&app, "/api/v1/fleet?namespace=shop", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}", short(&body));
}

/// A Kubernetes user gets rows per namespace of what RBAC lets it list in the reviewed
/// cluster: no tenant's name, nothing of another cluster or namespace.
#[tokio::test]
async fn a_kubernetes_user_gets_its_namespaces_rows_only() {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    use kubetrail_sim::{Rule, Simulator};
    use kubetrail_source::review::KubeReviewer;

    let sim = Simulator::start().await.expect("the simulator starts");
    let policy = sim.policy();
    policy.add_token("alice-kubernetes-token", "alice", &["shop-team"]);
    policy.add_token("ops-kubernetes-token", "ops", &["sre"]);
    policy.allow("group:shop-team", Rule::new("list", "events", Some("shop")));
    policy.allow("group:sre", Rule::new("list", "events", None));
    let (dir, store) = store_with(fixture()).await;
    let path = dir.path().join("sim.kubeconfig");
    sim.write_kubeconfig(&path).expect("kubeconfig written");
    let kc = Kubeconfig::read_from(&path).expect("kubeconfig read");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    let reviewer = KubeReviewer::from_config(config).expect("kube client");
    let auth = Auth::tokens(tenants(), false).with_kubernetes(
        Box::new(reviewer),
        "prod",
        std::time::Duration::from_secs(30),
    );
    let app = app(store, auth);

    let (s, body) = get(&app, "/api/v1/fleet", Some("alice-kubernetes-token")).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&body));
    assert_eq!(body["grouping"], "namespace");
    assert_eq!(rows(&body), vec![("prod".to_string(), "shop".to_string())]);
    assert!(!body.to_string().contains("payments"), "{}", short(&body));

    let (_, body) = get(&app, "/api/v1/fleet", Some("ops-kubernetes-token")).await;
    assert_eq!(body["grouping"], "namespace");
    let mut got = rows(&body);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("prod".to_string(), "payments".to_string()),
            ("prod".to_string(), "shop".to_string()),
        ],
        "the reviewed cluster only"
    );
}
