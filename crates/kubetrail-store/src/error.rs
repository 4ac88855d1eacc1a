/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the store at {path}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the data directory {path}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the store's schema version {found} is newer than this kubetrail knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("sqlite")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store's worker thread stopped")]
    WorkerGone,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
