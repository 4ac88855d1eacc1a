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
        let deferred = thread
            .run(move || {
                let conn = lock(&c);
                start(&conn)?;
                if !bulk {
                    return Ok(None);
                }
                bulk::defer(&conn).inspect_err(|_| {
                    if let Err(error) = conn.execute_batch("ROLLBACK") {
                        tracing::warn!(%error, "cannot roll back a failed bulk write start");
                    }
                })
            })
            .await?;
        Ok(SqliteTxn {
            conn,
            thread,
            open: true,
            stored_at: stored_at.as_microsecond(),
            deferred,
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
        let c = Arc::clone(&self.conn);
        let result = self
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
                result
            })
            .await;
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
        self.run(move |c| {
            if bulk {
                // No savepoint: its statement journal copied every page the batch touched
                // that existed before it (the index pages of all earlier batches), ~10% of
                // the import's writing and a few MiB of peak memory (issue 14 §3). A refused
                // batch cannot be undone alone, so `run` rolls the whole transaction back.
                return match write::write_batch(c, &events, stored_at, false) {
                    Ok(outcomes) => {
                        let written = Written::new(events, outcomes);
                        incidents::mark_dirty(c, &crate::incidents::dirty_spans(&written))?;
                        Ok(Ok(written))
                    }
                    Err(error) if error.is_data_error() => Err(Error::BulkRefused(Box::new(error))),
                    Err(e) => Err(e),
                };
            }
            c.execute_batch("SAVEPOINT kubetrail_write")?;
            match write::write_batch(c, &events, stored_at, true) {
                Ok(outcomes) => {
                    let written = Written::new(events, outcomes);
                    incidents::mark_dirty(c, &crate::incidents::dirty_spans(&written))?;
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
        .await
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
    }
}
