//! `kubetrail changes`: list the stored changes of watched objects (issue 15), newest first.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use kubetrail_model::{Change, Timestamp};
use kubetrail_query::{ChangeText, Range, read_changes, resolve_change_bounds};

use crate::args::OutputArgs;
use crate::config::Config;
use crate::output::{Human, Table, print_items, relative, truncate, wide};

/// Changes of workloads (pod template, replicas, strategy), ConfigMaps, Secrets (opt-in),
/// autoscalers and Nodes, each with its diff, newest first. The time range follows the rule of
/// `query`: unbounded unless given, a duration in --since counts back from --until or the
/// newest matching change.
#[derive(Debug, Args)]
pub struct ChangesArgs {
    /// Start of the time range: RFC 3339, a duration counted back from the end of the matching
    /// changes (2h, 7d), or `all`.
    #[arg(long)]
    pub since: Option<String>,
    /// End of the time range (exclusive): RFC 3339, or a duration before now.
    #[arg(long)]
    pub until: Option<String>,
    /// Cluster(s), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub cluster: Vec<String>,
    /// Namespace(s) of the changed objects, comma-separated (Nodes have none).
    #[arg(long, short = 'n', value_delimiter = ',')]
    pub namespace: Vec<String>,
    /// Every namespace (kubectl's -A; the default when no --namespace is given).
    #[arg(long, short = 'A', conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Kind(s) of the changed objects (Deployment, deploy, cm, Node, …), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Name(s) of the changed objects, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub name: Vec<String>,
    /// Maximum number of changes (0: no limit).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(config: &Config, args: ChangesArgs) -> Result<ExitCode> {
    let now = Timestamp::now();
    let text = ChangeText {
        clusters: args.cluster.clone(),
        namespaces: args.namespace.clone(),
        kinds: args.kind.clone(),
        names: args.name.clone(),
    };
    let mut filter = text.filter();
    filter.limit = args.limit;
    let range = Range::parse(args.since.as_deref(), args.until.as_deref(), now)
        .map_err(super::flag_error)?;
    let store = super::open_store_for_reading(config)?;
    resolve_change_bounds(store.as_ref(), &mut filter, range, now)
        .await
        .map_err(super::flag_error)?;
    let changes = read_changes(store.as_ref(), &filter).await?;
    let wide = wide(args.output.output);
    print_items(args.output.output, &changes, |out| {
        table(out, &changes, now, wide)
    })
}

/// The table of `changes`; `wide` adds the cluster, manager and source and keeps the whole
/// diff.
pub fn table<W: Write>(
    out: &mut Human<W>,
    changes: &[Change],
    now: Timestamp,
    wide: bool,
) -> Result<()> {
    if changes.is_empty() {
        writeln!(out, "No changes match.")?;
        return Ok(());
    }
    let mut headers = vec!["AT", "NAMESPACE", "OBJECT", "OP"];
    if wide {
        headers.extend(["CLUSTER", "MANAGER", "SOURCE"]);
    }
    headers.push("CHANGE");
    let mut t = Table::new(headers);
    for c in changes {
        let mut row = vec![
            relative(c.at, now),
            if c.object.namespace.is_empty() {
                "-".into()
            } else {
                c.object.namespace.clone()
            },
            format!("{}/{}", c.object.kind, c.object.name),
            enum_text(&c.op),
        ];
        if wide {
            row.extend([
                c.cluster.clone(),
                c.manager.clone().unwrap_or_else(|| "-".into()),
                enum_text(&c.source),
            ]);
            row.push(c.summary());
        } else {
            row.push(truncate(&c.summary(), 100));
        }
        t.row(row);
    }
    t.write_colored(out)
}

/// A unit enum as its serialized name (`updated`, `watch`).
fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
