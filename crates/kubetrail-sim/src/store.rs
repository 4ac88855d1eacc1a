//! The object store: what etcd is to the real API server.
//!
//! One global, monotonically increasing resourceVersion stamps every write, like an etcd
//! revision. Every change is appended to a history that watches replay from; `compact` drops the
//! history up to the current version, after which a watch or an exact list from an older version
//! is answered with `410 Expired`, and the history is also trimmed to a configured length, as
//! etcd's periodic compaction does. Writes are broadcast to open watches while the store is
//! locked, so a watch that replays history and then listens sees every change exactly once.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::ledger::{EventRecord, Ledger};
use crate::resources::{Resource, StoreKind};
use crate::status::ApiError;

/// The resourceVersion of an empty store; the first write gets the next one.
const INITIAL_RESOURCE_VERSION: u64 = 1;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One write, as kept in the history and sent to watches.
#[derive(Debug)]
pub(crate) struct Change {
    /// The resourceVersion this write created.
    pub rv: u64,
    pub kind: StoreKind,
    /// `namespace/name`, or `name` when cluster-scoped: the etcd key order lists follow.
    pub key: String,
    pub change: ChangeType,
    /// The object after the write (for a delete: the last state, stamped with `rv`).
    pub object: Value,
    /// The object before the write, so watches with selectors can tell an object leaving.
    pub prev: Option<Value>,
}

/// Which state a read sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadAt {
    /// The current state.
    Latest,
    /// The state right after the write that created this resourceVersion.
    Exact(u64),
}

/// A consistent view of one collection, sorted by key.
pub(crate) struct Snapshot {
    pub items: Vec<(String, Value)>,
}

