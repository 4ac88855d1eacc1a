//! The PostgreSQL backend: the same [`Store`] as SQLite, shared by many kubetrail instances.
//!
//! Files, one concept each: `schema` (migrations), `partitions` (daily partitions of
//! occurrences), `write` (batches as multi-row statements), `rollup` (the three rollup levels),
//! `txn` (the write transaction), `filter` (filters to SQL), `query`, `occurrences`,
//! `aggregate`, `retention`, `cursor` (cursors and gaps), `stats`, `alerts`, `silences`.
//!
//! Layout differences from SQLite, and why:
//! - `occurrences` is partitioned by day (`ts`), not `events`: an Event's identity is
//!   `(cluster, uid)` and its `last_seen` moves with every repeat, so a time partition key would
//!   have to join the unique key (breaking dedup) and rows would move between partitions.
//!   Occurrences are append-only, one or more per event, and what retention deletes by time.
//! - Full-text search is a stored `tsvector` of the note (`simple` configuration: no stemming,
//!   like FTS5's default tokenizer) with a GIN index, queried with `websearch_to_tsquery`.
//! - Sizes are estimated from the rows kept (an append-only ledger of byte deltas), because
//!   PostgreSQL does not give deleted space back to the file system without `VACUUM FULL`.

mod aggregate;
mod alerts;
mod changes;
mod cursor;
mod filter;
mod incidents;
mod occurrences;
mod partitions;
mod patterns;
mod quarantine;
mod query;
mod redact;
mod relink;
mod retention;
mod rollup;
mod schema;
mod silences;
mod stats;
mod tls;
mod txn;
mod write;

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use kubetrail_model::{
    AggregateQuery, AggregateRow, AnalysisOccurrences, EventFilter, EventOccurrences, Timestamp,
};
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;

pub use redact::redact;

use crate::{
    AlertFilter, AlertRecord, Delivery, DeliveryUpdate, Error, Gap, NewDelivery, Page, Quarantined,
    Result, RetentionPolicy, RetentionReport, Silence, StoreStats, StoreTxn, StoredAlert,
    StoredEvent, WatchCursor,
};
use crate::{EventReader, EventSink, Outbox, Retention, Silences};

/// How to reach the database.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database` (libpq key=value strings work too).
    pub url: String,
    /// The schema holding kubetrail's tables (default: the server's search path, normally
    /// `public`). Created if missing. Letters, digits and `_` only.
    pub schema: Option<String>,
    /// Connections in the pool (default 8).
    pub pool_size: usize,
    /// PEM of the CAs that sign the server's certificate (also `sslrootcert=` in the URL).
    /// TLS is used with `sslmode=require` (or libpq's `verify-ca`/`verify-full`) in the URL,
    /// or when this is given; the certificate and host name are then always verified, against
    /// these CAs or else the system's.
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &redact(&self.url))
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl PostgresOptions {
    /// Options for the server at `url` (`postgres://user:password@host:port/db`), with the default
    /// schema, a pool of 8 connections and the system's root certificates.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            schema: None,
            pool_size: 8,
            ca_file: None,
        }
    }
}

