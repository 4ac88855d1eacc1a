//! A write returns what it committed ([`Written`]): the new and updated events with exactly the
//! occurrences each added, the same the store keeps (so alerting, which evaluates it, counts
//! what the store counts).

use std::sync::Arc;

use kubetrail_model::{Event, EventFilter, Timestamp};

use super::{event, minute, t0};
use crate::{Store, Written};

/// Writes a batch as stored at `t0()`; what it committed.
async fn written(store: &Arc<dyn Store>, events: Vec<Event>) -> Written {
    let mut txn = store.begin_at(t0()).await.expect("begin");
    let written = txn.write(events).await.expect("write");
    txn.commit().await.expect("commit");
    written
}

/// `(uid, new, [(at, count)])` of a written event.
type Shape<'a> = (&'a str, bool, Vec<(Timestamp, u64)>);

/// The [`Shape`] of each written event, in order.
fn shape(w: &Written) -> Vec<Shape<'_>> {
    w.events
        .iter()
        .map(|e| {
            (
                e.added.event.uid.as_str(),
                e.new,
                e.added
                    .occurrences
                    .iter()
                    .map(|o| (o.at, o.count))
                    .collect(),
            )
        })
        .collect()
}

/// Every occurrence the store keeps, `(uid, at, count)`, sorted.
async fn stored(store: &Arc<dyn Store>) -> Vec<(String, Timestamp, u64)> {
    let mut out: Vec<_> = store
        .occurrences(&EventFilter::default(), 0)
        .await
        .expect("occurrences")
        .into_iter()
        .flat_map(|e| {
            let uid = e.event.uid.clone();
            e.occurrences
                .into_iter()
                .map(move |o| (uid.clone(), o.at, o.count))
        })
        .collect();
    out.sort();
    out
}

pub async fn a_write_returns_its_new_events_with_the_occurrences_it_stored(store: Arc<dyn Store>) {
    let mut b = event("b", minute(20), 3);
    b.first_seen = minute(18);
    let w = written(&store, vec![event("a", minute(10), 1), b.clone()]).await;
    assert_eq!(
        shape(&w),
        [
            ("a", true, vec![(minute(10), 1)]),
            ("b", true, vec![(minute(18), 1), (minute(20), 2)]),
        ]
    );
    assert_eq!(w.events[1].added.event, b, "the event as written");
    assert_eq!((w.summary.new, w.summary.occurrences), (2, 4));
    assert_eq!(
        stored(&store).await,
        [
            ("a".to_string(), minute(10), 1),
            ("b".to_string(), minute(18), 1),
            ("b".to_string(), minute(20), 2),
        ],
        "what the write returned is what the store keeps"
    );
}

pub async fn a_repeat_with_a_higher_count_returns_only_its_increase(store: Arc<dyn Store>) {
    let mut e = event("a", minute(10), 3);
    written(&store, vec![e.clone()]).await;
    e.count = 5;
    e.last_seen = minute(30);
    let mut stale = e.clone();
    stale.count = 4;
    let w = written(&store, vec![e.clone(), stale]).await;
    assert_eq!(shape(&w), [("a", false, vec![(minute(30), 2)])]);
    assert_eq!(
        (
            w.summary.updated,
            w.summary.unchanged,
            w.summary.occurrences
        ),
        (1, 1, 2)
    );
    // A new event and a later copy of it in one batch: both listed, each with its own part.
    let mut later = event("b", minute(50), 4);
    let first = event("b", minute(40), 1);
    later.first_seen = first.first_seen;
    let w = written(&store, vec![first, later]).await;
    assert_eq!(
        shape(&w),
        [
            ("b", true, vec![(minute(40), 1)]),
            ("b", false, vec![(minute(50), 3)]),
        ]
    );
}

pub async fn a_replayed_batch_returns_nothing_written(store: Arc<dyn Store>) {
    let batch = vec![event("a", minute(10), 1), event("b", minute(20), 3)];
    written(&store, batch.clone()).await;
    let again = written(&store, batch).await;
    assert!(again.events.is_empty(), "{:?}", shape(&again));
    assert_eq!((again.summary.unchanged, again.summary.occurrences), (2, 0));
    assert!(again.summary.by_group.is_empty());
}

pub async fn an_identity_conflict_returns_nothing_written(store: Arc<dyn Store>) {
    written(&store, vec![event("a", minute(10), 1)]).await;
    let mut other = event("a", minute(20), 5);
    other.regarding.name = "web-2".into();
    let w = written(&store, vec![other]).await;
    assert!(w.events.is_empty(), "{:?}", shape(&w));
    assert_eq!((w.summary.conflicts, w.summary.occurrences), (1, 0));
    assert_eq!(stored(&store).await, [("a".to_string(), minute(10), 1)]);
}

/// The count-delta rule for an Event without an interval (see
/// [`kubetrail_model::new_occurrences`]): its whole count at `last_seen`, as returned and as
/// stored.
pub async fn an_event_without_an_interval_is_written_at_its_last_seen(store: Arc<dyn Store>) {
    let mut same = event("same", minute(10), 4);
    same.first_seen = same.last_seen;
    let mut inverted = event("inverted", minute(10), 3);
    inverted.first_seen = minute(12);
    let w = written(&store, vec![same, inverted]).await;
    assert_eq!(
        shape(&w),
        [
            ("same", true, vec![(minute(10), 4)]),
            ("inverted", true, vec![(minute(10), 3)]),
        ]
    );
    assert_eq!(
        stored(&store).await,
        [
            ("inverted".to_string(), minute(10), 3),
            ("same".to_string(), minute(10), 4),
        ]
    );
}