/// One page of a consistent list ([`Store::page`]).
pub(crate) struct Page {
    pub rv: u64,
    /// The page's objects, sorted by key.
    pub items: Vec<(String, Value)>,
    /// How many objects the whole list (from the page's first key on) holds.
    pub total: usize,
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchStart {
    /// Send the current objects as ADDED first.
    Initial,
    /// Send every change after this resourceVersion.
    After(u64),
}

/// Everything a new watch needs, taken under one lock so nothing falls in between.
pub(crate) struct WatchSetup {
    /// The current objects (only for [`WatchStart::Initial`]).
    pub initial: Vec<Value>,
    /// The history after the start version (only for [`WatchStart::After`]).
    pub replay: Vec<Arc<Change>>,
    /// The store's resourceVersion when the watch started.
    pub rv: u64,
    /// Every later change, of every kind.
    pub live: broadcast::Receiver<Arc<Change>>,
}

/// The store; shared by the HTTP handlers, the typed API and the scenarios.
pub(crate) struct Store {
    state: Mutex<State>,
    changes: broadcast::Sender<Arc<Change>>,
}

struct State {
    rv: u64,
    /// Watches and exact lists from a resourceVersion below this are expired.
    compacted: u64,
    objects: BTreeMap<StoreKind, BTreeMap<String, Value>>,
    /// Every change with `rv > compacted`, oldest first.
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// Every Event ever written, never compacted.
    ledger: Ledger,
}

impl Store {
    /// `history_limit`: changes kept for watches; `watch_buffer`: changes a slow watch may lag.
    pub(crate) fn new(history_limit: usize, watch_buffer: usize) -> Self {
        let (changes, _) = broadcast::channel(watch_buffer.max(1));
        Self {
            state: Mutex::new(State {
                rv: INITIAL_RESOURCE_VERSION,
                compacted: INITIAL_RESOURCE_VERSION,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                history_limit: history_limit.max(1),
                ledger: Ledger::default(),
            }),
            changes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every write is one insert
        // plus one push), so a poisoned lock is still safe to use.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current resourceVersion.
    pub(crate) fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// The oldest resourceVersion a watch may start from.
    #[cfg(test)]
    pub(crate) fn compacted(&self) -> u64 {
        self.lock().compacted
    }

    /// Every Event ever created, with its count changes and deletion (see [`Ledger`]).
    pub(crate) fn event_history(&self) -> Vec<EventRecord> {
        self.lock().ledger.records()
    }

    /// Drops the history up to the current version; returns that version.
    pub(crate) fn compact(&self) -> u64 {
        let mut state = self.lock();
        state.compacted = state.rv;
        state.history.clear();
        state.rv
    }

    /// Reads one object.
    pub(crate) fn get(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = object_key(resource, namespace, name);
        self.lock()
            .objects
            .get(&resource.store_kind())
            .and_then(|objects| objects.get(&key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(resource, name))
    }

    /// Creates an object: fills name from `generateName`, uid, creationTimestamp,
    /// resourceVersion (and generation for kinds with a spec).
    pub(crate) fn create(&self, resource: Resource, object: Value) -> Result<Value, ApiError> {
        self.create_by(resource, object, DEFAULT_MANAGER)
    }

    /// [`Store::create`] by the field manager `manager` (recorded in `managedFields` for the
    /// kinds that keep them, see [`Resource::keeps_managed_fields`]).
    pub(crate) fn create_by(
        &self,
        resource: Resource,
        mut object: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let namespace = validate_scope(resource, &mut object)?;
        let mut name = meta_str(&object, "name");
        if name.is_empty() {
            let prefix = meta_str(&object, "generateName");
            if prefix.is_empty() {
                return Err(invalid_meta(
                    resource,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
            name = format!("{prefix}{}", random_suffix(5));
            set_meta(&mut object, "name", Value::String(name.clone()));
        }
        let key = object_key(resource, namespace.as_deref(), &name);
        let mut state = self.lock();
        let exists = state
            .objects
            .get(&resource.store_kind())
            .is_some_and(|objects| objects.contains_key(&key));
        if exists {
            return Err(ApiError::already_exists(resource, &name));
        }
        set_meta(
            &mut object,
            "uid",
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
        set_meta(&mut object, "creationTimestamp", now_time());
        if resource.has_generation() {
            set_meta(&mut object, "generation", Value::from(1));
        }
        if resource.keeps_managed_fields() {
            stamp_manager(&mut object, None, resource, manager);
        }
        for transient in ["deletionTimestamp", "deletionGracePeriodSeconds"] {
            remove_meta(&mut object, transient);
        }
        Ok(self.commit(&mut state, resource, key, ChangeType::Added, object, None))
    }

    /// Replaces an object (PUT). A non-empty `metadata.resourceVersion` that is not the
    /// current one is a conflict; an empty one is an unconditional update. Returns the object
    /// and whether it was created (Events allow create-on-update).
    pub(crate) fn update(
        &self,
        resource: Resource,
        object: Value,
    ) -> Result<(Value, bool), ApiError> {
        self.update_by(resource, object, DEFAULT_MANAGER)
    }

    /// [`Store::update`] by the field manager `manager` (see [`Store::create_by`]).
    pub(crate) fn update_by(
        &self,
        resource: Resource,
        mut object: Value,
        manager: &str,
    ) -> Result<(Value, bool), ApiError> {
        let namespace = validate_scope(resource, &mut object)?;
        let name = meta_str(&object, "name");
        if name.is_empty() {
            return Err(invalid_meta(
                resource,
                "",
                "metadata.name",
                "Required value: name is required",
            ));
        }
        let key = object_key(resource, namespace.as_deref(), &name);
        let mut state = self.lock();
        let Some(old) = state
            .objects
            .get(&resource.store_kind())
            .and_then(|objects| objects.get(&key))
            .cloned()
        else {
            drop(state);
            if resource.create_on_update() {
                remove_meta(&mut object, "resourceVersion");
                return self
                    .create_by(resource, object, manager)
                    .map(|created| (created, true));
            }
            return Err(ApiError::not_found(resource, &name));
        };
        let wanted = meta_str(&object, "resourceVersion");
        let current = meta_str(&old, "resourceVersion");
        if !wanted.is_empty() && wanted != current {
            return Err(ApiError::conflict(resource, &name));
        }
        for preserved in ["uid", "creationTimestamp", "generation"] {
            match old.get("metadata").and_then(|m| m.get(preserved)) {
                Some(value) => set_meta(&mut object, preserved, value.clone()),
                None => remove_meta(&mut object, preserved),
            }
        }
        if resource.has_generation() && object.get("spec") != old.get("spec") {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            set_meta(&mut object, "generation", Value::from(generation + 1));
        }
        if resource.keeps_managed_fields() {
            stamp_manager(&mut object, Some(&old), resource, manager);
        }
        set_meta(&mut object, "resourceVersion", Value::String(current));
        // etcd does not write an unchanged value: no new version, no watch event.
        if object == old {
            return Ok((old, false));
        }
        let updated = self.commit(
            &mut state,
            resource,
            key,
            ChangeType::Modified,
            object,
            Some(old),
        );
        Ok((updated, false))
    }

    /// Deletes an object at once (no graceful deletion); returns its last state.
    pub(crate) fn delete(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = object_key(resource, namespace, name);
        let mut state = self.lock();
        let Some(old) = state
            .objects
            .get_mut(&resource.store_kind())
            .and_then(|objects| objects.remove(&key))
        else {
            return Err(ApiError::not_found(resource, name));
        };
        let object = old.clone();
        Ok(self.commit(
            &mut state,
            resource,
            key,
            ChangeType::Deleted,
            object,
            Some(old),
        ))
    }

    /// Deletes the Events last written before `cutoff`, as their etcd lease expiring does on a
    /// real server (the TTL restarts with every write); returns how many were deleted.
    pub(crate) fn expire_events(&self, cutoff: Timestamp) -> usize {
        let mut state = self.lock();
        let expired: Vec<String> = state
            .objects
            .get(&StoreKind::Event)
            .map(|events| {
                events
                    .iter()
                    .filter(|(_, event)| last_written(event).is_some_and(|at| at < cutoff))
                    .map(|(key, _)| key.clone())
                    .collect()
            })
            .unwrap_or_default();
        for key in &expired {
            let removed = state
                .objects
                .get_mut(&StoreKind::Event)
                .and_then(|events| events.remove(key));
            if let Some(old) = removed {
                let object = old.clone();
                self.commit(
                    &mut state,
                    Resource::Event,
                    key.clone(),
                    ChangeType::Deleted,
                    object,
                    Some(old),
                );
            }
        }
        expired.len()
    }

    /// Stamps a new resourceVersion, applies the write, records and broadcasts it.
    fn commit(
        &self,
        state: &mut State,
        resource: Resource,
        key: String,
        change: ChangeType,
        mut object: Value,
        prev: Option<Value>,
    ) -> Value {
        state.rv += 1;
        let rv = state.rv;
        set_meta(
            &mut object,
            "resourceVersion",
            Value::String(rv.to_string()),
        );
        let kind = resource.store_kind();
        if kind == StoreKind::Event {
            let deleted = change == ChangeType::Deleted;
            state.ledger.record(rv, Timestamp::now(), &object, deleted);
        }
        if change != ChangeType::Deleted {
            state
                .objects
                .entry(kind)
                .or_default()
                .insert(key.clone(), object.clone());
        }
        let record = Arc::new(Change {
            rv,
            kind,
            key,
            change,
            object: object.clone(),
            prev,
        });
        state.history.push_back(Arc::clone(&record));
        while state.history.len() > state.history_limit {
            if let Some(oldest) = state.history.pop_front() {
                state.compacted = oldest.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.changes.send(record);
        object
    }

    /// A consistent list of one collection at `at`, sorted by key.
    pub(crate) fn snapshot(&self, resource: Resource, at: ReadAt) -> Result<Snapshot, ApiError> {
        let page = self.page(resource, at, "", usize::MAX, |_| true)?;
        Ok(Snapshot { items: page.items })
    }

    /// One page of a consistent list of one collection at `at`: of the objects from key `from`
    /// on that `keep` selects, the first `limit` (copied), and how many there are in all. Only
    /// the page is copied: a list of 100,000 objects in pages of 500 copied the whole
    /// collection for every page (`bench live --memory --events 100000` took minutes per list).
    pub(crate) fn page(
        &self,
        resource: Resource,
        at: ReadAt,
        from: &str,
        limit: usize,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Page, ApiError> {
        let state = self.lock();
        let kind = resource.store_kind();
        let none = BTreeMap::new();
        let current = state.objects.get(&kind).unwrap_or(&none);
        // What the objects changed after `rv` were at `rv` (`None`: they did not exist).
        let mut undone: BTreeMap<&str, Option<&Value>> = BTreeMap::new();
        let rv = match at {
            ReadAt::Latest => state.rv,
            ReadAt::Exact(rv) => {
                if rv < state.compacted {
                    return Err(ApiError::expired(
                        "The resourceVersion for the provided list is too old.",
                    ));
                }
                if rv > state.rv {
                    return Err(ApiError::too_large_resource_version(rv, state.rv));
                }
                // Undo, newest first, every change made after `rv`: the oldest one wins.
                for change in state.history.iter().rev().take_while(|c| c.rv > rv) {
                    if change.kind != kind {
                        continue;
                    }
                    match (change.change, &change.prev) {
                        (ChangeType::Added, _) => {
                            undone.insert(&change.key, None);
                        }
                        (_, Some(prev)) => {
                            undone.insert(&change.key, Some(prev));
                        }
                        (_, None) => {}
                    }
                }
                rv
            }
        };
        let mut page = Page {
            rv,
            items: Vec::new(),
            total: 0,
        };
        let mut visit = |key: &str, object: Option<&Value>| {
            if let Some(object) = object.filter(|o| keep(o)) {
                page.total += 1;
                if page.items.len() < limit {
                    page.items.push((key.to_string(), object.clone()));
                }
            }
        };
        let bounds = (Bound::Included(from), Bound::Unbounded);
        let mut now = current.range::<str, _>(bounds).peekable();
        let mut then = undone.range::<str, _>(bounds).peekable();
        // The two in key order; where both hold a key, the undone state is the one at `rv`.
        loop {
            match (now.peek(), then.peek()) {
                (None, None) => break,
                (Some((key, object)), None) => {
                    visit(key, Some(object));
                    now.next();
                }
                (None, Some((key, object))) => {
                    visit(key, **object);
                    then.next();
                }
                (Some((key_now, object_now)), Some((key_then, object_then))) => {
                    match key_now.as_str().cmp(key_then) {
                        std::cmp::Ordering::Less => {
                            visit(key_now, Some(object_now));
                            now.next();
                        }
                        std::cmp::Ordering::Greater => {
                            visit(key_then, **object_then);
                            then.next();
                        }
                        std::cmp::Ordering::Equal => {
                            visit(key_then, **object_then);
                            now.next();
                            then.next();
                        }
                    }
                }
            }
        }
        Ok(page)
    }

    /// Starts a watch: the initial state or the history to replay, and the live feed.
    pub(crate) fn watch(
        &self,
        resource: Resource,
        start: WatchStart,
    ) -> Result<WatchSetup, ApiError> {
        let state = self.lock();
        let kind = resource.store_kind();
        let live = self.changes.subscribe();
        let (initial, replay) = match start {
            WatchStart::Initial => (
                state
                    .objects
                    .get(&kind)
                    .map(|objects| objects.values().cloned().collect())
                    .unwrap_or_default(),
                Vec::new(),
            ),
            WatchStart::After(rv) => {
                if rv < state.compacted {
                    return Err(ApiError::expired(
                        "The resourceVersion for the provided watch is too old.",
                    ));
                }
                let replay = state
                    .history
                    .iter()
                    .filter(|c| c.rv > rv && c.kind == kind)
                    .cloned()
                    .collect();
                (Vec::new(), replay)
            }
        };
        Ok(WatchSetup {
            initial,
            replay,
            rv: state.rv,
            live,
        })
    }
}

/// When an Event was last written: the latest of its timestamps.
fn last_written(event: &Value) -> Option<Timestamp> {
    [
        "/deprecatedLastTimestamp",
        "/series/lastObservedTime",
        "/eventTime",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .filter_map(|pointer| event.pointer(pointer).and_then(Value::as_str))
    .filter_map(|text| text.parse::<Timestamp>().ok())
    .max()
}

/// The key of an object: `namespace/name` sorts like the real etcd keys.
pub(crate) fn object_key(resource: Resource, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) if resource.namespaced() => format!("{namespace}/{name}"),
        _ => name.to_string(),
    }
}

/// Checks the object's namespace against the resource scope; returns it.
fn validate_scope(resource: Resource, object: &mut Value) -> Result<Option<String>, ApiError> {
    let namespace = meta_str(object, "namespace");
    if !resource.namespaced() {
        remove_meta(object, "namespace");
        return Ok(None);
    }
    if namespace.is_empty() {
        let name = meta_str(object, "name");
        return Err(invalid_meta(
            resource,
            &name,
            "metadata.namespace",
            "Required value",
        ));
    }
    Ok(Some(namespace))
}

fn invalid_meta(resource: Resource, name: &str, field: &str, message: &str) -> ApiError {
    ApiError::invalid(
        resource.kind(),
        resource.group(),
        name,
        &[(field.to_string(), message.to_string())],
    )
}

/// A string field of `metadata`, or "".
pub(crate) fn meta_str(object: &Value, field: &str) -> String {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Sets a field of `metadata`, creating `metadata` if needed.
pub(crate) fn set_meta(object: &mut Value, field: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        let metadata = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert(field.to_string(), value);
        }
    }
}

pub(crate) fn remove_meta(object: &mut Value, field: &str) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove(field);
    }
}

/// The field manager of writes that name none (the handle's, and API requests without a
/// `fieldManager` or User-Agent).
pub(crate) const DEFAULT_MANAGER: &str = "kubetrail-sim";

/// Records in `managedFields` that `manager` wrote `object` now, as the real server does for an
/// `Update` (one entry per manager; fields sets are not kept). A write that changes nothing
/// outside `metadata` and `status` keeps the old entries as they were.
fn stamp_manager(object: &mut Value, old: Option<&Value>, resource: Resource, manager: &str) {
    let content = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("metadata");
            map.remove("status");
        }
        v
    };
    let previous = old
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    if old.is_some_and(|o| content(o) == content(object)) {
        set_meta(object, "managedFields", previous);
        return;
    }
    let mut entries: Vec<Value> = previous
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e.get("manager").and_then(Value::as_str) != Some(manager))
        .cloned()
        .collect();
    entries.push(serde_json::json!({
        "manager": manager,
        "operation": "Update",
        "apiVersion": resource.api_version(),
        "time": now_time(),
        "fieldsType": "FieldsV1",
        "fieldsV1": {},
    }));
    set_meta(object, "managedFields", Value::Array(entries));
}

fn now_time() -> Value {
    serde_json::to_value(Time(Timestamp::now())).unwrap_or(Value::Null)
}

/// The alphabet Kubernetes uses for generated names (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `n` random characters as `generateName` and pod-template-hash use.
pub(crate) fn random_suffix(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for byte in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == n {
                break;
            }
            out.push(NAME_ALPHABET[usize::from(*byte) % NAME_ALPHABET.len()] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "demo"}})
    }

