//! [`crate::wire`] against k8s-openapi: the same accept/reject, and the same record as the
//! normalization from k8s-openapi's types as it was ([`crate::normalize_reference`]), on every
//! Event of every real dump and on generated ones.

use std::fmt::Write as _;
use std::path::Path;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Api, CoreEvent, EventsV1Event, read_str};
use crate::EventFields;
use crate::normalize::normalize;
use crate::normalize_reference as reference;

/// How one input read as an Event of one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Both refuse it.
    Refused,
    /// Both read it, and it does not show that API's fields (the import tries the other).
    NotShown,
    /// Both read it as an Event of that API, with the same record (or the same rejection).
    Event,
}

/// Reads one value as a core/v1 Event with `wire` and with k8s-openapi, from the same
/// deserializer input; an `Err` says how they differ.
fn core_both<'de>(
    wire: Result<CoreEvent<'de>, String>,
    typed: Result<core::Event, String>,
) -> Result<Outcome, String> {
    match (wire, typed) {
        (Ok(wire), Ok(typed)) => {
            let shown = typed.involved_object != core::ObjectReference::default();
            if wire.is_event() != shown {
                return Err(format!("wire says event {}, k8s-openapi {shown}", !shown));
            }
            let old = reference::from_core(typed.clone(), "c");
            let converted = crate::from_core(typed, "c");
            let read = normalize(wire.into_fields(), "c");
            if old != converted || old != read {
                return Err(format!(
                    "records differ:\nold  {old:?}\nconv {converted:?}\nwire {read:?}"
                ));
            }
            Ok(if shown {
                Outcome::Event
            } else {
                Outcome::NotShown
            })
        }
        (Err(_), Err(_)) => Ok(Outcome::Refused),
        (Ok(_), Err(e)) => Err(format!("wire accepts what k8s-openapi refuses: {e}")),
        (Err(e), Ok(_)) => Err(format!("wire refuses what k8s-openapi accepts: {e}")),
    }
}

fn events_both<'de>(
    wire: Result<EventsV1Event<'de>, String>,
    typed: Result<events::Event, String>,
) -> Result<Outcome, String> {
    match (wire, typed) {
        (Ok(wire), Ok(typed)) => {
            let shown = typed.regarding.is_some() || typed.note.is_some();
            if wire.is_event() != shown {
                return Err(format!("wire says event {}, k8s-openapi {shown}", !shown));
            }
            let old = reference::from_events_v1(typed.clone(), "c");
            let converted = crate::from_events_v1(typed, "c");
            let read = normalize(wire.into_fields(), "c");
            if old != converted || old != read {
                return Err(format!(
                    "records differ:\nold  {old:?}\nconv {converted:?}\nwire {read:?}"
                ));
            }
            Ok(if shown {
                Outcome::Event
            } else {
                Outcome::NotShown
            })
        }
        (Err(_), Err(_)) => Ok(Outcome::Refused),
        (Ok(_), Err(e)) => Err(format!("wire accepts what k8s-openapi refuses: {e}")),
        (Err(e), Ok(_)) => Err(format!("wire refuses what k8s-openapi accepts: {e}")),
    }
}

/// Both APIs, from text (the import's fast path) and, when the text is one JSON value, from
/// the parsed value (its slow path). Returns the outcomes as text for core/v1 and
/// events.k8s.io/v1.
fn compare(text: &str) -> Result<(Outcome, Outcome), String> {
    let err = |e: serde_json::Error| e.to_string();
    // In place (the import's fast path) as through the returned structs.
    for api in [Api::Core, Api::EventsV1] {
        let mut fields = EventFields::default();
        let in_place = read_str(text, api, &mut fields).map(|shown| (shown, fields));
        let returned = match api {
            Api::Core => {
                serde_json::from_str::<CoreEvent>(text).map(|e| (e.is_event(), e.into_fields()))
            }
            Api::EventsV1 => {
                serde_json::from_str::<EventsV1Event>(text).map(|e| (e.is_event(), e.into_fields()))
            }
        };
        match (in_place, returned) {
            (Ok(a), Ok(b)) if a == b => {}
            (Err(_), Err(_)) => {}
            (a, b) => return Err(format!("{api:?} in place {a:?}, returned {b:?}\n{text}")),
        }
    }
    let core = core_both(
        serde_json::from_str::<CoreEvent>(text).map_err(err),
        serde_json::from_str::<core::Event>(text).map_err(err),
    )
    .map_err(|e| format!("core/v1 from text: {e}\n{text}"))?;
    let events = events_both(
        serde_json::from_str::<EventsV1Event>(text).map_err(err),
        serde_json::from_str::<events::Event>(text).map_err(err),
    )
    .map_err(|e| format!("events.k8s.io/v1 from text: {e}\n{text}"))?;
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        core_both(
            CoreEvent::deserialize(&value).map_err(err),
            core::Event::deserialize(&value).map_err(err),
        )
        .map_err(|e| format!("core/v1 from a value: {e}\n{text}"))?;
        events_both(
            EventsV1Event::deserialize(&value).map_err(err),
            events::Event::deserialize(&value).map_err(err),
        )
        .map_err(|e| format!("events.k8s.io/v1 from a value: {e}\n{text}"))?;
    }
    Ok((core, events))
}

