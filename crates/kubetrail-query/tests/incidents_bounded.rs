//! Issue 14 §1: one maintenance pass reads a bounded amount, whatever the store holds. The
//! first pass over a migrated 1M store grew its cores to whole chains of failures 30 days long
//! and read most of the store at once (616 s, 1.76 GiB); no read now holds more than its bound
//! (`MAX_READ`, smaller here), so a store twice as long is read in more reads, none larger.

use kubetrail_analyze::IncidentConfig;
use kubetrail_analyze::Window;
use kubetrail_model::{
    AggregateQuery, AggregateRow, AnalysisOccurrences, EventFilter, EventOccurrences, Timestamp,
};
use kubetrail_query::{Maintained, PassReads, kept_incidents, maintain_incidents_reading};
use std::sync::atomic::{AtomicUsize, Ordering};

use kubetrail_store::conformance::{event, minute};
use kubetrail_store::{
    EventReader, EventSink, Fields, Gap, IncidentStore, Page, PatternStore, Result, SqliteStore,
    Store, StoreStats, StoredEvent,
};

/// A crash loop failing every 10 minutes for `days`: one chain of failures never quiet for
/// long enough to split (the worst case: one incident as long as the store).
async fn crash_loop(store: &dyn Store, days: i64) -> usize {
    let events: Vec<_> = (0..days * 24 * 6)
        .map(|n| event(&format!("e{n}"), minute(n * 10), 1))
        .collect();
    let n = events.len();
    for batch in events.chunks(500) {
        store
            .write_batch(batch.to_vec(), None)
            .await
            .expect("write");
    }
    n
}

/// The bound on one read in these tests: a few hours of the crash loop.
const BOUND: usize = 100;

/// Reads of at most `bound` events, nothing read ahead.
fn lean(bound: usize) -> PassReads {
    PassReads {
        max_read: bound,
        ahead: false,
    }
}

/// Reads of at most `bound` events, the next slice read ahead.
fn ahead(bound: usize) -> PassReads {
    PassReads {
        max_read: bound,
        ahead: true,
    }
}

/// What one pass over a fresh store holding a crash loop of `days` did, and how many events
/// the loop wrote.
async fn pass(days: i64, reads: PassReads) -> (Maintained, usize) {
    let bound = reads.max_read;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("a store");
    let written = crash_loop(&store, days).await;
    let done = maintained(&store, reads).await;
    // A cut keeps what was stored before it: every failure of the loop is in a kept incident.
    let kept = kept_incidents(
        &store,
        &[],
        all_time(),
        all_time().until,
        &IncidentConfig::default(),
    )
    .await
    .expect("kept incidents")
    .expect("SQLite keeps incidents");
    let counted: u64 = kept.iter().map(|i| i.event_count).sum();
    assert!(
        counted >= written as u64,
        "{days} days, bound {bound}: {} incidents hold {counted} of the {written} failures",
        kept.len()
    );
    (done, written)
}

fn all_time() -> Window {
    Window::new(minute(-100_000), minute(100_000)).expect("a window")
}

/// One pass reading as `reads` says.
async fn maintained(store: &SqliteStore, reads: PassReads) -> Maintained {
    let done = maintain_incidents_reading(store, &IncidentConfig::default(), reads)
        .await
        .expect("maintain")
        .expect("SQLite keeps incidents");
    assert!(done.stored > 0, "the crash loop is an incident");
    assert!(
        store.dirty_ranges().await.expect("dirty ranges").is_empty(),
        "the pass clears what it maintained"
    );
    done
}

#[tokio::test]
async fn a_maintenance_pass_reads_no_more_at_once_for_a_longer_store() {
    let (short, short_written) = pass(3, lean(BOUND)).await;
    let (long, long_written) = pass(6, ahead(BOUND)).await;
    let (short, long) = (short.max_read, long.max_read);
    assert_eq!(long_written, 2 * short_written);
    // A read that finds more than the bound stops at the bound plus one.
    assert!(
        short <= BOUND + 1 && long <= BOUND + 1,
        "largest reads {short} and {long} of {short_written} and {long_written}, bound {BOUND}"
    );
}

/// Issue 14 §1: the first pass over a 1M store had not finished after an hour. Its walk grew a
/// core to the right a horizon (75 minutes) at a time while an incident crossed its end, and
/// re-read the whole core at each step; where the bound stopped it, the incident's stored
/// part before the cut was deleted (the loop of 3 days here came out as one incident holding
/// 94 or 212 of its 432 failures). Now an incident open at a core's end is carried into the
/// next core, a cut keeps what was stored before it (`pass` checks every failure is in a kept
/// incident), and each event is read a few times at most, however long the store. The bound
/// here holds six slices of the loop, as 50,000 events hold about six slices of the 1M store
/// (33,000 events a day).
#[tokio::test]
async fn a_maintenance_pass_reads_each_event_a_few_times_however_long_the_store() {
    for (days, reads) in [(3, lean(6 * 36)), (6, lean(6 * 36)), (6, ahead(6 * 36))] {
        let (done, written) = pass(days, reads).await;
        assert!(
            done.events_read <= 8 * written,
            "{days} days: {} events read for {written} written",
            done.events_read
        );
    }
}

