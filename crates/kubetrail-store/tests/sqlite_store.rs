//! What only the SQLite backend does: its file, settings, schema versions.

use kubetrail_model::{AggregateQuery, Dimension, EventFilter};
use kubetrail_store::conformance::{event, minute};
use kubetrail_store::{Error, EventReader, EventSink, Page, Retention, SqliteStore, WatchCursor};

fn pragma(path: &std::path::Path, name: &str) -> String {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.pragma_query_value(None, name, |r| {
        let v: rusqlite::types::Value = r.get(0)?;
        Ok(match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(s) => s,
            other => format!("{other:?}"),
        })
    })
    .expect("pragma")
}

#[tokio::test]
async fn open_creates_missing_directories_and_sets_wal_and_incremental_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/kubetrail.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.path(), path);
    assert_eq!(pragma(&path, "journal_mode"), "wal");
    assert_eq!(pragma(&path, "auto_vacuum"), "2", "incremental");
    assert_eq!(
        pragma(&path, "user_version"),
        SqliteStore::SCHEMA_VERSION.to_string()
    );
}

#[tokio::test]
async fn a_database_with_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubetrail.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SchemaTooNew {
                found: 99,
                known: SqliteStore::SCHEMA_VERSION
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubetrail.db");
    std::fs::write(
        &path,
        "not a database, just some text that is long enough ".repeat(100),
    )
    .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
}

#[tokio::test]
async fn reopening_the_database_keeps_events_cursors_and_rollups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubetrail.db");
    let cursor = WatchCursor {
        cluster: "prod".into(),
        stream: "events".into(),
        resource_version: "42".into(),
        updated_at: minute(5),
    };
    let q = AggregateQuery {
        group_by: vec![Dimension::Reason],
        ..AggregateQuery::default()
    };
    let (events, counts) = {
        let store = SqliteStore::open(&path).unwrap();
        store
            .write_batch(
                vec![event("a", minute(10), 3), event("b", minute(90), 1)],
                Some(cursor.clone()),
            )
            .await
            .unwrap();
        let events = store
            .query(&EventFilter::default(), &Page::default())
            .await
            .unwrap();
        (events, store.aggregate(&q).await.unwrap())
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store
            .query(&EventFilter::default(), &Page::default())
            .await
            .unwrap(),
        events
    );
    assert_eq!(store.aggregate(&q).await.unwrap(), counts);
    assert_eq!(store.aggregate_raw(&q).await.unwrap(), counts);
    assert_eq!(store.cursor("prod", "events").await.unwrap(), Some(cursor));
    // Stored ids go on: a new event is not confused with an old one.
    let s = store
        .write_batch(
            vec![event("a", minute(10), 3), event("c", minute(95), 1)],
            None,
        )
        .await
        .unwrap();
    assert_eq!((s.summary.new, s.summary.unchanged), (1, 1));
}

#[tokio::test]
async fn a_write_transaction_waits_for_the_one_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("k.db")).unwrap());
    let mut first = store.begin().await.unwrap();
    first.write(vec![event("a", minute(1), 1)]).await.unwrap();
    let s2 = store.clone();
    let second = tokio::spawn(async move {
        s2.write_batch(vec![event("a", minute(2), 2)], None)
            .await
            .unwrap()
    });
    tokio::task::yield_now().await;
    assert!(!second.is_finished());
    first.commit().await.unwrap();
    let s = second.await.unwrap();
    assert_eq!((s.summary.updated, s.summary.occurrences), (1, 1));
}

