//! The write transaction handed out by [`PostgresStore::begin`](super::PostgresStore): one
//! pooled connection inside `BEGIN … COMMIT` for its whole life. Unlike SQLite's, several can
//! be open at once (several instances, several clusters); row locks order them.

use async_trait::async_trait;
use deadpool_postgres::Object;
use kubetrail_model::{Event, Relink, Timestamp};

use super::{cursor, incidents, quarantine, relink, write};
use crate::quarantine::Row;
use crate::{Error, Gap, Refused, Rejected, Result, StoreTxn, WatchCursor, Written};

pub(crate) struct PgTxn {
    /// `None` once committed or after a failure (the connection was then dropped).
    client: Option<Object>,
    /// When what this transaction writes is stored (micros): see `crate::expiry`.
    stored_at: i64,
}

impl PgTxn {
    pub(crate) async fn begin(client: Object, stored_at: Timestamp) -> Result<Self> {
        client.batch_execute("BEGIN").await?;
        Ok(PgTxn {
            client: Some(client),
            stored_at: stored_at.as_microsecond(),
        })
    }

    fn client(&self) -> Result<&Object> {
        self.client.as_ref().ok_or(Error::Aborted)
    }

    /// After a failure the transaction is unusable: its connection is closed (the server
    /// rolls back) and later calls return [`Error::Aborted`].
    fn fail<T>(&mut self, e: Error) -> Result<T> {
        discard(self.client.take());
        Err(e)
    }
}

/// Closes a connection that may be inside a transaction instead of returning it to the pool:
/// the server rolls the transaction back when the connection goes.
fn discard(client: Option<Object>) {
    if let Some(c) = client {
        drop(Object::take(c));
    }
}

#[async_trait]
impl StoreTxn for PgTxn {
    async fn write(&mut self, events: Vec<Event>) -> Result<Written> {
        match self.try_write(events).await? {
            Ok(w) => Ok(w),
            // Refused data ends the transaction here as any other error does.
            Err(refused) => self.fail(refused.error),
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
        let client = self.client()?;
        if let Err(e) = client.batch_execute("SAVEPOINT kubetrail_write").await {
            return self.fail(e.into());
        }
        match write::write_batch(client, &events, stored_at).await {
            Ok(outcomes) => {
                let written = Written::new(events, outcomes);
                let spans = crate::incidents::dirty_spans(&written);
                if let Err(e) = incidents::mark_dirty(client, &spans).await {
                    return self.fail(e);
                }
                if let Err(e) = client
                    .batch_execute("RELEASE SAVEPOINT kubetrail_write")
                    .await
                {
                    return self.fail(e.into());
                }
                Ok(Ok(written))
            }
            // Undo this batch only; the transaction goes on.
            Err(error) if error.is_data_error() => {
                let undo =
                    "ROLLBACK TO SAVEPOINT kubetrail_write; RELEASE SAVEPOINT kubetrail_write";
                match client.batch_execute(undo).await {
                    Ok(()) => Ok(Err(Refused { error, events })),
                    Err(e) => self.fail(e.into()),
                }
            }
            Err(e) => self.fail(e),
        }
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
        match quarantine::save(self.client()?, &rows).await {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    async fn relink(&mut self, relinks: Vec<Relink>) -> Result<u64> {
        if relinks.is_empty() {
            return Ok(0);
        }
        match relink::relink(self.client()?, &relinks).await {
            Ok(n) => Ok(n),
            Err(e) => self.fail(e),
        }
    }

    async fn save_cursor(&mut self, c: WatchCursor) -> Result<()> {
        match cursor::save(self.client()?, &c).await {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    async fn save_gap(&mut self, g: Gap) -> Result<()> {
        match cursor::save_gap(self.client()?, &g).await {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        let client = self.client.take().ok_or(Error::Aborted)?;
        match client.batch_execute("COMMIT").await {
            // Back to the pool, outside any transaction.
            Ok(()) => Ok(()),
            Err(e) => {
                discard(Some(client));
                Err(e.into())
            }
        }
    }
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        discard(self.client.take());
    }
}
