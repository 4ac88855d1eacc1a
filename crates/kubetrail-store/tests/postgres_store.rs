//! What only the PostgreSQL backend has: daily partitions of occurrences (created ahead, rows of
//! other days adopted from the default partition, whole days dropped by retention), several
//! writers at once on the same Events, and errors when the server is away.

use std::sync::Arc;

use jiff::SignedDuration;
use kubetrail_model::{EventFilter, Timestamp};
use kubetrail_store::conformance::{
    assert_rollups_match_occurrences, event, fresh_postgres_store, minute, t0,
};
use kubetrail_store::{PostgresOptions, PostgresStore, RetentionPolicy, Store};

const DAY: i64 = 86_400_000_000;

fn days(d: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * d)
}

#[tokio::test]
async fn partitions_are_created_ahead_adopted_from_the_default_and_dropped_by_retention() {
    let (store, _guard) = fresh_postgres_store().await;
    let today = Timestamp::now().as_microsecond().div_euclid(DAY) * DAY;
    let ahead = store.partitions().await.expect("partitions");
    assert!(
        ahead.contains(&(today, today + DAY))
            && ahead.contains(&(today + 3 * DAY, today + 4 * DAY)),
        "{ahead:?}"
    );

    // Three days of 2024: no partitions yet, so they land in the default partition.
    let mut batch = Vec::new();
    for d in 0..3 {
        let mut e = event(
            &format!("e{d}"),
            t0() + days(d) + SignedDuration::from_hours(1),
            3,
        );
        e.first_seen = t0() + days(d);
        batch.push(e);
    }
    store.write_batch(batch, None).await.expect("write");
    let dyn_store: Arc<dyn Store> = store.clone();
    let before = dyn_store
        .aggregate(&Default::default())
        .await
        .expect("aggregate");

    store
        .maintain_partitions(Timestamp::now())
        .await
        .expect("maintenance");
    let adopted = store.partitions().await.expect("partitions");
    let start = t0().as_microsecond();
    for d in 0..3 {
        assert!(
            adopted.contains(&(start + d * DAY, start + (d + 1) * DAY)),
            "{adopted:?}"
        );
    }
    assert_eq!(
        dyn_store
            .aggregate(&Default::default())
            .await
            .expect("aggregate"),
        before
    );
    assert_eq!(dyn_store.stats().await.expect("stats").occurrences, 9);
    assert_rollups_match_occurrences(&dyn_store, &EventFilter::default()).await;

    // Keep 1.5 days back from the end of day 2: day 0 is dropped whole, day 1 partly expires.
    let now = t0() + days(3);
    let policy = RetentionPolicy {
        max_age: SignedDuration::from_hours(36),
        ..RetentionPolicy::default()
    };
    let report = dyn_store
        .apply_retention(&policy, now)
        .await
        .expect("retention");
    let left = store.partitions().await.expect("partitions");
    assert!(
        !left.contains(&(start, start + DAY)),
        "day 0 dropped: {left:?}"
    );
    assert!(left.contains(&(start + DAY, start + 2 * DAY)), "{left:?}");
    // e0: 3 at day 0 (dropped with its partition, event expired); e1: 1 at 00:00 (before the
    // cutoff of day 1, 12:00) deleted, 2 at 01:00 deleted too; e2 kept whole.
    assert_eq!(report.events_deleted, 2, "{report:?}");
    assert_eq!(report.occurrences_deleted, 6, "{report:?}");
    let stats = dyn_store.stats().await.expect("stats");
    assert_eq!((stats.events, stats.occurrences), (1, 3));
    assert_rollups_match_occurrences(&dyn_store, &EventFilter::default()).await;
}

#[tokio::test]
async fn concurrent_writers_of_the_same_events_count_each_increase_once() {
    let (store, _guard) = fresh_postgres_store().await;
    // Ten writers deliver the same growing copies of 50 Events, interleaved: as several
    // `run --source nats` instances do with redelivered messages.
    let copies = |count: u64| -> Vec<_> {
        (0..50)
            .map(|i| {
                event(
                    &format!("ev{i:02}"),
                    minute(i64::try_from(count).expect("small")),
                    count,
                )
            })
            .collect()
    };
    let mut writers = Vec::new();
    for w in 0..10u64 {
        let store = store.clone();
        let batches: Vec<_> = (1..=5).map(|c| copies(c + (w % 3))).collect();
        writers.push(tokio::spawn(async move {
            for batch in batches {
                loop {
                    match store.write_batch(batch.clone(), None).await {
                        Ok(_) => break,
                        // A deadlock victim is retried, as the pipeline does.
                        Err(e) if e.is_retriable() => continue,
                        Err(e) => panic!("write: {e}"),
                    }
                }
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let dyn_store: Arc<dyn Store> = store.clone();
    let stats = dyn_store.stats().await.expect("stats");
    // The highest count delivered is 5 + 2 = 7 for each of the 50 Events.
    assert_eq!((stats.events, stats.occurrences), (50, 350));
    assert_rollups_match_occurrences(&dyn_store, &EventFilter::default()).await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_retriable_error() {
    // A port nothing listens on (the discard port; connection refused).
    let options = PostgresOptions::new("postgres://kubetrail:secret@127.0.0.1:9/kubetrail");
    let err = PostgresStore::connect(&options)
        .await
        .expect_err("no server");
    assert!(err.is_retriable(), "{err:?}");
    assert!(!format!("{err:?}").contains("secret"));
}

/// Issue 11, item 2: an event the store refuses is quarantined, the rest of its batch written.
#[tokio::test]
async fn refused_events_are_quarantined_and_the_rest_of_the_batch_is_written() {
    let (store, guard) = fresh_postgres_store().await;
    let (client, conn) = tokio_postgres::connect(guard.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(&kubetrail_store::conformance::refuse_poison_on_postgres_sql(guard.schema()))
        .await
        .expect("add the refusing constraint");
    kubetrail_store::conformance::refused_events_are_quarantined_and_the_rest_of_the_batch_is_written(
        store,
    )
    .await;
}
