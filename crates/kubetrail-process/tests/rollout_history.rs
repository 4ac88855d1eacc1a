//! Rollout history from a real dump (issue 15 §2): kspan's `deployment-2-pods` holds the two
//! ReplicaSets of Deployment `px` — revision 2 (podinfo 5.1.3) and revision 3, a rollback to
//! podinfo 5.0.0 — which become one change per revision at the ReplicaSets' creation times.

use kubetrail_model::{Change, ChangeSource};
use kubetrail_process::change::{revision_of, rollout_history};
use serde::Deserialize;

#[test]
fn the_kspan_dump_gives_the_rollout_history_of_px() {
    let path = kubetrail_testkit::real_events().join("kspan__deployment-2-pods.mixed.yaml");
    let text = std::fs::read_to_string(&path).expect("the kspan dump");
    let mut revisions = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(&text) {
        let value = serde_json::Value::deserialize(doc).expect("a YAML document");
        revisions.extend(revision_of(&value));
    }
    assert_eq!(revisions.len(), 2, "the dump's two ReplicaSets");
    let history: Vec<Change> = rollout_history("kspan", revisions);
    let lines: Vec<String> = history.iter().map(Change::summary).collect();
    assert_eq!(history.len(), 2, "{lines:#?}");
    assert!(history.iter().all(|c| c.object.kind == "Deployment"
        && c.object.name == "px"
        && c.source == ChangeSource::Import));
    assert_eq!(history[0].resource_version, "revision 2");
    assert_eq!(history[0].at.to_string(), "2021-05-18T17:10:49Z");
    assert!(
        lines[0].contains("added ghcr.io/stefanprodan/podinfo:5.1.3"),
        "{lines:#?}"
    );
    assert_eq!(history[1].at.to_string(), "2021-05-19T09:42:58Z");
    assert!(lines[1].starts_with("revision: 2 → 3; "), "{lines:#?}");
    assert!(
        lines[1].contains(
            ".image: ghcr.io/stefanprodan/podinfo:5.1.3 → ghcr.io/stefanprodan/podinfo:5.0.0"
        ),
        "{lines:#?}"
    );
}
