//! The store as narrow roles: a caller asks for the role it needs ([`EventSink`] to write,
//! [`EventReader`] to read, [`Retention`], [`Outbox`], [`Silences`]), and a backend or sink
//! implements only what it is. [`Store`] is every role at once, which SQLite and PostgreSQL
//! are (a blanket implementation: nothing to write for it).

use async_trait::async_trait;
use kubetrail_model::{
    AggregateQuery, AggregateRow, AlertFilter, AlertRecord, AnalysisOccurrences, Delivery,
    DeliveryUpdate, Event, EventFilter, EventOccurrences, NewDelivery, Relink, Silence,
    StoredAlert, Timestamp,
};

use crate::quarantine;
use crate::{
    Error, Gap, Isolated, Page, Quarantined, Refused, Rejected, Result, RetentionPolicy,
    RetentionReport, StoreStats, StoredEvent, WatchCursor, Written,
};

/// Writing batches of events with the cursor of the stream they come from: what a pipeline,
/// an import, the HTTP ingest and the agent's NATS publisher need.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Starts a write transaction. Nothing written through it is visible or durable until
    /// [`StoreTxn::commit`]; dropping it rolls back.
    async fn begin(&self) -> Result<Box<dyn StoreTxn>>;

    /// Like [`EventSink::begin`], with what it writes recorded as stored at `stored_at` instead of
    /// now: retention counts an occurrence's age from the later of its own time and this.
    /// For tests that write "live" events of another time, and stores that keep no such time
    /// (the agent's forwards what it is given), which ignore it.
    async fn begin_at(&self, stored_at: Timestamp) -> Result<Box<dyn StoreTxn>> {
        let _ = stored_at;
        self.begin().await
    }

    /// Like [`EventSink::begin`], for a bulk import: it commits the same, but the store may
    /// build what no write reads at commit instead of row by row (SQLite does so in an empty
    /// store: its secondary and full-text indexes). The default is [`EventSink::begin`].
    ///
    /// It may not isolate refused events: where it writes without a savepoint per batch
    /// (SQLite, into an empty store), a batch the store refuses ends the transaction with
    /// [`Error::BulkRefused`](crate::Error::BulkRefused), rolled back whole, and the caller
    /// writes the same events again through [`EventSink::begin`].
    async fn begin_bulk(&self) -> Result<Box<dyn StoreTxn>> {
        self.begin().await
    }

    /// A bulk import's last file is committed: what the store held for bulk writes may go
    /// (SQLite: the writer's page cache, sized for the import's B-trees, back to the default
    /// size, its pages freed). The default does nothing.
    async fn end_bulk(&self) -> Result<()> {
        Ok(())
    }

    /// The last cursor saved for a stream (e.g. a cluster's event watch), if any.
    async fn cursor(&self, cluster: &str, stream: &str) -> Result<Option<WatchCursor>>;

    /// Writes one batch and, optionally, the cursor it advances, atomically; returns what it
    /// committed.
    async fn write_batch(
        &self,
        events: Vec<Event>,
        cursor: Option<WatchCursor>,
    ) -> Result<Written> {
        let mut txn = self.begin().await?;
        let written = txn.write(events).await?;
        if let Some(c) = cursor {
            txn.save_cursor(c).await?;
        }
        txn.commit().await?;
        Ok(written)
    }
}

/// Reading stored events back: queries, aggregations, occurrences for analysis, gaps and
/// sizes. What the CLI's and the API's reads and analyses need.
#[async_trait]
pub trait EventReader: Send + Sync {
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

    /// [`occurrences`](Self::occurrences) as analysis reads them (incidents and pattern
    /// parts: [`AnalysisOccurrences`], only the fields it reads, each string held once per
    /// read), and `None` when more than `limit` events match (0: no limit), where
    /// `occurrences` gives the latest of them: the incidents maintainer drops such a read,
    /// and a store can tell it without reading the events. What the maintainer holds: less
    /// to decode and to keep per event (issue 14 §1/§2/§3). The default reads them whole.
    async fn analysis_occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Option<Vec<AnalysisOccurrences>>> {
        let events = self.occurrences(filter, over_limit(limit)).await?;
        Ok(within_limit(events, limit).map(|e| AnalysisOccurrences::of_all(&e)))
    }

