//! Change tracking's pure part (issue 15): from a watched object's JSON to the compact state
//! that matters ([`snapshot`]), and from two states to the human-readable field changes
//! ([`diff`]), then to a [`Change`] record ([`observe`]). No I/O: the watcher keeps states in
//! the store and calls these per object.
//!
//! What a state holds, per kind:
//! - Deployments, StatefulSets, DaemonSets, CronJobs (their pod template): per container
//!   (`containers[web].…`, `initContainers[…]`) the image, command, args, env (values, and
//!   `valueFrom` references), envFrom references, resources, probes; volumes; the service
//!   account; and `replicas`, `strategy`, `paused` (CronJob: `schedule`, `suspend`).
//! - Nodes: `scheduling` (schedulable / cordoned), `taints[key:effect]`, `conditions[Type]`
//!   (the status only: heartbeats change nothing), `kubeletVersion`.
//! - ConfigMaps and Secrets: one entry per key, `data.<key>`, holding `sha256:<12 hex>
//!   (<n> bytes)`: a content hash, never the value.
//! - HorizontalPodAutoscalers: `minReplicas`, `maxReplicas`, `target`, `metrics[…]`.
//!
//! Limits (see [`limits`]): a state keeps at most [`limits::MAX_STATE_ENTRIES`] entries (the
//! rest fold into one hashed `…more` entry, so a change there is still seen), each value at
//! most [`limits::MAX_VALUE_CHARS`] characters (longer ones are cut with a marker, or hashed
//! when they are whole documents such as probes); a change lists at most
//! [`limits::MAX_FIELDS`] fields, then one `… N more fields changed` line.
//!
//! ```
//! use kubetrail_process::change::{diff, snapshot};
//! let before = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!   "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "1", "generation": 1},
//!   "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}});
//! let mut after = before.clone();
//! after["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28".into();
//! let (a, b) = (snapshot(&before).unwrap(), snapshot(&after).unwrap());
//! let lines: Vec<String> = diff(&a.state, &b.state).iter().map(|f| f.to_string()).collect();
//! assert_eq!(lines, ["containers[web].image: nginx:1.27 → nginx:1.28"]);
//! ```

mod extract;
mod history;
pub mod limits;
mod rollouts;
mod state;

use jiff::Timestamp;
use kubetrail_model::{Change, ChangeOp, ChangeSource, FieldChange, ObjectRef};
use serde_json::Value;

pub use extract::{TRACKED_KINDS, is_tracked};
pub use history::{Revision, revision_of, rollout_history};
pub use rollouts::{Scaling, rollouts_from_events};
pub use state::State;

/// Why an object cannot be snapshotted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a JSON object with `kind` and `metadata.name`/`uid`.
    #[error("not a Kubernetes object: {0}")]
    NotAnObject(&'static str),
    /// A kind change tracking does not follow.
    #[error("kind {0:?} is not tracked for changes")]
    Untracked(String),
}

/// What change tracking knows of one object at one resourceVersion.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The object's identity (`field_path` empty).
    pub object: ObjectRef,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
    /// `metadata.generation`, when the kind has one (workloads, HPAs).
    pub generation: Option<i64>,
    /// `metadata.creationTimestamp`.
    pub created: Option<Timestamp>,
    /// The state that matters.
    pub state: State,
    /// The ConfigMaps, Secrets and service account a pod template uses; an HPA's target.
    pub references: Vec<ObjectRef>,
    /// The field manager of the latest write to the object itself (not its status), with
    /// that write's time.
    pub manager: Option<(String, Option<Timestamp>)>,
}

/// The snapshot of one object (its JSON as the API serves it).
pub fn snapshot(object: &Value) -> Result<Snapshot, SnapshotError> {
    extract::snapshot(object)
}

/// The field changes from `before` to `after`, in path order, at most
/// [`limits::MAX_FIELDS`] (then one line says how many more).
pub fn diff(before: &State, after: &State) -> Vec<FieldChange> {
    state::diff(before, after)
}

/// What the watcher stored of an object before: its state and generation.
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    /// The stored state.
    pub state: &'a State,
    /// The stored generation.
    pub generation: Option<i64>,
}

/// How an object was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// In a listing: a first sight is the baseline, not a creation (the object existed
    /// before kubetrail looked), unless it was created after `since`.
    Listed {
        /// When the watch last knew the cluster for sure (the cursor's time), if ever.
        since: Option<Timestamp>,
    },
    /// Added or modified on the watch.
    Watched,
    /// Deleted on the watch.
    Deleted,
}

/// The change `snap` makes over `previous`, if it is one worth recording: a creation seen
/// live, a deletion, or an update whose state differs. A status-only update (same
/// generation for kinds that have one, or an identical state) records nothing.
pub fn observe(
    cluster: &str,
    previous: Option<Previous<'_>>,
    snap: &Snapshot,
    seen: Seen,
    now: Timestamp,
) -> Option<Change> {
    let (manager, manager_at) = match &snap.manager {
        Some((m, at)) => (Some(m.clone()), *at),
        None => (None, None),
    };
    let record = |op: ChangeOp, fields: Vec<FieldChange>, at: Timestamp| Change {
        cluster: cluster.to_owned(),
        object: snap.object.clone(),
        at,
        op,
        generation: snap.generation,
        resource_version: snap.resource_version.clone(),
        manager: manager.clone(),
        source: ChangeSource::Watch,
        fields,
        references: snap.references.clone(),
    };
    match (seen, previous) {
        (Seen::Deleted, _) => Some(record(ChangeOp::Deleted, Vec::new(), now)),
        (Seen::Listed { since }, None) => {
            let created = snap.created?;
            let new = since.is_some_and(|s| created > s);
            new.then(|| record(ChangeOp::Created, Vec::new(), created))
        }
        (Seen::Watched, None) => {
            let at = snap.created.unwrap_or(now);
            Some(record(ChangeOp::Created, Vec::new(), at))
        }
        (_, Some(prev)) => {
            // Workloads bump their generation with every spec change: the same generation
            // is a status update, whatever else moved.
            let workload = extract::has_spec_generation(&snap.object.kind);
            if workload && snap.generation.is_some() && snap.generation == prev.generation {
                return None;
            }
            let fields = diff(prev.state, &snap.state);
            if fields.is_empty() {
                return None;
            }
            // The latest write's time as the object records it (to the second), unless the
            // clocks disagree and it lies ahead of us.
            let at = manager_at.filter(|t| *t <= now).unwrap_or(now);
            Some(record(ChangeOp::Updated, fields, at))
        }
    }
}

#[cfg(test)]
mod tests;
