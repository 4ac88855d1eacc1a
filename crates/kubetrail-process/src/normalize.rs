//! Both Kubernetes Event APIs → one [`Event`] record (processing fields left at defaults),
//! its text made storable by [`kubetrail_model::text`] (NUL as `␀`, bounded sizes).
//!
//! Every input path goes through [`normalize`] from [`EventFields`]: the import reads JSON
//! straight into them ([`crate::wire`], strings borrowed from the line), the live watch and
//! the HTTP API move a k8s-openapi Event's strings into them ([`from_core`],
//! [`from_events_v1`]).

use std::borrow::Cow;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use kubetrail_model::{Category, Event, ObjectRef, Severity, Timestamp};

/// Why an Event object could not become a record. Reported to the user, never guessed around.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// No `metadata.uid` (or a blank one): the record would have no identity.
    #[error("event has no metadata.uid (no identity)")]
    MissingUid,
    /// None of `eventTime`, `firstTimestamp`, `lastTimestamp`, `series.lastObservedTime` and
    /// `creationTimestamp` is set.
    #[error(
        "event has no timestamp at all (no eventTime, first/lastTimestamp, series or creationTimestamp)"
    )]
    MissingTime,
    /// Dated further past the time it was received than [`crate::FutureLimit`] allows.
    #[error("event dated more than {max_ahead:#} after it was received")]
    FarFuture {
        /// The limit that was exceeded.
        max_ahead: jiff::SignedDuration,
    },
}

impl Rejected {
    /// A short stable label for summaries ("skipped: 3 missing uid").
    pub fn label(&self) -> &'static str {
        match self {
            Rejected::MissingUid => "missing metadata.uid",
            Rejected::MissingTime => "no timestamp",
            Rejected::FarFuture { .. } => "dated too far in the future",
        }
    }
}

/// What normalization reads of an Event of either API, named once: the strings borrowed from
/// the decoded text where they can be ([`crate::wire`] reads JSON straight into this), or moved
/// out of a k8s-openapi Event (the live watch, the HTTP API) by [`from_core`] and
/// [`from_events_v1`]. [`normalize`] is the one rule that turns it into a record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFields<'a> {
    /// `metadata.uid`.
    pub uid: Option<Cow<'a, str>>,
    /// `metadata.name`.
    pub name: Option<Cow<'a, str>>,
    /// `metadata.namespace`.
    pub namespace: Option<Cow<'a, str>>,
    /// `metadata.resourceVersion`.
    pub resource_version: Option<Cow<'a, str>>,
    /// `metadata.creationTimestamp`.
    pub created: Option<Timestamp>,
    /// `involvedObject` (core/v1) or `regarding` (events.k8s.io/v1).
    pub regarding: Option<Reference<'a>>,
    /// `related`.
    pub related: Option<Reference<'a>>,
    /// `reason`.
    pub reason: Option<Cow<'a, str>>,
    /// `message` (core/v1) or `note` (events.k8s.io/v1).
    pub note: Option<Cow<'a, str>>,
    /// `type`.
    pub type_: Option<Cow<'a, str>>,
    /// `action`.
    pub action: Option<Cow<'a, str>>,
    /// `reportingComponent` (core/v1) or `reportingController` (events.k8s.io/v1).
    pub reporting_controller: Option<Cow<'a, str>>,
    /// `reportingInstance`.
    pub reporting_instance: Option<Cow<'a, str>>,
    /// `source.component` or `deprecatedSource.component`.
    pub source_component: Option<Cow<'a, str>>,
    /// `source.host` or `deprecatedSource.host`.
    pub source_host: Option<Cow<'a, str>>,
    /// `firstTimestamp` or `deprecatedFirstTimestamp`.
    pub first: Option<Timestamp>,
    /// `lastTimestamp` or `deprecatedLastTimestamp`.
    pub last: Option<Timestamp>,
    /// `eventTime`.
    pub event_time: Option<Timestamp>,
    /// `series.count` (events.k8s.io/v1: 0 when the series has none, as k8s-openapi reads it).
    pub series_count: Option<i32>,
    /// `series.lastObservedTime`.
    pub series_last: Option<Timestamp>,
    /// `count` or `deprecatedCount`.
    pub count: Option<i32>,
}

