//! Events the store refuses are quarantined and the rest of their batch is written (issue 11,
//! item 2). No bounded event is refused by kubetrail's own schema, so a test makes the store
//! refuse the reason [`POISON`] — a trigger on SQLite, a CHECK constraint on PostgreSQL —
//! standing for a limit no bound foresaw; then it runs the same test on either backend.

use std::sync::Arc;

use kubetrail_model::{EventFilter, Timestamp};

use super::{all, event, minute, uids};
use crate::{Store, WatchCursor};

/// The reason the stores of these tests refuse.
pub const POISON: &str = "Poison";

/// Makes the SQLite store at `path` refuse events whose reason is [`POISON`]
/// (`SQLITE_CONSTRAINT_TRIGGER`).
pub fn refuse_poison_on_sqlite(path: &std::path::Path) {
    rusqlite::Connection::open(path)
        .expect("open the SQLite store")
        .execute_batch(&format!(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.reason = '{POISON}'
             BEGIN SELECT RAISE(ABORT, 'poison event refused'); END;"
        ))
        .expect("create the refusing trigger");
}

/// The SQL that makes a PostgreSQL store (in `schema`) refuse events whose reason is
/// [`POISON`] (SQLSTATE 23514, check violation).
pub fn refuse_poison_on_postgres_sql(schema: &str) -> String {
    format!("ALTER TABLE {schema}.events ADD CONSTRAINT refuse_poison CHECK (reason <> '{POISON}')")
}

/// Makes the PostgreSQL store of `guard`'s schema refuse events whose reason is [`POISON`].
pub async fn refuse_poison_on_postgres(guard: &super::SchemaGuard) {
    let (client, conn) = tokio_postgres::connect(guard.url(), tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(conn);
    client
        .batch_execute(&refuse_poison_on_postgres_sql(guard.schema()))
        .await
        .expect("add the refusing constraint");
}

/// `store` refuses events whose reason is [`POISON`].
pub async fn refused_events_are_quarantined_and_the_rest_of_the_batch_is_written(
    store: Arc<dyn Store>,
) {
    let mut first = event("a", minute(10), 1);
    let mut poison = event("p1", minute(11), 1);
    poison.reason = POISON.into();
    poison.note = "refused\0note".into();
    let mut poison2 = event("p2", minute(12), 1);
    poison2.reason = POISON.into();
    let mut later = first.clone();
    later.count = 3;
    later.last_seen = minute(30);
    first.note = "first copy".into();
    let batch = vec![
        first,
        poison,
        event("b", minute(13), 1),
        poison2,
        later,
        event("c", minute(14), 2),
    ];
    let cursor = WatchCursor {
        cluster: "prod".into(),
        stream: "events".into(),
        resource_version: "42".into(),
        updated_at: minute(30),
    };
    let before = Timestamp::now();
    let mut txn = store.begin().await.expect("begin");
    let done = txn
        .write_or_quarantine(batch, "watch")
        .await
        .expect("a batch with refused events is written");
    txn.save_cursor(cursor.clone())
        .await
        .expect("the cursor advances");
    txn.commit().await.expect("commit");

    let indexes: Vec<usize> = done.rejected.iter().map(|r| r.index).collect();
    assert_eq!(indexes, [1, 3]);
    assert!(
        done.rejected[0].error.contains("poison"),
        "the store's own words: {}",
        done.rejected[0].error
    );
    assert_eq!(
        (done.written.summary.new, done.written.summary.quarantined),
        (3, 2)
    );
    // The later copy of `a` (after the refused events in the batch) still added its increase.
    assert_eq!(done.written.summary.occurrences, 1 + 1 + 2 + 2);
    let written: Vec<(&str, bool, u64)> = done
        .written
        .events
        .iter()
        .map(|w| (w.added.event.uid.as_str(), w.new, w.added.count()))
        .collect();
    assert_eq!(
        written,
        [
            ("a", true, 1),
            ("b", true, 1),
            ("a", false, 2),
            ("c", true, 2)
        ],
        "what was written, in batch order, without the refused events"
    );
    let stored = all(&store, EventFilter::default()).await;
    assert_eq!(uids(&stored), ["a", "c", "b"]);
    assert_eq!(stored[0].event.count, 3);
    assert_eq!(
        store.cursor("prod", "events").await.expect("cursor"),
        Some(cursor)
    );

    let stats = store.stats().await.expect("stats");
    assert_eq!((stats.events, stats.quarantined), (3, 2));
    let kept = store.quarantined(10).await.expect("quarantined");
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].event.uid, "p2", "newest first");
    assert_eq!(kept[1].event.uid, "p1");
    assert_eq!(kept[1].event.note, "refused\u{2400}note");
    assert_eq!(kept[1].source, "watch");
    assert!(kept[1].error.contains("poison"), "{}", kept[1].error);
    assert!(
        kept[1].at
            >= before
                .saturating_sub(jiff::SignedDuration::from_secs(1))
                .unwrap_or(before)
    );
    assert_eq!(store.quarantined(1).await.expect("quarantined").len(), 1);

    // A transaction goes on after a refused batch; a plain write of one ends it as before.
    let mut txn = store.begin().await.expect("begin");
    let mut alone = event("p3", minute(40), 1);
    alone.reason = POISON.into();
    let done = txn
        .write_isolating(vec![alone.clone()])
        .await
        .expect("write");
    assert_eq!((done.written.summary.new, done.rejected.len()), (0, 1));
    txn.write(vec![event("d", minute(41), 1)])
        .await
        .expect("write after a refusal");
    let err = txn.write(vec![alone]).await.expect_err("refused");
    assert!(err.is_data_error(), "{err:?}");
    assert!(!err.is_retriable(), "{err:?}");
    drop(txn);
    assert_eq!(
        all(&store, EventFilter::default()).await.len(),
        3,
        "rolled back"
    );
}