    /// [`analysis_occurrences`](Self::analysis_occurrences) of the latest `limit` events when
    /// more match, as [`occurrences`](Self::occurrences) cuts a read: what the incidents
    /// maintainer analyses of a minute holding more than its bound, with the fields analysis
    /// never reads left empty as in its other reads. The default reads them whole.
    async fn latest_analysis_occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<AnalysisOccurrences>> {
        let events = self.occurrences(filter, limit).await?;
        Ok(AnalysisOccurrences::of_all(&events))
    }

    /// [`occurrences`](Self::occurrences) handed to `each` in pages of at most `page` events
    /// (0: one page), in the same order, so that a caller holds one page at a time (alerting's
    /// start-up replay, up to 100,000 events; the pattern parts of an hour the incidents
    /// maintainer could not read whole: issue 14 §2), each event with the `fields` asked for.
    /// Returns how many events it handed over. The events are picked first, then each page is
    /// read on its own: an event written to between two pages may show occurrences added since
    /// the pick, and one deleted since is left out. The default reads them in one page.
    async fn occurrences_in_pages(
        &self,
        filter: &EventFilter,
        limit: usize,
        page: usize,
        fields: Fields,
        each: &mut (dyn FnMut(Vec<EventOccurrences>) + Send),
    ) -> Result<usize> {
        let _ = page;
        let _ = fields;
        let events = self.occurrences(filter, limit).await?;
        let n = events.len();
        each(events);
        Ok(n)
    }

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

    /// Its change records (issue 15), when it keeps them: both SQL backends do; a reader that
    /// keeps none answers `None`, and callers then see no changes.
    fn change_store(&self) -> Option<&dyn crate::ChangeStore> {
        None
    }

    /// Its incidents kept at ingest (issue 14 §1), when it keeps them; `None` (the default):
    /// callers analyse raw events instead.
    fn incident_store(&self) -> Option<&dyn crate::IncidentStore> {
        None
    }

    /// Its pattern parts kept at ingest (issue 14 §1), when it keeps them; `None` (the
    /// default): callers analyse raw events instead.
    fn pattern_store(&self) -> Option<&dyn crate::PatternStore> {
        None
    }
}

