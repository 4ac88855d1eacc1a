//! Changes: what changed in an object that can cause failures (issue 15).
//!
//! A [`Change`] records one meaningful change of a watched object (a workload's pod template,
//! replicas or strategy; a ConfigMap's keys or content; a Node's conditions, taints or
//! schedulability; an HPA's bounds), as a list of [`FieldChange`]s that render as one
//! human-readable line each, e.g. `containers[web].image: nginx:1.27 → nginx:1.28`. Values of
//! Secrets and ConfigMaps are never kept: their fields carry a content hash instead.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ObjectRef;

/// One change of one object.
///
/// Identity is `(cluster, object.uid, resource_version)`: the same change seen twice (a relist,
/// an import of the same bundle) is stored once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The name kubetrail knows the cluster by.
    pub cluster: String,
    /// The object that changed (kind, namespace, name, uid).
    pub object: ObjectRef,
    /// When the change happened: the time of the managed-fields entry that made it when the
    /// object says so, else when kubetrail saw it (or, from a dump, the creation time of the
    /// ReplicaSet or ControllerRevision that holds the revision).
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Created, updated or deleted.
    pub op: ChangeOp,
    /// The object's `metadata.generation` after the change, when it has one.
    pub generation: Option<i64>,
    /// The object's `metadata.resourceVersion` after the change (for a dump: the revision's).
    pub resource_version: String,
    /// The field manager that made the change (e.g. `kubectl-client-side-apply`), when the
    /// object's `managedFields` say so.
    pub manager: Option<String>,
    /// Where the change was learned.
    pub source: ChangeSource,
    /// What changed, one entry per field; never empty for an update.
    pub fields: Vec<FieldChange>,
    /// The objects this one references as of this change (the ConfigMaps, Secrets and service
    /// account of a workload's pod template, the target of an HPA), so that a change of one of
    /// them can be linked to the workloads that use it; for a ConfigMap or Secret, the
    /// workloads that used it when it changed (as the watch last saw them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<ObjectRef>,
}

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOp {
    /// The object appeared.
    Created,
    /// A field that matters changed.
    Updated,
    /// The object was deleted.
    Deleted,
}

/// Where a change was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangeSource {
    /// From watching the cluster.
    Watch,
    /// Reconstructed from a dump (ReplicaSets, ControllerRevisions).
    Import,
}

/// One field of a change: its path and its value before and after, rendered as text.
///
/// Paths read like the object, e.g. `containers[web].image`, `env[web].LOG_LEVEL`, `replicas`,
/// `unschedulable`, `data.app.conf` (a ConfigMap key: the values are content hashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// Which field.
    pub path: String,
    /// Its value before, `None` when the field was added.
    pub before: Option<String>,
    /// Its value after, `None` when the field was removed.
    pub after: Option<String>,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.before, &self.after) {
            (Some(before), Some(after)) => write!(f, "{}: {before} → {after}", self.path),
            (None, Some(after)) => write!(f, "{}: added {after}", self.path),
            (Some(before), None) => write!(f, "{}: removed (was {before})", self.path),
            // A line standing for fields left out (`… 3 more fields changed`).
            (None, None) if self.path.starts_with('…') => f.write_str(&self.path),
            (None, None) => write!(f, "{}: changed", self.path),
        }
    }
}

impl Change {
    /// The change in one line: its fields joined with `; ` (e.g. for tables and hints).
    pub fn summary(&self) -> String {
        match self.op {
            ChangeOp::Created if self.fields.is_empty() => "created".to_owned(),
            ChangeOp::Deleted => "deleted".to_owned(),
            _ => self
                .fields
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(path: &str, before: Option<&str>, after: Option<&str>) -> FieldChange {
        FieldChange {
            path: path.to_owned(),
            before: before.map(str::to_owned),
            after: after.map(str::to_owned),
        }
    }

    #[test]
    fn a_field_change_reads_like_a_diff_line() {
        let image = field(
            "containers[web].image",
            Some("nginx:1.27"),
            Some("nginx:1.28"),
        );
        assert_eq!(
            image.to_string(),
            "containers[web].image: nginx:1.27 → nginx:1.28"
        );
        assert_eq!(
            field("replicas", None, Some("3")).to_string(),
            "replicas: added 3"
        );
        assert_eq!(
            field("env[web].DEBUG", Some("1"), None).to_string(),
            "env[web].DEBUG: removed (was 1)"
        );
    }

    #[test]
    fn a_change_summary_joins_its_fields() {
        let change = Change {
            cluster: "prod".into(),
            object: ObjectRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: "shop".into(),
                name: "web".into(),
                uid: "u1".into(),
                field_path: String::new(),
            },
            at: Timestamp::UNIX_EPOCH,
            op: ChangeOp::Updated,
            generation: Some(2),
            resource_version: "42".into(),
            manager: Some("kubectl".into()),
            source: ChangeSource::Watch,
            fields: vec![
                field("containers[web].image", Some("a:1"), Some("a:2")),
                field("replicas", Some("2"), Some("3")),
            ],
            references: Vec::new(),
        };
        assert_eq!(
            change.summary(),
            "containers[web].image: a:1 → a:2; replicas: 2 → 3"
        );
        let json = serde_json::to_string(&change).unwrap();
        let back: Change = serde_json::from_str(&json).unwrap();
        assert_eq!(back, change);
    }
}
