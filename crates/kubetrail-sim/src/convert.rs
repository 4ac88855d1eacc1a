//! Objects in and out of the store.
//!
//! Bodies are decoded through the `k8s-openapi` type of their resource, so malformed objects are
//! refused and stored objects are always well-formed. Events are stored in the
//! `events.k8s.io/v1` shape and converted on the way in and out of `core/v1`, field for field as
//! the real server converts them (`pkg/apis/events/v1/conversion.go`): regarding ↔
//! involvedObject, note ↔ message, reportingController ↔ reportingComponent, deprecatedSource ↔
//! source, deprecatedCount ↔ count, deprecatedFirst/LastTimestamp ↔ first/lastTimestamp.
//! On the way out, the fields Go always serializes (`eventTime: null`, `source: {}`,
//! `reportingComponent: ""`...) are added, so clients see the real server's shape.

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::resources::Resource;
use crate::status::ApiError;

/// Decodes a request body (or a typed object) into the stored shape of `resource`.
pub(crate) fn decode(resource: Resource, body: Value) -> Result<Value, ApiError> {
    check_type_meta(resource, &body)?;
    match resource {
        Resource::CoreEvent => {
            let event: core::Event = from_body(body)?;
            to_value(&core_to_events(event))
        }
        Resource::Event => roundtrip::<events::Event>(body),
        Resource::Pod => roundtrip::<core::Pod>(body),
        Resource::Node => roundtrip::<core::Node>(body),
        Resource::ReplicaSet => roundtrip::<k8s_openapi::api::apps::v1::ReplicaSet>(body),
        Resource::Deployment => roundtrip::<k8s_openapi::api::apps::v1::Deployment>(body),
        Resource::Job => roundtrip::<k8s_openapi::api::batch::v1::Job>(body),
        Resource::Lease => roundtrip::<k8s_openapi::api::coordination::v1::Lease>(body),
        Resource::ConfigMap => roundtrip::<core::ConfigMap>(body),
        Resource::Secret => roundtrip::<core::Secret>(body),
        Resource::StatefulSet => roundtrip::<k8s_openapi::api::apps::v1::StatefulSet>(body),
        Resource::DaemonSet => roundtrip::<k8s_openapi::api::apps::v1::DaemonSet>(body),
        Resource::CronJob => roundtrip::<k8s_openapi::api::batch::v1::CronJob>(body),
        Resource::HorizontalPodAutoscaler => {
            roundtrip::<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>(body)
        }
    }
}

/// Renders a stored object as `resource` shows it to clients.
pub(crate) fn encode(resource: Resource, stored: &Value) -> Value {
    match resource {
        Resource::CoreEvent => {
            let converted = serde_json::from_value::<events::Event>(stored.clone())
                .ok()
                .map(events_to_core)
                .and_then(|event| serde_json::to_value(event).ok());
            let mut value = converted.unwrap_or_else(|| stored.clone());
            fill_core_event(&mut value);
            value
        }
        Resource::Event => {
            let mut value = stored.clone();
            fill_events_event(&mut value);
            value
        }
        _ => stored.clone(),
    }
}

/// The object a BOOKMARK carries: an empty object of the resource with only a resourceVersion.
pub(crate) fn bookmark(
    resource: Resource,
    resource_version: u64,
    initial_events_end: bool,
) -> Value {
    let mut metadata = Map::new();
    metadata.insert(
        "resourceVersion".into(),
        Value::String(resource_version.to_string()),
    );
    if initial_events_end {
        let mut annotations = Map::new();
        annotations.insert(
            "k8s.io/initial-events-end".into(),
            Value::String("true".into()),
        );
        metadata.insert("annotations".into(), Value::Object(annotations));
    }
    let mut object = Map::new();
    object.insert("kind".into(), Value::String(resource.kind().into()));
    object.insert(
        "apiVersion".into(),
        Value::String(resource.api_version().into()),
    );
    object.insert("metadata".into(), Value::Object(metadata));
    let mut value = Value::Object(object);
    match resource {
        Resource::CoreEvent => fill_core_event(&mut value),
        Resource::Event => fill_events_event(&mut value),
        _ => {}
    }
    value
}