/// Issue 14 §1: an incident open across slices was read again with each slice (its core
/// begins at the incident's start), about five reads per event on the 1M store, where its
/// crash loops never go quiet: the pass took longer than the import. The walk now keeps the
/// events of its last read and reads only what lies beyond them, so each event is read about
/// once, however long the loop (here the 3- and 6-day loops, with the bound of the test
/// above).
#[tokio::test]
async fn a_maintenance_pass_reads_each_event_about_once() {
    for (days, reads) in [(3, lean(6 * 36)), (6, lean(6 * 36)), (6, ahead(6 * 36))] {
        let (done, written) = pass(days, reads).await;
        assert!(
            done.events_read <= written + written / 4,
            "{days} days: {} events read for {written} written",
            done.events_read
        );
    }
}

/// The store as the maintainer should read it: the fields analysis never reads left out of
/// every read (`analysis_occurrences`), never whole events (`occurrences`); with the most
/// events one read (or one page of a read) gave.
struct LeanReads<'a> {
    store: &'a SqliteStore,
    largest: AtomicUsize,
}

impl LeanReads<'_> {
    fn read(&self, n: usize) {
        self.largest.fetch_max(n, Ordering::Relaxed);
    }
}

#[async_trait::async_trait]
impl EventReader for LeanReads<'_> {
    async fn query(&self, filter: &EventFilter, page: &Page) -> Result<Vec<StoredEvent>> {
        self.store.query(filter, page).await
    }
    async fn aggregate(&self, query: &AggregateQuery) -> Result<Vec<AggregateRow>> {
        self.store.aggregate(query).await
    }
    async fn occurrences(&self, filter: &EventFilter, _: usize) -> Result<Vec<EventOccurrences>> {
        panic!("whole events read for analysis: {filter:?}");
    }
    async fn analysis_occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Option<Vec<AnalysisOccurrences>>> {
        let read = self.store.analysis_occurrences(filter, limit).await?;
        self.read(read.as_ref().map_or(0, Vec::len));
        Ok(read)
    }
    async fn latest_analysis_occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<AnalysisOccurrences>> {
        let read = self
            .store
            .latest_analysis_occurrences(filter, limit)
            .await?;
        self.read(read.len());
        Ok(read)
    }
    async fn occurrences_in_pages(
        &self,
        filter: &EventFilter,
        limit: usize,
        page: usize,
        fields: Fields,
        each: &mut (dyn FnMut(Vec<EventOccurrences>) + Send),
    ) -> Result<usize> {
        assert_eq!(fields, Fields::Analysis, "whole events read for analysis");
        self.store
            .occurrences_in_pages(filter, limit, page, fields, &mut |p| {
                self.read(p.len());
                each(p);
            })
            .await
    }
    async fn gaps(&self, since: Option<Timestamp>, until: Option<Timestamp>) -> Result<Vec<Gap>> {
        self.store.gaps(since, until).await
    }
    async fn stats(&self) -> Result<StoreStats> {
        self.store.stats().await
    }
    fn incident_store(&self) -> Option<&dyn IncidentStore> {
        self.store.incident_store()
    }
    fn pattern_store(&self) -> Option<&dyn PatternStore> {
        self.store.pattern_store()
    }
}

/// Issue 14 §2: a minute holding more events than the bound (a burst, as `bench live` makes
/// at 100,000 Events) was read with every field of its events (`occurrences`), where every
/// other read of the maintainer leaves out what analysis never reads: the largest read of
/// `run`'s pass was also its widest per event. It reads the latest of them as lean. And the
/// pattern parts of the burst's hour, which no read of the walk held whole, were read in one
/// read of every event of the hour: they are read in pages, and no read holds more than the
/// bound.
#[tokio::test]
async fn a_minute_over_the_bound_is_read_as_lean_as_any_other_read_and_no_larger() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("a store");
    let burst: Vec<_> = (0..3 * BOUND)
        .map(|n| event(&format!("b{n}"), minute(0), 1))
        .collect();
    store.write_batch(burst, None).await.expect("write");
    let lean = LeanReads {
        store: &store,
        largest: AtomicUsize::new(0),
    };
    let done = maintain_incidents_reading(&lean, &IncidentConfig::default(), ahead(BOUND))
        .await
        .expect("maintain")
        .expect("SQLite keeps incidents");
    assert!(done.stored > 0, "the burst is an incident");
    assert_eq!(
        done.max_read,
        BOUND + 1,
        "the latest of the minute, cut at the bound"
    );
    assert!(done.pattern_hours > 0, "the burst's hour has its parts");
    let largest = lean.largest.load(Ordering::Relaxed);
    assert!(
        largest <= BOUND + 1,
        "a read of {largest} events, bound {BOUND}"
    );
}

/// A bound below the read ahead's share (a quarter of it, rounded down to 0) read the next
/// slice ahead with no bound at all (0 is "no limit" to the store): no read of a pass holds
/// more than its bound, reading ahead or not.
#[tokio::test]
async fn a_pass_reading_ahead_under_a_tiny_bound_reads_no_more_than_the_bound() {
    const TINY: usize = 3;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("a store");
    let written = crash_loop(&store, 2).await;
    assert!(written > 10 * TINY, "the loop is over the bound many times");
    let lean = LeanReads {
        store: &store,
        largest: AtomicUsize::new(0),
    };
    maintain_incidents_reading(&lean, &IncidentConfig::default(), ahead(TINY))
        .await
        .expect("maintain")
        .expect("SQLite keeps incidents");
    let largest = lean.largest.load(Ordering::Relaxed);
    assert!(
        largest <= TINY + 1,
        "a read of {largest} events, bound {TINY}"
    );
}
