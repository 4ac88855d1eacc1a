//! The write transaction handed out by [`PostgresStore::begin`](super::PostgresStore): one
//! pooled connection inside `BEGIN … COMMIT` for its whole life. Unlike SQLite's, several can
//! be open at once (several instances, several clusters); row locks order them.

use async_trait::async_trait;
use deadpool_postgres::Object;
use kubetrail_model::{Event, Timestamp};

use super::{cursor, write};
use crate::{Error, Gap, Result, StoreTxn, WatchCursor, WriteSummary};

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
    async fn write(&mut self, events: Vec<Event>) -> Result<WriteSummary> {
        if events.is_empty() {
            return Ok(WriteSummary::default());
        }
        let n = events.len();
        let result = write::write_batch(self.client()?, &events, self.stored_at).await;
        match result {
            Ok(s) => {
                tracing::debug!(
                    events = n,
                    new = s.new,
                    updated = s.updated,
                    unchanged = s.unchanged,
                    occurrences = s.occurrences,
                    "wrote a batch"
                );
                Ok(s)
            }
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
