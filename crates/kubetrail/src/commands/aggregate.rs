//! `kubetrail aggregate`: occurrence counts by dimensions and time buckets.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use kubetrail_model::{AggregateQuery, AggregateRow, Dimension, Timestamp, parse_duration};

use crate::args::{FilterArgs, OutputArgs};
use crate::config::Config;
use crate::output::{Table, print_items, truncate};

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

pub async fn run(config: &Config, args: AggregateArgs) -> Result<ExitCode> {
    let now = Timestamp::now();
    let mut filter = super::build_filter(&args.filter)?;
    let range = super::build_range(&args.filter, now)?;
    let group_by = Dimension::parse_list(&args.group_by).context("--group-by")?;
    let interval = args
        .interval
        .as_deref()
        .map(parse_duration)
        .transpose()
        .context("--interval")?;
    if interval.is_some_and(|i| i.as_secs() < 1) {
        anyhow::bail!("--interval: must be at least 1s");
    }
    let store = super::open_store_for_reading(config)?;
    kubetrail_query::resolve_bounds(store.as_ref(), &mut filter, range, now)
        .await
        .map_err(super::flag_error)?;
    let query = AggregateQuery {
        filter,
        group_by,
        interval,
        limit: (args.limit > 0).then_some(args.limit),
    };
    let rows = store.aggregate(&query).await?;
    if rows.is_empty() {
        super::hint::nothing_matches(store.as_ref(), "occurrences").await;
    }
    print_items(args.output.output, &rows, |out| table(out, &query, &rows))
}

fn table(out: &mut impl Write, query: &AggregateQuery, rows: &[AggregateRow]) -> Result<()> {
    if rows.is_empty() {
        writeln!(out, "No occurrences match.")?;
        return Ok(());
    }
    let mut headers: Vec<String> = Vec::new();
    if query.interval.is_some() {
        headers.push("BUCKET".into());
    }
    headers.extend(query.group_by.iter().map(|d| d.as_str().to_uppercase()));
    headers.push("COUNT".into());
    let mut t = Table::new(headers);
    for r in rows {
        let mut cells = Vec::new();
        if query.interval.is_some() {
            cells.push(r.bucket.map(|b| b.to_string()).unwrap_or_default());
        }
        for (_, v) in &r.key {
            cells.push(truncate(v.as_deref().unwrap_or("-"), 80));
        }
        cells.push(r.count.to_string());
        t.row(cells);
    }
    t.write(out)
}
