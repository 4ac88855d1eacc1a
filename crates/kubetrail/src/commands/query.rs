//! `kubetrail query`: list stored events (`-w`: and follow the store).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use kubetrail_model::{Event, Timestamp};
use kubetrail_query::LabelSelector;
use kubetrail_store::Page;

use crate::args::{FilterArgs, OutputArgs};
use crate::config::Config;
use crate::output::{Human, Table, print_items, relative, truncate, wide};

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

pub async fn run(config: &Config, args: QueryArgs) -> Result<ExitCode> {
    let now = Timestamp::now();
    let mut filter = super::build_filter(&args.filter)?;
    let range = super::build_range(&args.filter, now)?;
    let store = super::open_store_for_reading(config)?;
    kubetrail_query::resolve_bounds(store.as_ref(), &mut filter, range, now)
        .await
        .map_err(super::flag_error)?;
    let selector =
        LabelSelector::parse(args.selector.as_deref().unwrap_or("")).map_err(super::flag_error)?;
    if args.watch {
        return super::watch::follow(store.as_ref(), filter, &selector, &args).await;
    }
    // The store does not index labels: with a selector, read all, then select and cut.
    let page = Page {
        limit: if selector.is_empty() { args.limit } else { 0 },
        after: None,
    };
    let rows = store.query(&filter, &page).await?;
    let mut events: Vec<&Event> = rows
        .iter()
        .map(|r| &r.event)
        .filter(|e| selector.matches(&e.labels))
        .collect();
    if args.limit > 0 {
        events.truncate(args.limit);
    }
    if events.is_empty() {
        super::hint::nothing_matches(store.as_ref(), "events").await;
    }
    let wide = wide(args.output.output);
    print_items(args.output.output, &events, |out| {
        table(out, &events, now, wide, true)
    })
}

/// The table of `events`; `wide` adds the cluster, node, correlation and first seen, and
/// keeps the whole message; `header`: with its header line.
pub fn table<W: Write>(
    out: &mut Human<W>,
    events: &[&Event],
    now: Timestamp,
    wide: bool,
    header: bool,
) -> Result<()> {
    if events.is_empty() {
        writeln!(out, "No events match.")?;
        return Ok(());
    }
    let mut headers = vec![
        "LAST SEEN",
        "SEVERITY",
        "NAMESPACE",
        "OBJECT",
        "REASON",
        "COUNT",
    ];
    if wide {
        headers.extend(["CLUSTER", "NODE", "CORRELATION", "FIRST SEEN"]);
    }
    headers.push("MESSAGE");
    let mut t = Table::new(headers);
    if !header {
        t = t.headerless();
    }
    for e in events {
        let mut row = vec![
            relative(e.last_seen, now),
            e.severity.to_string(),
            e.namespace.clone(),
            format!("{}/{}", e.regarding.kind, e.regarding.name),
            e.reason.clone(),
            e.count.to_string(),
        ];
        if wide {
            row.extend([
                e.cluster.clone(),
                e.node.clone().unwrap_or_else(|| "-".into()),
                e.correlation_id.clone(),
                relative(e.first_seen, now),
            ]);
            row.push(truncate(&e.note, usize::MAX));
        } else {
            row.push(truncate(&e.note, 100));
        }
        t.row(row);
    }
    t.write_colored(out)
}
