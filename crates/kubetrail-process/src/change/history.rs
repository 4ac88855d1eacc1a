//! Rollout history from a dump (issue 15 §2): support bundles and must-gathers hold the
//! ReplicaSets of Deployments and the ControllerRevisions of StatefulSets and DaemonSets, each
//! with its revision number, creation time and pod template. [`revision_of`] reads one such
//! object; [`rollout_history`] turns a workload's revisions into one change per revision
//! ("revision 3 at T: containers[web].image: a → b"), as recorded by an import.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kubetrail_model::{Change, ChangeOp, ChangeSource, FieldChange, ObjectRef};
use serde_json::{Value, json};

use super::{State, diff, snapshot};

/// One revision of a workload's pod template, read from a ReplicaSet or ControllerRevision.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The workload (Deployment, StatefulSet, DaemonSet) that owns the revision.
    pub owner: ObjectRef,
    /// Its revision number.
    pub number: i64,
    /// When the revision was created (the ReplicaSet's or ControllerRevision's creation; for a
    /// ReplicaSet a rollback made current again, its latest write, at or after the rollback).
    pub created: Timestamp,
    /// The pod template's state (no replicas: a ReplicaSet's count is not the template's).
    pub state: State,
}

/// The revision an object of a dump holds, if it is a ReplicaSet or ControllerRevision with a
/// controller owner, a revision number and a creation time.
pub fn revision_of(object: &Value) -> Option<Revision> {
    let kind = object.get("kind")?.as_str()?;
    let meta = object.get("metadata")?;
    let (number, template) = match kind {
        "ReplicaSet" => (
            meta.pointer("/annotations/deployment.kubernetes.io~1revision")?
                .as_str()?
                .parse()
                .ok()?,
            object.pointer("/spec/template")?.clone(),
        ),
        "ControllerRevision" => (
            object.get("revision")?.as_i64()?,
            object.pointer("/data/spec/template")?.clone(),
        ),
        _ => return None,
    };
    let owners = meta.get("ownerReferences")?.as_array()?;
    let owner = owners
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .or(owners.first())?;
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut owner = ObjectRef {
        api_version: text(owner, "apiVersion"),
        kind: text(owner, "kind"),
        namespace: text(meta, "namespace"),
        name: text(owner, "name"),
        uid: text(owner, "uid"),
        field_path: String::new(),
    };
    if owner.kind.is_empty() || owner.name.is_empty() {
        return None;
    }
    // Changes are unique per uid and revision: a dump that dropped uids must not fold the
    // revisions of different workloads into one.
    if owner.uid.is_empty() {
        owner.uid = format!("{}/{}/{}", owner.namespace, owner.kind, owner.name);
    }
    let created: Timestamp = meta.get("creationTimestamp")?.as_str()?.parse().ok()?;
    let created = reused_at(meta).filter(|t| *t > created).unwrap_or(created);
    // The template as a ReplicaSet of no replicas, so the workload rules read it.
    let shaped = json!({"kind": "ReplicaSet", "metadata": {"name": "r", "uid": "r"},
        "spec": {"template": template}});
    let mut state = snapshot(&shaped).ok()?.state;
    let mut entries = state.entries().clone();
    entries.remove("replicas");
    state = State::new(entries);
    Some(Revision {
        owner,
        number,
        created,
        state,
    })
}

/// When a ReplicaSet became its revision again: a rollback reuses the ReplicaSet of the old
/// template (the deployment controller moves its revision number up and keeps the old ones in
/// `deployment.kubernetes.io/revision-history`), so its creation is the old revision's time.
/// The latest write to the object (its `managedFields`) is at or after the rollback: the closest
/// the object tells. `None` for a ReplicaSet that was never reused.
fn reused_at(meta: &Value) -> Option<Timestamp> {
    meta.pointer("/annotations/deployment.kubernetes.io~1revision-history")?;
    meta.get("managedFields")?
        .as_array()?
        .iter()
        .filter_map(|f| f.get("time")?.as_str()?.parse::<Timestamp>().ok())
        .max()
}

