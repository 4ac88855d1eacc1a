//! The write transaction handed out by [`SqliteStore::begin`](super::SqliteStore).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kubetrail_model::{Event, Relink, Timestamp};
use rusqlite::Connection;
use tokio::sync::OwnedMutexGuard;

use super::writer_thread::WriterThread;
use super::{bulk, cursor, incidents, lock, quarantine, relink, write};
use crate::quarantine::Row;
use crate::{Error, Gap, Refused, Rejected, Result, StoreTxn, WatchCursor, Written};

/// Holds the store's writer lock for its whole life, so one transaction writes at a time.
pub(crate) struct SqliteTxn {
    conn: Arc<Mutex<Connection>>,
    /// Where its SQL runs.
    thread: WriterThread,
    /// Cleared by a successful commit, or by a failed write (which rolls back at once);
    /// otherwise dropping rolls back.
    open: bool,
    /// When what this transaction writes is stored (micros): see `crate::expiry`.
    stored_at: i64,
    /// A bulk transaction into an empty store: what it builds at commit (see `bulk`).
    deferred: Option<bulk::Deferred>,
    /// A bulk transaction into an empty store that took the store out of WAL
    /// ([`bulk::leave_wal`]): its end puts the store back.
    left_wal: bool,
    /// Nothing has been written in this transaction yet: a refused `try_write` can then be
    /// undone by rolling the whole transaction back and beginning it again, with no savepoint.
    fresh: bool,
    _writer: OwnedMutexGuard<()>,
}

/// Starts `BEGIN IMMEDIATE`, first rolling back a transaction left open by a cancelled
/// `begin` (only the holder of the writer lock gets here, so none is in use).
pub(crate) fn start(conn: &Connection) -> Result<()> {
    if !conn.is_autocommit() {
        tracing::warn!("rolling back a write transaction that was left open");
        conn.execute_batch("ROLLBACK")?;
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    Ok(())
}

/// What a batch written in the transaction wrote, its spans marked dirty for the incidents
/// maintainer in the same transaction.
fn written(
    c: &Connection,
    events: Vec<Event>,
    outcomes: Vec<crate::written::Outcome>,
) -> Result<Written> {
    let written = Written::new(events, outcomes);
    incidents::mark_dirty(c, &crate::incidents::dirty_spans(&written))?;
    Ok(written)
}

/// After a transaction ended, committed or rolled back: a bulk one that took the store out of
/// WAL (`left_wal`) puts it back. Failing that, the store stays correct in a rollback journal
/// (its next open switches it to WAL): warned, not an error of what was written.
fn ended(conn: &Connection, left_wal: bool) {
    if left_wal && let Err(error) = bulk::back_to_wal(conn) {
        tracing::warn!(%error, "cannot put the store back in WAL after a bulk write");
    }
}

impl SqliteTxn {
    /// Begins a transaction; a `bulk` one into an empty store defers indexes (see `bulk`).
    pub(crate) async fn begin(
        conn: Arc<Mutex<Connection>>,
        thread: WriterThread,
        writer: OwnedMutexGuard<()>,
        stored_at: Timestamp,
        bulk: bool,
    ) -> Result<Self> {
        let c = Arc::clone(&conn);
        let (deferred, left_wal) = thread
            .run(move || {
                let conn = lock(&c);
                let left_wal = bulk && bulk::leave_wal(&conn)?;
                let begun = start(&conn).and_then(|()| match bulk {
                    true => bulk::defer(&conn),
                    false => Ok(None),
                });
                match begun {
                    Ok(deferred) => Ok((deferred, left_wal)),
                    Err(e) => {
                        if !conn.is_autocommit()
                            && let Err(error) = conn.execute_batch("ROLLBACK")
                        {
                            tracing::warn!(%error, "cannot roll back a failed bulk write start");
                        }
                        ended(&conn, left_wal);
                        Err(e)
                    }
                }
            })
            .await?;
        Ok(SqliteTxn {
            conn,
            thread,
            open: true,
            stored_at: stored_at.as_microsecond(),
            deferred,
            left_wal,
            fresh: true,
            _writer: writer,
        })
    }

    /// Runs `f` in the transaction; if it fails, rolls the whole transaction back, since `f`
    /// may have written part of its work.
    async fn run<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if !self.open {
            return Err(Error::Aborted);
        }
        self.fresh = false;
        let c = Arc::clone(&self.conn);
        let left_wal = self.left_wal;
        let answer = self
            .thread
            .run(move || {
                let conn = lock(&c);
                let result = f(&conn);
                if result.is_err()
                    && !conn.is_autocommit()
                    && let Err(error) = conn.execute_batch("ROLLBACK")
                {
                    tracing::warn!(%error, "cannot roll back a failed write transaction");
                }
                // Committed or rolled back (by `f`, or above).
                let over = conn.is_autocommit();
                if over {
                    ended(&conn, left_wal);
                }
                Ok((result, over))
            })
            .await;
        let (result, over) = answer.unwrap_or_else(|gone| (Err(gone), false));
        if over {
            self.left_wal = false;
        }
        if result.is_err() {
            self.open = false;
        }
        result
    }
}

