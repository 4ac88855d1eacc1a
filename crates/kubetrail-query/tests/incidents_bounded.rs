//! Issue 14 §1: one maintenance pass reads a bounded amount, whatever the store holds. The
//! first pass over a migrated 1M store grew its cores to whole chains of failures 30 days long
//! and read most of the store at once (616 s, 1.76 GiB); no read now holds more than its bound
//! (`MAX_READ`, smaller here), so a store twice as long is read in more reads, none larger.

use kubetrail_analyze::IncidentConfig;
use kubetrail_query::maintain_incidents_reading;
use kubetrail_store::conformance::{event, minute};
use kubetrail_store::{IncidentStore, SqliteStore, Store};

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

/// The largest read of one pass over a fresh store holding a crash loop of `days`.
async fn largest_read(days: i64) -> (usize, usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("a store");
    let written = crash_loop(&store, days).await;
    let done = maintain_incidents_reading(&store, &IncidentConfig::default(), BOUND)
        .await
        .expect("maintain")
        .expect("SQLite keeps incidents");
    assert!(done.stored > 0, "the crash loop is an incident");
    assert!(
        store.dirty_ranges().await.expect("dirty ranges").is_empty(),
        "the pass clears what it maintained"
    );
    (done.max_read, written)
}

#[tokio::test]
async fn a_maintenance_pass_reads_no_more_at_once_for_a_longer_store() {
    let (short, short_written) = largest_read(3).await;
    let (long, long_written) = largest_read(6).await;
    assert_eq!(long_written, 2 * short_written);
    // A read that finds more than the bound stops at the bound plus one.
    assert!(
        short <= BOUND + 1 && long <= BOUND + 1,
        "largest reads {short} and {long} of {short_written} and {long_written}, bound {BOUND}"
    );
}
