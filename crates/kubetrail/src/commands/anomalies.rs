//! `kubetrail anomalies`: what is unusual in a window, against a baseline learned from history.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Anomaly, AnomalyConfig, anomalies};
use kubetrail_model::parse_duration;

use super::analysis_window::{resolve, short};
use crate::args::{FilterArgs, OutputArgs};
use crate::config::Config;
use crate::output::{Human, Table, print_items};

/// Spikes of a reason's occurrence rate in a namespace above its learned baseline, and reasons
/// never seen before in a namespace. The window ends at the newest matching event (or --until),
/// 1h long unless --since says otherwise, widened to whole buckets; the baseline is learned
/// over --history before it. See the README (Analysis) for what the detector assumes.
#[derive(Debug, Args)]
pub struct AnomaliesArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Bucket width (whole hours read the store's hourly rollups).
    #[arg(long, default_value = "1h")]
    pub bucket: String,
    /// How far back before the window the baseline is learned.
    #[arg(long, default_value = "7d")]
    pub history: String,
    /// Standard deviations above the baseline that make a spike.
    #[arg(long, default_value_t = 3.0)]
    pub threshold: f64,
    /// Fewest occurrences in a bucket for a spike.
    #[arg(long, default_value_t = 5)]
    pub min_count: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(config: &Config, args: AnomaliesArgs) -> Result<ExitCode> {
    let bucket = parse_duration(&args.bucket).context("--bucket")?;
    let history = parse_duration(&args.history).context("--history")?;
    let cfg = AnomalyConfig {
        bucket,
        threshold: args.threshold,
        min_count: args.min_count,
        ..AnomalyConfig::default()
    };
    cfg.validate().context("--bucket/--threshold")?;
    let store = super::open_store_for_reading(config)?;
    let (filter, window) = resolve(
        store.as_ref(),
        &args.filter,
        SignedDuration::from_hours(1),
        Timestamp::now(),
    )
    .await?;
    let plan = kubetrail_query::anomaly_plan(filter, window, bucket, history)
        .map_err(super::flag_error)?;
    let rows = store.aggregate(&plan.query).await?;
    let found = anomalies(&rows, plan.since, plan.until, &cfg)?;
    print_items(args.output.output, &found, |out| table(out, &found))
}

fn table<W: Write>(out: &mut Human<W>, found: &[Anomaly]) -> Result<()> {
    if found.is_empty() {
        writeln!(out, "No anomalies in the window.")?;
        return Ok(());
    }
    let mut t = Table::new([
        "BUCKET",
        "KIND",
        "SCORE",
        "SEVERITY",
        "NAMESPACE",
        "REASON",
        "COUNT",
        "PER MIN",
        "BASELINE/MIN",
    ]);
    for a in found {
        t.row(vec![
            short(a.at),
            match a.kind {
                kubetrail_analyze::AnomalyKind::Spike => "spike".into(),
                kubetrail_analyze::AnomalyKind::NewReason => "new reason".into(),
            },
            format!("{:.1}", a.score),
            a.severity.to_string(),
            a.key.namespace.clone(),
            a.key.reason.clone(),
            a.count.to_string(),
            format!("{:.2}", a.rate),
            format!("{:.2}", a.baseline),
        ]);
    }
    t.write_colored(out)
}
