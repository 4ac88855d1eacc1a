//! Events read straight from JSON into [`EventFields`], without building k8s-openapi's types:
//! strings are borrowed from the input where they have no escapes, and what normalization does
//! not keep (`managedFields`, labels, annotations, owner references...) is checked, not kept.
//!
//! The decoders accept exactly what `serde_json::from_str::<core::Event>` (and
//! `events::Event`) accept, and read the same values: the top-level visitor (one for both APIs,
//! writing each field into an [`EventFields`] as it is read, [`read_str`]) and each struct here
//! mirror the visitor k8s-openapi 0.29 generates for its counterpart (every field optional, a repeated key
//! overwrites the earlier value, `null` is absent, a required field missing is its default,
//! unknown keys skipped, `apiVersion` and `kind` checked on the resource), with the same
//! deserializer calls at the same depths, so serde_json's checks (string escapes, number
//! ranges, the recursion limit) apply alike. Timestamps are read by k8s-openapi's own `Time`
//! and `MicroTime`. Where a value would need more than a check (a `fieldsV1` holding
//! serde_json's raw-value token), the decoder refuses it; callers then read the value with
//! k8s-openapi, whose result (or error) stands. Tests compare both on every real dump and on
//! generated events (`wire_tests.rs`), and the fuzz target `event_wire` does so on any input.
//!
//! ```
//! let line = r#"{"apiVersion":"v1","kind":"Event","metadata":{"uid":"u1","name":"p.1"},
//!   "involvedObject":{"kind":"Pod","name":"p"},"reason":"BackOff",
//!   "lastTimestamp":"2024-01-01T00:00:00Z"}"#;
//! let event: kubetrail_process::wire::CoreEvent = serde_json::from_str(line).unwrap();
//! assert!(event.is_event());
//! let record = kubetrail_process::normalize::normalize(event.into_fields(), "c").unwrap();
//! assert_eq!(record.reason, "BackOff");
//! ```

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use serde::de::{
    self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};

use crate::normalize::{EventFields, Reference};

/// Declares a struct read as k8s-openapi reads its counterpart: each listed key into an
/// `Option` field (`null` is `None`, a repeated key overwrites), other keys skipped with
/// [`IgnoredAny`], and, for a resource, `apiVersion` and `kind` required to be the given
/// strings when present.
macro_rules! mirror {
    (@resource) => { None };
    (@resource $api:literal $kind:literal) => { Some(($api, $kind)) };
    (
        $(#[$doc:meta])*
        $vis:vis $name:ident as $expecting:literal $(resource $api:literal $kind:literal)? {
            $( $key:literal => $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$doc])*
        // Fields that are only checked (as k8s-openapi types them) are never read.
        #[allow(dead_code)]
        #[derive(Default)]
        $vis struct $name<'de> {
            $( $field: Option<$ty>, )*
            borrowed: PhantomData<&'de str>,
        }

        impl<'de> Deserialize<'de> for $name<'de> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                const RESOURCE: Option<(&str, &str)> = mirror!(@resource $($api $kind)?);

                #[allow(non_camel_case_types)]
                enum Field { $( $field, )* ApiVersion__, Kind__, Other__ }

                impl<'de> Deserialize<'de> for Field {
                    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        struct FieldVisitor;
                        impl Visitor<'_> for FieldVisitor {
                            type Value = Field;
                            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                                f.write_str("field identifier")
                            }
                            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                                Ok(match v {
                                    "apiVersion" if RESOURCE.is_some() => Field::ApiVersion__,
                                    "kind" if RESOURCE.is_some() => Field::Kind__,
                                    $( $key => Field::$field, )*
                                    _ => Field::Other__,
                                })
                            }
                        }
                        d.deserialize_identifier(FieldVisitor)
                    }
                }

                struct StructVisitor;
                impl<'de> Visitor<'de> for StructVisitor {
                    type Value = $name<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<Field>()? {
                            match key {
                                Field::ApiVersion__ => {
                                    let value: Str<'de> = map.next_value()?;
                                    resource_check(&value, RESOURCE.map(|r| r.0))?;
                                }
                                Field::Kind__ => {
                                    let value: Str<'de> = map.next_value()?;
                                    resource_check(&value, RESOURCE.map(|r| r.1))?;
                                }
                                $( Field::$field => out.$field = map.next_value()?, )*
                                Field::Other__ => {
                                    map.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }

                deserializer.deserialize_struct($expecting, &[$( $key, )*], StructVisitor)
            }
        }
    };
}

