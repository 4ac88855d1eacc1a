//! The maintainer's writes, stored in the order its pass queued them while the pass goes on
//! reading and analysing (issue 14 §1). The store writes on its own thread (SQLite's writer
//! thread, PostgreSQL's server): a pass that waited for each write left that thread and the
//! walk's idle in turn (on the 1M import's pass, waiting to replace incidents was 5.7 of 16 s,
//! writing pattern parts 13 % of the pass before they were queued).
//!
//! A queued write is the store's own future, unpolled: `async` methods do nothing until
//! polled, so [`PassWrites::run`] stores them one after the other, in order.

use futures::channel::{mpsc, oneshot};
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};

use crate::{Error, Result};

/// The writes a pass may queue ahead of the store (the channel holds one more per sender):
/// each a piece of a day's pattern parts (on the 1M events a day's hour parts are ~5 MB of
/// bodies, 31 MB for the 6 days of the first 200,000) or a core's incidents (~0.5 MB). A
/// writer that falls behind holds up to ~15 MB more: the import's pass peaked 1.5–2.5 MiB
/// higher than when it waited for each write (docs/BENCHMARKS.md, seventeenth session).
const WRITES_AHEAD: usize = 2;

/// One write queued.
enum PassWrite<'s> {
    /// A store's write, not yet polled.
    Store(BoxFuture<'s, Result<()>>),
    /// Answered once every write queued before it is stored.
    Flush(oneshot::Sender<()>),
}

/// Where a pass queues its writes (cloned for each part of the pass that writes).
#[derive(Clone)]
pub(crate) struct WriteQueue<'s> {
    writes: mpsc::Sender<PassWrite<'s>>,
}

/// The writes of a pass, to be run beside it (e.g. `futures::future::join`) until every
/// [`WriteQueue`] is dropped.
pub(crate) struct PassWrites<'s> {
    queue: mpsc::Receiver<PassWrite<'s>>,
}

/// A queue of writes and what stores them.
pub(crate) fn pass_writes<'s>() -> (WriteQueue<'s>, PassWrites<'s>) {
    let (writes, queue) = mpsc::channel(WRITES_AHEAD);
    (WriteQueue { writes }, PassWrites { queue })
}

impl<'s> WriteQueue<'s> {
    /// Queues `write`, waiting while the queue is full. A write that failed ended the
    /// queue: [`Error::NotWritten`] (the failure itself is what [`PassWrites::run`] returns).
    pub(crate) async fn send(&mut self, write: BoxFuture<'s, Result<()>>) -> Result<()> {
        self.writes
            .send(PassWrite::Store(write))
            .await
            .map_err(|_| Error::NotWritten)
    }

    /// Waits until every write queued is stored.
    pub(crate) async fn flush(&mut self) -> Result<()> {
        let (stored, answer) = oneshot::channel();
        self.writes
            .send(PassWrite::Flush(stored))
            .await
            .map_err(|_| Error::NotWritten)?;
        answer.await.map_err(|_| Error::NotWritten)
    }
}

impl PassWrites<'_> {
    /// Stores what the pass queues until it is done (every queue dropped); ends at the first
    /// failure, which the pass then sees as [`Error::NotWritten`] (report this one).
    pub(crate) async fn run(mut self) -> Result<()> {
        while let Some(write) = self.queue.next().await {
            match write {
                PassWrite::Store(write) => write.await?,
                PassWrite::Flush(stored) => {
                    let _ = stored.send(());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn writes_are_stored_in_the_order_queued_and_a_flush_waits_for_them() {
        let stored = Arc::new(Mutex::new(Vec::new()));
        let (mut queue, writes) = pass_writes();
        let pass = {
            let stored = Arc::clone(&stored);
            async move {
                for n in 0..5 {
                    let stored = Arc::clone(&stored);
                    queue
                        .send(Box::pin(async move {
                            tokio::task::yield_now().await;
                            stored.lock().unwrap().push(n);
                            Ok(())
                        }))
                        .await?;
                }
                queue.flush().await?;
                let seen = stored.lock().unwrap().clone();
                Ok::<_, Error>(seen)
            }
        };
        let (seen, run) = futures::future::join(pass, writes.run()).await;
        run.expect("writes");
        assert_eq!(seen.expect("pass"), vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_failed_write_ends_the_queue_with_its_own_error() {
        let (mut queue, writes) = pass_writes();
        let pass = async move {
            queue
                .send(Box::pin(async { Err(Error::param("test", "refused")) }))
                .await?;
            // Whatever follows is refused once the writer stopped.
            loop {
                queue.send(Box::pin(async { Ok(()) })).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        };
        let (pass, run) = futures::future::join(pass, writes.run()).await;
        assert!(
            matches!(run, Err(Error::Param { name: "test", .. })),
            "{run:?}"
        );
        assert!(matches!(pass, Err(Error::NotWritten)), "{pass:?}");
    }
}
