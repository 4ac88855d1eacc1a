//! Events the live and fan-in tests create in the simulator, and what it holds.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kubetrail_sim::SimHandle;

pub fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

/// A kubelet-style BackOff Event number `i`, for pod `i % pods` of `workload` in `namespace`;
/// its note ends with `({i})`.
pub fn backoff(namespace: &str, workload: &str, pods: usize, i: usize) -> Event {
    let pod = format!("{workload}-{:05}", i % pods.max(1));
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{pod}.{i:08x}")),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        event_time: Some(now()),
        action: Some("Restarting".into()),
        reason: Some("BackOff".into()),
        note: Some(format!(
            "Back-off restarting failed container app in pod {pod} ({i})"
        )),
        type_: Some("Warning".into()),
        reporting_controller: Some("kubelet".into()),
        reporting_instance: Some("node-1".into()),
        regarding: Some(ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(namespace.into()),
            name: Some(pod),
            field_path: Some("spec.containers{app}".into()),
            ..ObjectReference::default()
        }),
        ..Event::default()
    }
}

/// Creates `event` (number `i`); every third one then repeats twice (series count 2, 3).
pub fn create_with_repeats(sim: &SimHandle, i: usize, event: &Event) {
    let created = sim.create(event).expect("create");
    if i.is_multiple_of(3) {
        let mut e = created;
        for count in 2..=3 {
            e.series = Some(EventSeries {
                count,
                last_observed_time: now(),
            });
            e = sim.replace(&e).expect("replace");
        }
    }
}

/// uid → count of every Event the simulator holds (an Event without a count counts once).
pub fn simulated_counts(sim: &SimHandle) -> BTreeMap<String, i64> {
    sim.list::<Event>(None)
        .expect("list")
        .into_iter()
        .map(|e| {
            let count = e
                .series
                .as_ref()
                .map(|s| s.count)
                .or(e.deprecated_count)
                .unwrap_or(1)
                .max(1);
            (e.metadata.uid.expect("uid"), i64::from(count))
        })
        .collect()
}
