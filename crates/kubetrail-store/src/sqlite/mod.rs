//! The embedded SQLite backend: one writer connection behind an async lock, a few reader
//! connections (`readers`; WAL lets them read while the writer writes); the writer's SQL on
//! its own thread (`writer_thread`), the readers' on the blocking pool.
//!
//! Files, one concept each: `schema` (settings, migrations), `write` (batches), `rollup`
//! (hourly counts), `query`, `occurrences` (events with their occurrences in a range),
//! `aggregate`, `retention`, `cursor`, `stats`, `filter` (filters to SQL) and `txn` (the write
//! transaction).

mod aggregate;
mod alerts;
mod bulk;
mod changes;
mod cursor;
mod filter;
pub mod idle;
mod incidents;
mod occurrences;
mod patterns;
mod quarantine;
mod query;
mod readers;
mod relink;
mod retention;
mod rollup;
mod schema;
mod search;
mod silences;
mod stats;
mod txn;
mod write;
mod writer_thread;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use kubetrail_model::{
    AggregateQuery, AggregateRow, AnalysisOccurrences, EventFilter, EventOccurrences, Severity,
    Timestamp,
};
use rusqlite::Connection;

use crate::{
    AlertFilter, AlertRecord, Delivery, DeliveryUpdate, Error, Gap, NewDelivery, Page, Quarantined,
    Result, RetentionPolicy, RetentionReport, Silence, StoreStats, StoreTxn, StoredAlert,
    StoredEvent, WatchCursor,
};
use crate::{EventReader, EventSink, Outbox, Retention, Silences};
use retention::{CHUNK, Deleted};

/// The page caches of a store's connections, in KiB each (SQLite's `cache_size`): what a
/// connection may keep of the file in memory. Filled by use and kept until the connection
/// closes, so they are sized to the work of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCaches {
    /// The writer's.
    pub writer_kib: u32,
    /// Each reader's.
    pub reader_kib: u32,
}

impl PageCaches {
    /// Unless asked otherwise: readers scan indexes and rollups, 8 MiB keeps the hot ones.
    pub const DEFAULT: PageCaches = PageCaches {
        writer_kib: 8 * 1024,
        reader_kib: 8 * 1024,
    };

    /// A live watcher (`kubetrail run`): small batches of recent events and change states
    /// read by key. Larger caches only filled up with pages of the change tracker's states
    /// (+9.5 MB over a listing of 20,000 objects, issue 15; docs/BENCHMARKS.md).
    pub const LIVE: PageCaches = PageCaches {
        writer_kib: 2 * 1024,
        reader_kib: 2 * 1024,
    };

    /// A command that reads what it needs once (`kubetrail incidents`: the 30-day list of
    /// 1M events passes over 33 MB of stored bodies, each read once): a larger cache only
    /// fills with pages not read again, each allocated and faulted in (8 MiB: +8 MB RSS and
    /// 10-15 ms more CPU on that list; docs/BENCHMARKS.md).
    pub const ONE_PASS: PageCaches = PageCaches {
        writer_kib: 1024,
        reader_kib: 1024,
    };
}

