//! Events written the way real components write them.
//!
//! Two recorders exist in Kubernetes and both are still in use:
//! - the legacy `core/v1` recorder (kubelet, kube-controller-manager's controllers, node
//!   problem detector): `source {component, host}`, `reportingComponent`, first/last timestamp
//!   and `count`; a repeat of the same (source, object, type, reason, message) updates the same
//!   Event with `count + 1` and a new `lastTimestamp`;
//! - the `events.k8s.io/v1` recorder (kube-scheduler): `eventTime`, `action`,
//!   `reportingController`/`reportingInstance`, no deprecated fields; a repeat within the series
//!   window updates the same Event's `series {count, lastObservedTime}`.
//!
//! Both are stored in the `events.k8s.io/v1` shape, as the real server stores them; each
//! repeat is a MODIFIED of the same uid.

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{EventSource, ObjectReference};
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};

use crate::error::Result;
use crate::handle::SimHandle;

/// Which recorder, on behalf of which component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reporter {
    /// The legacy recorder: `component` on `host` (kubelet: the node; controllers: none).
    Legacy {
        component: &'static str,
        host: Option<String>,
    },
    /// The events.k8s.io recorder of `controller`, instance `instance`.
    EventsV1 {
        controller: &'static str,
        instance: String,
    },
}

/// The kubelet of `node`.
pub(crate) fn kubelet(node: &str) -> Reporter {
    Reporter::Legacy {
        component: "kubelet",
        host: Some(node.to_string()),
    }
}

/// A kube-controller-manager controller (`deployment-controller`, `node-controller`...).
pub(crate) fn controller(name: &'static str) -> Reporter {
    Reporter::Legacy {
        component: name,
        host: None,
    }
}

/// node-problem-detector's kernel monitor on `node`.
pub(crate) fn kernel_monitor(node: &str) -> Reporter {
    Reporter::Legacy {
        component: "kernel-monitor",
        host: Some(node.to_string()),
    }
}

/// The default scheduler (its instance is `default-scheduler-<host>`).
pub(crate) fn scheduler() -> Reporter {
    Reporter::EventsV1 {
        controller: "default-scheduler",
        instance: "default-scheduler-control-plane".to_string(),
    }
}

/// One event to record.
pub(crate) struct Occurrence<'a> {
    pub regarding: &'a ObjectReference,
    pub type_: &'a str,
    pub reason: &'a str,
    /// Only the events.k8s.io recorder sets an action.
    pub action: &'a str,
    pub note: String,
}

/// Remembers which Event each repeated occurrence updates.
#[derive(Default)]
pub(crate) struct Recorder {
    /// Aggregation key → (namespace, name) of the Event.
    seen: HashMap<String, (String, String)>,
    last_nanos: i128,
}

impl Recorder {
    /// Records an occurrence: creates an Event, or updates the one it repeats.
    pub(crate) fn record(
        &mut self,
        sim: &SimHandle,
        reporter: &Reporter,
        occurrence: Occurrence<'_>,
    ) -> Result<Event> {
        let key = aggregation_key(reporter, &occurrence);
        if let Some((namespace, name)) = self.seen.get(&key)
            && let Some(mut event) = sim.get::<Event>(Some(namespace), name)?
        {
            let now = Timestamp::now();
            match reporter {
                Reporter::Legacy { .. } => {
                    event.deprecated_count = Some(event.deprecated_count.unwrap_or(1) + 1);
                    event.deprecated_last_timestamp = Some(Time(now));
                }
                Reporter::EventsV1 { .. } => {
                    let count = event.series.as_ref().map_or(1, |s| s.count) + 1;
                    event.series = Some(EventSeries {
                        count,
                        last_observed_time: MicroTime(now),
                    });
                }
            }
            return sim.replace(&event);
        }
        let event = self.new_event(reporter, &occurrence);
        let created = sim.create(&event)?;
        let namespace = created.metadata.namespace.clone().unwrap_or_default();
        let name = created.metadata.name.clone().unwrap_or_default();
        self.seen.insert(key, (namespace, name));
        Ok(created)
    }

    fn new_event(&mut self, reporter: &Reporter, occurrence: &Occurrence<'_>) -> Event {
        let now = Timestamp::now();
        // Real names are `<object>.<hex unix nanos>`; keep them unique when steps are instant.
        let nanos = now.as_nanosecond().max(self.last_nanos + 1);
        self.last_nanos = nanos;
        let regarding = occurrence.regarding;
        // Events about cluster-scoped objects (Nodes) are written to `default`.
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let metadata = ObjectMeta {
            name: Some(format!(
                "{}.{:x}",
                regarding.name.as_deref().unwrap_or_default(),
                nanos
            )),
            namespace: Some(namespace),
            ..ObjectMeta::default()
        };
        let base = Event {
            metadata,
            regarding: Some(regarding.clone()),
            reason: Some(occurrence.reason.to_string()),
            note: Some(occurrence.note.clone()),
            type_: Some(occurrence.type_.to_string()),
            ..Event::default()
        };
        match reporter {
            Reporter::Legacy { component, host } => Event {
                reporting_controller: Some((*component).to_string()),
                reporting_instance: host.clone(),
                deprecated_source: Some(EventSource {
                    component: Some((*component).to_string()),
                    host: host.clone(),
                }),
                deprecated_first_timestamp: Some(Time(now)),
                deprecated_last_timestamp: Some(Time(now)),
                deprecated_count: Some(1),
                ..base
            },
            Reporter::EventsV1 {
                controller,
                instance,
            } => Event {
                event_time: Some(MicroTime(now)),
                action: Some(occurrence.action.to_string()),
                reporting_controller: Some((*controller).to_string()),
                reporting_instance: Some(instance.clone()),
                ..base
            },
        }
    }
}

/// What makes two occurrences "the same event" to the recorder that writes them.
fn aggregation_key(reporter: &Reporter, occurrence: &Occurrence<'_>) -> String {
    let r = occurrence.regarding;
    format!(
        "{reporter:?}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        r.kind.as_deref().unwrap_or_default(),
        r.namespace.as_deref().unwrap_or_default(),
        r.name.as_deref().unwrap_or_default(),
        r.uid.as_deref().unwrap_or_default(),
        r.field_path.as_deref().unwrap_or_default(),
        occurrence.type_,
        occurrence.reason,
        occurrence.action,
        occurrence.note,
    )
}
