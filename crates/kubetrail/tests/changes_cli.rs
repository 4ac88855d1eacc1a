//! `kubetrail changes`, and changes in `incidents` and `explain` (issue 15 §4): a store with
//! a crash loop imported and changes written through the store's `ChangeStore`.

mod common;

use common::{Kt, stderr};
use kubetrail_model::{Change, ChangeOp, ChangeSource, FieldChange, ObjectRef, Timestamp};
use kubetrail_store::{ChangeBatch, ChangeStore, SqliteStore};
use serde_json::{Value, json};

const POD: &str = "web-7d9f8b6c4-x2x9z";

/// A crash loop of shop/Deployment/web's pod from 10:02 to 10:12 on node-a.
fn crash_loop() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [{
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "shop", "uid": "e1", "resourceVersion": "1"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": POD, "uid": "p1",
                               "fieldPath": "spec.containers{app}"},
            "reason": "BackOff",
            "message": format!("Back-off restarting failed container app in pod {POD}"),
            "type": "Warning",
            "firstTimestamp": "2024-05-01T10:02:00Z",
            "lastTimestamp": "2024-05-01T10:12:00Z",
            "count": 12,
            "source": {"component": "kubelet", "host": "node-a"}
        }]
    })
}

fn object(kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: String::new(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        uid: format!("uid-{namespace}-{name}"),
        field_path: String::new(),
    }
}

fn change(o: ObjectRef, at: &str, path: &str, before: &str, after: &str) -> Change {
    Change {
        cluster: "test".into(),
        object: o,
        at: at.parse::<Timestamp>().unwrap(),
        op: ChangeOp::Updated,
        generation: Some(2),
        resource_version: format!("rv-{at}"),
        manager: Some("kubectl-client-side-apply".into()),
        source: ChangeSource::Watch,
        fields: vec![FieldChange {
            path: path.into(),
            before: Some(before.into()),
            after: Some(after.into()),
        }],
        references: Vec::new(),
    }
}

/// The rollout 2 minutes before the crash loop, an edit in another namespace, a cordon.
fn changes() -> Vec<Change> {
    vec![
        change(
            object("Deployment", "shop", "web"),
            "2024-05-01T10:00:00Z",
            "containers[app].image",
            "web:1",
            "web:2",
        ),
        change(
            object("ConfigMap", "billing", "rates"),
            "2024-05-01T09:00:00Z",
            "data.rates.json",
            "sha256:aa",
            "sha256:bb",
        ),
        change(
            object("Node", "", "node-b"),
            "2024-05-01T08:00:00Z",
            "scheduling",
            "schedulable",
            "cordoned",
        ),
    ]
}

fn store_with_changes() -> Kt {
    let kt = Kt::new();
    let dump = kt.file("events.json", crash_loop().to_string());
    kt.import(&[&dump]);
    let store = SqliteStore::open(kt.data.path().join("data").join("kubetrail.db")).unwrap();
    let batch = ChangeBatch {
        changes: changes(),
        ..ChangeBatch::default()
    };
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(store.save_changes(batch))
        .unwrap();
    kt
}

fn names(found: &Value) -> Vec<String> {
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["object"]["kind"].as_str().unwrap(),
                c["object"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn changes_lists_newest_first_with_the_filters_and_time_rule_of_query() {
    let kt = store_with_changes();
    let all = kt.json(&["changes", "-o", "json"]);
    assert_eq!(
        names(&all),
        ["Deployment/web", "ConfigMap/rates", "Node/node-b"]
    );
    assert_eq!(all[0]["fields"][0]["after"], "web:2");
    assert_eq!(all[0]["manager"], "kubectl-client-side-apply");
    assert_eq!(
        names(&kt.json(&["changes", "-n", "shop", "-o", "json"])),
        ["Deployment/web"]
    );
    assert_eq!(
        names(&kt.json(&["changes", "--kind", "cm,no", "-o", "json"])),
        ["ConfigMap/rates", "Node/node-b"],
        "kinds by kubectl's short names"
    );
    // A duration counts back from the newest matching change (10:00), as query's does.
    assert_eq!(
        names(&kt.json(&["changes", "--since", "90m", "-o", "json"])),
        ["Deployment/web", "ConfigMap/rates"]
    );
    assert_eq!(
        names(&kt.json(&["changes", "--limit", "1", "-o", "json"])),
        ["Deployment/web"]
    );
    let yaml = kt.table(&["changes", "-o", "yaml"]);
    assert!(yaml.contains("after: web:2"), "{yaml}");
    let table = kt.table(&["changes", "-o", "wide"]);
    assert!(
        table.contains("containers[app].image: web:1 → web:2"),
        "{table}"
    );
    assert!(table.contains("kubectl-client-side-apply"), "{table}");
    let out = kt.run(&[
        "changes",
        "--since",
        "2024-05-02T00:00:00Z",
        "--until",
        "2024-05-01T00:00:00Z",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--since: must be before until"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn incidents_and_explain_root_the_crash_loop_in_the_rollout_before_it() {
    let kt = store_with_changes();
    let found = kt.json(&["incidents", "--since", "all", "-o", "json"]);
    let incident = &found.as_array().unwrap()[0];
    assert_eq!(incident["subject"], "shop/Deployment/web");
    let root = &incident["root_cause"];
    assert_eq!(root["rule"], "change", "{root}");
    assert_eq!(root["object"], "shop/Deployment/web");
    assert_eq!(root["change"]["fields"][0]["after"], "web:2");
    assert!(
        root["hint"]
            .as_str()
            .unwrap()
            .contains("kubectl rollout undo deployment/web -n shop")
    );

    let story = kt.json(&["explain", "shop/Deployment/web", "-o", "json"]);
    assert_eq!(story["root_cause"]["rule"], "change");
    // Its own rollout; not the other namespace's ConfigMap, not a node its pods never ran on.
    assert_eq!(names(&story["changes"]), ["Deployment/web"]);
    let text = kt.table(&["explain", "-n", "shop", "deploy/web", "-o", "table"]);
    let timeline: Vec<&str> = text.lines().skip_while(|l| *l != "Timeline:").collect();
    let change_line = timeline
        .iter()
        .position(|l| l.contains(" change ") && l.contains("web:1 → web:2"))
        .unwrap_or_else(|| panic!("no change row in {text}"));
    let backoff_line = timeline.iter().position(|l| l.contains("BackOff")).unwrap();
    assert!(
        change_line < backoff_line,
        "the change comes before the failures it caused:\n{text}"
    );
}

#[test]
fn a_store_without_changes_answers_an_empty_list() {
    let kt = Kt::new();
    let dump = kt.file("events.json", crash_loop().to_string());
    kt.import(&[&dump]);
    assert_eq!(kt.json(&["changes", "-o", "json"]), json!([]));
    assert!(
        kt.table(&["changes", "-o", "table"])
            .contains("No changes match.")
    );
    let found = kt.json(&["incidents", "--since", "all", "-o", "json"]);
    assert_eq!(found[0]["root_cause"]["rule"], "crash-loop");
}