/// `core/v1` → `events.k8s.io/v1`, as the server stores a legacy write.
pub fn core_to_events(event: core::Event) -> events::Event {
    events::Event {
        metadata: event.metadata,
        action: non_empty(event.action),
        deprecated_count: event.count.filter(|c| *c != 0),
        deprecated_first_timestamp: event.first_timestamp,
        deprecated_last_timestamp: event.last_timestamp,
        deprecated_source: event.source,
        event_time: event.event_time,
        note: non_empty(event.message),
        reason: non_empty(event.reason),
        regarding: Some(event.involved_object),
        related: event.related,
        reporting_controller: non_empty(event.reporting_component),
        reporting_instance: non_empty(event.reporting_instance),
        series: event.series.map(|s| events::EventSeries {
            count: s.count.unwrap_or_default(),
            last_observed_time: s.last_observed_time.unwrap_or(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                    jiff::Timestamp::UNIX_EPOCH,
                ),
            ),
        }),
        type_: non_empty(event.type_),
    }
}

/// `events.k8s.io/v1` → `core/v1`, as the server answers a legacy read.
pub fn events_to_core(event: events::Event) -> core::Event {
    core::Event {
        metadata: event.metadata,
        action: event.action,
        count: event.deprecated_count,
        event_time: event.event_time,
        first_timestamp: event.deprecated_first_timestamp,
        involved_object: event.regarding.unwrap_or_default(),
        last_timestamp: event.deprecated_last_timestamp,
        message: event.note,
        reason: event.reason,
        related: event.related,
        reporting_component: Some(event.reporting_controller.unwrap_or_default()),
        reporting_instance: Some(event.reporting_instance.unwrap_or_default()),
        series: event.series.map(|s| core::EventSeries {
            count: Some(s.count),
            last_observed_time: Some(s.last_observed_time),
        }),
        source: event.deprecated_source,
        type_: event.type_,
    }
}

/// Go's encoder writes empty strings as absent for `omitempty` fields; so do we.
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn fill_core_event(value: &mut Value) {
    fill(
        value,
        &[
            ("involvedObject", Value::Object(Map::new())),
            ("source", Value::Object(Map::new())),
            ("firstTimestamp", Value::Null),
            ("lastTimestamp", Value::Null),
            ("eventTime", Value::Null),
            ("reportingComponent", Value::String(String::new())),
            ("reportingInstance", Value::String(String::new())),
        ],
    );
}

fn fill_events_event(value: &mut Value) {
    fill(
        value,
        &[
            ("eventTime", Value::Null),
            ("regarding", Value::Object(Map::new())),
            ("deprecatedSource", Value::Object(Map::new())),
            ("deprecatedFirstTimestamp", Value::Null),
            ("deprecatedLastTimestamp", Value::Null),
        ],
    );
}

fn fill(value: &mut Value, defaults: &[(&str, Value)]) {
    if let Some(map) = value.as_object_mut() {
        for (key, default) in defaults {
            map.entry(*key).or_insert_with(|| default.clone());
        }
    }
}

/// Refuses a body whose `apiVersion`/`kind` name another type, as the real decoder does.
fn check_type_meta(resource: Resource, body: &Value) -> Result<(), ApiError> {
    let api_version = body.get("apiVersion").and_then(Value::as_str);
    let kind = body.get("kind").and_then(Value::as_str);
    if let Some(api_version) = api_version
        && api_version != resource.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            resource.api_version()
        )));
    }
    if let Some(kind) = kind
        && kind != resource.kind()
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            resource.kind()
        )));
    }
    Ok(())
}

fn from_body<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body)
        .map_err(|error| ApiError::bad_request(format!("error decoding request body: {error}")))
}

fn to_value<T: Serialize>(object: &T) -> Result<Value, ApiError> {
    serde_json::to_value(object)
        .map_err(|error| ApiError::bad_request(format!("error encoding object: {error}")))
}

