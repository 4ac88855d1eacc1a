//! `GET /api/v1/changes` and changes in the analyses (issue 15 §4): scoped like events (a
//! tenant never sees another's changes, nor a cluster-scoped Node's), incidents rooted in the
//! change before them, the object's story showing its changes.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use kubetrail_model::{Change, ChangeOp, ChangeSource, FieldChange, ObjectRef};
use kubetrail_server::Auth;
use kubetrail_store::{ChangeBatch, Store};
use serde_json::Value;

fn object(kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: String::new(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        uid: format!("uid-{namespace}-{kind}-{name}"),
        field_path: String::new(),
    }
}

fn change(cluster: &str, o: ObjectRef, secs: i64, op: ChangeOp, field: (&str, &str)) -> Change {
    Change {
        cluster: cluster.into(),
        object: o,
        at: at(secs),
        op,
        generation: None,
        resource_version: format!("{cluster}-{secs}"),
        manager: Some("kubectl-edit".into()),
        source: ChangeSource::Watch,
        fields: vec![FieldChange {
            path: field.0.into(),
            before: Some(field.1.into()),
            after: (op != ChangeOp::Deleted).then(|| "new".into()),
        }],
        references: Vec::new(),
    }
}

/// The fixture's events, and: shop's rollout a minute before its crash loop, the deletion of
/// the Secret payments' pod then cannot mount, staging's rollout, a node cordoned.
async fn app_with_changes() -> (tempfile::TempDir, axum::Router) {
    let (dir, store) = store_with(fixture()).await;
    let changes = vec![
        change(
            "prod",
            object("Deployment", "shop", "web"),
            -60,
            ChangeOp::Updated,
            ("containers[app].image", "web:1.1"),
        ),
        change(
            "prod",
            object("Secret", "payments", "api-keys"),
            -30,
            ChangeOp::Deleted,
            ("data.token", "sha256:0a1b2c3d4e5f (32 bytes)"),
        ),
        change(
            "staging",
            object("Deployment", "shop", "web"),
            -90,
            ChangeOp::Updated,
            ("replicas", "2"),
        ),
        change(
            "prod",
            object("Node", "", "node-x"),
            -120,
            ChangeOp::Updated,
            ("scheduling", "schedulable"),
        ),
    ];
    save(&store, changes).await;
    (dir, app(store, Auth::tokens(tenants(), false)))
}

async fn save(store: &Arc<dyn Store>, changes: Vec<Change>) {
    let batch = ChangeBatch {
        changes,
        ..ChangeBatch::default()
    };
    store
        .change_store()
        .expect("SQLite keeps changes")
        .save_changes(batch)
        .await
        .expect("changes saved");
}

fn objects(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap_or_else(|| panic!("not a list: {}", short(body)))
        .iter()
        .map(|c| {
            format!(
                "{}:{}/{}/{}",
                c["cluster"].as_str().unwrap(),
                c["object"]["namespace"].as_str().unwrap(),
                c["object"]["kind"].as_str().unwrap(),
                c["object"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn changes_are_listed_newest_first_and_scoped_like_events() {
    let (_d, app) = app_with_changes().await;
    let (s, _) = get(&app, "/api/v1/changes", None).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "changes need a token like events"
    );
    let (s, all) = get(&app, "/api/v1/changes", Some(ADMIN)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&all));
    assert_eq!(
        objects(&all),
        [
            "prod:payments/Secret/api-keys",
            "prod:shop/Deployment/web",
            "staging:shop/Deployment/web",
            "prod:/Node/node-x"
        ]
    );
    assert_eq!(all[0]["op"], "deleted");
    assert_eq!(all[1]["fields"][0]["path"], "containers[app].image");

    // Shop sees its own namespace of its own cluster: not payments', not staging's, no Node.
    let (s, shop) = get(&app, "/api/v1/changes", Some(SHOP)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(objects(&shop), ["prod:shop/Deployment/web"]);
    let (_, payments) = get(&app, "/api/v1/changes", Some(PAYMENTS)).await;
    assert_eq!(objects(&payments), ["prod:payments/Secret/api-keys"]);
    for outside in [
        "/api/v1/changes?namespace=payments",
        "/api/v1/changes?cluster=staging",
    ] {
        let (s, body) = get(&app, outside, Some(SHOP)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{outside}: {}", short(&body));
    }
    let (_, none) = get(&app, "/api/v1/changes?kind=Node", Some(SHOP)).await;
    assert_eq!(objects(&none), Vec::<String>::new());

    // The filters and the time rule of events.
    let (_, kinds) = get(
        &app,
        "/api/v1/changes?kind=deploy&cluster=prod",
        Some(ADMIN),
    )
    .await;
    assert_eq!(objects(&kinds), ["prod:shop/Deployment/web"]);
    let (_, recent) = get(&app, "/api/v1/changes?since=45s", Some(ADMIN)).await;
    assert_eq!(
        objects(&recent),
        ["prod:payments/Secret/api-keys", "prod:shop/Deployment/web"],
        "45s back from the newest change"
    );
    let (_, one) = get(&app, "/api/v1/changes?limit=1", Some(ADMIN)).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    for (bad, name) in [
        ("/api/v1/changes?limit=0", "limit"),
        ("/api/v1/changes?reason=BackOff", "reason"),
        ("/api/v1/changes?since=soon", "since"),
    ] {
        let (s, body) = get(&app, bad, Some(ADMIN)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(name),
            "{bad}: {}",
            short(&body)
        );
    }
}

#[tokio::test]
async fn each_tenants_incidents_are_rooted_in_its_own_changes_only() {
    let (_d, app) = app_with_changes().await;
    let (s, shop) = get(&app, "/api/v1/incidents", Some(SHOP)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&shop));
    let web = shop
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["subject"] == "shop/Deployment/web")
        .unwrap_or_else(|| panic!("no incident of web: {}", short(&shop)));
    assert_eq!(web["root_cause"]["rule"], "change", "{}", short(web));
    assert_eq!(web["root_cause"]["change"]["cluster"], "prod");
    assert!(
        web["root_cause"]["hint"]
            .as_str()
            .unwrap()
            .contains("kubectl rollout undo deployment/web -n shop")
    );
    let text = shop.to_string();
    assert!(
        !text.contains("api-keys") && !text.contains("node-x"),
        "{}",
        short(&shop)
    );

    // The payments pod cannot mount the Secret that was deleted just before.
    let (_, payments) = get(&app, "/api/v1/incidents", Some(PAYMENTS)).await;
    let api = &payments.as_array().unwrap()[0];
    assert_eq!(api["root_cause"]["object"], "payments/Secret/api-keys");
    assert!(
        api["root_cause"]["hint"]
            .as_str()
            .unwrap()
            .starts_with("Secret api-keys was deleted"),
        "{}",
        short(api)
    );
    assert!(!payments.to_string().contains("web:1.1"));
}

#[tokio::test]
async fn an_objects_story_shows_its_changes() {
    let (_d, app) = app_with_changes().await;
    let (s, story) = get(&app, "/api/v1/timeline/shop/Deployment/web", Some(SHOP)).await;
    assert_eq!(s, StatusCode::OK, "{}", short(&story));
    assert_eq!(objects(&story["changes"]), ["prod:shop/Deployment/web"]);
    assert_eq!(story["root_cause"]["rule"], "change");
}
