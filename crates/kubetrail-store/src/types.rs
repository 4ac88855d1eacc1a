use std::collections::BTreeMap;

use jiff::SignedDuration;
use kubetrail_model::{Category, Event, Severity, Timestamp};
use serde::{Deserialize, Serialize};

/// What one write did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriteSummary {
    /// Events not stored before.
    pub new: u64,
    /// Stored events whose count grew: only the increase was added, as an occurrence.
    pub updated: u64,
    /// Stored events seen again with no new occurrence (a repeated import, a relist).
    pub unchanged: u64,
    /// Occurrences added in all.
    pub occurrences: u64,
    /// Events with the `(cluster, uid)` of a stored one but about another namespace or
    /// object: kept as stored, not taken as updates.
    pub conflicts: u64,
    /// Events the store refused, kept aside (see `StoreTxn::write_or_quarantine`).
    pub quarantined: u64,
    /// `occurrences` by the event's bounded dimensions: what `kubetrail_events_total` counts,
    /// so that a replayed event (a relist) adds nothing there either.
    #[serde(skip)]
    pub by_group: BTreeMap<OccurrenceGroup, u64>,
}

/// The bounded dimensions of an event that occurrences are counted by: no object name, message
/// or node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OccurrenceGroup {
    /// The cluster the event came from.
    pub cluster: String,
    /// The namespace of the object it is about (empty for cluster-scoped objects).
    pub namespace: String,
    /// The event's reason, e.g. `BackOff`.
    pub reason: String,
    /// `Normal` or `Warning` as the event says (other values kept as they came).
    pub type_: String,
    /// What classification decided.
    pub severity: Severity,
    /// What classification decided.
    pub category: Category,
}

impl OccurrenceGroup {
    /// The group `e` counts in.
    pub fn of(e: &Event) -> OccurrenceGroup {
        OccurrenceGroup {
            cluster: e.cluster.clone(),
            namespace: e.namespace.clone(),
            reason: e.reason.clone(),
            type_: e.type_.clone(),
            severity: e.severity,
            category: e.category,
        }
    }
}

impl WriteSummary {
    /// Counts `n` new occurrences of `e`.
    pub(crate) fn add_occurrences(&mut self, e: &Event, n: u64) {
        self.occurrences += n;
        if n > 0 {
            *self.by_group.entry(OccurrenceGroup::of(e)).or_insert(0) += n;
        }
    }
}

impl std::ops::AddAssign for WriteSummary {
    fn add_assign(&mut self, o: Self) {
        self.new += o.new;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.occurrences += o.occurrences;
        self.conflicts += o.conflicts;
        self.quarantined += o.quarantined;
        for (group, n) in o.by_group {
            *self.by_group.entry(group).or_insert(0) += n;
        }
    }
}

/// Where a stream (e.g. the Event watch of one cluster) stopped: saved with the batch it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchCursor {
    /// The cluster the stream watches.
    pub cluster: String,
    /// Which stream of the cluster, e.g. `events` or `events/<namespace>`.
    pub stream: String,
    /// The Kubernetes resourceVersion to resume the watch from.
    pub resource_version: String,
    /// When the cursor was saved.
    pub updated_at: Timestamp,
}

/// A period in which a stream may have missed events (e.g. its resourceVersion expired while
/// kubetrail was away, so events created and expired meanwhile were never seen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The cluster the stream watches.
    pub cluster: String,
    /// Which stream of the cluster, e.g. `events` or `events/<namespace>`.
    pub stream: String,
    /// The start of the period: when the stream last saw events for sure.
    pub from: Timestamp,
    /// The end of the period: when the stream was caught up again.
    pub to: Timestamp,
    /// Why events may be missing, for people, e.g. `resourceVersion expired (410 Gone)`.
    pub cause: String,
}

/// One page of a query: at most `limit` events, strictly older than the `after` position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// 0 means no limit.
    pub limit: usize,
    /// `(last_seen, id)` of the last event of the previous page.
    pub after: Option<(Timestamp, i64)>,
}

