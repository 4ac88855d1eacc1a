//! `kubetrail status`: what the store holds.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Output, OutputArgs};
use crate::config::Config;
use crate::output::choose;

pub async fn run(config: &Config, args: OutputArgs) -> Result<ExitCode> {
    let store = super::open_store(config)?;
    let stats = store.stats().await?;
    let mut out = std::io::stdout().lock();
    match choose(args.output) {
        Output::Table => {
            writeln!(out, "store:        {}", config.db_path().display())?;
            writeln!(out, "events:       {}", stats.events)?;
            writeln!(out, "occurrences:  {}", stats.occurrences)?;
            writeln!(out, "size:         {} bytes", stats.bytes)?;
            let t = |v: Option<kubetrail_model::Timestamp>| {
                v.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
            };
            writeln!(out, "oldest:       {}", t(stats.oldest))?;
            writeln!(out, "newest:       {}", t(stats.newest))?;
        }
        _ => {
            serde_json::to_writer_pretty(&mut out, &stats)?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