/// Events in SQLite, in one file (plus its `-wal` and `-shm` companions).
///
/// Timestamps are kept to the microsecond (Kubernetes' own precision); a count of 0 is stored
/// as 1.
pub struct SqliteStore {
    path: PathBuf,
    /// Held by a write transaction (or a retention step) for its whole life.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    writer: Arc<Mutex<Connection>>,
    /// Runs all of the writer's work (see `writer_thread`).
    writer_thread: writer_thread::WriterThread,
    readers: Arc<readers::ReaderPool>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates, with its directory) the database at `path` and migrates its schema.
    /// A database written by a newer kubetrail is refused with [`Error::SchemaTooNew`].
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        Self::open_with_caches(path, PageCaches::DEFAULT)
    }

    /// Like [`SqliteStore::open`], with `writer_cache_kib` of page cache for the writer: bulk
    /// imports want tens of MiB (index pages stay hot).
    /// Its writer keeps temporary files on disk: the sorts of the indexes a bulk write builds
    /// at commit write their runs out past the page cache instead of holding every key.
    /// Its readers serve the maintenance pass after the import, as `run`'s do its pass: with
    /// [`PageCaches::LIVE`]'s.
    pub fn open_with_cache(path: impl AsRef<Path>, writer_cache_kib: u32) -> Result<SqliteStore> {
        let caches = PageCaches {
            writer_kib: writer_cache_kib,
            reader_kib: PageCaches::LIVE.reader_kib,
        };
        let store = Self::open_with_caches(path, caches)?;
        schema::temp_files_on_disk(&lock(&store.writer))?;
        Ok(store)
    }

    /// Like [`SqliteStore::open`], with these page caches (e.g. [`PageCaches::LIVE`] for a
    /// watcher: flat memory).
    pub fn open_with_caches(path: impl AsRef<Path>, caches: PageCaches) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let opening = |e: Error| match e {
            Error::Sqlite(source) => Error::Open {
                path: shown.clone(),
                source,
            },
            other => other,
        };
        let writer = Connection::open(&path)
            .map_err(Error::from)
            .map_err(opening)?;
        schema::prepare_writer(&writer, caches.writer_kib).map_err(opening)?;
        let reader = Connection::open(&path)
            .map_err(Error::from)
            .map_err(opening)?;
        schema::prepare_reader(&reader, caches.reader_kib).map_err(opening)?;
        Ok(SqliteStore {
            path: path.clone(),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            writer: Arc::new(Mutex::new(writer)),
            writer_thread: writer_thread::WriterThread::start()?,
            readers: Arc::new(readers::ReaderPool::new(
                path.clone(),
                reader,
                readers::ReaderPool::default_max(),
                caches.reader_kib,
            )),
        })
    }

    /// Opens the existing store at `path` for reading only: nothing is created, migrated or
    /// written (a write fails), so a store on a read-only file or directory can be queried.
    /// SQLite's WAL mode wants a `-shm` file beside the database; when it cannot be created
    /// (a read-only directory) the file is opened as immutable, which reads the database file
    /// alone (all of it after a clean shutdown; what a `-wal` file still holds is not seen, and
    /// a warning says so). A store whose schema is older than this build's is refused with
    /// [`Error::SchemaTooOld`] (opening it writable migrates it).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteStore> {
        Self::open_read_only_with_caches(path, PageCaches::DEFAULT)
    }

    /// Like [`SqliteStore::open_read_only`], with `caches.reader_kib` of page cache for each
    /// connection (e.g. [`PageCaches::ONE_PASS`]).
    pub fn open_read_only_with_caches(
        path: impl AsRef<Path>,
        caches: PageCaches,
    ) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        let opening = |source| Error::Open {
            path: shown.clone(),
            source,
        };
        if !path.is_file() {
            return Err(opening(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some("no database file".to_string()),
            )));
        }
        // A rollback journal beside the store: a first import is writing the file in place
        // (`bulk::leave_wal`), or was interrupted there. Read-only, that can be neither waited
        // out (a `mode=ro` open would wait its busy timeout, then fail) nor rolled back, and
        // read as immutable the file would be read torn.
        if bulk::journal_beside(&path) {
            return Err(Error::RollbackJournal { path: shown });
        }
        let uri_of = |option: &str| format!("file:{}?{option}", uri_path(&path));
        let mut uri = uri_of("mode=ro");
        let probe = |uri: &str| -> rusqlite::Result<(Connection, i64)> {
            let conn = readers::open_read_only(uri)?;
            // Reading the schema needs the WAL index (the `-shm` file).
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
            let version = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            Ok((conn, version))
        };
        let (writer, version) = match probe(&uri) {
            Ok(found) => found,
            Err(e) if is_corrupt_sqlite(&e) => return Err(opening(e)),
            Err(_) => {
                uri = uri_of("immutable=1");
                let found = probe(&uri).map_err(opening)?;
                let wal = PathBuf::from(format!("{shown}-wal"));
                if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                    tracing::warn!(path = %shown, "read-only store opened as immutable: what its -wal file holds is not seen");
                }
                found
            }
        };
        if version > schema::SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                found: version,
                known: schema::SCHEMA_VERSION,
            });
        }
        if version < schema::SCHEMA_VERSION {
            return Err(Error::SchemaTooOld {
                found: version,
                known: schema::SCHEMA_VERSION,
            });
        }
        let cache_kib = caches.reader_kib;
        schema::prepare_reader(&writer, cache_kib).map_err(|e| match e {
            Error::Sqlite(source) => opening(source),
            other => other,
        })?;
        let reader = readers::open_read_only(&uri).map_err(opening)?;
        schema::prepare_reader(&reader, cache_kib)?;
        Ok(SqliteStore {
            path: path.clone(),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            writer: Arc::new(Mutex::new(writer)),
            writer_thread: writer_thread::WriterThread::start()?,
            readers: Arc::new(readers::ReaderPool::read_only(
                path,
                uri,
                reader,
                readers::ReaderPool::default_max(),
                cache_kib,
            )),
        })
    }

    /// Checks the whole file with SQLite's `PRAGMA quick_check` (it reads every page: seconds
    /// per GB). Returns the problems found, at most `max`; none when the store is sound.
    pub async fn quick_check(&self, max: u32) -> Result<Vec<String>> {
        self.read(move |c| {
            let mut stmt = c.prepare(&format!("PRAGMA quick_check({})", max.max(1)))?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut problems = Vec::new();
            for row in rows {
                let row = row?;
                if row != "ok" {
                    problems.push(row);
                }
            }
            Ok(problems)
        })
        .await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Page cache for bulk imports (see [`SqliteStore::open_with_cache`]): the B-trees an
    /// import writes row by row (the events' key, object and correlation indexes, occurrences
    /// by event, the rollups; the others are built at commit in an empty store), within the
    /// import's 100 MB budget (issue 14 §3; 48 MiB before).
    pub const BULK_WRITER_CACHE_KIB: u32 = 32 * 1024;

    /// The schema version this build migrates stores to.
    pub const SCHEMA_VERSION: i64 = schema::SCHEMA_VERSION;

    /// Aggregates without the rollups, from every occurrence: what the rollup path must equal.
    #[doc(hidden)]
    pub async fn aggregate_raw(&self, q: &AggregateQuery) -> Result<Vec<AggregateRow>> {
        let q = q.clone();
        self.read(move |c| aggregate::aggregate(c, &q, false)).await
    }

    /// A write transaction (see `txn`), `bulk` or not (see `bulk`).
    async fn start(&self, stored_at: Timestamp, bulk: bool) -> Result<Box<dyn StoreTxn>> {
        let held = Arc::clone(&self.write_lock).lock_owned().await;
        if bulk {
            // Into an empty store, a bulk write leaves WAL, which no other connection open on
            // the store allows (`bulk::leave_wal`): the idle readers are closed (the next read
            // opens one again).
            self.readers.close_idle();
        }
        let txn = txn::SqliteTxn::begin(
            Arc::clone(&self.writer),
            self.writer_thread.clone(),
            held,
            stored_at,
            bulk,
        )
        .await?;
        Ok(Box::new(txn))
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.readers.read(f).await
    }

    /// Runs `f` on the writer, in its own transaction when `in_txn` (committed on success).
    async fn write<T: Send + 'static>(
        &self,
        in_txn: bool,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let held = Arc::clone(&self.write_lock).lock_owned().await;
        let writer = Arc::clone(&self.writer);
        self.writer_thread
            .run(move || {
                // The writer lock stays held until the work is done, even if the caller goes away.
                let _held = held;
                let conn = lock(&writer);
                if !in_txn {
                    return f(&conn);
                }
                txn::start(&conn)?;
                match f(&conn) {
                    Ok(v) => {
                        conn.execute_batch("COMMIT")?;
                        Ok(v)
                    }
                    Err(e) => {
                        if let Err(error) = conn.execute_batch("ROLLBACK") {
                            tracing::warn!(%error, "cannot roll back a failed write step");
                        }
                        Err(e)
                    }
                }
            })
            .await
    }

    /// Repeats a retention step, each in its own transaction and starting where the last one
    /// stopped, until it deletes less than a chunk.
    async fn repeat_step(
        &self,
        report: &mut RetentionReport,
        step: impl Fn(&Connection, i64) -> Result<Deleted> + Send + Sync + Copy + 'static,
    ) -> Result<()> {
        let mut from = i64::MIN;
        loop {
            let d = self.write(true, move |c| step(c, from)).await?;
            from = d.resume;
            for (cluster, part) in d.clusters {
                report.add(cluster, part);
            }
            if d.rows < CHUNK {
                return Ok(());
            }
        }
    }
}