/// An event as stored, with its store id (for paging).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    /// The store's id, which orders events with the same `last_seen` for paging ([`Page::after`]).
    #[serde(skip)]
    pub id: i64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// What retention keeps. Ages count back from "now"; an occurrence's age from the later of its
/// time and when kubetrail stored it (so an imported dump is kept for the age after its import,
/// see `expiry.rs`), an event's from its latest occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// How long events and occurrences are kept, unless `max_age_by_severity` says otherwise.
    pub max_age: SignedDuration,
    /// Shorter or longer ages for some severities (e.g. info: 7d).
    pub max_age_by_severity: BTreeMap<Severity, SignedDuration>,
    /// The oldest events are deleted until the database is at most this big.
    pub max_bytes: Option<u64>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            max_age: SignedDuration::from_hours(30 * 24),
            max_age_by_severity: BTreeMap::new(),
            max_bytes: None,
        }
    }
}

/// What retention deleted or, in a dry run ([`Store::preview_retention`](crate::Store)), would
/// delete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Nothing was deleted: this is what would go.
    pub dry_run: bool,
    /// Events deleted (or that would be).
    pub events_deleted: u64,
    /// Occurrences (sums of counts) deleted (or that would be).
    pub occurrences_deleted: u64,
    /// Of `events_deleted`, the oldest events deleted to bring the store under its size limit
    /// (whatever their age). A dry run does not count them: see `bytes_before`.
    pub events_deleted_for_size: u64,
    /// Resolved alerts (with their finished deliveries) older than the longest age.
    pub alerts_deleted: u64,
    /// Silences that ended before the longest age.
    pub silences_deleted: u64,
    /// Gaps that ended before the longest age.
    pub gaps_deleted: u64,
    /// Changes made before the longest age.
    pub changes_deleted: u64,
    /// Last-known object states no change watch keeps up any more (see
    /// `ChangeStore`: of streams that saved no cursor since the longest age).
    pub change_states_deleted: u64,
    /// Bytes the store's data took before retention ran (what a size limit is measured against).
    pub bytes_before: u64,
    /// Bytes the store's data takes after retention; in a dry run, the same as `bytes_before`.
    pub bytes_after: u64,
    /// Events and occurrences deleted, per cluster.
    pub clusters: BTreeMap<String, ClusterRetention>,
}

impl RetentionReport {
    /// Adds what went of one cluster.
    pub(crate) fn add(&mut self, cluster: String, part: ClusterRetention) {
        self.events_deleted += part.events;
        self.occurrences_deleted += part.occurrences;
        self.clusters.entry(cluster).or_default().merge(&part);
    }
}

/// What retention deleted (or would delete) of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterRetention {
    /// Events deleted.
    pub events: u64,
    /// Occurrences (sums of counts), of the deleted events and of kept ones.
    pub occurrences: u64,
    /// The time range of the deleted occurrences.
    pub oldest: Option<Timestamp>,
    /// See `oldest`.
    pub newest: Option<Timestamp>,
}

impl ClusterRetention {
    fn merge(&mut self, o: &ClusterRetention) {
        self.events += o.events;
        self.occurrences += o.occurrences;
        self.oldest = [self.oldest, o.oldest].into_iter().flatten().min();
        self.newest = [self.newest, o.newest].into_iter().flatten().max();
    }
}

/// Sizes and counts of the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Events kept (each Event object once).
    pub events: u64,
    /// Occurrences kept (sums of counts).
    pub occurrences: u64,
    /// Size of the stored data in bytes: on SQLite the database file (free pages included), on
    /// PostgreSQL an estimate of the live rows and their index entries.
    pub bytes: u64,
    /// The time of the oldest occurrence kept; `None` when the store is empty.
    pub oldest: Option<Timestamp>,
    /// The time of the newest occurrence kept; `None` when the store is empty.
    pub newest: Option<Timestamp>,
    /// Events kept aside because the store refused them (see `Store::quarantined`).
    pub quarantined: u64,
    /// Copies of stored events refused as identity conflicts: the `(cluster, uid)` of a stored
    /// event about another namespace or object (see `WriteSummary::conflicts`), since the
    /// store was created. The stored events stayed as they were.
    pub conflicts: u64,
}
