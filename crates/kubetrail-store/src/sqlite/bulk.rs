//! A bulk write into an empty store ([`EventSink::begin_bulk`](crate::EventSink::begin_bulk),
//! an import's first file): the indexes that no write reads, and the full-text index, are built
//! once at commit instead of row by row (issue 14 §3).
//!
//! Built at commit, in the same transaction (a reader or a crash never sees the store without
//! them): [`BUILT_AT_COMMIT`], which the write path never reads (`write`, `relink`: by
//! `(cluster, uid)`, the object in `events_regarding`, the correlation in `events_correlation`,
//! an event's occurrences in `occurrences_event`), sorted in one pass by `CREATE INDEX`; and
//! `events_fts`, rebuilt from the stored notes. Not writing FTS5 row by row also spares its
//! flush at each batch's savepoint (FTS5 flushes its pending terms at every savepoint, a
//! small segment each time, which it then merges). Only for an empty store: in a store that
//! holds events, building these anew would cost more than the rows added.
//!
//! Nor does it write each batch under a savepoint (`txn`): the statement journal of a savepoint
//! copies every page the batch touches that existed before it. A batch the store refuses then
//! rolls the whole transaction back with [`Error::BulkRefused`](crate::Error::BulkRefused); the
//! import writes that file again in a plain transaction, which quarantines the refused events
//! alone.

use rusqlite::{Connection, OptionalExtension};

use crate::Result;

/// Indexes that nothing reads while events are written, built at the end of a bulk write into
/// an empty store.
pub(crate) const BUILT_AT_COMMIT: &[&str] = &[
    "events_last_seen",
    "events_namespace_reason",
    "events_object",
    "events_long_span",
    "occurrences_ts",
];

/// What a bulk transaction builds at commit.
#[derive(Debug)]
pub(crate) struct Deferred {
    /// The `CREATE INDEX` statements of the indexes dropped at its start.
    indexes: Vec<String>,
}

/// At the start of a bulk transaction: when the store holds no events, drops the indexes of
/// [`BUILT_AT_COMMIT`] and answers what to build at commit (the full-text index is then not
/// written row by row either); else `None`, and the transaction writes as any other.
pub(crate) fn defer(conn: &Connection) -> Result<Option<Deferred>> {
    let empty: bool =
        conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM events)", [], |r| r.get(0))?;
    if !empty {
        return Ok(None);
    }
    let mut sql_of =
        conn.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1")?;
    let mut indexes = Vec::new();
    for name in BUILT_AT_COMMIT {
        if let Some(sql) = sql_of
            .query_row([name], |r| r.get::<_, String>(0))
            .optional()?
        {
            conn.execute_batch(&format!("DROP INDEX {name}"))?;
            indexes.push(sql);
        }
    }
    Ok(Some(Deferred { indexes }))
}

/// Before the commit of a bulk transaction that deferred: builds the indexes and the
/// full-text index of what it wrote, with a small page cache ([`with_sort_cache`]).
pub(crate) fn build(conn: &Connection, deferred: &Deferred) -> Result<()> {
    with_sort_cache(conn, |conn| {
        for sql in &deferred.indexes {
            conn.execute_batch(sql)?;
        }
        conn.execute_batch("INSERT INTO events_fts (events_fts) VALUES ('rebuild')")?;
        Ok(())
    })
}

/// The page cache `CREATE INDEX` works with, KiB: its sorter keeps up to this much of the keys
/// in memory before it writes a sorted run to a temporary file (a bulk writer keeps its
/// temporary files on disk: `SqliteStore::open_with_cache`).
pub(crate) const SORT_CACHE_KIB: i64 = 8 * 1024;

