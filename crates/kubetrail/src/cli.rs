//! The command line: the global flags and one subcommand per module of `commands/`, and
//! [`run`], which dispatches to them. Arguments several commands share are in `args.rs`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::args::ColorChoice;
use crate::commands::{self, name_corrupt_store};
use crate::config::Config;
use kubetrail_store::PostgresOptions;

#[derive(Debug, Parser)]
#[command(
    name = "kubetrail",
    version = crate::commands::version::LONG_VERSION,
    about = "Keep, explain and alert on Kubernetes Events"
)]
pub struct Cli {
    /// Configuration file (YAML).
    #[arg(long, global = true, env = "KUBETRAIL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded store (default ./kubetrail-data).
    #[arg(long, global = true, env = "KUBETRAIL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep events in PostgreSQL instead of the embedded store:
    /// postgres://user:password@host:5432/database (or the config's storage.postgres.url).
    #[arg(
        long,
        global = true,
        env = "KUBETRAIL_POSTGRES_URL",
        hide_env_values = true
    )]
    pub postgres_url: Option<String>,
    /// Tables without their header line (as kubectl's --no-headers).
    #[arg(long, global = true)]
    pub no_headers: bool,
    /// Times in tables in the local time zone (TZ), not UTC.
    #[arg(long, global = true)]
    pub local_time: bool,
    /// Severities in colour in tables: auto (on a terminal, unless NO_COLOR is set), always,
    /// never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Log format on stderr (level from KUBETRAIL_LOG, default warn).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colours on a terminal).
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import event dumps: kubectl JSON/YAML lists, NDJSON or watch streams, .gz, directories.
    Import(crate::commands::import::ImportArgs),
    /// List stored events.
    Query(crate::commands::query::QueryArgs),
    /// Count occurrences, grouped by dimensions and optionally by time bucket.
    Aggregate(crate::commands::aggregate::AggregateArgs),
    /// Delete events older or bigger than the retention policy allows.
    Retention(crate::commands::retention::RetentionArgs),
    /// Show what the store holds; `--check` also checks the store file for damage.
    Status(crate::commands::status::StatusArgs),
    /// Watch clusters (default: the current kube context) and store their events until stopped.
    Run(crate::commands::run::RunArgs),
    /// Run the Kubernetes API simulator alone (for kubectl and `kubetrail run --kubeconfig`).
    Sim(crate::commands::sim::SimArgs),
    /// Watch the built-in simulator's scenarios and show what kubetrail makes of them.
    Demo(crate::commands::demo::DemoArgs),
    /// Recurring groups of events (reason, kind, namespace, message template) in a window.
    Patterns(crate::commands::patterns::PatternsArgs),
    /// Rate spikes above a learned baseline, and reasons new to a namespace.
    Anomalies(crate::commands::anomalies::AnomaliesArgs),
    /// Changes of watched workloads, ConfigMaps, autoscalers and Nodes, with their diffs.
    Changes(crate::commands::changes::ChangesArgs),
    /// Failures grouped into incidents with a likely root cause.
    Incidents(crate::commands::incidents::IncidentsArgs),
    /// The story of one object: NAMESPACE/KIND/NAME (or Node/NAME).
    Explain(crate::commands::explain::ExplainArgs),
    /// Score the incident engine against hand-labelled dumps (eval/labels).
    Eval(crate::commands::eval::EvalArgs),
    /// Measure processing, import and query speed on the real event dumps.
    Bench(crate::commands::bench::BenchArgs),
    /// Alerts: dry runs of rules over dumps, recorded alerts, silences.
    Alerts(crate::commands::alerts::AlertsArgs),
    /// Serve the web UI, the HTTP API and /metrics over the store (no watching).
    Serve(crate::commands::serve::ServeArgs),
    /// Watch and process clusters like `run`, and publish to NATS JetStream instead of storing
    /// (scale-out: the central `kubetrail run --source nats` stores).
    Agent(crate::commands::agent::AgentArgs),
    /// The version, the commit it was built from and the build date.
    Version(crate::commands::version::VersionArgs),
    /// Shell completions: `source <(kubetrail completion bash)` (bash, zsh, fish, ...).
    Completion(crate::commands::version::CompletionArgs),
}

/// Runs the command: `version` and `completion` at once, the others with the configuration
/// loaded (`--postgres-url` overriding its store).
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Version(args) => return commands::version::run(args),
        Command::Completion(args) => return commands::version::completion(args, Cli::command()),
        _ => {}
    }
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
        Command::Import(args) => commands::import::run(&config, args).await,
        Command::Query(args) => commands::query::run(&config, args).await,
        Command::Aggregate(args) => commands::aggregate::run(&config, args).await,
        Command::Retention(args) => commands::retention::run(&config, args).await,
        Command::Status(args) => commands::status::run(&config, args).await,
        Command::Run(args) => commands::run::run(&config, args).await,
        Command::Sim(args) => commands::sim::run(args).await,
        Command::Demo(args) => commands::demo::run(&config, args).await,
        Command::Patterns(args) => commands::patterns::run(&config, args).await,
        Command::Anomalies(args) => commands::anomalies::run(&config, args).await,
        Command::Changes(args) => commands::changes::run(&config, args).await,
        Command::Incidents(args) => commands::incidents::run(&config, args).await,
        Command::Explain(args) => commands::explain::run(&config, args).await,
        Command::Eval(args) => commands::eval::run(&config, args).await,
        Command::Bench(args) => commands::bench::run(&config, args).await,
        Command::Alerts(args) => commands::alerts::run(&config, args).await,
        Command::Serve(args) => commands::serve::run(&config, args).await,
        Command::Agent(args) => commands::agent::run(&config, args).await,
        Command::Version(args) => commands::version::run(args),
        Command::Completion(args) => commands::version::completion(args, Cli::command()),
    };
    result.map_err(|e| name_corrupt_store(e, &config))
}
