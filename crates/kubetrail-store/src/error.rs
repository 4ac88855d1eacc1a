/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite database file could not be opened or set up.
    #[error("cannot open the store at {path}")]
    Open {
        /// The database file.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The directory that holds the database file could not be created.
    #[error("cannot create the data directory {path}")]
    CreateDir {
        /// The directory.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    #[error("the store's schema version {found} is newer than this kubetrail knows ({known})")]
    /// The store was migrated by a newer kubetrail; this one refuses to touch it.
    SchemaTooNew {
        /// The store's schema version.
        found: i64,
        /// The newest version this kubetrail knows.
        known: i64,
    },
    #[error(
        "the store's schema version {found} is older than this kubetrail's ({known}); a command that writes (import, run) migrates it"
    )]
    /// The store needs a migration, which read-only commands do not make.
    SchemaTooOld {
        /// The store's schema version.
        found: i64,
        /// The version this kubetrail expects.
        known: i64,
    },
    #[error(
        "the store at {path} has a rollback journal beside it: an import into the empty store is writing it, or one was interrupted (a command that writes, e.g. import or run, rolls it back)"
    )]
    /// A read-only open found the store's file between two consistent states: a bulk import
    /// into the empty store writes it in place through a rollback journal, which a read-only
    /// connection can neither wait out nor roll back (read as immutable, the file would be
    /// read torn).
    RollbackJournal {
        /// The store's file.
        path: String,
    },
    /// A query the store cannot run (e.g. a bad search text, or a filter the rollups
    /// cannot apply); the text says what.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("the stored {column} {value:?} is not valid")]
    /// A stored value that does not parse back (e.g. an unknown category name).
    Corrupt {
        /// The column it was read from.
        column: &'static str,
        /// The value as stored.
        value: String,
    },
    #[error("cannot encode or decode the JSON column {column}")]
    /// A JSON column (labels, an alert payload, a quarantined event) could not be written or
    /// read back.
    Json {
        /// The column.
        column: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A write transaction was used again after one of its writes failed.
    #[error("the write transaction was rolled back after an earlier error")]
    Aborted,
    /// A bulk transaction into an empty store writes its batches without a savepoint each
    /// (issue 14 §3), so it cannot undo a batch the store refuses alone: the whole transaction
    /// was rolled back. Write the same events again through
    /// [`EventSink::begin`](crate::EventSink::begin), where refused events are isolated.
    #[error("a bulk write was refused; the whole bulk transaction was rolled back")]
    BulkRefused(#[source] Box<Error>),
    /// SQLite failed.
    #[error("sqlite")]
    Sqlite(#[from] rusqlite::Error),
    /// A SQLite worker thread of the store ended before answering (e.g. it panicked).
    #[error("the store's worker thread stopped")]
    WorkerGone,
    /// The thread of the SQLite writer could not be started.
    #[error("cannot start the store's writer thread")]
    StartWriter(#[source] std::io::Error),
    #[error("no {what} with id {id}")]
    /// A record asked for by id does not exist.
    NotFound {
        /// What kind of record, e.g. `alert` or `silence`.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// A replacement of stored incidents was asked to keep one as stored that it does not
    /// cover: keeping nothing in its place, it would have lost it. Nothing was changed.
    #[error("the incident {id} of cluster {cluster} to keep as stored is not among those replaced")]
    NotKept {
        /// Its cluster.
        cluster: String,
        /// Its id (`Incident::id`).
        id: String,
    },
    /// TLS to PostgreSQL could not be set up (e.g. an unreadable CA file); the text says why.
    #[error("TLS to PostgreSQL: {0}")]
    Tls(String),
    /// The PostgreSQL connection URL does not parse.
    #[error("invalid PostgreSQL URL {url}")]
    PostgresUrl {
        /// The URL without its password.
        url: String,
        /// The parser's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// PostgreSQL failed (connection, query or server error).
    #[error("postgres")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool (e.g. the server is unreachable).
    #[error("cannot get a PostgreSQL connection from the pool")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A backend outside this crate (e.g. the agent's JetStream publisher) could not take the
    /// write now; it may later.
    #[error("{what} is unavailable")]
    Unavailable {
        /// What is unavailable, e.g. `NATS JetStream`.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Whether SQLite found the store's file damaged (`SQLITE_CORRUPT`) or not a database at all
    /// (`SQLITE_NOTADB`): nothing will work until it is restored or rebuilt.
    pub fn is_corrupt(&self) -> bool {
        match self {
            Error::Sqlite(e) | Error::Open { source: e, .. } => crate::sqlite::is_corrupt_sqlite(e),
            _ => false,
        }
    }

    /// Whether the same operation may succeed if tried again later: the database was busy or
    /// locked by another connection, a worker thread was lost, or the PostgreSQL server was
    /// unreachable, restarting, or chose this transaction as a deadlock or serialization victim. Bad queries, corrupt rows and
    /// a too new schema are not retriable.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            Error::WorkerGone | Error::Unavailable { .. } => true,
            Error::Postgres(e) => crate::postgres::is_retriable(e),
            Error::Pool(e) => crate::postgres::is_retriable_pool(e),
            _ => false,
        }
    }

    /// Whether the store refused the data written rather than failed: a value it cannot hold
    /// (PostgreSQL SQLSTATE class 22, data exception, e.g. a NUL in text), a limit it has
    /// (class 54, e.g. an index row or a `tsvector` too large; SQLite's `SQLITE_TOOBIG`), a
    /// constraint or trigger that rejects the row (class 23, SQLite's `SQLITE_CONSTRAINT`), or
    /// a value that cannot be encoded. The same events would fail again: they are the events'
    /// fault, never the store's, and writers set them aside (see [`crate::Quarantined`])
    /// instead of retrying. A unique-key violation is not one: kubetrail's writes upsert, so
    /// one can only come from a race with another writer, which a retry settles.
    pub fn is_data_error(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => match e.code {
                rusqlite::ErrorCode::TooBig | rusqlite::ErrorCode::TypeMismatch => true,
                rusqlite::ErrorCode::ConstraintViolation => !matches!(
                    e.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ),
                _ => false,
            },
            Error::Sqlite(rusqlite::Error::ToSqlConversionFailure(_)) | Error::Json { .. } => true,
            Error::Postgres(e) => crate::postgres::is_data_error(e),
            _ => false,
        }
    }
}

/// A result whose error is the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
