//! `kubetrail status`: what the store holds, the gaps recorded, and the events the store
//! refused (quarantined: the count and the newest ones).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Output, OutputArgs};
use crate::config::Config;
use crate::output::choose;

/// Quarantined events shown, newest first.
const SHOWN_QUARANTINED: usize = 10;

pub async fn run(config: &Config, args: OutputArgs) -> Result<ExitCode> {
    let store = super::open_store(config)?;
    let stats = store.stats().await?;
    let gaps = store.gaps(None, None).await?;
    let quarantine = match stats.quarantined {
        0 => Vec::new(),
        _ => store.quarantined(SHOWN_QUARANTINED).await?,
    };
    let mut out = std::io::stdout().lock();
    match choose(args.output) {
        Output::Table => {
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
            writeln!(
                out,
                "quarantined:  {} event(s) the store refused{}",
                stats.quarantined,
                match stats.quarantined as usize > quarantine.len() {
                    true => format!(" (newest {} below)", quarantine.len()),
                    false => String::new(),
                }
            )?;
            for q in &quarantine {
                let e = &q.event;
                writeln!(
                    out,
                    "  {} from {}: {}/{} {} {} (uid {}): {}",
                    q.at,
                    q.source,
                    e.cluster,
                    e.namespace,
                    e.reason,
                    e.regarding.name,
                    e.uid,
                    q.error
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
                /// The newest events the store refused (`quarantined` counts them all).
                quarantine: &'a [kubetrail_store::Quarantined],
            }
            serde_json::to_writer_pretty(
                &mut out,
                &Status {
                    stats: &stats,
                    gaps: &gaps,
                    quarantine: &quarantine,
                },
            )?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
