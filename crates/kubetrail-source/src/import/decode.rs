//! One value → one [`Item`]: which Event API it is, typed parsing (fast path straight from the
//! bytes, slow path through `serde_json::Value` with the quirks of real dumps repaired), owner
//! links of other objects, and what the file turned out to contain.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use kubetrail_process::change::revision_of;
use kubetrail_process::{EventFields, ObjectLink, OwnerRef, normalize, wire};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::envelope;
use super::item::{Item, Location, SkipReason, WatchType};
use super::quirks::{self, Api};

pub(crate) struct Decoder {
    cluster: String,
    path: Arc<Path>,
    next_index: u64,
    pub(crate) stats: Stats,
    /// Tests: read Events with k8s-openapi's types, as before [`wire`] (the reference the
    /// tests compare with).
    #[cfg(test)]
    pub(crate) k8s_openapi: bool,
}

/// What a file turned out to contain, to tell an empty Event list from something else.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Values that are Events, imported or skipped.
    pub(crate) events: u64,
    /// DELETED, BOOKMARK and ERROR envelopes of an Event watch.
    pub(crate) envelopes: u64,
    /// Lists that are Event lists even without events: `EventList`s, empty `List`s and arrays.
    pub(crate) event_lists: u64,
    /// Rollout revisions (ReplicaSets, ControllerRevisions of a workload).
    pub(crate) revisions: u64,
    /// The first thing seen that is not an Event, for the error message.
    first_other: Option<String>,
}

impl Stats {
    pub(crate) fn has_events(&self) -> bool {
        self.events + self.envelopes + self.event_lists > 0
    }

    /// Whether the file holds something `import` takes: Events or rollout revisions.
    pub(crate) fn has_content(&self) -> bool {
        self.has_events() || self.revisions > 0
    }

    pub(crate) fn found(&self) -> String {
        self.first_other
            .clone()
            .unwrap_or_else(|| "nothing".to_string())
    }

    pub(crate) fn other(&mut self, what: impl FnOnce() -> String) {
        if self.first_other.is_none() {
            self.first_other = Some(what());
        }
    }

    pub(crate) fn list_end(&mut self, kind: Option<&str>, items: u64) {
        match kind {
            Some("EventList") => self.event_lists += 1,
            None | Some("List") if items == 0 => self.event_lists += 1,
            Some(kind) if items == 0 => self.other(|| format!("kind {kind}")),
            _ => {}
        }
    }
}

impl Decoder {
    pub(crate) fn new(cluster: &str, path: Arc<Path>) -> Decoder {
        Decoder {
            cluster: cluster.to_string(),
            path,
            next_index: 0,
            stats: Stats::default(),
            #[cfg(test)]
            k8s_openapi: false,
        }
    }

    pub(crate) fn location(&mut self, line: Option<u64>) -> Location {
        let index = self.next_index;
        self.next_index += 1;
        Location {
            path: Arc::clone(&self.path),
            line,
            index,
        }
    }

    /// One JSON value. The error is a syntax error, positioned relative to `bytes`.
    pub(crate) fn json(
        &mut self,
        bytes: &[u8],
        line: Option<u64>,
        pending: &mut VecDeque<Item>,
    ) -> Result<Option<Item>, serde_json::Error> {
        let mut location = self.location(line);
        if let Some((watch, object)) = envelope::split(bytes) {
            if watch.carries_state() {
                match self.typed(object, location) {
                    Ok(item) => return Ok(Some(item)),
                    Err(back) => location = back,
                }
            } else if let Ok(probe) = serde_json::from_slice::<KindProbe>(object) {
                return Ok(Some(self.watch_skipped(
                    watch,
                    probe.kind.as_deref(),
                    location,
                )));
            }
        } else {
            match self.typed(bytes, location) {
                Ok(item) => return Ok(Some(item)),
                Err(back) => location = back,
            }
        }
        let value: Value = serde_json::from_slice(bytes)?;
        Ok(self.value(value, location, pending))
    }

