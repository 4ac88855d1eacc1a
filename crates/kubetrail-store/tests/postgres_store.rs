//! What only the PostgreSQL backend has: daily partitions of occurrences (created ahead, rows of
//! other days adopted from the default partition, whole days dropped by retention), several
//! writers at once on the same Events, and errors when the server is away.

use std::sync::Arc;

use jiff::SignedDuration;
use kubetrail_model::{EventFilter, Timestamp};
use kubetrail_store::conformance::{
    assert_rollups_match_occurrences, event, fresh_postgres_schema, fresh_postgres_store, minute,
    t0, write_stored_at,
};
use kubetrail_store::{
    EventSink, IncidentStore, PostgresOptions, PostgresStore, RetentionPolicy, Store,
};

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
    let dyn_store: Arc<dyn Store> = store.clone();
    // Live events: stored as they happened, so they age from their own times.
    write_stored_at(&dyn_store, batch, t0()).await;
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

/// Opens `n` stores on the same schema at once; every open must succeed.
async fn open_together(options: &PostgresOptions, n: usize) -> Vec<PostgresStore> {
    let opens: Vec<_> = (0..n)
        .map(|_| {
            let options = options.clone();
            tokio::spawn(async move { PostgresStore::connect(&options).await })
        })
        .collect();
    let mut stores = Vec::new();
    for (i, open) in opens.into_iter().enumerate() {
        match open.await.expect("open task") {
            Ok(store) => stores.push(store),
            Err(e) => panic!("instance {i} of {n} failed to open: {e:?}"),
        }
    }
    stores
}

/// Regression (issue 11, item 4): three instances started together on a fresh database, two
/// exited with `"occurrences_YYYYMMDD" is already a partition`. Migrations and partition
/// creation must be safe for any number of instances at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_instances_opening_a_fresh_schema_at_once_all_succeed() {
    for round in 0..4 {
        let (options, _guard) = fresh_postgres_schema().await;
        for store in open_together(&options, 6).await {
            let store: Arc<dyn Store> = Arc::new(store);
            let stats = store.stats().await.expect("stats on the migrated schema");
            assert_eq!(stats.events, 0, "round {round}");
        }
    }
}

/// Regression (issue 11, item 4): the daily maintenance (partitions ahead, rows adopted from
/// the default partition) and retention's partition drops, run by several instances at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partition_maintenance_and_retention_from_many_instances_at_once_all_succeed() {
    let (options, _guard) = fresh_postgres_schema().await;
    let stores: Vec<Arc<PostgresStore>> = open_together(&options, 6)
        .await
        .into_iter()
        .map(Arc::new)
        .collect();
    // Eight days of 2024, all in the default partition until maintenance adopts them.
    let batch: Vec<_> = (0..8)
        .map(|d| event(&format!("e{d}"), t0() + days(d), 1))
        .collect();
    let first: Arc<dyn Store> = stores[0].clone();
    write_stored_at(&first, batch, t0()).await;
    let later = Timestamp::now() + days(10);
    let passes: Vec<_> = stores
        .iter()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { s.maintain_partitions(later).await })
        })
        .collect();
    for (i, pass) in passes.into_iter().enumerate() {
        if let Err(e) = pass.await.expect("maintenance task") {
            panic!("maintenance by instance {i} failed: {e:?}");
        }
    }
    let parts = stores[0].partitions().await.expect("partitions");
    let day0 = t0().as_microsecond();
    for d in 0..8 {
        assert!(
            parts.contains(&(day0 + d * DAY, day0 + (d + 1) * DAY)),
            "{parts:?}"
        );
    }
    // Retention at once from every instance: each old day is dropped once, by one of them.
    let policy = RetentionPolicy {
        max_age: days(1),
        ..RetentionPolicy::default()
    };
    let now = t0() + days(20);
    let runs: Vec<_> = stores
        .iter()
        .map(|s| {
            let s: Arc<dyn Store> = s.clone();
            let policy = policy.clone();
            tokio::spawn(async move { s.apply_retention(&policy, now).await })
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        if let Err(e) = run.await.expect("retention task") {
            panic!("retention by instance {i} failed: {e:?}");
        }
    }
    let stats = first.stats().await.expect("stats");
    assert_eq!((stats.events, stats.occurrences), (0, 0));
}

/// An older instance still running during a rolling upgrade writes occurrences without
/// `stored_at` (migration 3): they are taken as stored at the time of their transaction.
#[tokio::test]
async fn a_write_without_stored_at_counts_as_stored_at_its_time() {
    let (_store, guard) = fresh_postgres_store().await;
    let (client, conn) = tokio_postgres::connect(guard.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("SET search_path = {}", guard.schema()))
        .await
        .expect("schema");
    let before = Timestamp::now().as_microsecond();
    client
        .batch_execute("INSERT INTO occurrences (event_id, ts, count) VALUES (1, 0, 1)")
        .await
        .expect("an old instance's insert");
    let stored: i64 = client
        .query_one("SELECT stored_at FROM occurrences", &[])
        .await
        .expect("stored_at")
        .get(0);
    let after = Timestamp::now().as_microsecond();
    assert!(
        (before..=after).contains(&stored),
        "{before} <= {stored} <= {after}"
    );
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

/// Issue 14 §1: incidents kept with their bodies in their rows (schema 10) have them moved to
/// `incident_bodies` by migration 11, and are read whole as before (and migration 12 applies
/// after it).
#[tokio::test]
async fn incidents_kept_with_their_bodies_in_their_rows_are_read_whole_after_the_migration() {
    let (options, guard) = fresh_postgres_schema().await;
    drop(
        PostgresStore::connect(&options)
            .await
            .expect("a fresh store"),
    );
    let (client, conn) = tokio_postgres::connect(guard.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("SET search_path = {}", guard.schema()))
        .await
        .expect("schema");
    client
        .batch_execute(
            "DROP TABLE incident_bodies;
             ALTER TABLE incidents ADD COLUMN body TEXT NOT NULL DEFAULT '';
             DROP INDEX pattern_parts_bucket;
             CREATE INDEX pattern_parts_bucket ON pattern_parts (span, bucket, cluster,
                 namespace, kind, reason, template, count, first_at, last_at);
             CREATE INDEX pattern_parts_key ON pattern_parts (span, cluster, namespace, kind,
                 reason, template, bucket);
             DELETE FROM kubetrail_schema WHERE version >= 11;",
        )
        .await
        .expect("back to schema 10 (migrations 11 and 12 undone)");
    let body = "{\"id\":\"a\",\"timeline\":[\"ünïcode\"]}".repeat(300);
    let row: i64 = client
        .query_one(
            "INSERT INTO incidents (cluster, start_at, end_at, head, body, incident_id, severity) \
             VALUES ('prod', 0, 10, 'head', $1, 'a', 'error') RETURNING id",
            &[&body],
        )
        .await
        .expect("an incident kept before")
        .get(0);
    let store = PostgresStore::connect(&options).await.expect("migrated");
    assert_eq!(
        store.incident_bodies(vec![row]).await.expect("bodies"),
        [(row, body.clone())]
    );
    let whole = store
        .stored_incidents(None, Timestamp::UNIX_EPOCH, Timestamp::UNIX_EPOCH + days(1))
        .await
        .expect("whole");
    assert_eq!((whole.len(), whole[0].body.as_str()), (1, body.as_str()));
}