fn roundtrip<T: DeserializeOwned + Serialize>(body: Value) -> Result<Value, ApiError> {
    let object: T = from_body(body)?;
    to_value(&object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn legacy_kubelet_event() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-1.18ebd41e", "namespace": "demo"},
            "involvedObject": {"kind": "Pod", "namespace": "demo", "name": "web-1", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "message": "Back-off restarting failed container app",
            "source": {"component": "kubelet", "host": "node-a"},
            "firstTimestamp": "2026-11-27T06:48:25Z", "lastTimestamp": "2026-11-27T06:49:25Z",
            "count": 4, "type": "Warning",
            "reportingComponent": "kubelet", "reportingInstance": "node-a"
        })
    }

    #[test]
    fn a_legacy_event_is_stored_in_the_events_v1_shape() {
        let stored = decode(Resource::CoreEvent, legacy_kubelet_event()).expect("valid");
        assert_eq!(stored["apiVersion"], "events.k8s.io/v1");
        assert_eq!(stored["regarding"]["fieldPath"], "spec.containers{app}");
        assert_eq!(stored["note"], "Back-off restarting failed container app");
        assert_eq!(stored["reportingController"], "kubelet");
        assert_eq!(stored["reportingInstance"], "node-a");
        assert_eq!(stored["deprecatedSource"]["component"], "kubelet");
        assert_eq!(stored["deprecatedCount"], 4);
        assert_eq!(stored["deprecatedLastTimestamp"], "2026-11-27T06:49:25Z");
    }

    #[test]
    fn the_events_view_shows_the_nulls_go_writes() {
        let stored = decode(Resource::CoreEvent, legacy_kubelet_event()).expect("valid");
        let shown = encode(Resource::Event, &stored);
        assert_eq!(shown["eventTime"], Value::Null);
        let stored = decode(
            Resource::Event,
            json!({"metadata": {"name": "x", "namespace": "d"}, "eventTime": "2026-11-27T06:49:10.584107Z",
                   "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-vm",
                   "action": "Scheduling", "reason": "FailedScheduling", "type": "Warning",
                   "regarding": {"kind": "Pod", "name": "p"}, "note": "0/4 nodes are available"}),
        )
        .expect("valid");
        let shown = encode(Resource::Event, &stored);
        assert_eq!(shown["deprecatedSource"], json!({}));
        assert_eq!(shown["deprecatedFirstTimestamp"], Value::Null);
        assert_eq!(shown["deprecatedLastTimestamp"], Value::Null);
        assert!(shown.get("deprecatedCount").is_none());
        let core = encode(Resource::CoreEvent, &stored);
        assert_eq!(core["source"], json!({}));
        assert_eq!(core["firstTimestamp"], Value::Null);
        assert_eq!(core["reportingComponent"], "default-scheduler");
        assert_eq!(core["message"], "0/4 nodes are available");
        assert_eq!(core["involvedObject"]["name"], "p");
        assert!(core.get("count").is_none());
    }

    #[test]
    fn a_legacy_event_reads_back_unchanged() {
        let stored = decode(Resource::CoreEvent, legacy_kubelet_event()).expect("valid");
        let shown = encode(Resource::CoreEvent, &stored);
        let mut expected = legacy_kubelet_event();
        expected["eventTime"] = Value::Null;
        assert_eq!(shown, expected);
    }

    #[test]
    fn a_body_of_another_kind_is_refused() {
        let error = decode(Resource::Pod, json!({"apiVersion": "v1", "kind": "Node"}))
            .expect_err("kind mismatch");
        assert_eq!(error.code, 400);
    }

    #[test]
    fn bookmarks_look_like_the_real_ones() {
        let shown = bookmark(Resource::Event, 886, true);
        assert_eq!(
            shown,
            json!({"kind":"Event","apiVersion":"events.k8s.io/v1","metadata":{"resourceVersion":"886","annotations":{"k8s.io/initial-events-end":"true"}},"eventTime":null,"regarding":{},"deprecatedSource":{},"deprecatedFirstTimestamp":null,"deprecatedLastTimestamp":null})
        );
    }
}
