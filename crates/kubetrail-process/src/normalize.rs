//! Both Kubernetes Event APIs → one [`Event`] record (processing fields left at defaults),
//! its text made storable by [`kubetrail_model::text`] (NUL as `␀`, bounded sizes).

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
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

/// Normalizes a `core/v1` Event (`involvedObject`, `message`, `source`, `count`). The Event is
/// taken by value: its strings move into the record instead of being copied.
pub fn from_core(mut ev: core::Event, cluster: &str) -> Result<Event, Rejected> {
    let uid = uid(&mut ev.metadata)?;
    let first = ev.first_timestamp.as_ref().map(|t| t.0);
    let last = ev.last_timestamp.as_ref().map(|t| t.0);
    let event_time = ev.event_time.as_ref().map(|t| t.0);
    let series = ev.series.as_ref();
    let series_last = series.and_then(|s| s.last_observed_time.as_ref().map(|t| t.0));
    let created = ev.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let (first_seen, last_seen) = seen(
        [first, event_time, created, last, series_last],
        [last, series_last, event_time, first],
    )?;
    let count = [series.and_then(|s| s.count), ev.count]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(1);
    let (component, host) = ev.source.map(|s| (s.component, s.host)).unwrap_or_default();
    Ok(record(
        cluster,
        uid,
        ev.metadata,
        object_ref(ev.involved_object),
        ev.related.map(object_ref),
        Fields {
            reason: text(ev.reason),
            note: text(ev.message),
            type_: text(ev.type_),
            action: text(ev.action),
            reporting_controller: first_non_empty(ev.reporting_component, component),
            reporting_instance: first_non_empty(ev.reporting_instance, host),
            first_seen,
            last_seen,
            count,
        },
    ))
}

/// Normalizes an `events.k8s.io/v1` Event (`regarding`, `note`, `reportingController`,
/// `series`, `deprecated*`), taken by value as [`from_core`].
pub fn from_events_v1(mut ev: events::Event, cluster: &str) -> Result<Event, Rejected> {
    let uid = uid(&mut ev.metadata)?;
    let first = ev.deprecated_first_timestamp.as_ref().map(|t| t.0);
    let last = ev.deprecated_last_timestamp.as_ref().map(|t| t.0);
    let event_time = ev.event_time.as_ref().map(|t| t.0);
    let series = ev.series.as_ref();
    let series_last = series.map(|s| s.last_observed_time.0);
    let created = ev.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let (first_seen, last_seen) = seen(
        [first, event_time, created, last, series_last],
        [last, series_last, event_time, first],
    )?;
    let count = [series.map(|s| s.count), ev.deprecated_count]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(1);
    let (component, host) = ev
        .deprecated_source
        .map(|s| (s.component, s.host))
        .unwrap_or_default();
    Ok(record(
        cluster,
        uid,
        ev.metadata,
        ev.regarding.map(object_ref).unwrap_or_default(),
        ev.related.map(object_ref),
        Fields {
            reason: text(ev.reason),
            note: text(ev.note),
            type_: text(ev.type_),
            action: text(ev.action),
            reporting_controller: first_non_empty(ev.reporting_controller, component),
            reporting_instance: first_non_empty(ev.reporting_instance, host),
            first_seen,
            last_seen,
            count,
        },
    ))
}

struct Fields {
    reason: String,
    note: String,
    type_: String,
    action: String,
    reporting_controller: String,
    reporting_instance: String,
    first_seen: Timestamp,
    last_seen: Timestamp,
    count: i32,
}

fn record(
    cluster: &str,
    uid: String,
    meta: ObjectMeta,
    regarding: ObjectRef,
    related: Option<ObjectRef>,
    f: Fields,
) -> Event {
    let namespace = meta
        .namespace
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| regarding.namespace.clone());
    let mut event = Event {
        cluster: cluster.to_string(),
        uid,
        namespace,
        name: text(meta.name),
        regarding,
        related,
        reason: f.reason,
        note: f.note,
        type_: f.type_,
        action: f.action,
        reporting_controller: f.reporting_controller,
        reporting_instance: f.reporting_instance,
        first_seen: f.first_seen,
        last_seen: f.last_seen,
        count: u64::try_from(f.count.max(1)).unwrap_or(1),
        resource_version: text(meta.resource_version),
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
    event
}

fn uid(meta: &mut ObjectMeta) -> Result<String, Rejected> {
    match meta.uid.take() {
        Some(u) if !u.trim().is_empty() => Ok(u),
        _ => Err(Rejected::MissingUid),
    }
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

fn object_ref(r: core::ObjectReference) -> ObjectRef {
    ObjectRef {
        api_version: text(r.api_version),
        kind: text(r.kind),
        namespace: text(r.namespace),
        name: text(r.name),
        uid: text(r.uid),
        field_path: text(r.field_path),
    }
}

fn text(s: Option<String>) -> String {
    s.unwrap_or_default()
}

/// The first of the two that is set and not empty (the new field, then the deprecated one).
fn first_non_empty(first: Option<String>, second: Option<String>) -> String {
    first
        .filter(|s| !s.is_empty())
        .or(second.filter(|s| !s.is_empty()))
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