/// Every object of a dump: the items of Lists, the elements of arrays, top-level objects.
fn objects(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.into_iter().for_each(|v| objects(v, out)),
        Value::Object(mut map) if map.get("items").is_some_and(Value::is_array) => {
            if let Some(items) = map.remove("items") {
                objects(items, out);
            }
        }
        Value::Object(map) => out.push(Value::Object(map)),
        _ => {}
    }
}

fn dump_objects(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("a readable dump");
    let mut out = Vec::new();
    if path.extension().is_some_and(|e| e == "json") {
        objects(serde_json::from_str(&text).expect("a JSON dump"), &mut out);
    } else {
        for document in yaml_serde::Deserializer::from_str(&text) {
            if let Ok(value) = Value::deserialize(document) {
                objects(value, &mut out);
            }
        }
    }
    out
}

#[test]
fn every_event_of_every_real_dump_reads_as_k8s_openapi_reads_it() {
    let dir = kubetrail_testkit::real_events();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the real dumps")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml"))
        .collect();
    files.sort();
    let (mut core, mut events, mut refused, mut yaml) = (0, 0, 0, 0);
    for path in &files {
        let dumped = dump_objects(path);
        // Also as the import's slow path hands them over: `"null"` and `""` timestamps (which
        // both refuse) made `null`.
        let repaired: Vec<Value> = dumped.iter().cloned().map(null_blank_times).collect();
        for object in dumped.into_iter().chain(repaired) {
            let is_yaml = path.extension().is_some_and(|e| e == "yaml");
            // Compact (NDJSON lines), pretty (Lists), and with non-ASCII escaped (no
            // borrowing).
            let compact = object.to_string();
            let pretty = serde_json::to_string_pretty(&object).expect("serializable");
            for text in [escape_non_ascii(&compact), pretty, compact] {
                let outcome = compare(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                match outcome {
                    (Outcome::Event, _) => core += 1,
                    (_, Outcome::Event) => events += 1,
                    _ => refused += 1,
                }
                yaml += usize::from(is_yaml);
            }
        }
    }
    // The dumps hold ~18,800 Events, 8 of them events.k8s.io/v1 objects (in YAML, most with a
    // "null" eventTime that both refuse until repaired). Each is read three ways, as it is
    // and repaired.
    assert!(core > 50_000, "{core} core/v1 events");
    assert!(events >= 24, "{events} events.k8s.io/v1 events");
    assert!(yaml > 1_000, "{yaml} objects from YAML dumps");
    assert!(refused > 0, "{refused} refused");
}

/// `"null"` and `""` where a timestamp is expected made `null`, as the import repairs them.
fn null_blank_times(mut value: Value) -> Value {
    fn blank(value: Option<&mut Value>) {
        if let Some(v) = value
            && v.as_str()
                .is_some_and(|s| s.trim().is_empty() || s.trim().eq_ignore_ascii_case("null"))
        {
            *v = Value::Null;
        }
    }
    if let Value::Object(map) = &mut value {
        for key in [
            "eventTime",
            "firstTimestamp",
            "lastTimestamp",
            "deprecatedFirstTimestamp",
            "deprecatedLastTimestamp",
        ] {
            blank(map.get_mut(key));
        }
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            blank(meta.get_mut("creationTimestamp"));
        }
        if let Some(Value::Object(series)) = map.get_mut("series") {
            blank(series.get_mut("lastObservedTime"));
        }
    }
    value
}

/// `\uXXXX` for every non-ASCII character (only strings hold any), so that no string with
/// one can be borrowed from the text.
fn escape_non_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

