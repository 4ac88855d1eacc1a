//! The import's Event decoder against k8s-openapi, differentially: any input, read as a
//! core/v1 and as an events.k8s.io/v1 Event by [`kubetrail_process::wire`] and by
//! k8s-openapi's types (from the text, as the import's fast path reads lines, and from a
//! parsed value, as its slow path reads YAML and repaired Events).
//!
//! Checked: both accept or both refuse; what both accept shows the API alike (the import's
//! rule) and normalizes to the same record.

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use kubetrail_process::wire::{CoreEvent, EventsV1Event};
use kubetrail_process::{from_core, from_events_v1, normalize};
use serde::Deserialize;
use serde_json::Value;

/// Runs `data` (as UTF-8 text; other bytes are not JSON text) through both decoders.
///
/// # Panics
/// Where the two decoders disagree.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    core_both(
        serde_json::from_str::<CoreEvent>(text).ok(),
        serde_json::from_str::<core::Event>(text).ok(),
        text,
    );
    events_both(
        serde_json::from_str::<EventsV1Event>(text).ok(),
        serde_json::from_str::<events::Event>(text).ok(),
        text,
    );
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        core_both(
            CoreEvent::deserialize(&value).ok(),
            core::Event::deserialize(&value).ok(),
            text,
        );
        events_both(
            EventsV1Event::deserialize(&value).ok(),
            events::Event::deserialize(&value).ok(),
            text,
        );
    }
}

fn core_both(wire: Option<CoreEvent<'_>>, typed: Option<core::Event>, text: &str) {
    match (wire, typed) {
        (Some(wire), Some(typed)) => {
            let shown = typed.involved_object != core::ObjectReference::default();
            assert_eq!(wire.is_event(), shown, "core/v1 involvedObject: {text}");
            assert_eq!(
                normalize(wire.into_fields(), "fuzz"),
                from_core(typed, "fuzz"),
                "core/v1 record: {text}"
            );
        }
        (None, None) => {}
        (wire, _) => panic!(
            "core/v1: wire {} what k8s-openapi does not: {text}",
            if wire.is_some() { "accepts" } else { "refuses" }
        ),
    }
}

fn events_both(wire: Option<EventsV1Event<'_>>, typed: Option<events::Event>, text: &str) {
    match (wire, typed) {
        (Some(wire), Some(typed)) => {
            let shown = typed.regarding.is_some() || typed.note.is_some();
            assert_eq!(wire.is_event(), shown, "events.k8s.io/v1 shape: {text}");
            assert_eq!(
                normalize(wire.into_fields(), "fuzz"),
                from_events_v1(typed, "fuzz"),
                "events.k8s.io/v1 record: {text}"
            );
        }
        (None, None) => {}
        (wire, _) => panic!(
            "events.k8s.io/v1: wire {} what k8s-openapi does not: {text}",
            if wire.is_some() { "accepts" } else { "refuses" }
        ),
    }
}
