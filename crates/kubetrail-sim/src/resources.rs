//! The resources the simulator serves, and what discovery says about each.
//!
//! Events are served twice, as `core/v1` and `events.k8s.io/v1`, from one stored collection
//! ([`StoreKind::Event`]), exactly as the real server keeps one etcd prefix for both.

/// An API resource at one group/version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `core/v1` events: the legacy shape (`involvedObject`, `message`, `count`...).
    CoreEvent,
    /// `events.k8s.io/v1` events: the shape modern components write (`regarding`, `note`...).
    Event,
    /// `core/v1` pods.
    Pod,
    /// `core/v1` nodes (cluster-scoped).
    Node,
    /// `apps/v1` replica sets.
    ReplicaSet,
    /// `apps/v1` deployments.
    Deployment,
    /// `batch/v1` jobs.
    Job,
    /// `coordination.k8s.io/v1` leases.
    Lease,
    /// `core/v1` config maps.
    ConfigMap,
    /// `core/v1` secrets.
    Secret,
    /// `apps/v1` stateful sets.
    StatefulSet,
    /// `apps/v1` daemon sets.
    DaemonSet,
    /// `batch/v1` cron jobs.
    CronJob,
    /// `autoscaling/v2` horizontal pod autoscalers.
    HorizontalPodAutoscaler,
}

/// Which stored collection a resource reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum StoreKind {
    Event,
    Pod,
    Node,
    ReplicaSet,
    Deployment,
    Job,
    Lease,
    ConfigMap,
    Secret,
    StatefulSet,
    DaemonSet,
    CronJob,
    HorizontalPodAutoscaler,
}

/// Every verb a stored resource supports (no `deletecollection`).
pub(crate) const VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// API groups other than core, in the order `/apis` lists them.
pub(crate) const GROUPS: &[&str] = &[
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "batch",
    "coordination.k8s.io",
    "autoscaling",
];

/// The one version the simulator serves of `group` (`autoscaling` is served as `v2`, the
/// version HPAs are written in today; every other group as `v1`).
pub(crate) fn group_version(group: &str) -> &'static str {
    match group {
        "autoscaling" => "v2",
        _ => "v1",
    }
}

/// A create-only, never stored resource (the review APIs), as discovery lists it.
pub(crate) struct ReviewResource {
    pub group: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
}

/// `TokenReview` and `SubjectAccessReview`, answered from the [`crate::Policy`] table.
pub(crate) const REVIEWS: &[ReviewResource] = &[
    ReviewResource {
        group: "authentication.k8s.io",
        plural: "tokenreviews",
        singular: "tokenreview",
        kind: "TokenReview",
    },
    ReviewResource {
        group: "authorization.k8s.io",
        plural: "subjectaccessreviews",
        singular: "subjectaccessreview",
        kind: "SubjectAccessReview",
    },
];

impl Resource {
    /// Every served resource, core first, as discovery lists them.
    pub const ALL: [Resource; 14] = [
        Resource::CoreEvent,
        Resource::Node,
        Resource::Pod,
        Resource::ConfigMap,
        Resource::Secret,
        Resource::Deployment,
        Resource::ReplicaSet,
        Resource::StatefulSet,
        Resource::DaemonSet,
        Resource::Event,
        Resource::Job,
        Resource::CronJob,
        Resource::Lease,
        Resource::HorizontalPodAutoscaler,
    ];