/// `apiVersion` or `kind` of a resource must be the type's own, as k8s-openapi requires.
fn resource_check<E: de::Error>(value: &Str<'_>, expected: Option<&'static str>) -> Result<(), E> {
    match expected {
        Some(expected) if value.0 != expected => {
            Err(E::invalid_value(Unexpected::Str(&value.0), &expected))
        }
        _ => Ok(()),
    }
}

mirror! {
    /// `ObjectMeta`: what normalization keeps is borrowed, the rest checked as k8s-openapi
    /// types it.
    ObjectMeta as "ObjectMeta" {
        "annotations" => annotations: StrMap,
        "creationTimestamp" => creation_timestamp: Time,
        "deletionGracePeriodSeconds" => deletion_grace_period_seconds: i64,
        "deletionTimestamp" => deletion_timestamp: Time,
        "finalizers" => finalizers: Seq<CheckStr>,
        "generateName" => generate_name: CheckStr,
        "generation" => generation: i64,
        "labels" => labels: StrMap,
        "managedFields" => managed_fields: Seq<ManagedFieldsEntry<'de>>,
        "name" => name: Str<'de>,
        "namespace" => namespace: Str<'de>,
        "ownerReferences" => owner_references: Seq<OwnerReference<'de>>,
        "resourceVersion" => resource_version: Str<'de>,
        "selfLink" => self_link: CheckStr,
        "uid" => uid: Str<'de>,
    }
}

mirror! {
    /// `ObjectReference` (`involvedObject`, `regarding`, `related`).
    ObjectReference as "ObjectReference" {
        "apiVersion" => api_version: Str<'de>,
        "fieldPath" => field_path: Str<'de>,
        "kind" => kind: Str<'de>,
        "name" => name: Str<'de>,
        "namespace" => namespace: Str<'de>,
        "resourceVersion" => resource_version: Str<'de>,
        "uid" => uid: Str<'de>,
    }
}

mirror! {
    /// `core/v1` `EventSeries`: both fields optional.
    CoreSeries as "EventSeries" {
        "count" => count: i32,
        "lastObservedTime" => last_observed_time: MicroTime,
    }
}

mirror! {
    /// `EventSource` (`source`, `deprecatedSource`).
    EventSource as "EventSource" {
        "component" => component: Str<'de>,
        "host" => host: Str<'de>,
    }
}

mirror! {
    /// `OwnerReference`, checked only.
    OwnerReference as "OwnerReference" {
        "apiVersion" => api_version: CheckStr,
        "blockOwnerDeletion" => block_owner_deletion: bool,
        "controller" => controller: bool,
        "kind" => kind: CheckStr,
        "name" => name: CheckStr,
        "uid" => uid: CheckStr,
    }
}

mirror! {
    /// `ManagedFieldsEntry`, checked only.
    ManagedFieldsEntry as "ManagedFieldsEntry" {
        "apiVersion" => api_version: CheckStr,
        "fieldsType" => fields_type: CheckStr,
        "fieldsV1" => fields_v1: FieldsV1,
        "manager" => manager: CheckStr,
        "operation" => operation: CheckStr,
        "subresource" => subresource: CheckStr,
        "time" => time: Time,
    }
}

/// A `core/v1` Event (k8s-openapi's `api::core::v1::Event`), read into [`EventFields`].
pub struct CoreEvent<'de> {
    fields: EventFields<'de>,
    shown: bool,
}

