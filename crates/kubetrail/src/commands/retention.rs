//! `kubetrail retention`: apply the retention policy now, or (`--dry-run`) show what it would
//! delete.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use kubetrail_model::{Timestamp, parse_duration};
use kubetrail_store::{RetentionPolicy, RetentionReport, log_retention};

use crate::args::{Output, OutputArgs};
use crate::config::{Config, parse_size};
use crate::output::choose;

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

pub async fn run(config: &Config, args: RetentionArgs) -> Result<ExitCode> {
    let mut policy = config.retention.clone();
    if let Some(age) = &args.max_age {
        policy.max_age = parse_duration(age).context("--max-age")?;
    }
    if let Some(size) = &args.max_size {
        policy.max_bytes = Some(parse_size(size).context("--max-size")?);
    }
    let store = super::open_store(config)?;
    let now = Timestamp::now();
    let report = if args.dry_run {
        store.preview_retention(&policy, now).await?
    } else {
        store.apply_retention(&policy, now).await?
    };
    log_retention(&report);
    let mut out = std::io::stdout().lock();
    match choose(args.output.output) {
        Output::Table => write_table(&mut out, &report, &policy)?,
        _ => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_table(
    out: &mut impl Write,
    report: &RetentionReport,
    policy: &RetentionPolicy,
) -> std::io::Result<()> {
    if report.dry_run {
        writeln!(
            out,
            "Dry run, nothing deleted. Would delete {} events and {} occurrences by age.",
            report.events_deleted, report.occurrences_deleted
        )?;
    } else {
        writeln!(
            out,
            "Deleted {} events and {} occurrences, {} resolved alerts, {} ended silences and {} \
             gaps; store size {} → {} bytes.",
            report.events_deleted,
            report.occurrences_deleted,
            report.alerts_deleted,
            report.silences_deleted,
            report.gaps_deleted,
            report.bytes_before,
            report.bytes_after
        )?;
    }
    if report.changes_deleted + report.change_states_deleted > 0 {
        writeln!(
            out,
            "Deleted {} changes and the last-known states of {} objects no longer watched.",
            report.changes_deleted, report.change_states_deleted
        )?;
    }
    if !report.clusters.is_empty() {
        writeln!(
            out,
            "{:<24} {:>10} {:>12}  {:<27}  {:<27}",
            "CLUSTER", "EVENTS", "OCCURRENCES", "OLDEST", "NEWEST"
        )?;
        let time = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
        for (cluster, c) in &report.clusters {
            writeln!(
                out,
                "{:<24} {:>10} {:>12}  {:<27}  {:<27}",
                cluster,
                c.events,
                c.occurrences,
                time(c.oldest),
                time(c.newest)
            )?;
        }
    }
    if report.events_deleted_for_size > 0 {
        writeln!(
            out,
            "{} of the events were the oldest, deleted to fit the size limit.",
            report.events_deleted_for_size
        )?;
    }
    if let (true, Some(max)) = (report.dry_run, policy.max_bytes)
        && report.bytes_before > max
    {
        writeln!(
            out,
            "The store uses {} bytes, above its limit of {max}: the oldest events would also \
             be deleted until it fits.",
            report.bytes_before
        )?;
    }
    Ok(())
}
