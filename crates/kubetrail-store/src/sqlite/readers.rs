//! Reader connections, opened when reads overlap and kept for the next ones, at most
//! the pool's maximum at a time. In WAL mode readers never wait for each other or for the
//! writer, so concurrent API requests run side by side instead of queueing on one connection;
//! a process that reads one thing at a time keeps one connection (and its page cache).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::schema;
use crate::{Error, Result};

pub(crate) struct ReaderPool {
    path: PathBuf,
    /// How a read-only store's connections are opened (an SQLite URI), or `None` for `path`.
    read_only: Option<String>,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    /// Page cache of each connection, KiB.
    cache_kib: u32,
}

impl ReaderPool {
    /// A pool with `first` as its first idle reader; new ones get `cache_kib` of page cache.
    pub(crate) fn new(path: PathBuf, first: Connection, max: usize, cache_kib: u32) -> Self {
        ReaderPool {
            path,
            read_only: None,
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(max.max(1))),
            cache_kib,
        }
    }

    /// A pool whose new connections open `uri` read-only (see `SqliteStore::open_read_only`).
    pub(crate) fn read_only(
        path: PathBuf,
        uri: String,
        first: Connection,
        max: usize,
        cache_kib: u32,
    ) -> Self {
        ReaderPool {
            read_only: Some(uri),
            ..ReaderPool::new(path, first, max, cache_kib)
        }
    }

    /// Readers at most: the machine's parallelism, between 2 and 8.
    pub(crate) fn default_max() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8)
    }

    /// Runs `f` on a reader of its own, off the async threads; waits while `max` reads run.
    pub(crate) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::WorkerGone)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = pool.take()?;
            // A read that failed inside its snapshot may have left it open.
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK")?;
            }
            let result = f(&conn);
            // A connection is given back only after a normal return: one whose read panicked
            // is dropped (and a new one opened when needed).
            pool.idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(conn);
            super::idle::thread_idle();
            result
        })
        .await
        .map_err(|_| Error::WorkerGone)?
    }

    /// An idle reader, or a new one.
    fn take(&self) -> Result<Connection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let opened = match &self.read_only {
                    Some(uri) => open_read_only(uri),
                    None => Connection::open(&self.path),
                };
                let conn = opened.map_err(|source| Error::Open {
                    path: self.path.display().to_string(),
                    source,
                })?;
                schema::prepare_reader(&conn, self.cache_kib)?;
                Ok(conn)
            }
        }
    }

    /// Closes the connections not in use now (with their page caches).
    pub(crate) fn close_idle(&self) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Open connections not in use now (for tests).
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }
}

/// Opens an SQLite `uri` (`file:...?mode=ro` or `?immutable=1`) read-only.
pub(crate) fn open_read_only(uri: &str) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn pool(max: usize) -> (tempfile::TempDir, Arc<ReaderPool>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let store = crate::SqliteStore::open(&path).unwrap();
        drop(store);
        let first = Connection::open(&path).unwrap();
        schema::prepare_reader(&first, 8192).unwrap();
        (dir, Arc::new(ReaderPool::new(path, first, max, 8192)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_reads_get_connections_of_their_own_up_to_the_maximum() {
        let (_dir, pool) = pool(3);
        // Six reads, each waiting (up to 10 s) until three have been inside at once: with one
        // connection for all they would never see it.
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (pool, inside, most) = (Arc::clone(&pool), Arc::clone(&inside), Arc::clone(&most));
            tasks.push(tokio::spawn(async move {
                pool.read(move |c| {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                    while most.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < deadline {
                        std::thread::yield_now();
                    }
                    let n: i64 = c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    Ok(n)
                })
                .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 0);
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            3,
            "never more than the maximum"
        );
        assert_eq!(
            pool.idle(),
            3,
            "the connections are kept for the next reads"
        );
    }

    #[tokio::test]
    async fn a_panicking_read_loses_its_connection_not_the_pool() {
        let (_dir, pool) = pool(1);
        let p = Arc::clone(&pool);
        let panicked =
            tokio::spawn(async move { p.read(|_| -> Result<()> { panic!("boom") }).await }).await;
        assert!(panicked.is_err() || panicked.unwrap().is_err());
        let n: i64 = pool
            .read(|c| Ok(c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