/// An `events.k8s.io/v1` Event (k8s-openapi's `api::events::v1::Event`), read into
/// [`EventFields`].
pub struct EventsV1Event<'de> {
    fields: EventFields<'de>,
    shown: bool,
}

impl<'de> CoreEvent<'de> {
    /// Whether this reads as a core/v1 Event: its `involvedObject` is set (to anything but the
    /// empty reference), the rule the import applies to the k8s-openapi type.
    pub fn is_event(&self) -> bool {
        self.shown
    }

    /// What normalization reads, the strings still borrowed.
    pub fn into_fields(self) -> EventFields<'de> {
        self.fields
    }
}

impl<'de> EventsV1Event<'de> {
    /// Whether this reads as an events.k8s.io/v1 Event: `regarding` or `note` is set, the rule
    /// the import applies to the k8s-openapi type.
    pub fn is_event(&self) -> bool {
        self.shown
    }

    /// What normalization reads, the strings still borrowed.
    pub fn into_fields(self) -> EventFields<'de> {
        self.fields
    }
}

impl<'de> Deserialize<'de> for CoreEvent<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = EventFields::default();
        let shown = read(deserializer, Api::Core, &mut fields)?;
        Ok(CoreEvent { fields, shown })
    }
}

impl<'de> Deserialize<'de> for EventsV1Event<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = EventFields::default();
        let shown = read(deserializer, Api::EventsV1, &mut fields)?;
        Ok(EventsV1Event { fields, shown })
    }
}

/// Which Event API a text is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `core/v1`.
    Core,
    /// `events.k8s.io/v1`.
    EventsV1,
}

/// Reads `text` as an Event of `api` into `fields` (which must start as the default), in
/// place: what [`CoreEvent`] and [`EventsV1Event`] read, without moving the fields through
/// returned structs. `Ok(true)` when it shows the API's fields (see their `is_event`); on an
/// error, `fields` holds whatever was read before it.
pub fn read_str<'de>(
    text: &'de str,
    api: Api,
    fields: &mut EventFields<'de>,
) -> Result<bool, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let shown = read(&mut deserializer, api, fields)?;
    deserializer.end()?;
    Ok(shown)
}

/// The top-level visitor: k8s-openapi's `Event` visitor of either API, writing each field
/// into `fields` as it is read (a repeated key overwrites everything the earlier one set).
fn read<'de, D: Deserializer<'de>>(
    deserializer: D,
    api: Api,
    fields: &mut EventFields<'de>,
) -> Result<bool, D::Error> {
    const CORE_FIELDS: &[&str] = &[
        "apiVersion",
        "kind",
        "action",
        "count",
        "eventTime",
        "firstTimestamp",
        "involvedObject",
        "lastTimestamp",
        "message",
        "metadata",
        "reason",
        "related",
        "reportingComponent",
        "reportingInstance",
        "series",
        "source",
        "type",
    ];
    const V1_FIELDS: &[&str] = &[
        "apiVersion",
        "kind",
        "action",
        "deprecatedCount",
        "deprecatedFirstTimestamp",
        "deprecatedLastTimestamp",
        "deprecatedSource",
        "eventTime",
        "metadata",
        "note",
        "reason",
        "regarding",
        "related",
        "reportingController",
        "reportingInstance",
        "series",
        "type",
    ];
    let (names, api_version) = match api {
        Api::Core => (CORE_FIELDS, "v1"),
        Api::EventsV1 => (V1_FIELDS, "events.k8s.io/v1"),
    };
    let visitor = EventVisitor {
        api,
        api_version,
        fields,
    };
    deserializer.deserialize_struct("Event", names, visitor)
}

/// The keys of both APIs' Events, each under the name of the field it fills.
enum Key {
    ApiVersion,
    Kind,
    Action,
    Count,
    EventTime,
    First,
    Last,
    Regarding,
    Note,
    Metadata,
    Reason,
    Related,
    ReportingController,
    ReportingInstance,
    CoreSeries,
    EventsSeries,
    Source,
    Type,
    Other,
}