    /// The fast path: an Event of either API read straight from its bytes, with no
    /// intermediate tree, into the fields normalization keeps ([`wire`]: strings borrowed
    /// from the line, the rest checked as k8s-openapi types it, not kept). The types check
    /// `apiVersion` and `kind` when present, so a failure is quick for the wrong API; an
    /// object without them must show the fields of the API it was read as, or it goes the
    /// slow way to be looked at properly.
    ///
    /// What [`wire`] refuses is read with k8s-openapi, as before it existed, so that what it
    /// accepts (or the error it gives) is the same as ever.
    ///
    /// The value is checked as UTF-8 once and then read as text: reading bytes, serde_json
    /// checks every string on its own, which made up a quarter of the parse. Text that is not
    /// UTF-8 would fail the typed parse as well, so it goes the slow way as before.
    fn typed(&mut self, bytes: &[u8], location: Location) -> Result<Item, Location> {
        #[cfg(test)]
        if self.k8s_openapi {
            return self.typed_k8s_openapi(bytes, location);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(location);
        };
        // Read in place: the fields are not moved through returned structs.
        let mut fields = EventFields::default();
        match wire::read_str(text, wire::Api::Core, &mut fields) {
            Ok(true) => return Ok(self.event(fields, location)),
            Ok(false) => {}
            Err(_) => {
                if let Ok(event) = serde_json::from_str::<core::Event>(text)
                    && event.involved_object != core::ObjectReference::default()
                {
                    return Ok(self.event(event.into(), location));
                }
            }
        }
        let mut fields = EventFields::default();
        match wire::read_str(text, wire::Api::EventsV1, &mut fields) {
            Ok(true) => Ok(self.event(fields, location)),
            Ok(false) => Err(location),
            Err(_) => match serde_json::from_str::<events::Event>(text) {
                Ok(event) if event.regarding.is_some() || event.note.is_some() => {
                    Ok(self.event(event.into(), location))
                }
                _ => Err(location),
            },
        }
    }

    fn event(&mut self, fields: EventFields<'_>, location: Location) -> Item {
        self.stats.events += 1;
        match normalize(fields, &self.cluster) {
            Ok(event) => Item::Event { event, location },
            Err(rejected) => rejected_item(rejected, location),
        }
    }

    /// One parsed value: an Event, an envelope, a List held in memory, another object, or
    /// something else. Items of a List go to `pending`; everything else is returned.
    pub(crate) fn value(
        &mut self,
        value: Value,
        location: Location,
        pending: &mut VecDeque<Item>,
    ) -> Option<Item> {
        let mut map = match value {
            Value::Object(map) => map,
            other => {
                let what = describe(&other);
                self.stats.other(|| what.to_string());
                let reason = SkipReason::NotAnObject(what);
                return Some(Item::Skipped { location, reason });
            }
        };
        if let Some(watch) = envelope::watch_type(&map) {
            let object = map.remove("object").unwrap_or_default();
            if watch.carries_state() {
                return self.value(object, location, pending);
            }
            let kind = object.get("kind").and_then(Value::as_str);
            return Some(self.watch_skipped(watch, kind, location));
        }
        if map
            .get("items")
            .is_some_and(|i| i.is_array() || i.is_null())
        {
            self.list(map, pending);
            return None;
        }
        match classify(&map) {
            Shape::Event(api) => Some(self.event_value(map, api, location)),
            Shape::Other(kind) => {
                let kind = kind.to_string();
                self.stats.other(|| format!("kind {kind}"));
                let link = object_link(&map, kind.clone(), location);
                if matches!(kind.as_str(), "ReplicaSet" | "ControllerRevision")
                    && let Some(revision) = revision_of(&Value::Object(map))
                {
                    self.stats.revisions += 1;
                    pending.push_back(Item::Revision(revision));
                }
                Some(link)
            }
            Shape::Unknown => {
                self.stats.other(|| "an object without kind".to_string());
                let reason = SkipReason::NotAnEvent { kind: None };
                Some(Item::Skipped { location, reason })
            }
        }
    }

