//! Changes in the UI (issue 15 §4), in headless Chromium over WebDriver: a change is a marker
//! on its object's swimlane (object page and incident page), the object page lists its
//! changes, and the overview's "Recent changes" panel shows what the caller may see only.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use common::*;
use kubetrail_model::{Change, ChangeOp, ChangeSource, FieldChange, ObjectRef};
use kubetrail_server::{AppState, Auth, Limits, Telemetry, router};
use kubetrail_store::ChangeBatch;
use serde_json::json;
use tokio::net::TcpListener;
use webdriver::Browser;

fn rollout(cluster: &str, namespace: &str, secs: i64, image: &str) -> Change {
    Change {
        cluster: cluster.into(),
        object: ObjectRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: namespace.into(),
            name: "web".into(),
            uid: format!("uid-{cluster}-{namespace}-web"),
            field_path: String::new(),
        },
        at: at(secs),
        op: ChangeOp::Updated,
        generation: Some(5),
        resource_version: format!("{cluster}-{secs}"),
        manager: Some("kubectl-set".into()),
        source: ChangeSource::Watch,
        fields: vec![FieldChange {
            path: "containers[app].image".into(),
            before: Some("web:1.1".into()),
            after: Some(image.into()),
        }],
        references: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_a_marker_on_its_lane_and_the_overview_lists_recent_changes() {
    let (_dir, store) = store_with(fixture()).await;
    let batch = ChangeBatch {
        // Shop's rollout a minute before its crash loop; one of payments' that shop never sees.
        changes: vec![
            rollout("prod", "shop", -60, "web:1.2"),
            rollout("prod", "payments", -30, "web:9.9"),
        ],
        ..ChangeBatch::default()
    };
    store
        .change_store()
        .unwrap()
        .save_changes(batch)
        .await
        .unwrap();
    let app = router(AppState::new(
        store,
        Auth::tokens(tenants(), false),
        Limits::default(),
        Telemetry::new(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(kubetrail_server::serve(listener, app, cancel.clone()));
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/#/")).await;
    browser
        .wait_for(
            "the sign-in form",
            "return !!document.querySelector('#signin')",
        )
        .await;
    browser.type_into("#token-input", SHOP).await;
    browser.click("#signin button[type=submit]").await;

    // The overview's panel: shop's rollout, not payments'.
    let rows = browser
        .wait_for(
            "the recent changes panel",
            "const rows = [...document.querySelectorAll('#recent-changes table.changes tbody tr')];\
             return rows.length && rows.map(r => r.innerText)",
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = rows[0].as_str().unwrap();
    assert!(row.contains("shop/Deployment/web"), "{row}");
    assert!(
        row.contains("containers[app].image: web:1.1 → web:1.2"),
        "{row}"
    );
    assert!(!row.contains("web:9.9"), "shop saw payments' change: {row}");

    // The object page: a diamond on the Deployment's lane with the diff, and the table.
    browser
        .goto(&format!("{base}/#/object/shop/Deployment/web"))
        .await;
    let mark = browser
        .wait_for(
            "the change marker",
            "const m = document.querySelector('#object-lanes g.change-mark');\
             return m && {object: m.dataset.object, title: m.querySelector('title').textContent,\
               lane: m.closest('g.lane').dataset.object}",
        )
        .await;
    assert_eq!(mark["object"], "shop/Deployment/web");
    assert_eq!(mark["lane"], "shop/Deployment/web");
    let title = mark["title"].as_str().unwrap();
    assert!(
        title.contains("web:1.1 → web:1.2") && title.contains("kubectl-set"),
        "{title}"
    );
    let listed = browser
        .eval(
            "return [...document.querySelectorAll('#object table.changes tbody tr')].length",
            json!([]),
        )
        .await;
    assert_eq!(listed, json!(1));
    let root = browser
        .eval(
            "return document.querySelector('#root-cause .rule').textContent",
            json!([]),
        )
        .await;
    assert_eq!(root, json!("(change)"));

    // The incident page: the root change is a marker on the incident's timeline too.
    browser
        .click("#object table.incidents a.incident-link")
        .await;
    browser
        .wait_for(
            "the incident's change marker",
            "return !!document.querySelector('#incident-lanes g.change-mark')",
        )
        .await;
    browser.quit().await;
    cancel.cancel();
    server.await.unwrap().unwrap();
}
