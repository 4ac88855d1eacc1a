//! One module per subcommand (`cli::run` dispatches), and what they share: opening the store,
//! the filter flags as the query layer reads them.

pub mod agent;
pub mod aggregate;
pub mod alerts;
pub mod analysis_window;
pub mod anomalies;
pub mod bench;
pub mod bench_cpus;
pub mod bench_live;
pub mod bench_storm;
pub mod changes;
pub mod demo;
pub mod demo_report;
pub mod eval;
pub mod explain;
pub mod hint;
pub mod import;
pub mod incidents;
pub mod maintain;
pub mod patterns;
pub mod query;
pub mod retention;
pub mod run;
pub mod serve;
pub mod sim;
pub mod status;
pub mod version;
pub mod watch;

use std::sync::Arc;

use anyhow::{Context, Result};
use kubetrail_model::{EventFilter, Timestamp};
use kubetrail_query::{FilterText, Range};
use kubetrail_store::{
    ChangeStore, PageCaches, PostgresOptions, PostgresStore, SqliteStore, Store, redact_url,
};

use crate::args::FilterArgs;
use crate::config::Config;

/// An error that comes from a damaged SQLite file says so first, with the file: whatever the
/// command was doing, the answer is to restore or rebuild the store.
pub fn name_corrupt_store(e: anyhow::Error, config: &Config) -> anyhow::Error {
    let corrupt = e.chain().any(|cause| {
        cause
            .downcast_ref::<kubetrail_store::Error>()
            .is_some_and(kubetrail_store::Error::is_corrupt)
    });
    if !corrupt || config.postgres.is_some() {
        return e;
    }
    e.context(format!(
        "the store at {} is corrupt (restore it from a backup, or move it away and import again)",
        config.db_path().display()
    ))
}

/// Opens (creating if needed) the embedded store of the configuration.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    if let Some(options) = &config.postgres {
        return open_postgres(options);
    }
    let path = config.db_path();
    let store = SqliteStore::open(&path)
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;
    Ok(Arc::new(store))
}

/// Opens the store once as both roles `run` needs: events ([`Store`]) and changes
/// ([`ChangeStore`]), with the page caches of a live watcher.
pub fn open_stores(config: &Config) -> Result<(Arc<dyn Store>, Arc<dyn ChangeStore>)> {
    if let Some(options) = &config.postgres {
        let store = Arc::new(connect_postgres(options)?);
        return Ok((store.clone(), store));
    }
    let path = config.db_path();
    let store = Arc::new(
        SqliteStore::open_with_caches(&path, PageCaches::LIVE)
            .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?,
    );
    Ok((store.clone(), store))
}

/// Opens the store for a command that only reads (query, status, the analyses): an existing
/// SQLite store is opened read-only, so that it can be read on a read-only file or directory;
/// an older schema is migrated, as `open_store`. A missing one is an error saying where it was
/// looked for: reading never creates an empty store. On a terminal, says which store it reads.
pub fn open_store_for_reading(config: &Config) -> Result<Arc<dyn Store>> {
    open_store_for_reading_with(config, PageCaches::DEFAULT)
}

/// [`open_store_for_reading`] with these page caches for an SQLite store opened read-only
/// (e.g. [`PageCaches::ONE_PASS`] for a command that reads each page once).
pub fn open_store_for_reading_with(config: &Config, caches: PageCaches) -> Result<Arc<dyn Store>> {
    say_store(config, false);
    let path = config.db_path();
    if config.postgres.is_some() {
        return open_store(config);
    }
    if !path.exists() {
        anyhow::bail!(
            "no store at {} (the data directory comes from --data-dir, KUBETRAIL_DATA_DIR or the config's data_dir, default ./kubetrail-data); `kubetrail import` or `kubetrail run` creates one",
            path.display()
        );
    }
    match SqliteStore::open_read_only_with_caches(&path, caches) {
        Ok(store) => Ok(Arc::new(store)),
        Err(kubetrail_store::Error::SchemaTooOld { .. }) => open_store(config),
        // A writing open waits out an import writing the empty store in place (up to its busy
        // timeout), or rolls an interrupted one back.
        Err(journal @ kubetrail_store::Error::RollbackJournal { .. }) => {
            open_store(config).with_context(|| journal.to_string())
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "cannot open the store in {} for reading",
            config.data_dir.display()
        ))),
    }
}

/// Opens the store with a page cache sized for bulk writes (imports).
pub fn open_bulk_store(config: &Config) -> Result<Arc<dyn Store>> {
    say_store(config, false);
    if let Some(options) = &config.postgres {
        return open_postgres(options);
    }
    let path = config.db_path();
    let store = SqliteStore::open_with_cache(&path, SqliteStore::BULK_WRITER_CACHE_KIB)
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;
    Ok(Arc::new(store))
}

/// Says on stderr which store a command uses: `always` for the long-running commands (`run`,
/// `serve`, `demo`), else only to a person at a terminal.
pub fn say_store(config: &Config, always: bool) {
    use std::io::IsTerminal;
    if always || std::io::stderr().is_terminal() {
        eprintln!("store: {}", store_location(config));
    }
}

/// Where the store is, for people: the PostgreSQL URL without its password, or the file.
pub fn store_location(config: &Config) -> String {
    match &config.postgres {
        Some(options) => redact_url(&options.url),
        None => config.db_path().display().to_string(),
    }
}

/// Connects to the configured PostgreSQL store (migrating it). The commands open their store
/// from synchronous code on the multi-threaded runtime, so this waits for the connection in
/// place.
fn open_postgres(options: &PostgresOptions) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(connect_postgres(options)?))
}

fn connect_postgres(options: &PostgresOptions) -> Result<PostgresStore> {
    let connect = PostgresStore::connect(options);
    let store = tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(connect))
        .with_context(|| {
            format!(
                "cannot open the PostgreSQL store at {}",
                redact_url(&options.url)
            )
        })?;
    Ok(store)
}

/// The filter flags as the query layer reads them (the API's parameters the same).
pub fn filter_text(f: &FilterArgs) -> FilterText {
    FilterText {
        clusters: f.cluster.clone(),
        namespaces: f.namespace.clone(),
        kinds: f.kind.clone(),
        names: f.name.clone(),
        reasons: f.reason.clone(),
        categories: f.category.clone(),
        severity: f.severity.clone(),
        types: f.type_.clone(),
        correlations: f.correlation.clone(),
        nodes: f.node.clone(),
        search: f.search.clone(),
    }
}

/// The filter of the flags, without times; errors name the flag.
pub fn build_filter(f: &FilterArgs) -> Result<EventFilter> {
    filter_text(f).filter().map_err(flag_error)
}

/// `--since`/`--until` of the flags (the one time rule: `kubetrail_query::Range`).
pub fn build_range(f: &FilterArgs, now: Timestamp) -> Result<Range> {
    Range::parse(f.since.as_deref(), f.until.as_deref(), now).map_err(flag_error)
}

/// A query-layer error as the CLI says it: a bad parameter is named as its flag.
pub fn flag_error(e: kubetrail_query::Error) -> anyhow::Error {
    match e {
        kubetrail_query::Error::Param {
            name: "object",
            message,
        } => {
            anyhow::anyhow!("{message}")
        }
        kubetrail_query::Error::Param { name, message } => {
            anyhow::anyhow!("--{}: {message}", name.replace('_', "-"))
        }
        other => anyhow::Error::new(other),
    }
}