/// Runs `f` with the page cache at most [`SORT_CACHE_KIB`], then puts it back. With the
/// import's 32 MiB and temporary files in memory, `CREATE INDEX` held every key of the index
/// it built at once: +80 MiB at the end of an import of 1M events (issue 14 §3: its own peak of
/// ~160 MiB, 15 s before the end).
fn with_sort_cache<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let cache: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
    // Negative: KiB, else pages (of 4 KiB); a cache already smaller stays.
    let larger = !(-SORT_CACHE_KIB..=SORT_CACHE_KIB / 4).contains(&cache);
    if larger {
        conn.pragma_update(None, "cache_size", -SORT_CACHE_KIB)?;
    }
    let result = f(conn);
    if larger {
        conn.pragma_update(None, "cache_size", cache)?;
    }
    result
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use kubetrail_model::EventFilter;

    use super::*;
    use crate::conformance::{POISON, event, minute, refuse_poison_on_sqlite};
    use crate::{EventReader, EventSink, Page, SqliteStore};

    /// Issue 14 §3: the indexes built at the end of a bulk import sorted their keys in memory
    /// (`temp_store = MEMORY`: SQLite's sorter then never writes a run out) with the import's
    /// 32 MiB cache: the import's peak. A bulk store's writer keeps its temporary files on
    /// disk, and the indexes are built with a small cache, given back after.
    #[tokio::test]
    async fn indexes_built_at_commit_sort_on_disk_with_a_small_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubetrail.db");
        let store =
            SqliteStore::open_with_cache(&path, SqliteStore::BULK_WRITER_CACHE_KIB).unwrap();
        let pragma = |c: &Connection, name: &str| -> i64 {
            c.pragma_query_value(None, name, |r| r.get(0))
                .expect("read")
        };
        let (store_kind, inside, after) = store
            .write(true, move |c| {
                let inside = super::with_sort_cache(c, |c| Ok(pragma(c, "cache_size")))?;
                Ok((pragma(c, "temp_store"), inside, pragma(c, "cache_size")))
            })
            .await
            .unwrap();
        assert_eq!(store_kind, 1, "temporary files on disk");
        assert_eq!(inside, -super::SORT_CACHE_KIB);
        assert_eq!(after, -i64::from(SqliteStore::BULK_WRITER_CACHE_KIB));
        // A bulk write into the empty store still leaves every index.
        let mut txn = store.begin_bulk().await.unwrap();
        txn.write(vec![event("a", minute(1), 1)]).await.unwrap();
        txn.commit().await.unwrap();
        let every: BTreeSet<String> = BUILT_AT_COMMIT.iter().map(|s| s.to_string()).collect();
        assert_eq!(deferred_indexes_present(&path), every);
    }

    fn deferred_indexes_present(path: &std::path::Path) -> BTreeSet<String> {
        let conn = Connection::open(path).unwrap();
        let mut names = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index'")
            .unwrap();
        names
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .filter(|n| BUILT_AT_COMMIT.contains(&n.as_str()))
            .collect()
    }

    #[tokio::test]
    async fn a_bulk_write_into_an_empty_store_leaves_every_index_whether_it_commits_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubetrail.db");
        let store = SqliteStore::open(&path).unwrap();
        let every: BTreeSet<String> = BUILT_AT_COMMIT.iter().map(|s| s.to_string()).collect();
        assert_eq!(deferred_indexes_present(&path), every);
        {
            let mut txn = store.begin_bulk().await.unwrap();
            txn.write(vec![event("a", minute(1), 1)]).await.unwrap();
        }
        assert_eq!(deferred_indexes_present(&path), every, "after a rollback");
        let mut txn = store.begin_bulk().await.unwrap();
        txn.write(vec![event("a", minute(1), 1)]).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(deferred_indexes_present(&path), every, "after a commit");
    }

    /// Before, a bulk write into an empty store wrote each batch under a savepoint and
    /// quarantined a refused event itself; now it writes without savepoints, so a refusal
    /// rolls it back whole, and a plain transaction quarantines the event alone.
    #[tokio::test]
    async fn a_refused_batch_rolls_a_bulk_write_into_an_empty_store_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubetrail.db");
        drop(SqliteStore::open(&path).unwrap());
        refuse_poison_on_sqlite(&path);
        let store = SqliteStore::open(&path).unwrap();
        let mut poison = event("p", minute(2), 1);
        poison.reason = POISON.into();
        let mut kept = event("k", minute(3), 1);
        kept.note = "volume attach timed out".into();
        let batch = vec![event("a", minute(1), 1), poison, kept];

        let mut txn = store.begin_bulk().await.unwrap();
        let refused = txn.write_or_quarantine(batch.clone(), "import x").await;
        assert!(
            matches!(refused, Err(crate::Error::BulkRefused(_))),
            "{refused:?}"
        );
        assert!(matches!(
            txn.write(vec![event("b", minute(4), 1)]).await,
            Err(crate::Error::Aborted)
        ));
        drop(txn);
        let stored = store
            .query(&EventFilter::default(), &Page::default())
            .await
            .unwrap();
        assert!(stored.is_empty(), "rolled back whole: {stored:?}");
        assert!(store.quarantined(10).await.unwrap().is_empty());
        let every: BTreeSet<String> = BUILT_AT_COMMIT.iter().map(|s| s.to_string()).collect();
        assert_eq!(deferred_indexes_present(&path), every);

        // Written again in a plain transaction: the refused event alone is quarantined.
        let mut txn = store.begin().await.unwrap();
        let done = txn.write_or_quarantine(batch, "import x").await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!((done.written.summary.new, done.rejected.len()), (2, 1));
        assert_eq!(store.quarantined(10).await.unwrap().len(), 1);
        let found = store
            .query(
                &EventFilter {
                    search: Some("attach".into()),
                    ..Default::default()
                },
                &Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].event.uid, "k");
    }

    #[tokio::test]
    async fn a_bulk_write_into_a_store_that_holds_events_still_quarantines_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubetrail.db");
        drop(SqliteStore::open(&path).unwrap());
        refuse_poison_on_sqlite(&path);
        let store = SqliteStore::open(&path).unwrap();
        let mut txn = store.begin().await.unwrap();
        txn.write(vec![event("old", minute(1), 1)]).await.unwrap();
        txn.commit().await.unwrap();
        let mut poison = event("p", minute(2), 1);
        poison.reason = POISON.into();
        let mut txn = store.begin_bulk().await.unwrap();
        let done = txn
            .write_or_quarantine(vec![event("a", minute(3), 1), poison], "import x")
            .await
            .unwrap();
        txn.commit().await.unwrap();
        assert_eq!((done.written.summary.new, done.rejected.len()), (1, 1));
        assert_eq!(store.quarantined(10).await.unwrap().len(), 1);
    }
}