/// Reads a key as the field it names for one API (the other API's keys are `Other`).
struct KeySeed(Api);

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        let core = self.0 == Api::Core;
        Ok(match v {
            "apiVersion" => Key::ApiVersion,
            "kind" => Key::Kind,
            "action" => Key::Action,
            "eventTime" => Key::EventTime,
            "metadata" => Key::Metadata,
            "reason" => Key::Reason,
            "related" => Key::Related,
            "reportingInstance" => Key::ReportingInstance,
            "type" => Key::Type,
            "count" if core => Key::Count,
            "firstTimestamp" if core => Key::First,
            "lastTimestamp" if core => Key::Last,
            "involvedObject" if core => Key::Regarding,
            "message" if core => Key::Note,
            "reportingComponent" if core => Key::ReportingController,
            "series" if core => Key::CoreSeries,
            "source" if core => Key::Source,
            "deprecatedCount" if !core => Key::Count,
            "deprecatedFirstTimestamp" if !core => Key::First,
            "deprecatedLastTimestamp" if !core => Key::Last,
            "regarding" if !core => Key::Regarding,
            "note" if !core => Key::Note,
            "reportingController" if !core => Key::ReportingController,
            "series" if !core => Key::EventsSeries,
            "deprecatedSource" if !core => Key::Source,
            _ => Key::Other,
        })
    }
}

struct EventVisitor<'f, 'de> {
    api: Api,
    api_version: &'static str,
    fields: &'f mut EventFields<'de>,
}

impl<'de> Visitor<'de> for EventVisitor<'_, 'de> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Event")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let out = self.fields;
        // core/v1: `involvedObject` set and not empty; events.k8s.io/v1: `regarding` or `note`
        // set.
        let (mut regarding_shown, mut note_set) = (false, false);
        while let Some(key) = map.next_key_seed(KeySeed(self.api))? {
            match key {
                Key::ApiVersion => {
                    let value: Str<'de> = map.next_value()?;
                    resource_check(&value, Some(self.api_version))?;
                }
                Key::Kind => {
                    let value: Str<'de> = map.next_value()?;
                    resource_check(&value, Some("Event"))?;
                }
                Key::Action => out.action = cow(map.next_value()?),
                Key::Count => out.count = map.next_value()?,
                Key::EventTime => {
                    out.event_time = map.next_value::<Option<MicroTime>>()?.map(|t| t.0);
                }
                Key::First => out.first = map.next_value::<Option<Time>>()?.map(|t| t.0),
                Key::Last => out.last = map.next_value::<Option<Time>>()?.map(|t| t.0),
                Key::Regarding => {
                    let r: Option<ObjectReference<'de>> = map.next_value()?;
                    regarding_shown = match self.api {
                        Api::Core => r.as_ref().is_some_and(ObjectReference::is_set),
                        Api::EventsV1 => r.is_some(),
                    };
                    out.regarding = r.map(ObjectReference::into_reference);
                }
                Key::Note => {
                    out.note = cow(map.next_value()?);
                    note_set = out.note.is_some();
                }
                Key::Metadata => {
                    let meta: ObjectMeta<'de> = map
                        .next_value::<Option<ObjectMeta<'de>>>()?
                        .unwrap_or_default();
                    out.uid = cow(meta.uid);
                    out.name = cow(meta.name);
                    out.namespace = cow(meta.namespace);
                    out.resource_version = cow(meta.resource_version);
                    out.created = meta.creation_timestamp.map(|t| t.0);
                }
                Key::Reason => out.reason = cow(map.next_value()?),
                Key::Related => {
                    out.related = map
                        .next_value::<Option<ObjectReference<'de>>>()?
                        .map(ObjectReference::into_reference);
                }
                Key::ReportingController => out.reporting_controller = cow(map.next_value()?),
                Key::ReportingInstance => out.reporting_instance = cow(map.next_value()?),
                Key::CoreSeries => {
                    let series: Option<CoreSeries<'de>> = map.next_value()?;
                    out.series_count = series.as_ref().and_then(|s| s.count);
                    out.series_last = series.and_then(|s| s.last_observed_time.map(|t| t.0));
                }
                Key::EventsSeries => {
                    let series: Option<EventsSeries> = map.next_value()?;
                    out.series_count = series.map(|s| s.count);
                    out.series_last = series.map(|s| s.last_observed_time);
                }
                Key::Source => {
                    let source: EventSource<'de> = map
                        .next_value::<Option<EventSource<'de>>>()?
                        .unwrap_or_default();
                    out.source_component = cow(source.component);
                    out.source_host = cow(source.host);
                }
                Key::Type => out.type_ = cow(map.next_value()?),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(match self.api {
            Api::Core => regarding_shown,
            Api::EventsV1 => regarding_shown || note_set,
        })
    }
}