    /// API group; empty for core.
    pub fn group(self) -> &'static str {
        match self {
            Resource::CoreEvent
            | Resource::Pod
            | Resource::Node
            | Resource::ConfigMap
            | Resource::Secret => "",
            Resource::Event => "events.k8s.io",
            Resource::ReplicaSet
            | Resource::Deployment
            | Resource::StatefulSet
            | Resource::DaemonSet => "apps",
            Resource::Job | Resource::CronJob => "batch",
            Resource::Lease => "coordination.k8s.io",
            Resource::HorizontalPodAutoscaler => "autoscaling",
        }
    }

    /// API version within the group (see `group_version`).
    pub fn version(self) -> &'static str {
        group_version(self.group())
    }

    /// `apiVersion` as written in objects: `v1` or `group/v1`.
    pub fn api_version(self) -> &'static str {
        match self {
            Resource::CoreEvent
            | Resource::Pod
            | Resource::Node
            | Resource::ConfigMap
            | Resource::Secret => "v1",
            Resource::Event => "events.k8s.io/v1",
            Resource::ReplicaSet
            | Resource::Deployment
            | Resource::StatefulSet
            | Resource::DaemonSet => "apps/v1",
            Resource::Job | Resource::CronJob => "batch/v1",
            Resource::Lease => "coordination.k8s.io/v1",
            Resource::HorizontalPodAutoscaler => "autoscaling/v2",
        }
    }

    /// Plural name, the URL path segment.
    pub fn plural(self) -> &'static str {
        match self {
            Resource::CoreEvent | Resource::Event => "events",
            Resource::Pod => "pods",
            Resource::Node => "nodes",
            Resource::ReplicaSet => "replicasets",
            Resource::Deployment => "deployments",
            Resource::Job => "jobs",
            Resource::Lease => "leases",
            Resource::ConfigMap => "configmaps",
            Resource::Secret => "secrets",
            Resource::StatefulSet => "statefulsets",
            Resource::DaemonSet => "daemonsets",
            Resource::CronJob => "cronjobs",
            Resource::HorizontalPodAutoscaler => "horizontalpodautoscalers",
        }
    }

    /// Singular name, as discovery reports it.
    pub fn singular(self) -> &'static str {
        match self {
            Resource::CoreEvent | Resource::Event => "event",
            Resource::Pod => "pod",
            Resource::Node => "node",
            Resource::ReplicaSet => "replicaset",
            Resource::Deployment => "deployment",
            Resource::Job => "job",
            Resource::Lease => "lease",
            Resource::ConfigMap => "configmap",
            Resource::Secret => "secret",
            Resource::StatefulSet => "statefulset",
            Resource::DaemonSet => "daemonset",
            Resource::CronJob => "cronjob",
            Resource::HorizontalPodAutoscaler => "horizontalpodautoscaler",
        }
    }

    /// `kind` of one object.
    pub fn kind(self) -> &'static str {
        match self {
            Resource::CoreEvent | Resource::Event => "Event",
            Resource::Pod => "Pod",
            Resource::Node => "Node",
            Resource::ReplicaSet => "ReplicaSet",
            Resource::Deployment => "Deployment",
            Resource::Job => "Job",
            Resource::Lease => "Lease",
            Resource::ConfigMap => "ConfigMap",
            Resource::Secret => "Secret",
            Resource::StatefulSet => "StatefulSet",
            Resource::DaemonSet => "DaemonSet",
            Resource::CronJob => "CronJob",
            Resource::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
        }
    }

    /// `kind` of a list.
    pub fn list_kind(self) -> String {
        format!("{}List", self.kind())
    }

    /// Whether objects live in a namespace.
    pub fn namespaced(self) -> bool {
        !matches!(self, Resource::Node)
    }

    /// Short names kubectl accepts (`ev`, `po`, `deploy`...).
    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Resource::CoreEvent | Resource::Event => &["ev"],
            Resource::Pod => &["po"],
            Resource::Node => &["no"],
            Resource::ReplicaSet => &["rs"],
            Resource::Deployment => &["deploy"],
            Resource::ConfigMap => &["cm"],
            Resource::StatefulSet => &["sts"],
            Resource::DaemonSet => &["ds"],
            Resource::CronJob => &["cj"],
            Resource::HorizontalPodAutoscaler => &["hpa"],
            Resource::Job | Resource::Lease | Resource::Secret => &[],
        }
    }

    /// Categories (`kubectl get all`).
    pub fn categories(self) -> &'static [&'static str] {
        match self {
            Resource::Pod
            | Resource::ReplicaSet
            | Resource::Deployment
            | Resource::Job
            | Resource::StatefulSet
            | Resource::DaemonSet
            | Resource::CronJob
            | Resource::HorizontalPodAutoscaler => &["all"],
            _ => &[],
        }
    }

    /// `plural.group`, as error messages name a resource (`events.events.k8s.io`, `pods`).
    pub fn qualified(self) -> String {
        if self.group().is_empty() {
            self.plural().to_string()
        } else {
            format!("{}.{}", self.plural(), self.group())
        }
    }

    /// The stored collection behind this resource.
    pub(crate) fn store_kind(self) -> StoreKind {
        match self {
            Resource::CoreEvent | Resource::Event => StoreKind::Event,
            Resource::Pod => StoreKind::Pod,
            Resource::Node => StoreKind::Node,
            Resource::ReplicaSet => StoreKind::ReplicaSet,
            Resource::Deployment => StoreKind::Deployment,
            Resource::Job => StoreKind::Job,
            Resource::Lease => StoreKind::Lease,
            Resource::ConfigMap => StoreKind::ConfigMap,
            Resource::Secret => StoreKind::Secret,
            Resource::StatefulSet => StoreKind::StatefulSet,
            Resource::DaemonSet => StoreKind::DaemonSet,
            Resource::CronJob => StoreKind::CronJob,
            Resource::HorizontalPodAutoscaler => StoreKind::HorizontalPodAutoscaler,
        }
    }

    /// Whether a PUT of a missing object creates it (the real Event strategy allows it).
    pub(crate) fn create_on_update(self) -> bool {
        matches!(self, Resource::CoreEvent | Resource::Event)
    }

    /// Whether the object has a `spec` whose changes bump `metadata.generation`.
    pub(crate) fn has_generation(self) -> bool {
        !matches!(
            self,
            Resource::CoreEvent
                | Resource::Event
                | Resource::Node
                | Resource::Lease
                | Resource::ConfigMap
                | Resource::Secret
        )
    }

    /// Whether writes are recorded in `metadata.managedFields` (the kinds change tracking
    /// reads; Events, Pods and Leases are left without, as before).
    pub(crate) fn keeps_managed_fields(self) -> bool {
        !matches!(
            self,
            Resource::CoreEvent | Resource::Event | Resource::Pod | Resource::Lease
        )
    }

    /// The resource served at `group/version/plural`.
    pub fn lookup(group: &str, version: &str, plural: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.group() == group && r.version() == version && r.plural() == plural)
    }

    /// The resource a `k8s-openapi` type is served as.
    pub fn of<K: k8s_openapi::Resource>() -> Option<Resource> {
        Resource::lookup(K::GROUP, K::VERSION, K::URL_PATH_SEGMENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_event_apis_share_one_collection() {
        assert_eq!(
            Resource::CoreEvent.store_kind(),
            Resource::Event.store_kind()
        );
        assert_eq!(
            Resource::of::<k8s_openapi::api::core::v1::Event>(),
            Some(Resource::CoreEvent)
        );
        assert_eq!(
            Resource::of::<k8s_openapi::api::events::v1::Event>(),
            Some(Resource::Event)
        );
    }

    #[test]
    fn qualified_names_match_the_real_server_messages() {
        assert_eq!(Resource::Event.qualified(), "events.events.k8s.io");
        assert_eq!(Resource::Pod.qualified(), "pods");
        assert_eq!(Resource::Lease.qualified(), "leases.coordination.k8s.io");
    }
}