    #[test]
    fn every_write_gets_the_next_resource_version() {
        let store = Store::new(100, 16);
        let a = store.create(Resource::Pod, pod("a")).expect("created");
        let b = store.create(Resource::Pod, pod("b")).expect("created");
        assert_eq!(meta_str(&a, "resourceVersion"), "2");
        assert_eq!(meta_str(&b, "resourceVersion"), "3");
        assert_eq!(store.resource_version(), 3);
        assert_eq!(
            uuid::Uuid::parse_str(&meta_str(&a, "uid")).map(|_| ()),
            Ok(())
        );
    }

    #[test]
    fn a_stale_update_conflicts_and_an_unchanged_one_writes_nothing() {
        let store = Store::new(100, 16);
        let created = store.create(Resource::Pod, pod("a")).expect("created");
        let mut changed = created.clone();
        changed["spec"] = json!({"nodeName": "n1"});
        let (updated, _) = store
            .update(Resource::Pod, changed.clone())
            .expect("updated");
        assert_eq!(meta_str(&updated, "resourceVersion"), "3");
        assert_eq!(updated["metadata"]["generation"], 2);
        let error = store.update(Resource::Pod, changed).expect_err("stale");
        assert_eq!((error.code, error.reason), (409, "Conflict"));
        let (same, _) = store.update(Resource::Pod, updated.clone()).expect("no-op");
        assert_eq!(same, updated);
        assert_eq!(store.resource_version(), 3);
    }

