//! The arguments several commands share: the output format and the event filter. The
//! commands own their other arguments; `cli.rs` assembles them into the command line.

use clap::{Args, ValueEnum};

// When tables show severities in colour (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

// The output format (`-o`).
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

// `-o/--output`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format: table, wide, json, ndjson, yaml (default: table on a terminal, json
    /// otherwise).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
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