/// An object reference (`involvedObject`, `regarding`, `related`) as normalization reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reference<'a> {
    /// `apiVersion`.
    pub api_version: Option<Cow<'a, str>>,
    /// `kind`.
    pub kind: Option<Cow<'a, str>>,
    /// `namespace`.
    pub namespace: Option<Cow<'a, str>>,
    /// `name`.
    pub name: Option<Cow<'a, str>>,
    /// `uid`.
    pub uid: Option<Cow<'a, str>>,
    /// `fieldPath`.
    pub field_path: Option<Cow<'a, str>>,
}

/// Normalizes a `core/v1` Event (`involvedObject`, `message`, `source`, `count`). The Event is
/// taken by value: its strings move into the record instead of being copied.
pub fn from_core(ev: core::Event, cluster: &str) -> Result<Event, Rejected> {
    normalize(EventFields::from(ev), cluster)
}

/// Normalizes an `events.k8s.io/v1` Event (`regarding`, `note`, `reportingController`,
/// `series`, `deprecated*`), taken by value as [`from_core`].
pub fn from_events_v1(ev: events::Event, cluster: &str) -> Result<Event, Rejected> {
    normalize(EventFields::from(ev), cluster)
}

impl From<core::Event> for EventFields<'_> {
    fn from(ev: core::Event) -> Self {
        let series = ev.series;
        let (source_component, source_host) =
            ev.source.map(|s| (s.component, s.host)).unwrap_or_default();
        let meta = ev.metadata;
        EventFields {
            uid: meta.uid.map(Cow::Owned),
            name: meta.name.map(Cow::Owned),
            namespace: meta.namespace.map(Cow::Owned),
            resource_version: meta.resource_version.map(Cow::Owned),
            created: meta.creation_timestamp.map(|t| t.0),
            regarding: Some(Reference::from(ev.involved_object)),
            related: ev.related.map(Reference::from),
            reason: ev.reason.map(Cow::Owned),
            note: ev.message.map(Cow::Owned),
            type_: ev.type_.map(Cow::Owned),
            action: ev.action.map(Cow::Owned),
            reporting_controller: ev.reporting_component.map(Cow::Owned),
            reporting_instance: ev.reporting_instance.map(Cow::Owned),
            source_component: source_component.map(Cow::Owned),
            source_host: source_host.map(Cow::Owned),
            first: ev.first_timestamp.map(|t| t.0),
            last: ev.last_timestamp.map(|t| t.0),
            event_time: ev.event_time.map(|t| t.0),
            series_count: series.as_ref().and_then(|s| s.count),
            series_last: series.and_then(|s| s.last_observed_time.map(|t| t.0)),
            count: ev.count,
        }
    }
}

impl From<events::Event> for EventFields<'_> {
    fn from(ev: events::Event) -> Self {
        let series = ev.series;
        let (source_component, source_host) = ev
            .deprecated_source
            .map(|s| (s.component, s.host))
            .unwrap_or_default();
        let meta = ev.metadata;
        EventFields {
            uid: meta.uid.map(Cow::Owned),
            name: meta.name.map(Cow::Owned),
            namespace: meta.namespace.map(Cow::Owned),
            resource_version: meta.resource_version.map(Cow::Owned),
            created: meta.creation_timestamp.map(|t| t.0),
            regarding: ev.regarding.map(Reference::from),
            related: ev.related.map(Reference::from),
            reason: ev.reason.map(Cow::Owned),
            note: ev.note.map(Cow::Owned),
            type_: ev.type_.map(Cow::Owned),
            action: ev.action.map(Cow::Owned),
            reporting_controller: ev.reporting_controller.map(Cow::Owned),
            reporting_instance: ev.reporting_instance.map(Cow::Owned),
            source_component: source_component.map(Cow::Owned),
            source_host: source_host.map(Cow::Owned),
            first: ev.deprecated_first_timestamp.map(|t| t.0),
            last: ev.deprecated_last_timestamp.map(|t| t.0),
            event_time: ev.event_time.map(|t| t.0),
            series_count: series.as_ref().map(|s| s.count),
            series_last: series.map(|s| s.last_observed_time.0),
            count: ev.deprecated_count,
        }
    }
}

impl From<core::ObjectReference> for Reference<'_> {
    fn from(r: core::ObjectReference) -> Self {
        Reference {
            api_version: r.api_version.map(Cow::Owned),
            kind: r.kind.map(Cow::Owned),
            namespace: r.namespace.map(Cow::Owned),
            name: r.name.map(Cow::Owned),
            uid: r.uid.map(Cow::Owned),
            field_path: r.field_path.map(Cow::Owned),
        }
    }
}

