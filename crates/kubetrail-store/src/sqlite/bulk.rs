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
//! Nor does it write through the WAL ([`leave_wal`]): into an empty store, a rollback journal
//! writes each page once, in place, where the WAL wrote it twice (and looked up every page read
//! back in its index).
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

/// Whether the store holds no event (what a bulk transaction defers and journals depends on it).
fn holds_no_event(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM events)", [], |r| r.get(0))?)
}

/// Before a bulk transaction begins (outside any transaction): when the store holds no events,
/// takes it out of WAL into a rollback journal for the transaction, and answers whether it did.
/// The transaction's end puts it back ([`back_to_wal`]).
///
/// Every page a write in WAL mode changes goes to the WAL, and again into the database at the
/// checkpoint after the commit; a page evicted from the cache and read back is looked up in the
/// WAL's index first, whose cost grows with the WAL (issue 14 §3: `walFindFrame` 5% of the 1M
/// import's samples, reading pages back 7%). A rollback journal keeps only the pages the
/// database held at the transaction's start, a few of an empty store's: every page added past
/// its end is written once, in place (the 1M import: 31.3 and 35.1 s → 24.9 and 29.6 s).
///
/// Leaving WAL needs an exclusive lock. SQLite refuses it at once (`SQLITE_BUSY`, no busy
/// handler) while any other connection has the store open (in WAL mode each holds a shared
/// lock: another process, or a read of this one); the transaction then writes through the WAL
/// as any other. Out of WAL, another process opening the store waits for the import's end (up
/// to its busy timeout): the store held nothing to read. A crash meanwhile leaves a hot
/// journal, which the next open rolls back (the store empty again) before it switches the store
/// to WAL.
pub(crate) fn leave_wal(conn: &Connection) -> Result<bool> {
    if !holds_no_event(conn)? {
        return Ok(false);
    }
    let mode =
        conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0));
    match mode {
        Ok(mode) => Ok(mode.eq_ignore_ascii_case("delete")),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether a rollback journal lies beside the store at `path` (not empty): a bulk transaction
/// out of WAL is writing the file in place, or one was interrupted and its next open for
/// writing rolls it back. A read-only open then cannot read the file as it is.
pub(crate) fn journal_beside(path: &std::path::Path) -> bool {
    let mut journal = path.as_os_str().to_owned();
    journal.push("-journal");
    std::fs::metadata(journal).is_ok_and(|m| m.len() > 0)
}

/// After a bulk transaction that left WAL ([`leave_wal`]) ended, committed or rolled back: the
/// store back in WAL (waiting, up to the busy timeout, for a reader that opened it meanwhile).
pub(crate) fn back_to_wal(conn: &Connection) -> Result<()> {
    Ok(super::schema::switch_to_wal(conn)?)
}

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
    if !holds_no_event(conn)? {
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
        assert_eq!(journal_mode(&path), "wal", "after a rollback");
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
        assert_eq!(journal_mode(&path), "wal", "back in WAL after the rollback");
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

    fn journal_mode(path: &std::path::Path) -> String {
        Connection::open(path)
            .unwrap()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap()
    }

    /// The length of the file beside the store with this suffix (0: none).
    fn beside(path: &std::path::Path, suffix: &str) -> u64 {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(name).map_or(0, |m| m.len())
    }

    /// Events enough to spill a cache of a few pages to the files during the transaction.
    fn many(from: usize) -> Vec<kubetrail_model::Event> {
        (from..from + 2_000)
            .map(|n| event(&format!("e{n}"), minute(n as i64), 1))
            .collect()
    }

    /// Issue 14 §3: a bulk write into an empty store wrote every page into the WAL, then again
    /// into the database at the checkpoint. Now it writes through a rollback journal, which
    /// holds only the pages the store had at its start, and puts the store back in WAL after.
    #[tokio::test]
    async fn a_bulk_write_into_an_empty_store_writes_no_wal_and_puts_the_store_back_in_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubetrail.db");
        let store = SqliteStore::open_with_cache(&path, 64).unwrap();
        let empty_size = std::fs::metadata(&path).unwrap().len();
        let mut txn = store.begin_bulk().await.unwrap();
        for from in [0, 2_000, 4_000] {
            txn.write(many(from)).await.unwrap();
        }
        // Spilled: the pages written so far are in the database itself, not in a WAL.
        assert!(std::fs::metadata(&path).unwrap().len() > empty_size);
        assert_eq!(beside(&path, "-wal"), 0, "nothing written to a WAL");
        assert!(
            beside(&path, "-journal") > 0,
            "the store's first pages journaled"
        );

        // A crash now: the files as they are, opened elsewhere, roll the transaction back.
        let crashed = tempfile::tempdir().unwrap();
        let copy = crashed.path().join("kubetrail.db");
        std::fs::copy(&path, &copy).unwrap();
        let mut journal = copy.as_os_str().to_owned();
        journal.push("-journal");
        let mut ours = path.as_os_str().to_owned();
        ours.push("-journal");
        std::fs::copy(&ours, &journal).unwrap();
        // Read-only, neither the store being written nor the crashed copy is read as it lies
        // (as immutable, it would be read torn): both are refused, naming the journal.
        assert!(matches!(
            SqliteStore::open_read_only(&path),
            Err(crate::Error::RollbackJournal { .. })
        ));
        assert!(matches!(
            SqliteStore::open_read_only(&copy),
            Err(crate::Error::RollbackJournal { .. })
        ));
        let reopened = SqliteStore::open(&copy).unwrap();
        let page = Page::default();
        assert!(
            reopened
                .query(&EventFilter::default(), &page)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(journal_mode(&copy), "wal");
        assert_eq!(beside(&copy, "-journal"), 0, "rolled back");
        drop(reopened);
        let read_only = SqliteStore::open_read_only(&copy).unwrap();
        assert!(
            read_only
                .query(&EventFilter::default(), &page)
                .await
                .unwrap()
                .is_empty()
        );

        txn.commit().await.unwrap();
        assert_eq!(journal_mode(&path), "wal");
        assert_eq!(beside(&path, "-journal"), 0);
        let page = Page {
            limit: 10_000,
            ..Page::default()
        };
        let stored = store.query(&EventFilter::default(), &page).await.unwrap();
        assert_eq!(stored.len(), 6_000);
        // The writes after it go through the WAL again.
        let mut txn = store.begin().await.unwrap();
        txn.write(many(6_000)).await.unwrap();
        txn.commit().await.unwrap();
        assert!(beside(&path, "-wal") > 0);
    }

    /// Another connection holding the store (another process, or a read of this one): the bulk
    /// write cannot leave WAL, and writes through it.
    #[tokio::test]
    async fn a_bulk_write_into_an_empty_store_held_elsewhere_writes_through_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubetrail.db");
        let store = SqliteStore::open_with_cache(&path, 64).unwrap();
        let other = Connection::open(&path).unwrap();
        let mode: String = other
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let mut txn = store.begin_bulk().await.unwrap();
        txn.write(many(0)).await.unwrap();
        assert!(beside(&path, "-wal") > 0);
        txn.commit().await.unwrap();
        let n: i64 = other
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2_000);
        assert_eq!(journal_mode(&path), "wal");
    }
}