/// Deleting what is too old or too much (see [`RetentionPolicy`]).
#[async_trait]
pub trait Retention: Send + Sync {
    /// Deletes what the policy says is too old or too much, as of `now`. An occurrence's age
    /// counts from the later of its time and when it was stored (see [`EventSink::begin_at`]).
    async fn apply_retention(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport>;

    /// What [`Retention::apply_retention`] would delete by age as of `now`, per cluster, deleting
    /// nothing (a dry run). What the size limit would add is not counted: `bytes_before` tells
    /// how far above it the store is.
    async fn preview_retention(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport>;
}

/// The alert outbox: alerts saved with their deliveries, which the delivery worker attempts
/// (see `kubetrail-alert`).
#[async_trait]
pub trait Outbox: Send + Sync {
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
}

/// Silences: matchers that mute alerts for a time.
#[async_trait]
pub trait Silences: Send + Sync {
    /// Saves a new silence (`id` 0) or replaces a saved one (e.g. to end it early); returns
    /// its id, or [`Error::NotFound`] for an unknown id.
    async fn save_silence(&self, silence: &Silence, now: Timestamp) -> Result<i64>;

    /// Every silence (`None`), or those in force at a time; newest first.
    async fn silences(&self, active_at: Option<Timestamp>) -> Result<Vec<Silence>>;
}

/// Every role: the whole store, as SQLite and PostgreSQL implement it; every backend passes
/// the same conformance suite. A caller that needs one role takes that role instead.
pub trait Store: EventSink + EventReader + Retention + AlertRecords {}

impl<T: EventSink + EventReader + Retention + AlertRecords + ?Sized> Store for T {}

/// The outbox and the silences together: what recording an alert needs (is it silenced? save
/// it with its deliveries).
pub trait AlertRecords: Outbox + Silences {}

impl<T: Outbox + Silences + ?Sized> AlertRecords for T {}

/// An open write transaction; see [`EventSink::begin`]. If any call fails, the whole transaction is
/// rolled back and later calls return [`Error::Aborted`] — except a data error refused by
/// [`try_write`](StoreTxn::try_write) (and so by `write_isolating` and `write_or_quarantine`),
/// which undoes only that call (a bulk transaction may end instead: [`EventSink::begin_bulk`]).
#[async_trait]
pub trait StoreTxn: Send {
    /// Inserts new events and, for events already stored under the same `(cluster, uid)`, adds
    /// only the count increase as a new occurrence (the one rule,
    /// [`kubetrail_model::new_occurrences`]). Never stores a duplicate. Returns what it wrote:
    /// the counts, and each event that added occurrences with exactly those ([`Written`]),
    /// which is what the transaction commits.
    async fn write(&mut self, events: Vec<Event>) -> Result<Written>;
    /// Like [`write`](Self::write), but when the store refuses the batch's data (an
    /// [`Error::is_data_error`]) only this call's work is undone: the transaction stays usable
    /// and the events come back in [`Refused`]. Other errors abort the transaction as `write`
    /// does. The default suits a backend that refuses no data (it only writes).
    async fn try_write(
        &mut self,
        events: Vec<Event>,
    ) -> Result<std::result::Result<Written, Refused>> {
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
    /// `nats <subject>`); `written.summary.quarantined` counts them.
    async fn write_or_quarantine(&mut self, events: Vec<Event>, source: &str) -> Result<Isolated> {
        let mut done = self.write_isolating(events).await?;
        if !done.rejected.is_empty() {
            self.quarantine(&done.rejected, source, Timestamp::now())
                .await?;
            done.written.summary.quarantined = done.rejected.len() as u64;
        }
        Ok(done)
    }
    /// Gives the stored events of each relinked object (and those under the ID it absorbs) the
    /// owner and correlation ID processing learned after they were written, their rollup counts
    /// moving along, in order; returns how many events changed (see [`Relink`]). The default is
    /// for a sink that keeps no events to update (the agent's, which forwards them as they are).
    async fn relink(&mut self, relinks: Vec<Relink>) -> Result<u64> {
        let _ = relinks;
        Ok(0)
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

/// Which fields of its events a read fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    /// Every field, as [`EventReader::occurrences`] reads them.
    Whole,
    /// Those analysis reads, as [`EventReader::analysis_occurrences`] reads them.
    Analysis,
}

/// The limit of a read that must tell a read over `limit` (0: no limit) from one at it: one
/// more. See [`EventReader::analysis_occurrences`].
pub(crate) fn over_limit(limit: usize) -> usize {
    if limit == 0 {
        0
    } else {
        limit.saturating_add(1)
    }
}

/// What [`EventReader::analysis_occurrences`] gives for `events` read with
/// [`over_limit`]`(limit)`: `None` when they are more than `limit`.
pub(crate) fn within_limit<T>(events: Vec<T>, limit: usize) -> Option<Vec<T>> {
    (limit == 0 || events.len() <= limit).then_some(events)
}

/// The pages of at most `page` ids (0: one page) that
/// [`EventReader::occurrences_in_pages`] reads one at a time.
pub(crate) fn pages(ids: &[i64], page: usize) -> std::slice::Chunks<'_, i64> {
    ids.chunks(if page == 0 { ids.len().max(1) } else { page })
}