    /// A DELETED, BOOKMARK or ERROR envelope. Those of Events (or of an error) show a stream
    /// of Events; those of other kinds do not.
    fn watch_skipped(&mut self, watch: WatchType, kind: Option<&str>, location: Location) -> Item {
        match kind {
            Some(kind) if kind != "Event" && watch != WatchType::Error => {
                self.stats.other(|| format!("kind {kind}"));
            }
            _ => self.stats.envelopes += 1,
        }
        let reason = SkipReason::Watch(watch);
        Item::Skipped { location, reason }
    }

    /// A List that was parsed whole (flow-style YAML, a List on one NDJSON line).
    fn list(&mut self, mut map: Map<String, Value>, pending: &mut VecDeque<Item>) {
        let kind = map.get("kind").and_then(Value::as_str).map(str::to_string);
        let items = match map.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let count = items.len() as u64;
        for item in items {
            // Items of a List parsed whole have no line of their own.
            let location = self.location(None);
            if let Some(item) = self.value(item, location, pending) {
                pending.push_back(item);
            }
        }
        self.stats.list_end(kind.as_deref(), count);
    }

    /// The slow path for an Event: repair the known quirks, then the typed API struct.
    fn event_value(&mut self, mut map: Map<String, Value>, api: Api, location: Location) -> Item {
        quirks::repair(&mut map, api);
        // Already classified; without them `events.k8s.io/v1beta1` reads as v1 too.
        map.remove("apiVersion");
        map.remove("kind");
        let value = Value::Object(map);
        #[cfg(test)]
        if self.k8s_openapi {
            return self.event_value_k8s_openapi(&value, api, location);
        }
        // As on the fast path: the fields read borrowed, k8s-openapi where that refuses.
        let fields = match api {
            Api::Core => wire::CoreEvent::deserialize(&value)
                .map(wire::CoreEvent::into_fields)
                .or_else(|_| core::Event::deserialize(&value).map(EventFields::from)),
            Api::EventsV1 => wire::EventsV1Event::deserialize(&value)
                .map(wire::EventsV1Event::into_fields)
                .or_else(|_| events::Event::deserialize(&value).map(EventFields::from)),
        };
        match fields {
            Ok(fields) => self.event(fields, location),
            Err(err) => {
                self.stats.events += 1;
                let reason = SkipReason::InvalidEvent(err.to_string());
                Item::Skipped { location, reason }
            }
        }
    }
}

/// The decoding as it was before [`wire`] (commit 8793853), for the tests to compare with.
#[cfg(test)]
impl Decoder {
    fn typed_k8s_openapi(&mut self, bytes: &[u8], location: Location) -> Result<Item, Location> {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(location);
        };
        if let Ok(event) = serde_json::from_str::<core::Event>(text)
            && event.involved_object != core::ObjectReference::default()
        {
            return Ok(self.event(event.into(), location));
        }
        if let Ok(event) = serde_json::from_str::<events::Event>(text)
            && (event.regarding.is_some() || event.note.is_some())
        {
            return Ok(self.event(event.into(), location));
        }
        Err(location)
    }

    fn event_value_k8s_openapi(&mut self, value: &Value, api: Api, location: Location) -> Item {
        let parsed = match api {
            Api::Core => core::Event::deserialize(value).map(EventFields::from),
            Api::EventsV1 => events::Event::deserialize(value).map(EventFields::from),
        };
        match parsed {
            Ok(fields) => self.event(fields, location),
            Err(err) => {
                self.stats.events += 1;
                let reason = SkipReason::InvalidEvent(err.to_string());
                Item::Skipped { location, reason }
            }
        }
    }
}