/// A path as the path part of an SQLite `file:` URI (`%`, `?` and `#` escaped).
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// Whether SQLite says the file is damaged or not a database at all.
pub(crate) fn is_corrupt_sqlite(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// Locks a connection; a panic while it was held left no Rust state behind to distrust (the
/// database rolls back what was not committed), so poisoning is ignored.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl EventSink for SqliteStore {
    async fn begin(&self) -> Result<Box<dyn StoreTxn>> {
        self.begin_at(Timestamp::now()).await
    }

    async fn begin_at(&self, stored_at: Timestamp) -> Result<Box<dyn StoreTxn>> {
        self.start(stored_at, false).await
    }

    async fn begin_bulk(&self) -> Result<Box<dyn StoreTxn>> {
        self.start(Timestamp::now(), true).await
    }

    /// The writer's page cache down to [`PageCaches::LIVE`]'s when it was opened larger
    /// ([`SqliteStore::BULK_WRITER_CACHE_KIB`]): the import's maintenance pass after its last
    /// file held the full 32 MiB beside its reads (issue 14 §3: a peak of ≤ 100 MB), and it
    /// writes no more than `run`'s pass does.
    async fn end_bulk(&self) -> Result<()> {
        let kib = -i64::from(PageCaches::LIVE.writer_kib);
        self.write(false, move |c| {
            let now: i64 = c.pragma_query_value(None, "cache_size", |r| r.get(0))?;
            if now < kib {
                c.pragma_update(None, "cache_size", kib)?;
                c.execute_batch("PRAGMA shrink_memory")?;
            }
            Ok(())
        })
        .await
    }

    async fn cursor(&self, cluster: &str, stream: &str) -> Result<Option<WatchCursor>> {
        let (cluster, stream) = (cluster.to_owned(), stream.to_owned());
        self.read(move |c| cursor::load(c, &cluster, &stream)).await
    }
}

