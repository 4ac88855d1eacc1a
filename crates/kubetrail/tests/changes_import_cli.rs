//! Changes from dumps (issue 15 §2): `kubetrail import` rebuilds the rollout history of the
//! workloads whose ReplicaSets or ControllerRevisions a dump holds, `kubetrail changes` lists
//! it, a second import stores nothing twice, and an imported crash loop that follows a
//! reconstructed rollout is rooted in it.

mod common;

use common::{Kt, real};
use serde_json::{Value, json};

fn summaries(found: &Value) -> Vec<String> {
    found
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            let fields: Vec<String> = c["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| {
                    format!(
                        "{}: {} → {}",
                        f["path"].as_str().unwrap_or_default(),
                        f["before"].as_str().unwrap_or("∅"),
                        f["after"].as_str().unwrap_or("∅")
                    )
                })
                .collect();
            format!(
                "{}/{}/{} {} {}",
                c["object"]["namespace"].as_str().unwrap_or_default(),
                c["object"]["kind"].as_str().unwrap_or_default(),
                c["object"]["name"].as_str().unwrap_or_default(),
                c["at"].as_str().unwrap_or_default(),
                fields.join("; ")
            )
        })
        .collect()
}

#[test]
fn importing_the_kspan_dump_lists_its_rollout_history_once() {
    let kt = Kt::new();
    let dump = real("kspan__deployment-2-pods.mixed.yaml");
    let first = kt.import(&[&dump]);
    assert_eq!(first["changes"], 2, "{first:#}");
    assert_eq!(first["changes_new"], 2, "{first:#}");
    let listed = kt.json(&["changes", "-o", "json"]);
    let lines = summaries(&listed);
    // Newest first: revision 3 (the rollback to podinfo 5.0.0), then revision 2.
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with("default/Deployment/px 2021-05-19T09:42:58Z revision: 2 → 3; "),
        "{lines:#?}"
    );
    assert!(
        lines[0].contains(
            "image: ghcr.io/stefanprodan/podinfo:5.1.3 → ghcr.io/stefanprodan/podinfo:5.0.0"
        ),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("default/Deployment/px 2021-05-18T17:10:49Z revision: ∅ → 2"),
        "{lines:#?}"
    );
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["source"] == "import")
    );

    // The same dump again: the revisions are known, nothing is stored twice.
    let again = kt.import(&[&dump]);
    assert_eq!(again["changes"], 2, "{again:#}");
    assert_eq!(again["changes_new"], 0, "{again:#}");
    assert_eq!(summaries(&kt.json(&["changes", "-o", "json"])), lines);
    let table = kt.table(&[
        "import",
        "--cluster",
        "test",
        "-o",
        "table",
        &dump.display().to_string(),
    ]);
    assert!(
        table.contains("changes: 2 rollouts rebuilt from ReplicaSets, ControllerRevisions and the deployment controller's events, 0 new"),
        "{table}"
    );
}

fn replica_set(hash: &str, revision: &str, image: &str, created: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("web-{hash}"), "namespace": "shop", "uid": format!("rs-{hash}"),
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                "uid": "d-web", "controller": true}]},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
}