/// The one normalization rule, for both APIs and every input path: identity, the first and
/// last time seen, the count, the deprecated fields as fallbacks, text made storable.
pub fn normalize(f: EventFields<'_>, cluster: &str) -> Result<Event, Rejected> {
    let uid = match f.uid {
        Some(u) if !u.trim().is_empty() => u.into_owned(),
        _ => return Err(Rejected::MissingUid),
    };
    let (first_seen, last_seen) = seen(
        [f.first, f.event_time, f.created, f.last, f.series_last],
        [f.last, f.series_last, f.event_time, f.first],
    )?;
    let count = [f.series_count, f.count]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(1);
    let regarding = f.regarding.map(object_ref).unwrap_or_default();
    let namespace = f
        .namespace
        .filter(|n| !n.is_empty())
        .map_or_else(|| regarding.namespace.clone(), Cow::into_owned);
    let mut event = Event {
        cluster: cluster.to_string(),
        uid,
        namespace,
        name: text(f.name),
        regarding,
        related: f.related.map(|r| Box::new(object_ref(r))),
        reason: text(f.reason),
        note: text(f.note),
        type_: text(f.type_),
        action: text(f.action),
        reporting_controller: first_non_empty(f.reporting_controller, f.source_component),
        reporting_instance: first_non_empty(f.reporting_instance, f.source_host),
        first_seen,
        last_seen,
        count: u64::try_from(count.max(1)).unwrap_or(1),
        resource_version: text(f.resource_version),
        category: Category::Other,
        severity: Severity::Info,
        correlation_id: String::new(),
        owner: None,
        node: None,
        template: String::new(),
        labels: Default::default(),
    };
    // NUL shown as `␀`, sizes bounded: the same text on every backend, for every input path.
    event.bound_text();
    Ok(event)
}

/// First seen: the first present of `first_order`; last seen: the latest of `last_candidates`,
/// never before first seen.
fn seen(
    first_order: [Option<Timestamp>; 5],
    last_candidates: [Option<Timestamp>; 4],
) -> Result<(Timestamp, Timestamp), Rejected> {
    let first = first_order
        .into_iter()
        .flatten()
        .next()
        .ok_or(Rejected::MissingTime)?;
    let last = last_candidates.into_iter().flatten().max().unwrap_or(first);
    Ok((first.min(last), last.max(first)))
}

fn object_ref(r: Reference<'_>) -> ObjectRef {
    ObjectRef {
        api_version: text(r.api_version),
        kind: text(r.kind),
        namespace: text(r.namespace),
        name: text(r.name),
        uid: text(r.uid),
        field_path: text(r.field_path),
    }
}

fn text(s: Option<Cow<'_, str>>) -> String {
    s.map(Cow::into_owned).unwrap_or_default()
}

