//! Events for unit tests.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{Category, Event, ObjectRef, Severity};

/// 2024-05-01T00:00:00Z.
pub fn t0() -> Timestamp {
    Timestamp::from_second(1_714_521_600).expect("a valid timestamp")
}

pub fn at(minutes: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(minutes)
}

/// A Warning crash BackOff (error) of pod `namespace/pod` of Deployment `web`, in cluster
/// `prod`, seen `count` times up to t0.
pub fn event(namespace: &str, pod: &str, reason: &str, count: u64) -> Event {
    Event {
        cluster: "prod".into(),
        uid: format!("{namespace}-{pod}-{reason}"),
        namespace: namespace.into(),
        name: format!("{pod}.17d"),
        regarding: ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: namespace.into(),
            name: pod.into(),
            uid: format!("uid-{pod}"),
            field_path: String::new(),
        },
        related: None,
        reason: reason.into(),
        note: format!("Back-off restarting failed container app in pod {pod}"),
        type_: "Warning".into(),
        action: String::new(),
        reporting_controller: "kubelet".into(),
        reporting_instance: String::new(),
        first_seen: t0(),
        last_seen: t0(),
        count,
        resource_version: "1".into(),
        category: Category::Crash,
        severity: Severity::Error,
        correlation_id: format!("{namespace}/Deployment/web"),
        owner: None,
        node: None,
        template: "Back-off restarting failed container <*> in pod <*>".into(),
        labels: BTreeMap::new(),
    }
}
