//! Repairs for what real dumps contain but the API types refuse. Applied only on the slow path,
//! to an Event that did not deserialize as it was.

use serde_json::{Map, Value};

/// Which Event API an object is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `core/v1`: `involvedObject`, `message`, `source`, `count`.
    Core,
    /// `events.k8s.io/v1`: `regarding`, `note`, `reportingController`, `series`.
    EventsV1,
}

const TIMES: [&str; 5] = [
    "eventTime",
    "firstTimestamp",
    "lastTimestamp",
    "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp",
];

/// Turns the string `"null"` (any case) and the empty string into `null` where a timestamp is
/// expected (support bundles write them), and drops an `events.k8s.io/v1` `series` that has no
/// `lastObservedTime` left (the type requires one), keeping its count.
pub(crate) fn repair(event: &mut Map<String, Value>, api: Api) {
    for field in TIMES {
        null_if_blank(event.get_mut(field));
    }
    if let Some(Value::Object(meta)) = event.get_mut("metadata") {
        null_if_blank(meta.get_mut("creationTimestamp"));
        null_if_blank(meta.get_mut("deletionTimestamp"));
    }
    if let Some(Value::Object(series)) = event.get_mut("series") {
        null_if_blank(series.get_mut("lastObservedTime"));
        let observed = series.get("lastObservedTime").is_some_and(|t| !t.is_null());
        if api == Api::EventsV1 && !observed {
            let count = series.get("count").cloned();
            event.remove("series");
            if let Some(count) = count
                && event.get("deprecatedCount").is_none_or(Value::is_null)
            {
                event.insert("deprecatedCount".to_string(), count);
            }
        }
    }
}

fn null_if_blank(value: Option<&mut Value>) {
    if let Some(value) = value
        && let Value::String(s) = value
    {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("null") {
            *value = Value::Null;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_strings_in_timestamps_become_null() {
        let mut v = json!({
            "eventTime": "null",
            "firstTimestamp": "",
            "lastTimestamp": "2021-01-01T00:00:00Z",
            "metadata": {"creationTimestamp": "NULL", "name": "null"},
            "series": {"lastObservedTime": "null", "count": 2},
            "reason": "null"
        });
        repair(v.as_object_mut().unwrap(), Api::Core);
        assert_eq!(
            v,
            json!({
                "eventTime": null,
                "firstTimestamp": null,
                "lastTimestamp": "2021-01-01T00:00:00Z",
                "metadata": {"creationTimestamp": null, "name": "null"},
                "series": {"lastObservedTime": null, "count": 2},
                "reason": "null"
            })
        );
    }

    #[test]
    fn an_events_v1_series_without_time_keeps_its_count() {
        let mut v = json!({"series": {"lastObservedTime": "", "count": 7}});
        repair(v.as_object_mut().unwrap(), Api::EventsV1);
        assert_eq!(v, json!({"deprecatedCount": 7}));
    }
}