    #[test]
    fn a_page_of_a_past_list_is_that_slice_of_the_whole_list() {
        let store = Store::new(100, 16);
        for name in ["a", "b", "c", "d", "e"] {
            store.create(Resource::Pod, pod(name)).expect("created");
        }
        let at = store.resource_version();
        // After `at`: one deleted, one added, one added between two pages' keys.
        store
            .delete(Resource::Pod, Some("demo"), "b")
            .expect("deleted");
        store.create(Resource::Pod, pod("f")).expect("created");
        store.create(Resource::Pod, pod("bb")).expect("created");
        let whole = store
            .snapshot(Resource::Pod, ReadAt::Exact(at))
            .expect("kept");
        let names = |items: &[(String, Value)]| -> Vec<String> {
            items.iter().map(|(k, _)| k.clone()).collect()
        };
        assert_eq!(
            names(&whole.items),
            ["demo/a", "demo/b", "demo/c", "demo/d", "demo/e"]
        );
        let page = store
            .page(Resource::Pod, ReadAt::Exact(at), "demo/b", 2, |_| true)
            .expect("kept");
        assert_eq!(names(&page.items), ["demo/b", "demo/c"]);
        assert_eq!(page.items, whole.items[1..3], "the objects as they were");
        assert_eq!((page.rv, page.total), (at, 4));
        let latest = store
            .page(Resource::Pod, ReadAt::Latest, "demo/b", 10, |_| true)
            .expect("current");
        assert_eq!(
            names(&latest.items),
            ["demo/bb", "demo/c", "demo/d", "demo/e", "demo/f"]
        );
    }

