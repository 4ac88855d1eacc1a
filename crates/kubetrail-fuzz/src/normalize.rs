//! Event normalization and processing, structured: the input is decoded (with `arbitrary`) into
//! a sequence of typed Event objects of either API, owner links and pod placements, fed to
//! [`kubetrail_process::from_core`] / [`kubetrail_process::from_events_v1`] and one
//! [`Processor`] as a live stream would.
//!
//! Invariants checked on every record: first seen ≤ last seen, count ≥ 1, a non-blank uid, and
//! a JSON round trip that gives the same record (the NATS fan-in ships records as JSON).

use arbitrary::{Arbitrary, Unstructured};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kubetrail_model::{Event, Timestamp};
use kubetrail_process::{ObjectLink, OwnerRef, Processor, Rejected, Rules};

/// Decodes `data` into steps (Events of either API, owner links, placements) and runs them through
/// normalization and one processor.
///
/// # Panics
/// When a record breaks an invariant of the module docs, and where processing panics.
pub fn run(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let Ok(steps) = Vec::<Step>::arbitrary(&mut input) else {
        return;
    };
    let mut processor = Processor::new(Rules::builtin());
    for step in steps {
        match step {
            Step::Core(e) => check(
                kubetrail_process::from_core(e.core(), "fuzz"),
                &mut processor,
            ),
            Step::EventsV1(e) => check(
                kubetrail_process::from_events_v1(e.events_v1(), "fuzz"),
                &mut processor,
            ),
            Step::Link(link) => processor.observe(ObjectLink {
                kind: link.kind,
                namespace: link.namespace,
                name: link.name,
                uid: link.uid,
                owner: link
                    .owner
                    .map(|(kind, name, uid)| OwnerRef { kind, name, uid }),
            }),
            Step::Placement {
                namespace,
                pod,
                node,
            } => processor.observe_placement(&namespace, &pod, &node),
        }
    }
}

fn check(normalized: Result<Event, Rejected>, processor: &mut Processor) {
    let event = match normalized {
        Ok(event) => event,
        Err(rejected) => {
            let _ = (rejected.label(), rejected.to_string());
            return;
        }
    };
    assert!(!event.uid.trim().is_empty(), "{event:?}");
    assert!(event.first_seen <= event.last_seen, "{event:?}");
    assert!(event.count >= 1, "{event:?}");
    let event = processor.process(event);
    let json = serde_json::to_vec(&event).expect("an Event serializes");
    let back: Event = serde_json::from_slice(&json).expect("a serialized Event deserializes");
    assert_eq!(back, event, "the JSON round trip changed the record");
}

#[derive(Debug, Arbitrary)]
enum Step {
    Core(FuzzEvent),
    EventsV1(FuzzEvent),
    Link(Link),
    Placement {
        namespace: String,
        pod: String,
        node: String,
    },
}

#[derive(Debug, Arbitrary)]
struct Link {
    kind: String,
    namespace: String,
    name: String,
    uid: String,
    owner: Option<(String, String, String)>,
}

/// The fields both Event APIs carry, mapped onto each API's names.
#[derive(Debug, Arbitrary)]
struct FuzzEvent {
    uid: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    created: Option<FuzzTime>,
    first: Option<FuzzTime>,
    last: Option<FuzzTime>,
    event_time: Option<FuzzTime>,
    series: Option<(i32, Option<FuzzTime>)>,
    count: Option<i32>,
    reason: Option<String>,
    note: Option<String>,
    type_: Option<String>,
    action: Option<String>,
    reporting_controller: Option<String>,
    reporting_instance: Option<String>,
    source: Option<(Option<String>, Option<String>)>,
    regarding: Option<FuzzRef>,
    related: Option<FuzzRef>,
}

#[derive(Debug, Arbitrary)]
struct FuzzRef {
    api_version: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    uid: Option<String>,
    field_path: Option<String>,
}

/// Any instant Kubernetes' types can hold (jiff's whole range).
#[derive(Debug, Clone, Copy, Arbitrary)]
struct FuzzTime {
    second: i64,
    nanosecond: u32,
}

impl FuzzTime {
    fn timestamp(self) -> Timestamp {
        let second = self.second.clamp(
            Timestamp::MIN.as_second() + 1,
            Timestamp::MAX.as_second() - 1,
        );
        let nanosecond = i32::try_from(self.nanosecond % 1_000_000_000).unwrap_or(0);
        Timestamp::new(second, nanosecond).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

impl FuzzRef {
    fn object_reference(&self) -> core::ObjectReference {
        core::ObjectReference {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            field_path: self.field_path.clone(),
            resource_version: None,
        }
    }
}

impl FuzzEvent {
    fn metadata(&self) -> ObjectMeta {
        ObjectMeta {
            uid: self.uid.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            resource_version: self.resource_version.clone(),
            creation_timestamp: self.created.map(|t| Time(t.timestamp())),
            ..ObjectMeta::default()
        }
    }

    fn source(&self) -> Option<core::EventSource> {
        self.source
            .clone()
            .map(|(component, host)| core::EventSource { component, host })
    }

    fn core(&self) -> core::Event {
        core::Event {
            metadata: self.metadata(),
            involved_object: self
                .regarding
                .as_ref()
                .map(FuzzRef::object_reference)
                .unwrap_or_default(),
            related: self.related.as_ref().map(FuzzRef::object_reference),
            first_timestamp: self.first.map(|t| Time(t.timestamp())),
            last_timestamp: self.last.map(|t| Time(t.timestamp())),
            event_time: self.event_time.map(|t| MicroTime(t.timestamp())),
            series: self.series.map(|(count, last)| core::EventSeries {
                count: Some(count),
                last_observed_time: last.map(|t| MicroTime(t.timestamp())),
            }),
            count: self.count,
            reason: self.reason.clone(),
            message: self.note.clone(),
            type_: self.type_.clone(),
            action: self.action.clone(),
            reporting_component: self.reporting_controller.clone(),
            reporting_instance: self.reporting_instance.clone(),
            source: self.source(),
        }
    }

    fn events_v1(&self) -> events::Event {
        events::Event {
            metadata: self.metadata(),
            regarding: self.regarding.as_ref().map(FuzzRef::object_reference),
            related: self.related.as_ref().map(FuzzRef::object_reference),
            deprecated_first_timestamp: self.first.map(|t| Time(t.timestamp())),
            deprecated_last_timestamp: self.last.map(|t| Time(t.timestamp())),
            event_time: self.event_time.map(|t| MicroTime(t.timestamp())),
            series: self.series.map(|(count, last)| events::EventSeries {
                count,
                last_observed_time: MicroTime(
                    last.map_or(Timestamp::UNIX_EPOCH, FuzzTime::timestamp),
                ),
            }),
            deprecated_count: self.count,
            reason: self.reason.clone(),
            note: self.note.clone(),
            type_: self.type_.clone(),
            action: self.action.clone(),
            reporting_controller: self.reporting_controller.clone(),
            reporting_instance: self.reporting_instance.clone(),
            deprecated_source: self.source(),
        }
    }
}
