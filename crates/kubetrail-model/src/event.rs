use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Category, Severity};

/// A reference to a Kubernetes object: the `regarding`/`involvedObject` or `related` of an
/// Event, or the object of a change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ObjectRef {
    /// The object's `apiVersion`, e.g. `apps/v1`; empty when the Event did not say.
    pub api_version: String,
    /// The object's `kind`, e.g. `Pod`.
    pub kind: String,
    /// The object's namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The object's uid; empty when the Event did not say.
    pub uid: String,
    /// The part of the object the Event is about, e.g. `spec.containers{app}`; often empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
}

/// The top owner of an object, e.g. `Deployment/web` for a Pod of that Deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    /// The owner's kind, e.g. `Deployment`.
    pub kind: String,
    /// The owner's name.
    pub name: String,
}

/// One Kubernetes Event, normalized from either API version, plus what processing adds.
///
/// Identity is `(cluster, uid)`. `count` is the total number of occurrences Kubernetes reported
/// for this object so far; the store turns increases of it into occurrences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The name kubetrail knows the cluster by (from the config, or given to an import).
    pub cluster: String,
    /// The Event object's `metadata.uid`: with `cluster`, the Event's identity.
    pub uid: String,
    /// Namespace of the Event object itself (empty for cluster-scoped objects' events in
    /// `default`-less dumps).
    pub namespace: String,
    /// Name of the Event object.
    pub name: String,
    /// The object the Event is about (`regarding` in `events.k8s.io/v1`, `involvedObject` in
    /// `core/v1`).
    pub regarding: ObjectRef,
    /// A second object the Event names, e.g. the Pod a scheduler preempted; `None` when there is
    /// none. Boxed: few Events name one, and inline it took 144 of the Event's bytes, held for
    /// every event an analysis reads (issue 14 §2/§3).
    pub related: Option<Box<ObjectRef>>,
    /// Why it happened, in one CamelCase word, e.g. `BackOff` (set by the reporting component).
    pub reason: String,
    /// The human-readable message (`note`, or `message` in `core/v1`).
    pub note: String,
    /// `Normal` or `Warning` (other values are kept as they came).
    #[serde(rename = "type")]
    pub type_: String,
    /// What was done or failed, e.g. `Binding`; often empty.
    pub action: String,
    /// The component that reported it, e.g. `kubelet`.
    pub reporting_controller: String,
    /// The instance of that component, e.g. the node name for a kubelet.
    pub reporting_instance: String,
    /// When it first occurred.
    pub first_seen: Timestamp,
    /// When it last occurred.
    pub last_seen: Timestamp,
    /// How many times it occurred so far, at least 1 (the larger of `series.count` and the
    /// Event's own count).
    pub count: u64,
    /// The Event object's `metadata.resourceVersion` when it was read.
    pub resource_version: String,

    // Added by processing.
    /// What kind of thing happened (see [`Category`]).
    pub category: Category,
    /// How bad it is (see [`Severity`]).
    pub severity: Severity,
    /// Groups the events of one workload: `namespace/Kind/name` of the top owner, or of the object
    /// itself when it has none (cluster-scoped objects have no namespace part).
    pub correlation_id: String,
    /// The top owner of the object, e.g. `Deployment/web` for one of its Pods; `None` when none is
    /// known.
    pub owner: Option<Owner>,
    /// The node the object runs on (the node itself for a Node's events); `None` when unknown.
    pub node: Option<String>,
    /// The message with its variable parts (names, numbers, ids) masked, so that repeats of one
    /// kind of message group together.
    pub template: String,
    /// Extra labels of the event that alert rules can match; nothing in kubetrail sets them yet, so
    /// they are empty unless given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Event {
    /// `Warning` events are the ones Kubernetes itself flags; everything else is `Normal`-like.
    pub fn is_warning(&self) -> bool {
        self.type_.eq_ignore_ascii_case("warning")
    }
}
