//! `kubetrail retention`: apply the retention policy now.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kubetrail_model::{Timestamp, parse_duration};

use crate::cli::{Output, RetentionArgs};
use crate::config::{Config, parse_size};
use crate::output::choose;

pub async fn run(config: &Config, args: RetentionArgs) -> Result<ExitCode> {
    let mut policy = config.retention.clone();
    if let Some(age) = &args.max_age {
        policy.max_age = parse_duration(age).context("--max-age")?;
    }
    if let Some(size) = &args.max_size {
        policy.max_bytes = Some(parse_size(size).context("--max-size")?);
    }
    let store = super::open_store(config)?;
    let report = store.apply_retention(&policy, Timestamp::now()).await?;
    let mut out = std::io::stdout().lock();
    match choose(args.output.output) {
        Output::Table => writeln!(
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
        )?,
        _ => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
