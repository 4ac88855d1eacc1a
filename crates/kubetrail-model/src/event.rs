use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Category, Severity};

/// A reference to a Kubernetes object: the `regarding`/`involvedObject` or `related` of an Event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
}

/// The top owner of an object, e.g. `Deployment/web` for a Pod of that Deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    pub kind: String,
    pub name: String,
}

/// One Kubernetes Event, normalized from either API version, plus what processing adds.
///
/// Identity is `(cluster, uid)`. `count` is the total number of occurrences Kubernetes reported
/// for this object so far; the store turns increases of it into occurrences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub cluster: String,
    pub uid: String,
    /// Namespace of the Event object itself (empty for cluster-scoped objects' events in
    /// `default`-less dumps).
    pub namespace: String,
    /// Name of the Event object.
    pub name: String,
    pub regarding: ObjectRef,
    pub related: Option<ObjectRef>,
    pub reason: String,
    pub note: String,
    /// `Normal` or `Warning` (other values are kept as they came).
    #[serde(rename = "type")]
    pub type_: String,
    pub action: String,
    pub reporting_controller: String,
    pub reporting_instance: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
    pub resource_version: String,

    // Added by processing.
    pub category: Category,
    pub severity: Severity,
    pub correlation_id: String,
    pub owner: Option<Owner>,
    pub node: Option<String>,
    pub template: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Event {
    /// `Warning` events are the ones Kubernetes itself flags; everything else is `Normal`-like.
    pub fn is_warning(&self) -> bool {
        self.type_.eq_ignore_ascii_case("warning")
    }
}
