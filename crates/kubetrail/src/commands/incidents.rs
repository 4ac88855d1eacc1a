//! `kubetrail incidents`: failures grouped into incidents with a likely root cause.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Incident, IncidentConfig, link_changes};
use kubetrail_model::parse_duration;
use kubetrail_query::Detail;

use super::analysis_window::{changes, resolve, short};
use crate::args::{FilterArgs, OutputArgs};
use crate::config::Config;
use crate::output::{Human, Table, print_items, truncate};

/// Failures grouped by workload (top owner), by node, and by causal chains, each with a likely
/// root cause, the rule that chose it and its evidence. The window ends at the newest matching
/// event (or --until) and is 24h long unless --since says otherwise (a duration in --since
/// counts back from the window's end).
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Silence that ends an incident (and makes it resolved).
    #[arg(long, default_value = "30m")]
    pub quiet: String,
    /// How long after a node condition or OOM kill an eviction or crash loop on that node is
    /// taken as its effect.
    #[arg(long, default_value = "10m")]
    pub link_window: String,
    /// Most events read from the store (the latest in the window); 0: no limit. Not used when
    /// the incidents kept at ingest answer (only --cluster and the time flags, default
    /// --quiet and --link-window).
    #[arg(long, default_value_t = 200_000)]
    pub max_events: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(config: &Config, args: IncidentsArgs) -> Result<ExitCode> {
    let cfg = IncidentConfig {
        quiet: parse_duration(&args.quiet).context("--quiet")?,
        link_window: parse_duration(&args.link_window).context("--link-window")?,
        now: Some(Timestamp::now()),
        ..IncidentConfig::default()
    };
    let store = super::open_store_for_reading(config)?;
    let (filter, window) = resolve(
        store.as_ref(),
        &args.filter,
        SignedDuration::from_hours(24),
        Timestamp::now(),
    )
    .await?;
    // A table shows each incident's head: its timeline and objects are not read.
    let detail = match crate::output::choose(args.output.output) {
        crate::args::Output::Table => Detail::Head,
        _ => Detail::Whole,
    };
    let mut found = kubetrail_query::window_incidents(
        store.as_ref(),
        &filter,
        window,
        &cfg,
        args.max_events,
        detail,
    )
    .await
    .map_err(super::flag_error)?;
    if found.cut {
        super::analysis_window::warn_cut(args.max_events);
    }
    let changes = changes(
        store.as_ref(),
        &kubetrail_query::changes_filter(&filter, &found),
        cfg.change_window,
    )
    .await?;
    kubetrail_query::whole_where_changes(store.as_ref(), &mut found, &changes, &cfg).await?;
    let mut found = found.incidents;
    link_changes(&mut found, &changes, &cfg);
    if found.is_empty() {
        super::hint::nothing_matches(store.as_ref(), "incidents").await;
    }
    print_items(args.output.output, &found, |out| table(out, &found))
}

fn table<W: Write>(out: &mut Human<W>, found: &[Incident]) -> Result<()> {
    if found.is_empty() {
        writeln!(out, "No incidents in the window.")?;
        return Ok(());
    }
    let mut t = Table::new([
        "ID",
        "STATUS",
        "SEVERITY",
        "START",
        "END",
        "EVENTS",
        "SUBJECT",
        "RULE",
        "ROOT CAUSE",
    ]);
    for i in found {
        let status = serde_json::to_value(i.status)?
            .as_str()
            .unwrap_or_default()
            .to_string();
        t.row(vec![
            i.id.clone(),
            status,
            i.severity.to_string(),
            short(i.start),
            short(i.end),
            i.event_count.to_string(),
            i.subject.clone(),
            i.root_cause.rule.clone(),
            truncate(
                &format!("{}: {}", i.root_cause.reason, i.root_cause.message),
                90,
            ),
        ]);
    }
    t.write_colored(out)?;
    affected(out, found)
}

/// Under the table, each cluster-wide incident's cause and the workloads it hit, one line each.
fn affected<W: Write>(out: &mut Human<W>, found: &[Incident]) -> Result<()> {
    for i in found.iter().filter(|i| i.cluster_wide) {
        writeln!(out)?;
        writeln!(
            out,
            "{} {}: {} ({} workloads)",
            i.id,
            i.subject,
            i.root_cause.rule,
            i.affected.len()
        )?;
        workload_lines(out, i, "  ")?;
    }
    Ok(())
}

/// The workloads a cluster-wide incident hit, one line each with counts, after `indent` (what
/// `incidents` and `explain` print).
pub(crate) fn workload_lines(out: &mut impl Write, i: &Incident, indent: &str) -> Result<()> {
    for a in &i.affected {
        writeln!(
            out,
            "{indent}{}  {} objects, {} events",
            a.workload, a.objects, a.events
        )?;
    }
    Ok(())
}
