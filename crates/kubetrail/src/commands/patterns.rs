//! `kubetrail patterns`: what keeps happening in a window.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Pattern, PatternConfig, patterns};

use super::analysis_window::{events, resolve, short};
use crate::args::{FilterArgs, OutputArgs};
use crate::config::Config;
use crate::output::{Human, Table, print_items, truncate};

/// Recurring groups of events by (cluster, namespace, kind, reason, message template). The window
/// ends at the newest matching event (or --until) and is 1h long unless --since says otherwise
/// (a duration in --since counts back from the window's end).
#[derive(Debug, Args)]
pub struct PatternsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Fewest occurrences in the window for a pattern (reference design: 3).
    #[arg(long, default_value_t = 3)]
    pub min_count: u64,
    /// A pattern recurs more often than this many times per minute (reference design: 0.5).
    #[arg(long, default_value_t = 0.5)]
    pub min_rate: f64,
    /// Most events read from the store (the latest in the window) when patterns are computed
    /// from raw events: with a filter by name, category, severity, type, correlation, node or
    /// search (the patterns kept at ingest answer the others whatever the window); 0: no limit.
    #[arg(long, default_value_t = 200_000)]
    pub max_events: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(config: &Config, args: PatternsArgs) -> Result<ExitCode> {
    let cfg = PatternConfig {
        min_count: args.min_count,
        min_per_minute: args.min_rate,
        ..PatternConfig::default()
    };
    cfg.validate()?;
    let store = super::open_store_for_reading(config)?;
    let (filter, _window) = resolve(
        store.as_ref(),
        &args.filter,
        SignedDuration::from_hours(1),
        Timestamp::now(),
    )
    .await?;
    // Kept parts answer with no cap on the events; raw events otherwise.
    let found = match kubetrail_query::kept_patterns(store.as_ref(), &filter, &cfg).await? {
        Some(found) => found,
        None => patterns(
            &events(store.as_ref(), &filter, args.max_events).await?,
            &cfg,
        ),
    };
    if found.is_empty() {
        super::hint::nothing_matches(store.as_ref(), "patterns").await;
    }
    print_items(args.output.output, &found, |out| table(out, &found))
}

fn table<W: Write>(out: &mut Human<W>, found: &[Pattern]) -> Result<()> {
    if found.is_empty() {
        writeln!(out, "No patterns in the window.")?;
        return Ok(());
    }
    let mut t = Table::new([
        "COUNT",
        "PER MIN",
        "SEVERITY",
        "NAMESPACE",
        "KIND",
        "REASON",
        "OBJECTS",
        "FIRST",
        "LAST",
        "TEMPLATE",
    ]);
    for p in found {
        t.row(vec![
            p.count.to_string(),
            format!("{:.2}", p.frequency_per_min),
            p.severity.to_string(),
            p.key.namespace.clone(),
            p.key.kind.clone(),
            p.key.reason.clone(),
            p.object_count.to_string(),
            short(p.first_seen),
            short(p.last_seen),
            truncate(&p.key.template, 90),
        ]);
    }
    t.write_colored(out)
}
