//! The normalization from k8s-openapi's types as it was before [`crate::normalize`] took
//! [`crate::EventFields`] (commit 8793853), kept for the tests: [`crate::wire`] and the
//! conversions must give exactly what this gave.

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubetrail_model::{Category, Event, ObjectRef, Severity, Timestamp};

use crate::Rejected;

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
        related: related.map(Box::new),
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
