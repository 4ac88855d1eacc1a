//! Repairs for what real dumps contain but the API types refuse. Applied only on the slow path,
//! to an Event that did not deserialize as it was.

use jiff::Timestamp;
use jiff::fmt::temporal::Pieces;
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
/// expected (support bundles write them), makes valid RFC 3339 times the API types refuse
/// readable ([`fix_time`]), and drops an `events.k8s.io/v1` `series` that has no
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
        } else if let Some(fixed) = fix_time(s) {
            *value = Value::String(fixed);
        }
    }
}

/// Most fractional digits of a second a [`Timestamp`] keeps (nanoseconds).
const MAX_FRACTION: usize = 9;

/// A valid RFC 3339 time that [`Timestamp`] (and so the API types) cannot read, made readable:
/// more than nine fractional digits are cut to nine (nanoseconds), and a time past the last
/// one it represents (`9999-12-30T22:00:00.999999999Z`; RFC 3339 goes to `9999-12-31T23:59:59Z`)
/// becomes that last one. Such an event is then refused as dated too far in the future
/// ([`kubetrail_process::FutureLimit`]), with that reason, rather than as unreadable. `None`
/// when `text` is readable already or is no RFC 3339 time at all.
pub(crate) fn fix_time(text: &str) -> Option<String> {
    if text.parse::<Timestamp>().is_ok() {
        return None;
    }
    let mut fixed = text.to_string();
    if let Some(dot) = fixed.find(['.', ',']) {
        let digits = fixed[dot + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits > MAX_FRACTION {
            fixed.replace_range(dot + 1 + MAX_FRACTION..dot + 1 + digits, "");
        }
    }
    if fixed.parse::<Timestamp>().is_ok() {
        return Some(fixed);
    }
    let pieces = Pieces::parse(&fixed).ok()?;
    // Only the last day or two of the calendar lie past the last Timestamp.
    (pieces.offset().is_some() && pieces.date().year() == 9999).then(|| Timestamp::MAX.to_string())
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

    /// Issue 11, item 14: `2024-01-01T00:00:00.123456789012Z` (12 fractional digits) and
    /// `9999-12-31T23:59:59Z` are valid RFC 3339 times, but the event holding them was
    /// skipped as invalid.
    #[test]
    fn valid_times_beyond_nanoseconds_or_the_last_timestamp_become_readable() {
        assert_eq!(
            fix_time("2024-01-01T00:00:00.123456789012Z").as_deref(),
            Some("2024-01-01T00:00:00.123456789Z")
        );
        assert_eq!(
            fix_time("9999-12-31T23:59:59Z").as_deref(),
            Some("9999-12-30T22:00:00.999999999Z")
        );
        assert_eq!(
            fix_time("9999-12-31T23:59:59.999999999999+01:00").as_deref(),
            Some("9999-12-30T22:00:00.999999999Z")
        );
        assert_eq!(fix_time("2024-01-01T00:00:00Z"), None);
        assert_eq!(fix_time("yesterday"), None);
        assert_eq!(fix_time("9999-12-31"), None);
        let mut v = json!({"lastTimestamp": "2024-01-01T00:00:00.000000000001Z",
            "metadata": {"creationTimestamp": "9999-12-31T23:59:59Z"}});
        repair(v.as_object_mut().unwrap(), Api::Core);
        assert_eq!(v["lastTimestamp"], "2024-01-01T00:00:00.000000000Z");
        assert_eq!(
            v["metadata"]["creationTimestamp"],
            "9999-12-30T22:00:00.999999999Z"
        );
    }

    #[test]
    fn an_events_v1_series_without_time_keeps_its_count() {
        let mut v = json!({"series": {"lastObservedTime": "", "count": 7}});
        repair(v.as_object_mut().unwrap(), Api::EventsV1);
        assert_eq!(v, json!({"deprecatedCount": 7}));
    }
}