impl<'de> ObjectReference<'de> {
    /// Not the empty reference (k8s-openapi's `ObjectReference::default()`).
    fn is_set(&self) -> bool {
        self.api_version.is_some()
            || self.field_path.is_some()
            || self.kind.is_some()
            || self.name.is_some()
            || self.namespace.is_some()
            || self.resource_version.is_some()
            || self.uid.is_some()
    }

    fn into_reference(self) -> Reference<'de> {
        Reference {
            api_version: cow(self.api_version),
            kind: cow(self.kind),
            namespace: cow(self.namespace),
            name: cow(self.name),
            uid: cow(self.uid),
            field_path: cow(self.field_path),
        }
    }
}

fn cow(s: Option<Str<'_>>) -> Option<Cow<'_, str>> {
    s.map(|s| s.0)
}

/// `events.k8s.io/v1` `EventSeries`, as k8s-openapi reads it: `count` defaults to 0,
/// `lastObservedTime` is required and may not be `null`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventsSeries {
    count: i32,
    last_observed_time: jiff::Timestamp,
}

impl<'de> Deserialize<'de> for EventsSeries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        enum Field {
            Count,
            LastObservedTime,
            Other,
        }

        impl<'de> Deserialize<'de> for Field {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct FieldVisitor;
                impl Visitor<'_> for FieldVisitor {
                    type Value = Field;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("field identifier")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                        Ok(match v {
                            "count" => Field::Count,
                            "lastObservedTime" => Field::LastObservedTime,
                            _ => Field::Other,
                        })
                    }
                }
                d.deserialize_identifier(FieldVisitor)
            }
        }

        struct SeriesVisitor;
        impl<'de> Visitor<'de> for SeriesVisitor {
            type Value = EventsSeries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("EventSeries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventsSeries, A::Error> {
                let mut count: Option<i32> = None;
                let mut last: Option<MicroTime> = None;
                while let Some(key) = map.next_key::<Field>()? {
                    match key {
                        Field::Count => count = map.next_value()?,
                        Field::LastObservedTime => last = Some(map.next_value()?),
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(EventsSeries {
                    count: count.unwrap_or_default(),
                    last_observed_time: last
                        .ok_or_else(|| de::Error::missing_field("lastObservedTime"))?
                        .0,
                })
            }
        }

        deserializer.deserialize_struct(
            "EventSeries",
            &["count", "lastObservedTime"],
            SeriesVisitor,
        )
    }
}

/// A string, borrowed from the input when it has no escapes; accepts what `String` accepts.
pub(crate) struct Str<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Str<'de>, E> {
                match std::str::from_utf8(v) {
                    Ok(s) => Ok(Str(Cow::Borrowed(s))),
                    Err(_) => Err(E::invalid_value(Unexpected::Bytes(v), &self)),
                }
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Str<'de>, E> {
                match std::str::from_utf8(v) {
                    Ok(s) => Ok(Str(Cow::Owned(s.to_owned()))),
                    Err(_) => Err(E::invalid_value(Unexpected::Bytes(v), &self)),
                }
            }
        }
        deserializer.deserialize_string(StrVisitor)
    }
}