#[tokio::test]
async fn retention_deletes_across_many_chunks_and_keeps_rollups_equal_to_occurrences() {
    use jiff::SignedDuration;
    use kubetrail_model::Severity;
    use kubetrail_store::RetentionPolicy;

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let day = SignedDuration::from_hours(24);
    let now = minute(0) + day * 40;
    let mut events = Vec::new();
    for i in 0..12_000i64 {
        let spread = SignedDuration::from_secs(i * 7);
        let mut e = if i % 2 == 0 {
            let mut e = event(&format!("info-{i}"), now - day * 10 - spread, 1);
            e.severity = Severity::Info;
            e
        } else {
            // One occurrence 35 days ago (expired), one 20 days ago (kept).
            let mut e = event(&format!("error-{i}"), now - day * 20 - spread, 2);
            e.first_seen = now - day * 35 - spread;
            e
        };
        e.reason = ["BackOff", "Unhealthy", "Failed"][(i % 3) as usize].into();
        events.push(e);
    }
    for batch in events.chunks(2_000) {
        write_live(&store, batch.to_vec()).await;
    }
    let policy = RetentionPolicy {
        max_age: day * 30,
        max_age_by_severity: [(Severity::Info, day * 7)].into(),
        max_bytes: None,
    };
    let report = store.apply_retention(&policy, now).await.unwrap();
    assert_eq!(
        (report.events_deleted, report.occurrences_deleted),
        (6_000, 12_000)
    );
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.events, stats.occurrences), (6_000, 6_000));
    for group_by in [vec![], vec![Dimension::Reason, Dimension::Severity]] {
        for interval in [None, Some(SignedDuration::from_hours(24))] {
            let q = AggregateQuery {
                group_by: group_by.clone(),
                interval,
                ..AggregateQuery::default()
            };
            assert_eq!(
                store.aggregate(&q).await.unwrap(),
                store.aggregate_raw(&q).await.unwrap()
            );
        }
    }
}

#[tokio::test]
async fn retention_forgets_the_node_of_a_pod_whose_events_are_all_gone() {
    use jiff::SignedDuration;
    use kubetrail_store::RetentionPolicy;

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let mut placed = event("placed", minute(0), 1);
    placed.node = Some("node-a".into());
    write_live(&store, vec![placed]).await;
    let policy = RetentionPolicy {
        max_age: SignedDuration::from_hours(1),
        ..RetentionPolicy::default()
    };
    let report = store
        .apply_retention(&policy, minute(24 * 60))
        .await
        .unwrap();
    assert_eq!(report.events_deleted, 1);
    // The same pod name later (e.g. a StatefulSet pod rescheduled) is not given the old node.
    store
        .write_batch(vec![event("later", minute(24 * 60), 1)], None)
        .await
        .unwrap();
    let left = store
        .query(&EventFilter::default(), &Page::default())
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event.node, None);
}

/// Writes live events: stored at `minute(0)`, before any of them happened, so their age counts
/// from their own times (an import's would count from when it was stored).
async fn write_live(store: &SqliteStore, events: Vec<kubetrail_model::Event>) {
    let mut txn = store.begin_at(minute(0)).await.unwrap();
    txn.write(events).await.unwrap();
    txn.commit().await.unwrap();
}

/// Issue 11, item 2: an event the store refuses is quarantined, the rest of its batch written.
#[tokio::test]
async fn refused_events_are_quarantined_and_the_rest_of_the_batch_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubetrail.db");
    let store = SqliteStore::open(&path).unwrap();
    kubetrail_store::conformance::refuse_poison_on_sqlite(&path);
    kubetrail_store::conformance::refused_events_are_quarantined_and_the_rest_of_the_batch_is_written(
        std::sync::Arc::new(store),
    )
    .await;
}

/// Regression: two processes opening one new store at once (`kubetrail run` creating it while a
/// `kubetrail query` from another terminal opens it) both ran the migrations: the second failed
/// with "table events already exists". Migrations must be safe for any number of openers.
#[test]
fn many_openers_of_one_new_store_at_once_all_succeed() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubetrail.db");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path).map(|_| ())
                })
            })
            .collect();
        for (i, opener) in openers.into_iter().enumerate() {
            let opened = opener.join().expect("opener thread");
            assert!(
                opened.is_ok(),
                "round {round}, opener {i}: {:?}",
                opened.err()
            );
        }
        assert_eq!(
            pragma(&path, "user_version"),
            SqliteStore::SCHEMA_VERSION.to_string()
        );
    }
}