    #[test]
    fn an_exact_read_sees_the_past_until_compaction() {
        let store = Store::new(100, 16);
        store.create(Resource::Pod, pod("a")).expect("created");
        store.create(Resource::Pod, pod("b")).expect("created");
        store
            .delete(Resource::Pod, Some("demo"), "a")
            .expect("deleted");
        let past = store
            .snapshot(Resource::Pod, ReadAt::Exact(3))
            .expect("kept");
        let names: Vec<&str> = past.items.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["demo/a", "demo/b"]);
        let now = store
            .snapshot(Resource::Pod, ReadAt::Latest)
            .expect("current");
        assert_eq!(now.items.len(), 1);
        store.compact();
        let error = store
            .snapshot(Resource::Pod, ReadAt::Exact(3))
            .err()
            .map(|e| e.code);
        assert_eq!(error, Some(410));
        assert!(store.watch(Resource::Pod, WatchStart::After(3)).is_err());
        assert!(store.watch(Resource::Pod, WatchStart::After(4)).is_ok());
    }

    #[test]
    fn the_history_limit_compacts_the_oldest_changes() {
        let store = Store::new(2, 16);
        for name in ["a", "b", "c"] {
            store.create(Resource::Pod, pod(name)).expect("created");
        }
        assert_eq!(store.compacted(), 2);
        assert!(store.watch(Resource::Pod, WatchStart::After(1)).is_err());
        let setup = store
            .watch(Resource::Pod, WatchStart::After(2))
            .expect("kept");
        assert_eq!(setup.replay.len(), 2);
    }