/// One change per revision of each workload, oldest first: the revision number and what its
/// template changed from the previous revision found (the first found lists its template as
/// added). Identified by `revision <n>`, so importing a dump twice stores nothing twice.
pub fn rollout_history(cluster: &str, mut revisions: Vec<Revision>) -> Vec<Change> {
    revisions.sort_by(|a, b| {
        (&a.owner.kind, &a.owner.namespace, &a.owner.name, a.number).cmp(&(
            &b.owner.kind,
            &b.owner.namespace,
            &b.owner.name,
            b.number,
        ))
    });
    revisions.dedup_by(|a, b| a.owner == b.owner && a.number == b.number);
    let mut previous: BTreeMap<(String, String, String), Revision> = BTreeMap::new();
    let mut out = Vec::new();
    for rev in revisions {
        let key = (
            rev.owner.kind.clone(),
            rev.owner.namespace.clone(),
            rev.owner.name.clone(),
        );
        let before = previous.get(&key);
        let mut fields = vec![FieldChange {
            path: "revision".to_owned(),
            before: before.map(|b| b.number.to_string()),
            after: Some(rev.number.to_string()),
        }];
        let empty = State::default();
        fields.extend(diff(before.map_or(&empty, |b| &b.state), &rev.state));
        out.push(Change {
            cluster: cluster.to_owned(),
            object: rev.owner.clone(),
            at: rev.created,
            op: ChangeOp::Updated,
            generation: None,
            resource_version: format!("revision {}", rev.number),
            manager: None,
            source: ChangeSource::Import,
            fields,
            references: Vec::new(),
        });
        previous.insert(key, rev);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(revision: &str, image: &str, created: &str, replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("web-{revision}"), "namespace": "shop", "uid": format!("rs{revision}"),
                "creationTimestamp": created,
                "annotations": {"deployment.kubernetes.io/revision": revision},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": true}]},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    #[test]
    fn replica_sets_become_one_change_per_revision_with_the_image_diff() {
        let revisions = [
            rs("3", "nginx:1.28", "2026-12-05T10:00:00Z", 3),
            rs("2", "nginx:1.27", "2026-12-01T10:00:00Z", 0),
        ]
        .iter()
        .filter_map(revision_of)
        .collect();
        let history = rollout_history("prod", revisions);
        let lines: Vec<String> = history.iter().map(Change::summary).collect();
        assert_eq!(
            lines,
            [
                "revision: added 2; containers[web].image: added nginx:1.27",
                "revision: 2 → 3; containers[web].image: nginx:1.27 → nginx:1.28",
            ]
        );
        assert_eq!(history[1].object.kind, "Deployment");
        assert_eq!(history[1].object.uid, "d1");
        assert_eq!(history[1].resource_version, "revision 3");
        assert_eq!(history[1].source, ChangeSource::Import);
        assert_eq!(
            history[1].at,
            "2026-12-05T10:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn a_controller_revision_is_read_from_its_data() {
        let cr = json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "revision": 4,
            "metadata": {"name": "db-abc", "namespace": "data", "creationTimestamp": "2026-12-05T10:00:00Z",
                "ownerReferences": [{"kind": "StatefulSet", "name": "db", "uid": "s1", "controller": true}]},
            "data": {"spec": {"template": {"spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}}}}});
        let rev = revision_of(&cr).expect("a revision");
        assert_eq!((rev.owner.kind.as_str(), rev.number), ("StatefulSet", 4));
        assert_eq!(rev.state.entries()["containers[pg].image"], "postgres:16");
        assert_eq!(revision_of(&json!({"kind": "Pod"})), None);
    }

    #[test]
    fn a_replica_set_reused_by_a_rollback_is_dated_by_its_latest_write() {
        let mut old = rs("3", "nginx:1.27", "2026-12-01T10:00:00Z", 2);
        old["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] = "1".into();
        old["metadata"]["managedFields"] = json!([
            {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-12-05T11:00:00Z"},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": "2026-12-05T11:00:04Z"}
        ]);
        let rev = revision_of(&old).expect("a revision");
        assert_eq!(rev.created.to_string(), "2026-12-05T11:00:04Z");
        // Never reused: its creation, whatever was written since (scaling).
        let mut scaled = rs("2", "nginx:1.27", "2026-12-01T10:00:00Z", 2);
        scaled["metadata"]["managedFields"] =
            json!([{"manager": "kube-controller-manager", "time": "2026-12-05T11:00:00Z"}]);
        assert_eq!(
            revision_of(&scaled)
                .expect("a revision")
                .created
                .to_string(),
            "2026-12-01T10:00:00Z"
        );
    }

    #[test]
    fn revisions_of_workloads_without_uids_stay_apart() {
        let mut a = rs("2", "nginx:1.27", "2026-12-01T10:00:00Z", 2);
        a["metadata"]["ownerReferences"][0]["uid"] = "".into();
        let mut b = a.clone();
        b["metadata"]["ownerReferences"][0]["name"] = "api".into();
        let (a, b) = (revision_of(&a).unwrap(), revision_of(&b).unwrap());
        assert_eq!(a.owner.uid, "shop/Deployment/web");
        assert_ne!(a.owner.uid, b.owner.uid);
    }
}