const GOOD_TIMES: &[&str] = &[
    "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00.123456Z",
    "2024-01-01T00:00:00.123456789Z",
    "2025-06-30T12:34:56.5Z",
    "2023-12-31T23:59:59+02:00",
];

/// Times of every shape: some jiff reads, many it does not.
const TIMES: &[&str] = &[
    "2024-01-01T00:00:00.1234567891Z",
    "2024-01-01t00:00:00z",
    "2024-01-01 00:00:00Z",
    "2024-01-01T00:00:00+01:00",
    "2024-01-01T00:00:00-00:00",
    "2024-01-01T00:00:00",
    "2024-02-29T23:59:59Z",
    "2023-02-29T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-12-31T23:59:60Z",
    "2024-01-01T00:00:00,5Z",
    "20240101T000000Z",
    "9999-12-31T23:59:59Z",
    "9999-12-30T22:00:00.999999999Z",
    "0000-01-01T00:00:00Z",
    "-000001-01-01T00:00:00Z",
    "+002024-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2024-01-01T00:00:00Z[UTC]",
    "2024-01-01",
    "null",
    "",
    " 2024-01-01T00:00:00Z",
];

fn time() -> impl Strategy<Value = Value> {
    prop_oneof![
        24 => prop::sample::select(GOOD_TIMES).prop_map(|t| json!(t)),
        4 => prop::sample::select(TIMES).prop_map(|t| json!(t)),
        2 => Just(Value::Null),
        1 => any::<i64>().prop_map(|n| json!(n)),
    ]
}

/// Text of every kind: empty, blank, escapes, NUL, non-ASCII, long.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 .:/_-]{0,16}",
        2 => "(?s).{0,16}",
        1 => "[ \t\n\"\\\\\u{0}\u{1f}é😀/]{0,6}",
        1 => Just(String::new()),
        1 => Just("  ".to_string()),
    ]
}

/// A value where a string is expected: mostly strings, sometimes the wrong type.
fn string_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        40 => text().prop_map(Value::String),
        2 => Just(Value::Null),
        1 => any::<i32>().prop_map(|n| json!(n)),
        1 => Just(json!(["a"])),
        1 => Just(json!({"a": "b"})),
        1 => Just(json!(true)),
    ]
}

const EDGE_NUMBERS: &[i64] = &[
    -1,
    0,
    i32::MAX as i64,
    i32::MAX as i64 + 1,
    i32::MIN as i64,
    i32::MIN as i64 - 1,
    i64::MAX,
];

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        20 => (0i64..100).prop_map(|n| json!(n)),
        1 => prop::sample::select(EDGE_NUMBERS).prop_map(|n| json!(n)),
        1 => Just(json!(1.5)),
        1 => Just(json!(u64::MAX)),
        1 => Just(json!("3")),
        1 => Just(Value::Null),
    ]
}

/// A map holding some of `fields`, each with a value from its strategy.
fn some_of(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let n = fields.len();
    let (keys, values): (Vec<_>, Vec<_>) = fields.into_iter().unzip();
    (prop::collection::vec(any::<bool>(), n), values)
        .prop_map(move |(present, values)| {
            let map: Map<String, Value> = keys
                .iter()
                .zip(present)
                .zip(values)
                .filter(|((_, p), _)| *p)
                .map(|((k, _), v)| ((*k).to_string(), v))
                .collect();
            Value::Object(map)
        })
        .boxed()
}

fn reference_value() -> BoxedStrategy<Value> {
    prop_oneof![
        20 => some_of(vec![
            ("apiVersion", string_value().boxed()),
            ("kind", string_value().boxed()),
            ("name", string_value().boxed()),
            ("namespace", string_value().boxed()),
            ("uid", string_value().boxed()),
            ("fieldPath", string_value().boxed()),
            ("resourceVersion", string_value().boxed()),
            ("extra", any::<u8>().prop_map(|n| json!(n)).boxed()),
        ]),
        1 => Just(Value::Null),
        1 => Just(json!({})),
        1 => Just(json!("Pod/p")),
    ]
    .boxed()
}