#[async_trait]
impl StoreTxn for SqliteTxn {
    async fn write(&mut self, events: Vec<Event>) -> Result<Written> {
        match self.try_write(events).await? {
            Ok(w) => Ok(w),
            // Refused data ends the transaction here as any other error does.
            Err(refused) => {
                self.run(|c| Ok(c.execute_batch("ROLLBACK")?)).await?;
                self.open = false;
                Err(refused.error)
            }
        }
    }

    async fn try_write(
        &mut self,
        mut events: Vec<Event>,
    ) -> Result<std::result::Result<Written, Refused>> {
        if events.is_empty() {
            return Ok(Ok(Written::default()));
        }
        events.iter_mut().for_each(Event::bound_text);
        let stored_at = self.stored_at;
        let bulk = self.deferred.is_some();
        let fresh = self.fresh;
        let result = self
            .run(move |c| {
                if bulk {
                    // No savepoint: its statement journal copied every page the batch touched
                    // that existed before it (the index pages of all earlier batches), ~10% of
                    // the import's writing and a few MiB of peak memory (issue 14 §3). A refused
                    // batch cannot be undone alone, so `run` rolls the whole transaction back.
                    return match write::write_batch(c, &events, stored_at, false) {
                        Ok(outcomes) => written(c, events, outcomes).map(Ok),
                        Err(error) if error.is_data_error() => {
                            Err(Error::BulkRefused(Box::new(error)))
                        }
                        Err(e) => Err(e),
                    };
                }
                if fresh {
                    // Nothing else written in this transaction (the live pipeline's batches, each
                    // in its own): no savepoint either, whose statement journal in WAL mode copies
                    // every page the batch touches that existed before it (up to a few MiB of the
                    // watcher's memory during a list; issue 14 §2). A refusal rolls the whole
                    // transaction back and begins it again, which undoes exactly this call.
                    return match write::write_batch(c, &events, stored_at, true) {
                        Ok(outcomes) => written(c, events, outcomes).map(Ok),
                        Err(error) if error.is_data_error() => {
                            c.execute_batch("ROLLBACK")?;
                            start(c)?;
                            Ok(Err(Refused { error, events }))
                        }
                        Err(e) => Err(e),
                    };
                }
                c.execute_batch("SAVEPOINT kubetrail_write")?;
                match write::write_batch(c, &events, stored_at, true) {
                    Ok(outcomes) => {
                        let written = written(c, events, outcomes)?;
                        c.execute_batch("RELEASE kubetrail_write")?;
                        Ok(Ok(written))
                    }
                    // Undo this batch only; the transaction goes on.
                    Err(error) if error.is_data_error() => {
                        c.execute_batch("ROLLBACK TO kubetrail_write; RELEASE kubetrail_write")?;
                        Ok(Err(Refused { error, events }))
                    }
                    Err(e) => Err(e),
                }
            })
            .await;
        // Rolled back and begun again: still nothing written.
        self.fresh = fresh && matches!(result, Ok(Err(_)));
        result
    }

    async fn quarantine(
        &mut self,
        rejected: &[Rejected],
        source: &str,
        at: Timestamp,
    ) -> Result<()> {
        let rows = rejected
            .iter()
            .map(|r| Row::new(r, source, at))
            .collect::<Result<Vec<_>>>()?;
        self.run(move |c| quarantine::save(c, &rows)).await
    }