impl SqliteStore {
    /// The events of `filter` with their occurrences in its range as analysis reads them
    /// (at most `limit`, 0: all; `over` says what a read of more gives):
    /// [`EventReader::analysis_occurrences`] and its latest.
    async fn shared_occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
        over: occurrences::Over,
    ) -> Result<Option<Vec<AnalysisOccurrences>>> {
        let filter = filter.clone();
        self.read(move |c| {
            let shape = crate::rows::Shared::default();
            occurrences::occurrences(c, &filter, limit, shape, over)
        })
        .await
    }
}

#[async_trait]
impl EventReader for SqliteStore {
    async fn query(&self, filter: &EventFilter, page: &Page) -> Result<Vec<StoredEvent>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |c| query::query(c, &filter, &page)).await
    }

    async fn aggregate(&self, q: &AggregateQuery) -> Result<Vec<AggregateRow>> {
        let q = q.clone();
        self.read(move |c| aggregate::aggregate(c, &q, true)).await
    }

    async fn occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<EventOccurrences>> {
        let filter = filter.clone();
        self.read(move |c| {
            let shape = crate::rows::Stored(crate::Fields::Whole);
            occurrences::occurrences(c, &filter, limit, shape, occurrences::Over::Latest)
                .map(Option::unwrap_or_default)
        })
        .await
    }

    async fn analysis_occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Option<Vec<AnalysisOccurrences>>> {
        self.shared_occurrences(filter, limit, occurrences::Over::Nothing)
            .await
    }

    async fn latest_analysis_occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<AnalysisOccurrences>> {
        self.shared_occurrences(filter, limit, occurrences::Over::Latest)
            .await
            .map(Option::unwrap_or_default)
    }

    async fn occurrences_in_pages(
        &self,
        filter: &EventFilter,
        limit: usize,
        page: usize,
        fields: crate::Fields,
        each: &mut (dyn FnMut(Vec<EventOccurrences>) + Send),
    ) -> Result<usize> {
        let picked = filter.clone();
        let ids = self
            .read(move |c| occurrences::occurrence_ids(c, &picked, limit))
            .await?;
        let mut n = 0;
        for ids in crate::roles::pages(&ids, page) {
            let (filter, ids) = (filter.clone(), ids.to_vec());
            let events = self
                .read(move |c| {
                    occurrences::occurrences_of(c, &filter, &ids, crate::rows::Stored(fields))
                })
                .await?;
            n += events.len();
            each(events);
        }
        Ok(n)
    }

    async fn gaps(&self, since: Option<Timestamp>, until: Option<Timestamp>) -> Result<Vec<Gap>> {
        self.read(move |c| cursor::load_gaps(c, since, until)).await
    }

    async fn stats(&self) -> Result<StoreStats> {
        self.read(stats::stats).await
    }

    fn change_store(&self) -> Option<&dyn crate::ChangeStore> {
        Some(self)
    }

    fn incident_store(&self) -> Option<&dyn crate::IncidentStore> {
        Some(self)
    }

    fn pattern_store(&self) -> Option<&dyn crate::PatternStore> {
        Some(self)
    }

    async fn quarantined(&self, limit: usize) -> Result<Vec<Quarantined>> {
        self.read(move |c| quarantine::newest(c, limit)).await
    }
}