/// The first of the two that is set and not empty (the new field, then the deprecated one).
fn first_non_empty(first: Option<Cow<'_, str>>, second: Option<Cow<'_, str>>) -> String {
    first
        .filter(|s| !s.is_empty())
        .or(second.filter(|s| !s.is_empty()))
        .map(Cow::into_owned)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core(json: &str) -> core::Event {
        serde_json::from_str(json).expect("valid core/v1 Event")
    }

    #[test]
    fn a_classic_core_event_maps_every_field() {
        let e = from_core(
            core(
                r#"{"metadata":{"name":"web.1","namespace":"shop","uid":"u1","resourceVersion":"42"},
                "involvedObject":{"apiVersion":"v1","kind":"Pod","namespace":"shop","name":"web","uid":"p1","fieldPath":"spec.containers{app}"},
                "reason":"BackOff","message":"Back-off","type":"Warning","count":7,
                "firstTimestamp":"2024-01-01T00:00:00Z","lastTimestamp":"2024-01-01T00:10:00Z",
                "source":{"component":"kubelet","host":"node-a"}}"#,
            ),
            "prod",
        )
        .unwrap();
        assert_eq!(
            (e.cluster.as_str(), e.uid.as_str(), e.namespace.as_str()),
            ("prod", "u1", "shop")
        );
        assert_eq!(e.regarding.field_path, "spec.containers{app}");
        assert_eq!(
            (e.reason.as_str(), e.note.as_str(), e.type_.as_str()),
            ("BackOff", "Back-off", "Warning")
        );
        assert_eq!(
            (
                e.reporting_controller.as_str(),
                e.reporting_instance.as_str()
            ),
            ("kubelet", "node-a")
        );
        assert_eq!(e.count, 7);
        assert_eq!(e.first_seen.to_string(), "2024-01-01T00:00:00Z");
        assert_eq!(e.last_seen.to_string(), "2024-01-01T00:10:00Z");
        assert_eq!(e.resource_version, "42");
    }

    #[test]
    fn a_core_event_with_only_a_microsecond_event_time_and_a_series() {
        let e = from_core(
            core(
                r#"{"metadata":{"name":"x","uid":"u2"},"involvedObject":{"kind":"Pod","name":"p"},
                "reason":"Unhealthy","eventTime":"2024-01-01T00:00:00.123456Z",
                "series":{"count":5,"lastObservedTime":"2024-01-01T00:05:00.000001Z"},
                "reportingComponent":"kubelet","reportingInstance":"n1"}"#,
            ),
            "c",
        )
        .unwrap();
        assert_eq!(e.count, 5);
        assert_eq!(e.first_seen.to_string(), "2024-01-01T00:00:00.123456Z");
        assert_eq!(e.last_seen.to_string(), "2024-01-01T00:05:00.000001Z");
        assert_eq!(e.type_, "");
        assert_eq!(e.reporting_controller, "kubelet");
    }

    #[test]
    fn an_events_v1_event_maps_regarding_note_and_deprecated_fields() {
        let ev: events::Event = serde_json::from_str(
            r#"{"apiVersion":"events.k8s.io/v1","kind":"Event",
            "metadata":{"name":"x","namespace":"ns","uid":"u3","creationTimestamp":"2022-03-22T23:49:14Z"},
            "regarding":{"kind":"Pod","name":"p","namespace":"ns"},"note":"Add eth0","reason":"AddedInterface",
            "deprecatedCount":3,"deprecatedFirstTimestamp":"2022-03-22T23:49:15Z","deprecatedLastTimestamp":"2022-03-22T23:50:15Z",
            "deprecatedSource":{"component":"multus"},"type":"Normal"}"#,
        )
        .unwrap();
        let e = from_events_v1(ev, "c").unwrap();
        assert_eq!((e.note.as_str(), e.count), ("Add eth0", 3));
        assert_eq!(e.reporting_controller, "multus");
        assert_eq!(e.first_seen.to_string(), "2022-03-22T23:49:15Z");
        assert_eq!(e.last_seen.to_string(), "2022-03-22T23:50:15Z");
    }

    /// Issue 11, item 2: a message with a NUL (which the API server accepts) made every
    /// PostgreSQL write of its batch fail; a 1 MB reason passed PostgreSQL's index limit.
    #[test]
    fn a_nul_in_the_message_and_a_megabyte_reason_become_storable_text() {
        let mut ev = core(
            r#"{"metadata":{"name":"x","namespace":"ns","uid":"u"},"involvedObject":{"kind":"Pod","name":"p"},
            "message":"exit\u0000code","lastTimestamp":"2024-01-01T00:00:00Z"}"#,
        );
        ev.reason = Some("R".repeat(1 << 20));
        let e = from_core(ev, "c").unwrap();
        assert_eq!(e.note, "exit\u{2400}code");
        assert!(e.reason.len() <= kubetrail_model::text::MAX_REASON_BYTES);
        assert!(e.reason.ends_with("…[truncated from 1048576 bytes]"));
        let v1: events::Event = serde_json::from_str(
            r#"{"metadata":{"name":"x","uid":"u"},"regarding":{"kind":"Pod","name":"p"},
            "note":"a\u0000b","eventTime":"2024-01-01T00:00:00.000000Z"}"#,
        )
        .unwrap();
        assert_eq!(from_events_v1(v1, "c").unwrap().note, "a\u{2400}b");
    }

    #[test]
    fn events_without_identity_or_time_are_rejected_not_guessed() {
        let no_uid = core(
            r#"{"metadata":{"name":"x"},"involvedObject":{},"lastTimestamp":"2024-01-01T00:00:00Z"}"#,
        );
        assert_eq!(from_core(no_uid, "c"), Err(Rejected::MissingUid));
        let no_time = core(r#"{"metadata":{"name":"x","uid":"u"},"involvedObject":{}}"#);
        assert_eq!(from_core(no_time, "c"), Err(Rejected::MissingTime));
    }
}
