//! Where processed events are kept: the [`Store`] trait and its embedded SQLite backend.
//!
//! `process → store → analyze`: the store receives batches of processed [`Event`]s, keeps each
//! Event object once per `(cluster, uid)` and every increase of its count as occurrences, keeps
//! hourly rollups of occurrence counts so that aggregations over days read few rows, answers
//! queries and aggregations, applies retention, and keeps watch cursors.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> kubetrail_store::Result<()> {
//! use kubetrail_store::{SqliteStore, Store};
//! # let dir = tempfile::tempdir().expect("a temporary directory");
//! # let path = dir.path().join("kubetrail.db");
//! // e.g. "./kubetrail-data/kubetrail.db"
//! let store = SqliteStore::open(&path)?;
//! let mut txn = store.begin().await?;
//! let summary = txn.write(Vec::new()).await?;
//! txn.commit().await?;
//! assert_eq!(summary.new, 0);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

#[doc(hidden)]
pub mod conformance;
mod error;
mod expiry;
mod identity;
mod plan;
mod postgres;
mod quarantine;
mod records;
mod retention_task;
mod rows;
mod sqlite;
mod types;
mod where_clause;

// The alert types live with the model (the pure evaluator needs them); re-exported for callers.
pub use error::{Error, Result};
pub use kubetrail_model::{
    AlertEvent, AlertFilter, AlertRecord, AlertStatus, Delivery, DeliveryState, DeliveryUpdate,
    MatchOp, NewDelivery, Silence, SilenceMatcher, StoredAlert,
};
pub use postgres::{PostgresOptions, PostgresStore, redact as redact_url};
pub use quarantine::{Isolated, Quarantined, Refused, Rejected};
pub use retention_task::{log_retention, spawn_retention};
pub use sqlite::SqliteStore;
pub use types::{
    ClusterRetention, Gap, OccurrenceGroup, Page, RetentionPolicy, RetentionReport, StoreStats,
    StoredEvent, WatchCursor, WriteSummary,
};

use async_trait::async_trait;
use kubetrail_model::{
    AggregateQuery, AggregateRow, Event, EventFilter, EventOccurrences, Timestamp,
};

/// The storage backend. Implemented by SQLite (embedded, default) and later PostgreSQL; every
/// backend passes the same conformance tests.
#[async_trait]
pub trait Store: Send + Sync {
    /// Starts a write transaction. Nothing written through it is visible or durable until
    /// [`StoreTxn::commit`]; dropping it rolls back.
    async fn begin(&self) -> Result<Box<dyn StoreTxn>>;

    /// Like [`Store::begin`], with what it writes recorded as stored at `stored_at` instead of
    /// now: retention counts an occurrence's age from the later of its own time and this.
    /// For tests that write "live" events of another time, and stores that keep no such time
    /// (the agent's forwards what it is given), which ignore it.
    async fn begin_at(&self, stored_at: Timestamp) -> Result<Box<dyn StoreTxn>> {
        let _ = stored_at;
        self.begin().await
    }

    /// Events matching `filter` whose `[first_seen, last_seen]` overlaps the time range, newest
    /// `last_seen` first, one page at a time.
    async fn query(&self, filter: &EventFilter, page: &Page) -> Result<Vec<StoredEvent>>;

    /// Occurrence counts inside the time range, grouped, sorted by count descending.
    async fn aggregate(&self, query: &AggregateQuery) -> Result<Vec<AggregateRow>>;

    /// Events matching `filter` that have at least one occurrence inside `[since, until)`, each
    /// with exactly those occurrences (oldest first): the input of analysis, which needs exact
    /// counts and times inside a window. Events whose latest occurrence in the range is newest
    /// come first; at most `limit` events (0 means no limit), so a caller bounds its memory and
    /// learns it was cut when it gets `limit` events back.
    async fn occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<EventOccurrences>>;