/// Events in PostgreSQL, through a pool of connections.
pub struct PostgresStore {
    pool: Pool,
    url: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects, creates the schema if asked for one, migrates it, and creates the partitions
    /// of the coming days. Fails at once when the server cannot be reached.
    pub async fn connect(options: &PostgresOptions) -> Result<PostgresStore> {
        let shown = redact(&options.url);
        let translated = tls::translate_libpq(&options.url);
        let ca_file = options.ca_file.clone().or(translated.ca_file);
        let mut config: tokio_postgres::Config =
            translated
                .url
                .parse()
                .map_err(|source| Error::PostgresUrl {
                    url: shown.clone(),
                    source,
                })?;
        if ca_file.is_some() && config.get_ssl_mode() != SslMode::Disable {
            config.ssl_mode(SslMode::Require);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("kubetrail");
        }
        if let Some(schema) = &options.schema {
            if !valid_identifier(schema) {
                return Err(Error::InvalidQuery(format!(
                    "the PostgreSQL schema name {schema:?} must be letters, digits and _"
                )));
            }
            let mut opts = config.get_options().unwrap_or_default().to_string();
            opts.push_str(&format!(" -c search_path={schema}"));
            config.options(opts.trim());
        }
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match config.get_ssl_mode() {
            SslMode::Require => {
                Manager::from_config(config, tls::connector(ca_file.as_deref())?, manager_config)
            }
            _ => Manager::from_config(config, NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| Error::InvalidQuery(format!("cannot build the connection pool: {e}")))?;
        let store = PostgresStore { pool, url: shown };
        let mut client = store.client().await?;
        if let Some(schema) = &options.schema {
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .or_else(ignore_duplicate)?;
        }
        schema::migrate(&client).await?;
        partitions::create_ahead(&mut client, Timestamp::now()).await?;
        Ok(store)
    }

    /// The URL, without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema version this build migrates databases to.
    pub const SCHEMA_VERSION: i64 = schema::SCHEMA_VERSION;

    /// Aggregates without the rollups, from every occurrence: what the rollup path must equal.
    #[doc(hidden)]
    pub async fn aggregate_raw(&self, q: &AggregateQuery) -> Result<Vec<AggregateRow>> {
        aggregate::aggregate(&mut self.client().await?, q, false).await
    }

    /// Creates the daily partitions of the coming days and moves rows that landed in the
    /// default partition (days without their own yet, e.g. an old dump) into partitions of
    /// their own. Runs at connect and with every retention pass.
    pub async fn maintain_partitions(&self, now: Timestamp) -> Result<()> {
        let mut client = self.client().await?;
        partitions::create_ahead(&mut client, now).await?;
        partitions::adopt_default(&mut client).await
    }

    /// Refreshes the planner's statistics of every table (`ANALYZE`). Autovacuum does this on
    /// its own schedule; a bulk load (a benchmark, a large import) can ask for it at once.
    pub async fn analyze(&self) -> Result<()> {
        self.client().await?.batch_execute("ANALYZE").await?;
        Ok(())
    }

    /// Whether a connection of the pool is encrypted (`pg_stat_ssl`).
    #[doc(hidden)]
    pub async fn uses_tls(&self) -> Result<bool> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The daily partitions of occurrences, as `[start, end)` micros, oldest first.
    #[doc(hidden)]
    pub async fn partitions(&self) -> Result<Vec<(i64, i64)>> {
        partitions::list(&self.client().await?).await
    }

    async fn client(&self) -> Result<Object> {
        Ok(self.pool.get().await?)
    }
}

#[async_trait]
impl EventSink for PostgresStore {
    async fn begin(&self) -> Result<Box<dyn StoreTxn>> {
        self.begin_at(Timestamp::now()).await
    }

    async fn begin_at(&self, stored_at: Timestamp) -> Result<Box<dyn StoreTxn>> {
        Ok(Box::new(
            txn::PgTxn::begin(self.client().await?, stored_at).await?,
        ))
    }

    async fn cursor(&self, cluster: &str, stream: &str) -> Result<Option<WatchCursor>> {
        cursor::load(&self.client().await?, cluster, stream).await
    }
}

#[async_trait]
impl EventReader for PostgresStore {
    async fn query(&self, filter: &EventFilter, page: &Page) -> Result<Vec<StoredEvent>> {
        query::query(&self.client().await?, filter, page).await
    }

    async fn aggregate(&self, q: &AggregateQuery) -> Result<Vec<AggregateRow>> {
        aggregate::aggregate(&mut self.client().await?, q, true).await
    }

    async fn occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<EventOccurrences>> {
        let shape = crate::rows::Stored(crate::Fields::Whole);
        occurrences::occurrences(&self.client().await?, filter, limit, shape).await
    }

    async fn analysis_occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Option<Vec<AnalysisOccurrences>>> {
        let events = self
            .latest_analysis_occurrences(filter, crate::roles::over_limit(limit))
            .await?;
        Ok(crate::roles::within_limit(events, limit))
    }

