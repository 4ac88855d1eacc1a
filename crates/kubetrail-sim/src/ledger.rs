//! The full history of Events: every Event ever created, each change of its count, and its
//! deletion (by a client or by the TTL), kept for the whole life of the simulator, unlike the
//! watch history, which compaction trims. Fault tests compare a store with it: what was lost
//! (and when it happened, to tell whether a recorded gap covers it), and what was counted
//! twice.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

/// One write that gave an Event a new count (its creation included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountChange {
    /// The resourceVersion of the write.
    pub resource_version: u64,
    /// When the write was made (the simulator's clock).
    pub at: Timestamp,
    /// The Event's count after the write, as a watcher reads it: the larger of
    /// `series.count` and `deprecatedCount`, at least 1.
    pub count: u64,
}

/// Everything that happened to one Event (one uid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// The Event's `metadata.uid`.
    pub uid: String,
    /// The Event's namespace.
    pub namespace: String,
    /// The Event's `metadata.name`.
    pub name: String,
    /// Its creation, then every write that changed its count, oldest first.
    pub counts: Vec<CountChange>,
    /// The resourceVersion and time of its deletion, if it was deleted (or expired).
    pub deleted: Option<(u64, Timestamp)>,
}

impl EventRecord {
    /// The count it had last (when deleted, the count it was deleted with).
    pub fn final_count(&self) -> u64 {
        self.counts.last().map_or(1, |c| c.count)
    }

    /// The first change that took its count above `count`: the first occurrence a store
    /// holding `count` lacks.
    pub fn first_change_above(&self, count: u64) -> Option<&CountChange> {
        self.counts.iter().find(|c| c.count > count)
    }
}

/// The records of every Event, by uid.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    records: BTreeMap<String, EventRecord>,
}

impl Ledger {
    /// Records a committed write of an Event (`object` in the stored `events.k8s.io/v1`
    /// shape); `deleted` when the write removed it.
    pub(crate) fn record(&mut self, rv: u64, at: Timestamp, object: &Value, deleted: bool) {
        let meta = |field: &str| {
            object
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let uid = meta("uid");
        let record = self
            .records
            .entry(uid.clone())
            .or_insert_with(|| EventRecord {
                uid,
                namespace: meta("namespace"),
                name: meta("name"),
                counts: Vec::new(),
                deleted: None,
            });
        if deleted {
            record.deleted = Some((rv, at));
            return;
        }
        let count = count_of(object);
        if record.counts.last().is_none_or(|last| last.count != count) {
            record.counts.push(CountChange {
                resource_version: rv,
                at,
                count,
            });
        }
    }

    /// Every record, by uid.
    pub(crate) fn records(&self) -> Vec<EventRecord> {
        self.records.values().cloned().collect()
    }
}

/// The count a watcher reads from a stored Event (as kubetrail-process normalizes it).
fn count_of(object: &Value) -> u64 {
    ["/series/count", "/deprecatedCount"]
        .iter()
        .filter_map(|pointer| object.pointer(pointer).and_then(Value::as_u64))
        .max()
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(uid: &str, count: Option<u64>) -> Value {
        let mut e = json!({"metadata": {"uid": uid, "namespace": "demo", "name": "e"}});
        if let Some(count) = count {
            e["series"] = json!({"count": count});
        }
        e
    }

    #[test]
    fn a_record_keeps_count_changes_and_the_deletion() {
        let mut ledger = Ledger::default();
        let t = Timestamp::UNIX_EPOCH;
        ledger.record(2, t, &event("a", None), false);
        ledger.record(3, t, &event("a", Some(2)), false);
        // A write that does not change the count is no new occurrence.
        ledger.record(4, t, &event("a", Some(2)), false);
        ledger.record(5, t, &event("a", Some(4)), false);
        ledger.record(6, t, &event("a", Some(4)), true);
        let records = ledger.records();
        let a = &records[0];
        let rvs: Vec<u64> = a.counts.iter().map(|c| c.resource_version).collect();
        assert_eq!(rvs, [2, 3, 5]);
        assert_eq!(a.final_count(), 4);
        assert_eq!(a.deleted.map(|(rv, _)| rv), Some(6));
        assert_eq!(a.first_change_above(2).map(|c| c.resource_version), Some(5));
        assert_eq!(a.first_change_above(4), None);
    }
}
