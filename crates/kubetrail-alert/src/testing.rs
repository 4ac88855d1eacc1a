//! Events for unit tests.

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{Category, Event, EventOccurrences, Severity, new_occurrences};

pub use kubetrail_testkit::t0;

pub fn at(minutes: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(minutes)
}

/// A Warning crash BackOff (error) of pod `namespace/pod` of Deployment `web`, in cluster
/// `prod`, seen `count` times up to t0.
pub fn event(namespace: &str, pod: &str, reason: &str, count: u64) -> Event {
    let mut e = kubetrail_testkit::event(namespace, "Pod", pod, reason)
        .uid(&format!("{namespace}-{pod}-{reason}"))
        .note(&format!(
            "Back-off restarting failed container app in pod {pod}"
        ))
        .classified(Category::Crash, Severity::Error)
        .correlation(&format!("{namespace}/Deployment/web"))
        .seen(t0(), t0(), count)
        .build();
    e.name = format!("{pod}.17d");
    e.regarding.uid = format!("uid-{pod}");
    e.reporting_controller = "kubelet".into();
    e.template = "Back-off restarting failed container <*> in pod <*>".into();
    e
}

/// What a store's write commits for `events` it did not have: each with its whole count (see
/// [`new_occurrences`]).
pub fn new(events: &[Event]) -> Vec<EventOccurrences> {
    events
        .iter()
        .map(|e| EventOccurrences {
            event: e.clone(),
            occurrences: new_occurrences(None, e),
        })
        .collect()
}