/// The kind of a watch envelope's object, read without building it.
#[derive(Deserialize)]
struct KindProbe {
    #[serde(default)]
    kind: Option<String>,
}

fn rejected_item(rejected: kubetrail_process::Rejected, location: Location) -> Item {
    Item::Skipped {
        location,
        reason: SkipReason::Rejected(rejected),
    }
}

enum Shape<'a> {
    Event(Api),
    Other(&'a str),
    Unknown,
}

/// By `kind` and `apiVersion` when present, else by the fields only one API has.
fn classify(map: &Map<String, Value>) -> Shape<'_> {
    let kind = map.get("kind").and_then(Value::as_str);
    let api_version = map.get("apiVersion").and_then(Value::as_str);
    let has = |field: &str| map.get(field).is_some_and(|v| !v.is_null());
    let by_fields = if has("regarding") || has("note") {
        Some(Api::EventsV1)
    } else if has("involvedObject") || (has("message") && has("reason")) {
        Some(Api::Core)
    } else {
        None
    };
    match (kind, api_version) {
        (Some(kind), _) if kind != "Event" => Shape::Other(kind),
        (_, Some(v)) if v.starts_with("events.k8s.io/") => Shape::Event(Api::EventsV1),
        (Some(_), Some("v1")) => Shape::Event(Api::Core),
        (Some(_), _) => Shape::Event(by_fields.unwrap_or(Api::Core)),
        (None, _) => by_fields.map_or(Shape::Unknown, Shape::Event),
    }
}

