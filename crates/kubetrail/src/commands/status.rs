//! `kubetrail status`: what the store holds.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Output, OutputArgs};
use crate::config::Config;
use crate::output::{Human, choose};

pub async fn run(config: &Config, args: OutputArgs) -> Result<ExitCode> {
    let store = super::open_store(config)?;
    let stats = store.stats().await?;
    let gaps = store.gaps(None, None).await?;
    let mut out = std::io::stdout().lock();
    match choose(args.output) {
        Output::Table => {
            let mut out = Human::new(&mut out);
            writeln!(out, "store:        {}", super::store_location(config))?;
            writeln!(out, "events:       {}", stats.events)?;
            writeln!(out, "occurrences:  {}", stats.occurrences)?;
            writeln!(out, "size:         {} bytes", stats.bytes)?;
            let t = |v: Option<kubetrail_model::Timestamp>| {
                v.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
            };
            writeln!(out, "oldest:       {}", t(stats.oldest))?;
            writeln!(out, "newest:       {}", t(stats.newest))?;
            if gaps.is_empty() {
                writeln!(out, "gaps:         none recorded")?;
            }
            for g in &gaps {
                writeln!(
                    out,
                    "gap:          {} {} from {} to {}: {}",
                    g.cluster, g.stream, g.from, g.to, g.cause
                )?;
            }
        }
        _ => {
            #[derive(serde::Serialize)]
            struct Status<'a> {
                #[serde(flatten)]
                stats: &'a kubetrail_store::StoreStats,
                /// When a watch may have missed events.
                gaps: &'a [kubetrail_store::Gap],
            }
            serde_json::to_writer_pretty(
                &mut out,
                &Status {
                    stats: &stats,
                    gaps: &gaps,
                },
            )?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