    /// Deletes what the policy says is too old or too much, as of `now`. An occurrence's age
    /// counts from the later of its time and when it was stored (see [`Store::begin_at`]).
    async fn apply_retention(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport>;

    /// What [`Store::apply_retention`] would delete by age as of `now`, per cluster, deleting
    /// nothing (a dry run). What the size limit would add is not counted: `bytes_before` tells
    /// how far above it the store is.
    async fn preview_retention(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport>;

    /// The last cursor saved for a stream (e.g. a cluster's event watch), if any.
    async fn cursor(&self, cluster: &str, stream: &str) -> Result<Option<WatchCursor>>;

    /// Gap markers overlapping `[since, until)`: when a stream may have missed events.
    async fn gaps(&self, since: Option<Timestamp>, until: Option<Timestamp>) -> Result<Vec<Gap>>;

    /// Sizes and counts, for `kubetrail status` and metrics.
    async fn stats(&self) -> Result<StoreStats>;

    /// Events kept aside because the store refused them (see [`StoreTxn::write_or_quarantine`]),
    /// newest first, at most `limit`. A store that refuses nothing (the default) has none.
    async fn quarantined(&self, limit: usize) -> Result<Vec<Quarantined>> {
        let _ = limit;
        Ok(Vec::new())
    }

    // The alert outbox and silences (see `kubetrail-alert`).

    /// Saves an alert and queues `deliveries` for it in one transaction, before any delivery
    /// is attempted, so that a crash loses nothing. An alert is named by (rule, group key,
    /// start): saving it again updates it; a firing alert saved while another of its rule and
    /// group is firing updates that one instead. Returns the alert's id.
    async fn save_alert(
        &self,
        alert: &AlertRecord,
        deliveries: &[NewDelivery],
        now: Timestamp,
    ) -> Result<i64>;

    /// Deliveries to attempt now: pending ones that are due, and those whose worker's lease
    /// (`next_attempt_at` while delivering) ran out; oldest first, at most `limit` per notifier
    /// (0: all), so that a notifier with a backlog never hides another's due deliveries.
    async fn due_deliveries(&self, now: Timestamp, limit: usize) -> Result<Vec<Delivery>>;

    /// Moves a delivery to its next state. Final states (delivered, failed, expired) never
    /// change again: a late update of a delivery that was already finished is ignored.
    async fn update_delivery(&self, update: &DeliveryUpdate) -> Result<()>;

    /// Alerts with their deliveries, newest start first.
    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<StoredAlert>>;

    /// Saves a new silence (`id` 0) or replaces a saved one (e.g. to end it early); returns
    /// its id, or [`Error::NotFound`] for an unknown id.
    async fn save_silence(&self, silence: &Silence, now: Timestamp) -> Result<i64>;

    /// Every silence (`None`), or those in force at a time; newest first.
    async fn silences(&self, active_at: Option<Timestamp>) -> Result<Vec<Silence>>;

    /// Writes one batch and, optionally, the cursor it advances, atomically.
    async fn write_batch(
        &self,
        events: Vec<Event>,
        cursor: Option<WatchCursor>,
    ) -> Result<WriteSummary> {
        let mut txn = self.begin().await?;
        let summary = txn.write(events).await?;
        if let Some(c) = cursor {
            txn.save_cursor(c).await?;
        }
        txn.commit().await?;
        Ok(summary)
    }
}

/// An open write transaction; see [`Store::begin`]. If any call fails, the whole transaction is
/// rolled back and later calls return [`Error::Aborted`] — except a data error refused by
/// [`try_write`](StoreTxn::try_write) (and so by `write_isolating` and `write_or_quarantine`),
/// which undoes only that call.
#[async_trait]
pub trait StoreTxn: Send {
    /// Inserts new events and, for events already stored under the same `(cluster, uid)`, adds
    /// only the count increase as a new occurrence. Never stores a duplicate.
    async fn write(&mut self, events: Vec<Event>) -> Result<WriteSummary>;
    /// Like [`write`](Self::write), but when the store refuses the batch's data (an
    /// [`Error::is_data_error`]) only this call's work is undone: the transaction stays usable
    /// and the events come back in [`Refused`]. Other errors abort the transaction as `write`
    /// does. The default suits a backend that refuses no data (it only writes).
    async fn try_write(
        &mut self,
        events: Vec<Event>,
    ) -> Result<std::result::Result<WriteSummary, Refused>> {
        self.write(events).await.map(Ok)
    }
    /// Keeps refused events aside in this transaction, with where they came from and when
    /// (see [`Quarantined`]). The default (a backend that refuses nothing) keeps no quarantine.
    async fn quarantine(
        &mut self,
        rejected: &[Rejected],
        source: &str,
        at: Timestamp,
    ) -> Result<()> {
        let _ = (source, at);
        match rejected.is_empty() {
            true => Ok(()),
            false => Err(Error::InvalidQuery(
                "this store keeps no quarantine".to_string(),
            )),
        }
    }
    /// Writes the batch but the events the store refuses, which it finds by bisection, each
    /// part under a savepoint (see [`Isolated`]). Nothing is kept of the refused events: the
    /// caller tells whoever sent them, or calls [`write_or_quarantine`](Self::write_or_quarantine).
    async fn write_isolating(&mut self, events: Vec<Event>) -> Result<Isolated> {
        quarantine::isolate(self, events).await
    }
    /// [`write_isolating`](Self::write_isolating), then the refused events are quarantined in
    /// the same transaction (`source` says where they came from: `watch`, `import <file>`,
    /// `nats <subject>`); `summary.quarantined` counts them.
    async fn write_or_quarantine(&mut self, events: Vec<Event>, source: &str) -> Result<Isolated> {
        let mut done = self.write_isolating(events).await?;
        if !done.rejected.is_empty() {
            self.quarantine(&done.rejected, source, Timestamp::now())
                .await?;
            done.summary.quarantined = done.rejected.len() as u64;
        }
        Ok(done)
    }
    /// Saves the cursor of a stream in the same transaction as the events it covers.
    async fn save_cursor(&mut self, cursor: WatchCursor) -> Result<()>;
    /// Records that a stream may have missed events (see [`Gap`]).
    async fn save_gap(&mut self, gap: Gap) -> Result<()>;
    /// Makes everything written through the transaction durable and visible at once.
    ///
    /// Dropping the transaction without calling it rolls it back.
    async fn commit(self: Box<Self>) -> Result<()>;
}
