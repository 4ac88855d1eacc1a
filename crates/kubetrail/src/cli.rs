//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
pub enum ColorChoice {
    Auto,
    Always,
    Never,
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
    Import(ImportArgs),
    /// List stored events.
    Query(QueryArgs),
    /// Count occurrences, grouped by dimensions and optionally by time bucket.
    Aggregate(AggregateArgs),
    /// Delete events older or bigger than the retention policy allows.
    Retention(RetentionArgs),
    /// Show what the store holds; `--check` also checks the store file for damage.
    Status(StatusArgs),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    /// A table with more columns (query: cluster, node, correlation, first seen, the whole
    /// message); other commands' tables as `table`.
    Wide,
    Json,
    Ndjson,
    Yaml,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format: table, wide, json, ndjson, yaml (default: table on a terminal, json
    /// otherwise).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Also check the whole SQLite file for damage (`PRAGMA quick_check`: reads every page,
    /// seconds per GB); exits non-zero when it is corrupt.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or directories to import.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Cluster name given to the imported events.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Extra classification rules file (YAML), tried before the built-in rules.
    #[arg(long)]
    pub rules: Vec<PathBuf>,
    /// Go on with the next file after a broken one (the broken file is still not stored).
    #[arg(long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The filters shared by query and aggregate (DESIGN.md, Interfaces).
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Start of the time range: RFC 3339, a duration counted back from the end of the matching
    /// data (2h, 7d), or `all` (README, Time ranges).
    #[arg(long)]
    pub since: Option<String>,
    /// End of the time range (exclusive): RFC 3339, or a duration before now; default: just
    /// after the newest matching event.
    #[arg(long)]
    pub until: Option<String>,
    /// Cluster(s), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub cluster: Vec<String>,
    /// Namespace(s), comma-separated.
    #[arg(long, short = 'n', value_delimiter = ',')]
    pub namespace: Vec<String>,
    /// Every namespace (kubectl's -A; the default when no --namespace is given).
    #[arg(long, short = 'A', conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Kind(s) of the regarding object, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Name(s) of the regarding object, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub name: Vec<String>,
    /// Reason(s), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub reason: Vec<String>,
    /// Category(ies), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub category: Vec<String>,
    /// Severity: `error`, `warning,error`, or `error+` for error and above.
    #[arg(long)]
    pub severity: Option<String>,
    /// Event type(s): Normal, Warning.
    #[arg(long = "type", value_delimiter = ',')]
    pub type_: Vec<String>,
    /// Correlation ID(s) (e.g. shop/Deployment/web), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub correlation: Vec<String>,
    /// Node(s), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub node: Vec<String>,
    /// Full-text search in messages.
    #[arg(long)]
    pub search: Option<String>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Maximum number of events (0: no limit).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Label selector (kubectl's -l, equality-based: team=payments,tier!=web,app,!app) over
    /// the events' labels (those posted through the API carry kubetrail.io/source and
    /// kubetrail.io/tenant); the filters' events are read in full, then selected.
    #[arg(long, short = 'l')]
    pub selector: Option<String>,
    /// After listing, follow the store: print events as they are stored or counted again
    /// (json and ndjson as one object per line), until interrupted.
    #[arg(long, short = 'w')]
    pub watch: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct AggregateArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Dimensions to group by: cluster,namespace,kind,name,reason,category,severity,type,correlation,template,node.
    #[arg(long, default_value = "reason")]
    pub group_by: String,
    /// Time bucket width (e.g. 5m, 1h); no buckets when absent.
    #[arg(long)]
    pub interval: Option<String>,
    /// Maximum number of groups (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Override the configured maximum age (e.g. 30d).
    #[arg(long)]
    pub max_age: Option<String>,
    /// Override the configured maximum size (e.g. 10GiB).
    #[arg(long)]
    pub max_size: Option<String>,
    /// Print what would be deleted (per cluster, with its time range) and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}