/// A non-Event object as an owner link: its identity and its controller owner (the first
/// owner when none is marked controller).
fn object_link(map: &Map<String, Value>, kind: String, location: Location) -> Item {
    let meta = map.get("metadata").and_then(Value::as_object);
    let field = |m: Option<&Map<String, Value>>, key: &str| {
        m.and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let name = field(meta, "name");
    if name.is_empty() {
        let reason = SkipReason::NotAnEvent { kind: Some(kind) };
        return Item::Skipped { location, reason };
    }
    let refs = meta
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let owner = refs
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .or(refs.first())
        .and_then(Value::as_object)
        .map(|r| OwnerRef {
            kind: field(Some(r), "kind"),
            name: field(Some(r), "name"),
            uid: field(Some(r), "uid"),
        })
        .filter(|o| !o.kind.is_empty() && !o.name.is_empty());
    Item::Object(ObjectLink {
        kind,
        namespace: field(meta, "namespace"),
        name,
        uid: field(meta, "uid"),
        owner,
    })
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubetrail_process::from_core;
    use serde_json::json;

    fn decode(bytes: &[u8]) -> (Vec<Item>, Stats) {
        let mut decoder = Decoder::new("c", Arc::from(Path::new("f.json")));
        let mut pending = VecDeque::new();
        let first = decoder
            .json(bytes, Some(1), &mut pending)
            .expect("valid JSON");
        let items = first.into_iter().chain(pending).collect();
        (items, decoder.stats)
    }

    fn core_event() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "p.1", "namespace": "ns", "uid": "u1", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"},
            "reason": "BackOff", "message": "Back-off", "type": "Warning"
        })
    }

    #[test]
    fn a_core_event_is_read_on_the_fast_path() {
        let (items, stats) = decode(core_event().to_string().as_bytes());
        let [Item::Event { event, .. }] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(
            (event.uid.as_str(), event.reason.as_str()),
            ("u1", "BackOff")
        );
        assert_eq!(stats.events, 1);
    }

    #[test]
    fn a_string_that_is_not_utf8_is_an_error_as_before() {
        // The fast path reads the value as text after one UTF-8 check; a byte that is not
        // UTF-8 inside a string must still fail, positioned, as reading bytes does.
        let mut bytes = core_event().to_string().into_bytes();
        let at = bytes
            .windows(8)
            .position(|w| w == b"Back-off")
            .expect("message");
        bytes[at + 4] = 0xff;
        let mut decoder = Decoder::new("c", Arc::from(Path::new("f.json")));
        let err = decoder
            .json(&bytes, Some(1), &mut VecDeque::new())
            .expect_err("not UTF-8");
        let bytes_err = serde_json::from_slice::<Value>(&bytes).expect_err("not UTF-8");
        assert_eq!(err.to_string(), bytes_err.to_string());
    }

    proptest::proptest! {
        /// Read as text or as bytes, any message (escapes, non-ASCII, control characters)
        /// gives the same record.
        #[test]
        fn text_and_bytes_give_the_same_event(message in "(?s).{0,40}", reason in "[A-Za-z\u{e9}\u{1f600}\\\\\"]{0,12}") {
            let mut v = core_event();
            v["message"] = json!(message);
            v["reason"] = json!(reason);
            let bytes = v.to_string().into_bytes();
            let (items, _) = decode(&bytes);
            let [Item::Event { event, .. }] = items.as_slice() else {
                panic!("{items:?}")
            };
            let typed: core::Event = serde_json::from_slice(&bytes).expect("typed");
            let expected = from_core(typed, "c").expect("valid");
            proptest::prop_assert_eq!(event, &expected);
        }
    }

    #[test]
    fn an_events_v1_event_without_kind_is_recognized_by_its_fields() {
        let v = json!({
            "metadata": {"name": "p.1", "namespace": "ns", "uid": "u2"},
            "eventTime": "2024-01-01T00:00:00.000001Z",
            "regarding": {"kind": "Pod", "name": "p"}, "note": "Scheduled", "reason": "Scheduled",
            "reportingController": "default-scheduler"
        });
        let (items, _) = decode(v.to_string().as_bytes());
        let [Item::Event { event, .. }] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(
            (event.note.as_str(), event.reporting_controller.as_str()),
            ("Scheduled", "default-scheduler")
        );
    }

    #[test]
    fn the_null_string_quirk_is_repaired() {
        let mut v = core_event();
        v["eventTime"] = json!("null");
        v["firstTimestamp"] = json!("");
        let (items, _) = decode(v.to_string().as_bytes());
        assert!(
            matches!(items.as_slice(), [Item::Event { .. }]),
            "{items:?}"
        );
    }

    #[test]
    fn an_event_that_stays_invalid_is_skipped_not_an_error() {
        let mut v = core_event();
        v["count"] = json!("many");
        let (items, stats) = decode(v.to_string().as_bytes());
        let [
            Item::Skipped {
                reason: SkipReason::InvalidEvent(message),
                ..
            },
        ] = items.as_slice()
        else {
            panic!("{items:?}")
        };
        assert!(message.contains("invalid type"), "{message}");
        assert_eq!(stats.events, 1);
    }

    #[test]
    fn an_event_without_uid_is_rejected() {
        let mut v = core_event();
        v["metadata"].as_object_mut().unwrap().remove("uid");
        let (items, _) = decode(v.to_string().as_bytes());
        assert!(matches!(
            items.as_slice(),
            [Item::Skipped {
                reason: SkipReason::Rejected(kubetrail_process::Rejected::MissingUid),
                ..
            }]
        ));
    }

    #[test]
    fn envelopes_carry_or_skip() {
        let added = json!({"type": "MODIFIED", "object": core_event()}).to_string();
        assert!(matches!(
            decode(added.as_bytes()).0.as_slice(),
            [Item::Event { .. }]
        ));
        let deleted = json!({"type": "DELETED", "object": core_event()}).to_string();
        assert!(matches!(
            decode(deleted.as_bytes()).0.as_slice(),
            [Item::Skipped {
                reason: SkipReason::Watch(super::super::WatchType::Deleted),
                ..
            }]
        ));
        // The general path handles other key orders.
        let reordered = json!({"object": core_event(), "type": "ADDED"}).to_string();
        let (items, stats) = decode(reordered.as_bytes());
        assert!(matches!(items.as_slice(), [Item::Event { .. }]));
        assert_eq!(stats.events, 1);
        // A watch of another kind is not a stream of Events.
        let pod = json!({"kind": "Pod", "metadata": {"name": "p"}});
        let (_, stats) = decode(
            json!({"type": "DELETED", "object": pod})
                .to_string()
                .as_bytes(),
        );
        assert!(!stats.has_events());
        let (_, stats) = decode(
            json!({"object": pod, "type": "DELETED"})
                .to_string()
                .as_bytes(),
        );
        assert!(!stats.has_events());
    }

    #[test]
    fn other_kinds_become_owner_links() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "ns", "uid": "p1", "ownerReferences": [
                {"kind": "Foo", "name": "x", "uid": "f"},
                {"kind": "ReplicaSet", "name": "web", "uid": "r", "controller": true}
            ]}
        });
        let (items, stats) = decode(pod.to_string().as_bytes());
        let [Item::Object(link)] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(link.owner.as_ref().map(|o| o.name.as_str()), Some("web"));
        assert!(!stats.has_events());
        assert_eq!(stats.found(), "kind Pod");
    }

    #[test]
    fn a_replica_set_of_a_deployment_is_also_a_revision() {
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-5d4f8", "namespace": "shop", "uid": "r1",
                "creationTimestamp": "2026-12-05T10:00:00Z",
                "annotations": {"deployment.kubernetes.io/revision": "4"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": true}]},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}
        });
        let (items, stats) = decode(rs.to_string().as_bytes());
        let [Item::Object(link), Item::Revision(revision)] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(link.owner.as_ref().map(|o| o.name.as_str()), Some("web"));
        assert_eq!((revision.owner.name.as_str(), revision.number), ("web", 4));
        assert!(stats.has_content() && !stats.has_events());
        // The same in a watch envelope (`kubectl get rs -w -o json`) and in a List.
        let watched = json!({"type": "ADDED", "object": rs}).to_string();
        let (items, _) = decode(watched.as_bytes());
        assert!(
            matches!(items.as_slice(), [Item::Object(_), Item::Revision(_)]),
            "{items:?}"
        );
        let list = json!({"kind": "ReplicaSetList", "items": [rs]}).to_string();
        let (items, _) = decode(list.as_bytes());
        // (In a List parsed whole the revision may come first: the order does not matter.)
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(
            items.iter().any(|i| matches!(i, Item::Revision(_))),
            "{items:?}"
        );
        assert!(
            items.iter().any(|i| matches!(i, Item::Object(_))),
            "{items:?}"
        );
        // A ReplicaSet nobody owns (or without a revision) is only an owner link.
        let mut bare = rs.clone();
        bare["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("ownerReferences");
        let (items, stats) = decode(bare.to_string().as_bytes());
        assert!(matches!(items.as_slice(), [Item::Object(_)]), "{items:?}");
        assert!(!stats.has_content());
    }

    #[test]
    fn a_list_on_one_line_is_expanded() {
        let list = json!({"kind": "List", "items": [core_event(), {"kind": "Status"}]});
        let (items, stats) = decode(list.to_string().as_bytes());
        assert_eq!(items.len(), 2);
        assert!(matches!(
            &items[1],
            Item::Skipped {
                reason: SkipReason::NotAnEvent { .. },
                ..
            }
        ));
        assert!(stats.has_events());
    }

    #[test]
    fn an_object_that_is_nothing_known_is_not_an_event() {
        let (items, stats) = decode(br#"{"foo": 1}"#);
        assert!(matches!(
            items.as_slice(),
            [Item::Skipped {
                reason: SkipReason::NotAnEvent { kind: None },
                ..
            }]
        ));
        assert!(!stats.has_events());
    }
}
