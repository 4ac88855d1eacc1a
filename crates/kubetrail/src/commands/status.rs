//! `kubetrail status`: what the store holds, the gaps recorded, and the events the store
//! refused (quarantined: the count and the newest ones).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use kubetrail_store::SqliteStore;

use crate::args::{Output, OutputArgs};
use crate::config::Config;
use crate::output::{Human, choose};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Also check the whole SQLite file for damage (`PRAGMA quick_check`: reads every page,
    /// seconds per GB); exits non-zero when it is corrupt.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Problems `--check` lists at most.
const MAX_PROBLEMS: u32 = 20;

/// Quarantined events shown, newest first.
const SHOWN_QUARANTINED: usize = 10;

pub async fn run(config: &Config, args: StatusArgs) -> Result<ExitCode> {
    if args.check {
        check(config).await?;
    }
    let args = args.output;
    let store = super::open_store_for_reading(config)?;
    let stats = store.stats().await?;
    let gaps = store.gaps(None, None).await?;
    let quarantine = match stats.quarantined {
        0 => Vec::new(),
        _ => store.quarantined(SHOWN_QUARANTINED).await?,
    };
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
            writeln!(
                out,
                "conflicts:    {} cop(ies) refused: the uid of a stored event about another \
                 namespace or object (the stored events were kept)",
                stats.conflicts
            )?;
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

/// `--check`: the whole SQLite file through `PRAGMA quick_check`; an error naming the store
/// when it is damaged. (PostgreSQL checks its own pages; there is nothing to do here.)
async fn check(config: &Config) -> Result<()> {
    if config.postgres.is_some() {
        eprintln!("check: PostgreSQL stores are checked by the server itself; nothing to do");
        return Ok(());
    }
    let path = config.db_path();
    if !path.exists() {
        anyhow::bail!("there is no store at {}", path.display());
    }
    let store = SqliteStore::open_read_only(&path).or_else(|e| match e {
        kubetrail_store::Error::SchemaTooOld { .. }
        | kubetrail_store::Error::RollbackJournal { .. } => SqliteStore::open(&path),
        e => Err(e),
    })?;
    let problems = store.quick_check(MAX_PROBLEMS).await?;
    if problems.is_empty() {
        eprintln!("check: the store at {} is sound", path.display());
        return Ok(());
    }
    anyhow::bail!(
        "the store at {} is corrupt (PRAGMA quick_check):\n  {}",
        path.display(),
        problems.join("\n  ")
    )
}