    #[test]
    fn events_expire_after_their_last_write() {
        let store = Store::new(100, 16);
        let event = |name: &str, last: Timestamp| {
            let last = serde_json::to_value(Time(last)).unwrap_or_default();
            json!({"metadata": {"name": name, "namespace": "demo"}, "deprecatedLastTimestamp": last})
        };
        let now = Timestamp::now();
        let hours = |h: i64| jiff::SignedDuration::from_hours(h);
        let before = now.checked_sub(hours(2)).expect("in range");
        let after = now.checked_add(hours(2)).expect("in range");
        // Created now (its creationTimestamp), last written two hours ago: its write is now.
        store
            .create(Resource::Event, event("old", before))
            .expect("created");
        store
            .create(Resource::Event, event("new", after))
            .expect("created");
        let cutoff = now.checked_add(hours(1)).expect("in range");
        assert_eq!(store.expire_events(cutoff), 1);
        let left = store
            .snapshot(Resource::Event, ReadAt::Latest)
            .expect("current");
        let keys: Vec<&str> = left.items.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["demo/new"]);
        let setup = store
            .watch(Resource::Event, WatchStart::After(3))
            .expect("kept");
        assert_eq!(setup.replay[0].change, ChangeType::Deleted);
    }

    #[test]
    fn generate_name_makes_a_fresh_name() {
        let store = Store::new(100, 16);
        let object = json!({"metadata": {"generateName": "web-", "namespace": "demo"}});
        let created = store.create(Resource::Pod, object).expect("created");
        let name = meta_str(&created, "name");
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    }

    #[test]
    fn events_are_created_by_an_update_of_a_missing_one() {
        let store = Store::new(100, 16);
        let event =
            json!({"metadata": {"name": "e", "namespace": "demo", "resourceVersion": "77"}});
        let (_, created) = store.update(Resource::Event, event).expect("created");
        assert!(created);
        let error = store
            .update(Resource::Pod, pod("missing"))
            .expect_err("not found");
        assert_eq!(error.code, 404);
    }
}