#[async_trait]
impl Retention for SqliteStore {
    async fn apply_retention(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport> {
        let mut report = RetentionReport {
            bytes_before: self.write(false, stats::file_bytes).await?,
            ..RetentionReport::default()
        };
        for severity in Severity::ALL {
            let cutoff = crate::expiry::cutoff(policy, severity, now);
            let sev = severity.as_str();
            self.repeat_step(&mut report, move |c, from| {
                retention::expire_events(c, sev, from, cutoff)
            })
            .await?;
            self.repeat_step(&mut report, move |c, from| {
                retention::expire_occurrences(c, sev, from, cutoff)
            })
            .await?;
        }
        if let Some(max_bytes) = policy.max_bytes {
            let mut events = self.read(count_events).await?;
            while let Some(d) = self
                .write(true, move |c| retention::shrink(c, max_bytes, events))
                .await?
            {
                report.events_deleted_for_size += d.rows;
                for (cluster, part) in d.clusters {
                    report.add(cluster, part);
                }
                events = events.saturating_sub(d.rows);
                if d.rows == 0 {
                    tracing::warn!(
                        max_bytes,
                        "the store is empty and still above its size limit"
                    );
                    break;
                }
            }
        }
        // The incidents of what was deleted are recomputed by the next maintenance.
        let spans = crate::incidents::deleted_spans(&report);
        self.write(true, move |c| incidents::mark_dirty(c, &spans))
            .await?;
        self.write(true, retention::forget_placements).await?;
        let cutoff = crate::records::cutoff(policy, now);
        let (alerts, silences, gaps) = self
            .write(true, move |c| retention::expire_records(c, cutoff))
            .await?;
        report.alerts_deleted = alerts;
        report.silences_deleted = silences;
        report.gaps_deleted = gaps;
        (report.changes_deleted, report.change_states_deleted) = self
            .write(true, move |c| changes::expire(c, cutoff))
            .await?;
        report.bytes_after = self
            .write(false, |c| {
                retention::vacuum(c)?;
                stats::file_bytes(c)
            })
            .await?;
        Ok(report)
    }

    async fn preview_retention(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport> {
        let policy = policy.clone();
        self.read(move |c| retention::preview(c, &policy, now))
            .await
    }
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn save_alert(
        &self,
        alert: &AlertRecord,
        deliveries: &[NewDelivery],
        now: Timestamp,
    ) -> Result<i64> {
        let (alert, deliveries) = (alert.clone(), deliveries.to_vec());
        self.write(true, move |c| {
            alerts::save_alert(c, &alert, &deliveries, now)
        })
        .await
    }

    async fn due_deliveries(&self, now: Timestamp, limit: usize) -> Result<Vec<Delivery>> {
        self.read(move |c| alerts::due_deliveries(c, now, limit))
            .await
    }

    async fn update_delivery(&self, update: &DeliveryUpdate) -> Result<()> {
        let update = update.clone();
        self.write(true, move |c| alerts::update_delivery(c, &update))
            .await
    }

    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<StoredAlert>> {
        let filter = filter.clone();
        self.read(move |c| alerts::alerts(c, &filter)).await
    }
}

#[async_trait]
impl Silences for SqliteStore {
    async fn save_silence(&self, silence: &Silence, now: Timestamp) -> Result<i64> {
        let silence = silence.clone();
        self.write(true, move |c| silences::save(c, &silence, now))
            .await
    }

    async fn silences(&self, active_at: Option<Timestamp>) -> Result<Vec<Silence>> {
        self.read(move |c| silences::load(c, active_at)).await
    }
}

fn count_events(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14 §3: the import's pass ran with the writer's bulk cache (32 MiB), filled by
    /// the import, beside its reads. After `end_bulk` the writer has a live watcher's cache,
    /// and the readers (the pass's) have one from the start.
    #[tokio::test]
    async fn a_bulk_writer_cache_shrinks_to_a_live_one_when_the_import_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubetrail.db");
        let store =
            SqliteStore::open_with_cache(&path, SqliteStore::BULK_WRITER_CACHE_KIB).unwrap();
        let cache = |s: &SqliteStore| {
            let c = lock(&s.writer);
            c.pragma_query_value(None, "cache_size", |r| r.get::<_, i64>(0))
                .unwrap()
        };
        assert_eq!(
            cache(&store),
            -i64::from(SqliteStore::BULK_WRITER_CACHE_KIB)
        );
        let reader = store
            .read(|c| Ok(c.pragma_query_value(None, "cache_size", |r| r.get::<_, i64>(0))?))
            .await
            .unwrap();
        assert_eq!(reader, -i64::from(PageCaches::LIVE.reader_kib));
        store.end_bulk().await.unwrap();
        assert_eq!(cache(&store), -i64::from(PageCaches::LIVE.writer_kib));
        // A smaller cache stays as it was opened.
        drop(store);
        let small = SqliteStore::open_with_caches(&path, PageCaches::ONE_PASS).unwrap();
        small.end_bulk().await.unwrap();
        assert_eq!(cache(&small), -i64::from(PageCaches::ONE_PASS.writer_kib));
    }

    /// Issue 12's import regression: the writer's work ran on whichever thread of tokio's
    /// blocking pool was free, spreading SQLite's allocations over glibc arenas that each kept
    /// what was freed (peak RSS 15–20 MiB higher). Every write runs on the one writer thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_write_runs_on_the_one_writer_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("kubetrail.db")).unwrap());
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..8 {
            let (a, b) = (Arc::clone(&store), Arc::clone(&store));
            let both = tokio::join!(
                tokio::spawn(async move {
                    a.write(true, |_| {
                        Ok(std::thread::current().name().map(str::to_owned))
                    })
                    .await
                }),
                tokio::spawn(async move {
                    let mut txn = b.begin().await?;
                    txn.write(vec![crate::conformance::event(
                        "x",
                        crate::conformance::t0(),
                        1,
                    )])
                    .await?;
                    txn.commit().await?;
                    b.write(false, |_| {
                        Ok(std::thread::current().name().map(str::to_owned))
                    })
                    .await
                }),
            );
            names.insert(both.0.unwrap().unwrap());
            names.insert(both.1.unwrap().unwrap());
        }
        assert_eq!(names, [Some(writer_thread::NAME.to_string())].into());
    }
}
