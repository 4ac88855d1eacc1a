//! One module per subcommand; `run` dispatches.

pub mod agent;
pub mod aggregate;
pub mod alerts;
pub mod analysis_window;
pub mod anomalies;
pub mod bench;
pub mod bench_live;
pub mod demo;
pub mod eval;
pub mod explain;
pub mod import;
pub mod incidents;
pub mod patterns;
pub mod query;
pub mod retention;
pub mod run;
pub mod serve;
pub mod sim;
pub mod status;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use kubetrail_model::{Category, EventFilter, Timestamp, parse_time_bound};
use kubetrail_store::{PostgresOptions, PostgresStore, SqliteStore, Store, redact_url};

use crate::cli::{Cli, Command, FilterArgs};
use crate::config::Config;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let mut config = Config::load(cli.config.as_deref(), cli.data_dir.clone())?;
    // --- storage: --postgres-url / KUBETRAIL_POSTGRES_URL override the config's URL ---
    if let Some(url) = cli.postgres_url.clone() {
        let mut options = config
            .postgres
            .take()
            .unwrap_or_else(|| PostgresOptions::new(""));
        options.url = url;
        config.postgres = Some(options);
    }
    let result = match cli.command {
        Command::Import(args) => import::run(&config, args).await,
        Command::Query(args) => query::run(&config, args).await,
        Command::Aggregate(args) => aggregate::run(&config, args).await,
        Command::Retention(args) => retention::run(&config, args).await,
        Command::Status(args) => status::run(&config, args).await,
        Command::Run(args) => run::run(&config, args).await,
        Command::Sim(args) => sim::run(args).await,
        Command::Demo(args) => demo::run(&config, args).await,
        Command::Patterns(args) => patterns::run(&config, args).await,
        Command::Anomalies(args) => anomalies::run(&config, args).await,
        Command::Incidents(args) => incidents::run(&config, args).await,
        Command::Explain(args) => explain::run(&config, args).await,
        Command::Eval(args) => eval::run(&config, args).await,
        Command::Bench(args) => bench::run(&config, args).await,
        Command::Alerts(args) => alerts::run(&config, args).await,
        Command::Serve(args) => serve::run(&config, args).await,
        Command::Agent(args) => agent::run(&config, args).await,
    };
    result.map_err(|e| name_corrupt_store(e, &config))
}

/// An error that comes from a damaged SQLite file says so first, with the file: whatever the
/// command was doing, the answer is to restore or rebuild the store.
fn name_corrupt_store(e: anyhow::Error, config: &Config) -> anyhow::Error {
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

/// Opens the store for a command that only reads (query, status, the analyses): an existing
/// SQLite store is opened read-only, so that it can be read on a read-only file or directory;
/// a missing one is created (and answers nothing), an older schema migrated, as `open_store`.
pub fn open_store_for_reading(config: &Config) -> Result<Arc<dyn Store>> {
    let path = config.db_path();
    if config.postgres.is_some() || !path.exists() {
        return open_store(config);
    }
    match SqliteStore::open_read_only(&path) {
        Ok(store) => Ok(Arc::new(store)),
        Err(kubetrail_store::Error::SchemaTooOld { .. }) => open_store(config),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "cannot open the store in {} for reading",
            config.data_dir.display()
        ))),
    }
}

/// Opens the store with a page cache sized for bulk writes (imports).
pub fn open_bulk_store(config: &Config) -> Result<Arc<dyn Store>> {
    if let Some(options) = &config.postgres {
        return open_postgres(options);
    }
    let path = config.db_path();
    let store = SqliteStore::open_with_cache(&path, SqliteStore::BULK_WRITER_CACHE_KIB)
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;
    Ok(Arc::new(store))
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
    let connect = PostgresStore::connect(options);
    let store = tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(connect))
        .with_context(|| {
            format!(
                "cannot open the PostgreSQL store at {}",
                redact_url(&options.url)
            )
        })?;
    Ok(Arc::new(store))
}

/// Turns the filter flags into a model filter; errors name the flag.
pub fn build_filter(f: &FilterArgs, now: Timestamp) -> Result<EventFilter> {
    let since = f
        .since
        .as_deref()
        .map(|s| parse_time_bound(s, now))
        .transpose()
        .context("--since")?;
    let until = f
        .until
        .as_deref()
        .map(|s| parse_time_bound(s, now))
        .transpose()
        .context("--until")?;
    let categories = f
        .category
        .iter()
        .map(|c| c.parse::<Category>())
        .collect::<Result<Vec<_>, _>>()
        .context("--category")?;
    let severities = f
        .severity
        .as_deref()
        .map(str::parse)
        .transpose()
        .context("--severity")?
        .unwrap_or_default();
    Ok(EventFilter {
        since,
        until,
        clusters: f.cluster.clone(),
        namespaces: f.namespace.clone(),
        kinds: f.kind.clone(),
        names: f.name.clone(),
        reasons: f.reason.clone(),
        categories,
        severities,
        types: f.type_.clone(),
        correlations: f.correlation.clone(),
        nodes: f.node.clone(),
        search: f.search.clone(),
    })
}