/// A `fieldsV1`-like value: nested maps, lists, numbers out of f64's range, the raw-value key.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[fkv:.a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn meta_value() -> BoxedStrategy<Value> {
    let labels = prop_oneof![
        12 => prop::collection::btree_map("[a-z/.]{1,8}", text(), 0..3)
            .prop_map(|m| json!(m)),
        1 => Just(json!({"a": 1})),
        1 => Just(json!({"a": null})),
        1 => Just(json!(["a"])),
        1 => Just(Value::Null),
    ];
    let managed = prop_oneof![
        12 => prop::collection::vec(
            some_of(vec![
                ("manager", string_value().boxed()),
                ("operation", string_value().boxed()),
                ("apiVersion", string_value().boxed()),
                ("fieldsType", string_value().boxed()),
                ("subresource", string_value().boxed()),
                ("time", time().boxed()),
                ("fieldsV1", any_json()),
            ]),
            0..3,
        )
        .prop_map(Value::Array),
        1 => Just(json!([{"fieldsV1": {"f:a": 1e300}}])),
        1 => Just(json!([null])),
        1 => Just(json!({})),
    ];
    let owners = prop_oneof![
        12 => prop::collection::vec(
            some_of(vec![
                ("apiVersion", string_value().boxed()),
                ("kind", string_value().boxed()),
                ("name", string_value().boxed()),
                ("uid", string_value().boxed()),
                ("controller", prop_oneof![8 => any::<bool>().prop_map(Value::Bool), 1 => Just(json!("yes"))].boxed()),
                ("blockOwnerDeletion", any::<bool>().prop_map(Value::Bool).boxed()),
            ]),
            0..2,
        )
        .prop_map(Value::Array),
        1 => Just(Value::Null),
    ];
    prop_oneof![
        20 => some_of(vec![
            ("uid", string_value().boxed()),
            ("name", string_value().boxed()),
            ("namespace", string_value().boxed()),
            ("resourceVersion", string_value().boxed()),
            ("creationTimestamp", time().boxed()),
            ("deletionTimestamp", time().boxed()),
            ("deletionGracePeriodSeconds", number().boxed()),
            ("generation", number().boxed()),
            ("generateName", string_value().boxed()),
            ("selfLink", string_value().boxed()),
            ("finalizers", prop_oneof![8 => Just(json!(["a", "b"])), 1 => Just(json!([1])), 1 => Just(Value::Null)].boxed()),
            ("labels", labels.clone().boxed()),
            ("annotations", labels.boxed()),
            ("managedFields", managed.boxed()),
            ("ownerReferences", owners.boxed()),
            ("apiVersion", string_value().boxed()),
        ]),
        1 => Just(Value::Null),
        1 => Just(json!([])),
    ]
    .boxed()
}

fn series_value() -> BoxedStrategy<Value> {
    prop_oneof![
        20 => some_of(vec![
            ("count", number().boxed()),
            ("lastObservedTime", time().boxed()),
            ("state", string_value().boxed()),
        ]),
        1 => Just(Value::Null),
        1 => Just(json!(5)),
    ]
    .boxed()
}

fn source_value() -> BoxedStrategy<Value> {
    prop_oneof![
        20 => some_of(vec![
            ("component", string_value().boxed()),
            ("host", string_value().boxed()),
        ]),
        1 => Just(Value::Null),
        1 => Just(json!("kubelet")),
    ]
    .boxed()
}

/// An Event of either API, or something between them: each field of both APIs may be there,
/// with a value of its type or not.
fn event_value() -> BoxedStrategy<Value> {
    let api = prop_oneof![
        8 => Just(Some(json!("v1"))),
        8 => Just(Some(json!("events.k8s.io/v1"))),
        1 => Just(Some(json!("events.k8s.io/v1beta1"))),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!(1))),
        4 => Just(None),
    ];
    let kind = prop_oneof![
        8 => Just(Some(json!("Event"))),
        1 => Just(Some(json!("Pod"))),
        1 => Just(Some(Value::Null)),
        4 => Just(None),
    ];
    let fields = some_of(vec![
        ("metadata", meta_value()),
        ("involvedObject", reference_value()),
        ("regarding", reference_value()),
        ("related", reference_value()),
        ("reason", string_value().boxed()),
        ("message", string_value().boxed()),
        ("note", string_value().boxed()),
        ("type", string_value().boxed()),
        ("action", string_value().boxed()),
        ("reportingComponent", string_value().boxed()),
        ("reportingController", string_value().boxed()),
        ("reportingInstance", string_value().boxed()),
        ("source", source_value()),
        ("deprecatedSource", source_value()),
        ("count", number().boxed()),
        ("deprecatedCount", number().boxed()),
        ("firstTimestamp", time().boxed()),
        ("lastTimestamp", time().boxed()),
        ("deprecatedFirstTimestamp", time().boxed()),
        ("deprecatedLastTimestamp", time().boxed()),
        ("eventTime", time().boxed()),
        ("series", series_value()),
        ("unknown", any_json()),
    ]);
    (api, kind, fields)
        .prop_map(|(api, kind, mut fields)| {
            if let Value::Object(map) = &mut fields {
                if let Some(api) = api {
                    map.insert("apiVersion".into(), api);
                }
                if let Some(kind) = kind {
                    map.insert("kind".into(), kind);
                }
            }
            fields
        })
        .boxed()
}