/// A string checked as `String` is (the same deserializer call), not kept.
#[derive(Default)]
pub(crate) struct CheckStr;

impl<'de> Deserialize<'de> for CheckStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CheckVisitor;
        impl Visitor<'_> for CheckVisitor {
            type Value = CheckStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<CheckStr, E> {
                Ok(CheckStr)
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<CheckStr, E> {
                match std::str::from_utf8(v) {
                    Ok(_) => Ok(CheckStr),
                    Err(_) => Err(E::invalid_value(Unexpected::Bytes(v), &self)),
                }
            }
        }
        deserializer.deserialize_string(CheckVisitor)
    }
}

/// A `BTreeMap<String, String>` (labels, annotations), checked as one is read, not kept.
#[derive(Default)]
pub(crate) struct StrMap;

impl<'de> Deserialize<'de> for StrMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = StrMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrMap, A::Error> {
                while map.next_entry::<CheckStr, CheckStr>()?.is_some() {}
                Ok(StrMap)
            }
        }
        deserializer.deserialize_map(MapVisitor)
    }
}

/// A `Vec<T>`, checked element by element as one is read, not kept.
pub(crate) struct Seq<T>(PhantomData<T>);

impl<T> Default for Seq<T> {
    fn default() -> Self {
        Seq(PhantomData)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Seq<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for SeqVisitor<T> {
            type Value = Seq<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seq<T>, A::Error> {
                while seq.next_element::<T>()?.is_some() {}
                Ok(Seq(PhantomData))
            }
        }
        deserializer.deserialize_seq(SeqVisitor(PhantomData))
    }
}

/// `FieldsV1`, a newtype around a `serde_json::Value`: checked as the value is read.
#[derive(Default)]
pub(crate) struct FieldsV1;

impl<'de> Deserialize<'de> for FieldsV1 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NewtypeVisitor;
        impl<'de> Visitor<'de> for NewtypeVisitor {
            type Value = FieldsV1;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("FieldsV1")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<FieldsV1, D::Error> {
                AnyValue::deserialize(d).map(|_| FieldsV1)
            }
        }
        deserializer.deserialize_newtype_struct("FieldsV1", NewtypeVisitor)
    }
}

/// Any JSON value, checked as `serde_json::Value` reads one (`deserialize_any`, so numbers
/// are parsed and range-checked), not kept.
struct AnyValue;

/// The key by which serde_json's `Value` reads an embedded raw value (its `raw_value`
/// feature is on in this workspace); such a map is refused here and read by k8s-openapi.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyVisitor;
        impl<'de> Visitor<'de> for AnyVisitor {
            type Value = AnyValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any valid JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<AnyValue, E> {
                Ok(AnyValue)
            }
            fn visit_i64<E>(self, _: i64) -> Result<AnyValue, E> {
                Ok(AnyValue)
            }
            fn visit_u64<E>(self, _: u64) -> Result<AnyValue, E> {
                Ok(AnyValue)
            }
            fn visit_f64<E>(self, _: f64) -> Result<AnyValue, E> {
                Ok(AnyValue)
            }
            fn visit_str<E>(self, _: &str) -> Result<AnyValue, E> {
                Ok(AnyValue)
            }
            fn visit_none<E>(self) -> Result<AnyValue, E> {
                Ok(AnyValue)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<AnyValue, D::Error> {
                AnyValue::deserialize(d)
            }
            fn visit_unit<E>(self) -> Result<AnyValue, E> {
                Ok(AnyValue)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyValue, A::Error> {
                while seq.next_element::<AnyValue>()?.is_some() {}
                Ok(AnyValue)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
                let mut first = true;
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    if first && key.0 == RAW_VALUE_TOKEN {
                        return Err(de::Error::custom("raw value left to serde_json"));
                    }
                    first = false;
                    map.next_value::<AnyValue>()?;
                }
                Ok(AnyValue)
            }
        }
        deserializer.deserialize_any(AnyVisitor)
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