    async fn relink(&mut self, relinks: Vec<Relink>) -> Result<u64> {
        if relinks.is_empty() {
            return Ok(0);
        }
        self.run(move |c| relink::relink(c, &relinks)).await
    }

    async fn save_cursor(&mut self, c: WatchCursor) -> Result<()> {
        self.run(move |conn| cursor::save(conn, &c)).await
    }

    async fn save_gap(&mut self, g: Gap) -> Result<()> {
        self.run(move |conn| cursor::save_gap(conn, &g)).await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        let deferred = self.deferred.take();
        self.run(move |c| {
            if let Some(d) = &deferred {
                bulk::build(c, d)?;
            }
            Ok(c.execute_batch("COMMIT")?)
        })
        .await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTxn {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        // Blocks briefly: waits for a write still running on the blocking pool, then rolls back.
        let conn = lock(&self.conn);
        if conn.is_autocommit() {
            return;
        }
        if let Err(error) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(%error, "cannot roll back a dropped write transaction");
        }
        ended(&conn, self.left_wal);
    }
}

#[cfg(test)]
mod tests {
    use kubetrail_model::EventFilter;

    use crate::conformance::{POISON, event, minute, refuse_poison_on_sqlite};
    use crate::{EventReader, EventSink, Page, SqliteStore, WatchCursor};

    fn poison(uid: &str) -> kubetrail_model::Event {
        let mut e = event(uid, minute(5), 1);
        e.reason = POISON.into();
        e
    }

    fn refusing_store(dir: &tempfile::TempDir) -> SqliteStore {
        let path = dir.path().join("kubetrail.db");
        drop(SqliteStore::open(&path).unwrap());
        refuse_poison_on_sqlite(&path);
        SqliteStore::open(&path).unwrap()
    }

    async fn uids(store: &SqliteStore) -> Vec<String> {
        let mut uids: Vec<String> = store
            .query(&EventFilter::default(), &Page::default())
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.event.uid)
            .collect();
        uids.sort();
        uids
    }

    /// The first write of a transaction has no savepoint: its refusal rolls the transaction
    /// back and begins it again, which must leave it as usable as a savepoint's undo would.
    #[tokio::test]
    async fn a_refused_first_write_is_undone_alone_and_the_transaction_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = refusing_store(&dir);
        let mut txn = store.begin().await.unwrap();
        let refused = txn
            .try_write(vec![event("a", minute(1), 1), poison("p")])
            .await
            .unwrap();
        let refused = refused.expect_err("the poison is refused");
        assert_eq!(refused.events.len(), 2, "the batch comes back whole");
        // Still the first write after the undo: refused again, and undone again.
        assert!(txn.try_write(vec![poison("q")]).await.unwrap().is_err());
        txn.write(vec![event("b", minute(2), 1)]).await.unwrap();
        txn.save_cursor(WatchCursor {
            cluster: "prod".into(),
            stream: "events".into(),
            resource_version: "7".into(),
            updated_at: minute(3),
        })
        .await
        .unwrap();
        txn.commit().await.unwrap();
        assert_eq!(uids(&store).await, ["b"]);
        let cursor = store.cursor("prod", "events").await.unwrap();
        assert_eq!(cursor.map(|c| c.resource_version), Some("7".into()));
    }

    /// After a write (here a cursor, then events), a refusal undoes only its own call (under
    /// a savepoint): what the transaction wrote before and after it is committed.
    #[tokio::test]
    async fn a_refusal_after_a_write_keeps_what_the_transaction_wrote_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = refusing_store(&dir);
        let mut txn = store.begin().await.unwrap();
        txn.save_cursor(WatchCursor {
            cluster: "prod".into(),
            stream: "events".into(),
            resource_version: "9".into(),
            updated_at: minute(1),
        })
        .await
        .unwrap();
        let refused = txn
            .try_write(vec![event("b", minute(2), 1), poison("p")])
            .await
            .unwrap();
        assert!(refused.is_err());
        txn.write(vec![event("a", minute(1), 1)]).await.unwrap();
        assert!(txn.try_write(vec![poison("q")]).await.unwrap().is_err());
        txn.write(vec![event("c", minute(3), 1)]).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(uids(&store).await, ["a", "c"]);
        let cursor = store.cursor("prod", "events").await.unwrap();
        assert_eq!(cursor.map(|c| c.resource_version), Some("9".into()));
    }
}