    async fn latest_analysis_occurrences(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<AnalysisOccurrences>> {
        let shape = crate::rows::Shared::default();
        occurrences::occurrences(&self.client().await?, filter, limit, shape).await
    }

    async fn occurrences_in_pages(
        &self,
        filter: &EventFilter,
        limit: usize,
        page: usize,
        fields: crate::Fields,
        each: &mut (dyn FnMut(Vec<EventOccurrences>) + Send),
    ) -> Result<usize> {
        let ids = occurrences::occurrence_ids(&self.client().await?, filter, limit).await?;
        let mut n = 0;
        for ids in crate::roles::pages(&ids, page) {
            let events = occurrences::occurrences_of(
                &self.client().await?,
                filter,
                ids,
                crate::rows::Stored(fields),
            )
            .await?;
            n += events.len();
            each(events);
        }
        Ok(n)
    }

    async fn gaps(&self, since: Option<Timestamp>, until: Option<Timestamp>) -> Result<Vec<Gap>> {
        cursor::load_gaps(&self.client().await?, since, until).await
    }

    async fn stats(&self) -> Result<StoreStats> {
        stats::stats(&mut self.client().await?).await
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
        quarantine::newest(&self.client().await?, limit).await
    }
}

#[async_trait]
impl Retention for PostgresStore {
    async fn apply_retention(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport> {
        self.maintain_partitions(now).await?;
        let mut client = self.client().await?;
        let report = retention::apply(&mut client, policy, now).await?;
        // The incidents of what was deleted are recomputed by the next maintenance.
        incidents::mark_dirty(&client, &crate::incidents::deleted_spans(&report)).await?;
        Ok(report)
    }

    async fn preview_retention(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport> {
        retention::preview(&self.client().await?, policy, now).await
    }
}

#[async_trait]
impl Outbox for PostgresStore {
    async fn save_alert(
        &self,
        alert: &AlertRecord,
        deliveries: &[NewDelivery],
        now: Timestamp,
    ) -> Result<i64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = alerts::save_alert(&tx, alert, deliveries, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn due_deliveries(&self, now: Timestamp, limit: usize) -> Result<Vec<Delivery>> {
        alerts::due_deliveries(&self.client().await?, now, limit).await
    }

    async fn update_delivery(&self, update: &DeliveryUpdate) -> Result<()> {
        alerts::update_delivery(&self.client().await?, update).await
    }

    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<StoredAlert>> {
        alerts::alerts(&mut self.client().await?, filter).await
    }
}

#[async_trait]
impl Silences for PostgresStore {
    async fn save_silence(&self, silence: &Silence, now: Timestamp) -> Result<i64> {
        silences::save(&self.client().await?, silence, now).await
    }

    async fn silences(&self, active_at: Option<Timestamp>) -> Result<Vec<Silence>> {
        silences::load(&self.client().await?, active_at).await
    }
}

/// Whether a PostgreSQL error may go away if the same work is tried again: the connection was
/// lost or refused, the server is starting or stopping, or the transaction lost a deadlock or
/// a serialization conflict.
pub(crate) fn is_retriable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::TOO_MANY_CONNECTIONS,
                    SqlState::LOCK_NOT_AVAILABLE,
                ]
                .contains(code)
        }
        // No SQL state: the connection itself failed (refused, reset, timed out).
        None => true,
    }
}

/// Whether PostgreSQL refused the data rather than failed (see [`Error::is_data_error`]):
/// SQLSTATE classes 22 (data exception), 23 (integrity constraint, but for a unique key) and
/// 54 (program limit exceeded).
pub(crate) fn is_data_error(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|code| {
        let code = code.code();
        code.starts_with("22")
            || code.starts_with("54")
            || (code.starts_with("23") && code != SqlState::UNIQUE_VIOLATION.code())
    })
}

/// Whether a pool error may go away: a timeout, or a connection that could not be made.
pub(crate) fn is_retriable_pool(e: &deadpool_postgres::PoolError) -> bool {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Timeout(_) => true,
        PoolError::Backend(e) => is_retriable(e),
        PoolError::Closed | PoolError::NoRuntimeSpecified => false,
        PoolError::PostCreateHook(_) => true,
    }
}

/// `CREATE ... IF NOT EXISTS` can still fail with a duplicate when two connections race.
fn ignore_duplicate(e: tokio_postgres::Error) -> Result<()> {
    match e.code() {
        Some(c)
            if *c == SqlState::DUPLICATE_SCHEMA
                || *c == SqlState::DUPLICATE_TABLE
                || *c == SqlState::UNIQUE_VIOLATION =>
        {
            Ok(())
        }
        _ => Err(e.into()),
    }
}

fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_identifier("kubetrail_1"));
        assert!(!valid_identifier("1abc"));
        assert!(!valid_identifier("a;drop"));
        assert!(!valid_identifier(""));
    }
}