/// Members put before the object's own, so that keys repeat (the later one counts).
fn repeated_members() -> impl Strategy<Value = Vec<(&'static str, Value)>> {
    let key = prop::sample::select(
        &[
            "metadata",
            "involvedObject",
            "regarding",
            "reason",
            "note",
            "message",
            "series",
            "lastTimestamp",
            "eventTime",
            "apiVersion",
            "count",
        ][..],
    );
    let value = prop_oneof![
        Just(Value::Null),
        Just(json!("x")),
        Just(json!({"uid": "u0", "kind": "Pod"})),
        Just(json!("2024-01-01T00:00:00Z")),
        Just(json!(7)),
    ];
    prop::collection::vec((key, value), 0..3)
}

/// The text of `value` with `members` before its own (`value` an object) and non-ASCII
/// escaped or not.
fn event_text(value: &Value, members: &[(&str, Value)], escape: bool) -> String {
    let mut text = value.to_string();
    if text.starts_with('{') && !members.is_empty() {
        let mut head = String::from("{");
        for (k, v) in members {
            let _ = write!(head, "{}:{v},", json!(k));
        }
        if text == "{}" {
            head.pop();
            head.push('}');
            text = head;
        } else {
            text = head + &text[1..];
        }
    }
    if escape {
        escape_non_ascii(&text)
    } else {
        text
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Any event-like object, with repeated keys, nulls, wrong types, odd timestamps,
    /// non-ASCII, escapes: wire and k8s-openapi accept and refuse alike, and what they accept
    /// gives the same record as the normalization from k8s-openapi's types did.
    #[test]
    fn generated_events_read_as_k8s_openapi_reads_them(
        value in event_value(),
        members in repeated_members(),
        escape in any::<bool>(),
    ) {
        let text = event_text(&value, &members, escape);
        if let Err(e) = compare(&text) {
            prop_assert!(false, "{}", e);
        }
    }

    /// Real-looking events cut or with a byte changed: the same accept/reject and records.
    #[test]
    fn mutated_events_read_as_k8s_openapi_reads_them(
        at in 0usize..2048,
        byte in prop::sample::select(&b"\"\\{}[],:0a -nul\xc3\xa9"[..]),
        cut in any::<bool>(),
        which in 0usize..3,
    ) {
        let base = [
            r#"{"apiVersion":"v1","count":2,"eventTime":null,"firstTimestamp":"2025-01-01T00:00:04Z","involvedObject":{"kind":"Pod","name":"web-1","namespace":"shop","uid":"p1","fieldPath":"spec.containers{app}"},"kind":"Event","lastTimestamp":"2025-01-01T00:00:09Z","message":"Back-off restarting \"app\"\n","metadata":{"creationTimestamp":"2025-01-01T00:00:23Z","name":"web-1.17aa","namespace":"shop","resourceVersion":"11","uid":"71b4"},"reason":"BackOff","reportingComponent":"","reportingInstance":"","source":{"component":"kubelet","host":"n1"},"type":"Warning"}"#,
            r#"{"action":"Binding","apiVersion":"events.k8s.io/v1","deprecatedFirstTimestamp":null,"deprecatedSource":{},"eventTime":"2022-03-22T23:49:14.123518Z","kind":"Event","metadata":{"creationTimestamp":"2022-03-22T23:49:14Z","managedFields":[{"apiVersion":"events.k8s.io/v1","fieldsType":"FieldsV1","fieldsV1":{"f:action":{},"f:regarding":{"f:kind":{}}},"manager":"kube-scheduler","operation":"Update","time":"2022-03-22T23:49:14Z"}],"name":"x.16","namespace":"h","uid":"e1"},"note":"Successfully assigned h/x to n","reason":"Scheduled","regarding":{"kind":"Pod","name":"x"},"reportingController":"default-scheduler","reportingInstance":"s-1","series":{"count":3,"lastObservedTime":"2022-03-22T23:50:14.000001Z"},"type":"Normal"}"#,
            r#"{"metadata":{"name":"a","uid":"u","labels":{"k":"v"},"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"p","uid":"q","controller":true}]},"involvedObject":{"kind":"Node","name":"n"},"reason":"R","message":"caf\u00e9 \ud83d\ude00","series":{"count":4,"lastObservedTime":"2024-01-01T00:00:00.5Z"},"count":1}"#,
        ][which];
        let mut bytes = base.as_bytes().to_vec();
        let at = at % bytes.len();
        if cut {
            bytes.truncate(at);
        } else {
            bytes[at] = byte;
        }
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Err(e) = compare(text)
        {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Inputs where a decoder that skipped what it does not keep would accept more than
/// k8s-openapi: numbers out of range, bad escapes and the raw-value key inside checked fields,
/// repeated keys, `null` for required fields.
#[test]
fn what_k8s_openapi_refuses_in_fields_not_kept_is_refused() {
    let event = |meta_extra: &str, extra: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"uid":"u","name":"n"{meta_extra}}},"involvedObject":{{"kind":"Pod","name":"p"}},"lastTimestamp":"2024-01-01T00:00:00Z"{extra}}}"#
        )
    };
    let refused = [
        event(r#","managedFields":[{"fieldsV1":{"f:a":1e400}}]"#, ""),
        event(r#","managedFields":[{"fieldsV1":{"f:a":[-1e999]}}]"#, ""),
        event(
            r#","managedFields":[{"fieldsV1":{"$serde_json::private::RawValue":"[1,"}}]"#,
            "",
        ),
        event(r#","managedFields":[{"time":"2024-13-01T00:00:00Z"}]"#, ""),
        event(r#","managedFields":[{"manager":"\ud800"}]"#, ""),
        event(r#","labels":{"a":"\ud800"}"#, ""),
        event(r#","labels":{"a":null}"#, ""),
        event(r#","annotations":{"a":1}"#, ""),
        event(r#","ownerReferences":[{"controller":"yes"}]"#, ""),
        event(r#","finalizers":[null]"#, ""),
        event(r#","generation":1.5"#, ""),
        event(r#","deletionTimestamp":"yesterday""#, ""),
        event("", r#","count":2147483648"#),
        event("", r#","apiVersion":"v2""#),
        event("", r#","kind":null"#),
        event("", r#","series":{"count":"3"}"#),
    ];
    for text in &refused {
        assert_eq!(
            compare(text),
            Ok((Outcome::Refused, Outcome::Refused)),
            "{text}"
        );
    }
    let accepted = [
        event(
            r#","managedFields":[{"fieldsV1":{"f:a":1e300,"f:b":{"$x":[]}}}]"#,
            "",
        ),
        event(
            r#","managedFields":[{"fieldsV1":{"f:a":{},"$serde_json::private::RawValue":"[1,"}}]"#,
            "",
        ),
        event(
            r#","labels":null,"uid":"v""#,
            r#","reason":"a","reason":null"#,
        ),
        event(
            "",
            r#","involvedObject":null,"involvedObject":{"name":"q"}"#,
        ),
        event("", r#","unknown":"\ud800""#),
        event("", r#","series":{"lastObservedTime":null}"#),
    ];
    for text in &accepted {
        assert_eq!(
            compare(text).map(|(core, _)| core),
            Ok(Outcome::Event),
            "{text}"
        );
    }
    // events.k8s.io/v1: a series must have its lastObservedTime, not null.
    let v1 = |series: &str| {
        format!(
            r#"{{"apiVersion":"events.k8s.io/v1","metadata":{{"uid":"u"}},"regarding":{{"kind":"Pod"}},"eventTime":"2024-01-01T00:00:00.000001Z","series":{series}}}"#
        )
    };
    for series in [r#"{"count":1}"#, r#"{"count":1,"lastObservedTime":null}"#] {
        assert_eq!(
            compare(&v1(series)),
            Ok((Outcome::Refused, Outcome::Refused))
        );
    }
    assert_eq!(
        compare(&v1(r#"{"lastObservedTime":"2024-01-01T00:00:01Z"}"#)),
        Ok((Outcome::Refused, Outcome::Event))
    );
}