/// A must-gather's layout: the namespace's Events in `core/events.yaml`, its ReplicaSets in
/// `apps/replicasets.yaml`; the new revision's pod crash-loops from two minutes after it.
#[test]
fn a_must_gathers_crash_loop_after_a_rollout_is_rooted_in_the_rebuilt_revision() {
    let kt = Kt::new();
    let root = kt.data.path().join("must-gather/namespaces/shop");
    std::fs::create_dir_all(root.join("core")).unwrap();
    std::fs::create_dir_all(root.join("apps")).unwrap();
    let pod = "web-7d9f8b6c4-x2x9z";
    let events = json!({"apiVersion": "v1", "kind": "EventList", "items": [{
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "shop", "uid": "e1"},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": pod, "uid": "p1",
                           "fieldPath": "spec.containers{app}"},
        "reason": "BackOff",
        "message": format!("Back-off restarting failed container app in pod {pod}"),
        "type": "Warning",
        "firstTimestamp": "2024-05-01T10:02:00Z", "lastTimestamp": "2024-05-01T10:12:00Z",
        "count": 12, "source": {"component": "kubelet", "host": "node-a"}
    }]});
    std::fs::write(root.join("core/events.yaml"), events.to_string()).unwrap();
    let list = json!({"apiVersion": "apps/v1", "kind": "ReplicaSetList", "items": [
        replica_set("5c6d7e8f9", "1", "ghcr.io/acme/web:1.0", "2024-04-20T08:00:00Z"),
        replica_set("7d9f8b6c4", "2", "ghcr.io/acme/web:1.1", "2024-05-01T10:00:00Z"),
    ]});
    std::fs::write(root.join("apps/replicasets.yaml"), list.to_string()).unwrap();
    // A file of Pods holds neither Events nor revisions: skipped as before.
    std::fs::write(
        root.join("core/pods.yaml"),
        json!({"kind": "PodList", "items": [{"kind": "Pod", "metadata": {"name": pod}}]})
            .to_string(),
    )
    .unwrap();

    let summary = kt.import(&[&kt.data.path().join("must-gather")]);
    assert_eq!(
        summary["files_imported"].as_array().unwrap().len(),
        2,
        "{summary:#}"
    );
    assert_eq!(summary["changes_new"], 2, "{summary:#}");
    let found = kt.json(&["incidents", "--since", "all", "-o", "json"]);
    let incident = &found.as_array().expect("incidents")[0];
    assert_eq!(incident["subject"], "shop/Deployment/web", "{found:#}");
    let root_cause = &incident["root_cause"];
    assert_eq!(root_cause["rule"], "change", "{root_cause:#}");
    assert_eq!(root_cause["object"], "shop/Deployment/web");
    let fields = summaries(&json!([root_cause["change"]]));
    assert!(
        fields[0].ends_with(
            "revision: 1 → 2; containers[app].image: ghcr.io/acme/web:1.0 → ghcr.io/acme/web:1.1"
        ),
        "{fields:#?}"
    );
    assert!(
        root_cause["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("kubectl rollout undo deployment/web -n shop"),
        "{root_cause:#}"
    );
}

fn event(
    uid: &str,
    kind: &str,
    name: &str,
    reason: &str,
    message: &str,
    at: (&str, &str),
) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{uid}"), "namespace": "shop", "uid": uid},
        "involvedObject": {"kind": kind, "namespace": "shop", "name": name, "uid": format!("uid-{name}")},
        "reason": reason, "message": message,
        "type": if reason == "BackOff" { "Warning" } else { "Normal" },
        "firstTimestamp": at.0, "lastTimestamp": at.1, "count": 1,
        "source": {"component": if kind == "Pod" { "kubelet" } else { "deployment-controller" }, "host": "node-a"}})
}

/// `kubectl get events` only: the deployment controller's `ScalingReplicaSet` events show the
/// rollout (a new ReplicaSet scaled up, the old one down); the crash loop of the new
/// ReplicaSet's pod two minutes later is rooted in it. A plain scale is no change.
#[test]
fn a_rollout_seen_only_in_events_is_a_change_and_roots_the_crash_loop_after_it() {
    let kt = Kt::new();
    let pod = "web-7d9f8b6c4-x2x9z";
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        event("s0", "Deployment", "web", "ScalingReplicaSet",
            "Scaled up replica set web-5c6d7e8f9 to 2 from 1", ("2024-05-01T09:00:00Z", "2024-05-01T09:00:00Z")),
        event("s1", "Deployment", "web", "ScalingReplicaSet",
            "Scaled up replica set web-7d9f8b6c4 to 1", ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z")),
        event("s2", "Deployment", "web", "ScalingReplicaSet",
            "Scaled down replica set web-5c6d7e8f9 to 1 from 2", ("2024-05-01T10:00:05Z", "2024-05-01T10:00:05Z")),
        event("b1", "Pod", pod, "BackOff",
            &format!("Back-off restarting failed container app in pod {pod}"), ("2024-05-01T10:02:00Z", "2024-05-01T10:12:00Z")),
    ]});
    let dump = kt.file("events.json", list.to_string());
    let summary = kt.import(&[&dump]);
    assert_eq!(summary["changes_new"], 1, "{summary:#}");
    let listed = kt.json(&["changes", "-o", "json"]);
    assert_eq!(
        summaries(&listed),
        ["shop/Deployment/web 2024-05-01T10:00:00Z replicaSet: web-5c6d7e8f9 → web-7d9f8b6c4"]
    );
    let found = kt.json(&["incidents", "--since", "all", "-o", "json"]);
    let root_cause = &found[0]["root_cause"];
    assert_eq!(root_cause["rule"], "change", "{found:#}");
    assert_eq!(root_cause["object"], "shop/Deployment/web");
    assert_eq!(kt.import(&[&dump])["changes_new"], 0);
}
