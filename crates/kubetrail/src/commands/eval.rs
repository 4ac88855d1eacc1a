//! `kubetrail eval LABELS...`: answer quality measured against hand labels.
//!
//! Each labels file (`eval/labels/*.yaml`, format in `eval/README.md`) names a dump of the
//! real-events directory. The dump is imported into a temporary store as `kubetrail import`
//! does, the incident engine runs over all of it, and its incidents are matched to the labelled
//! failures ([`score`]): recall with the right root cause, noise, merges of unrelated failures
//! and splits. Classification coverage ([`coverage`]) is measured over the same dumps.

mod coverage;
mod labels;
mod score;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use jiff::SignedDuration;
use kubetrail_analyze::{Incident, IncidentConfig, Window, incidents, link_changes};
use kubetrail_model::{AnalysisOccurrences, Event, EventFilter};
use kubetrail_store::{EventReader, SqliteStore};
use serde::Serialize;

use super::import::import_files;
use crate::args::{Output, OutputArgs};
use crate::config::Config;
use crate::output::{Table, choose};
use coverage::Coverage;
use kubetrail_query::newest;
use labels::Labels;
use score::Score;

/// Score the incident engine against hand-labelled dumps: failures found with the right root
/// cause (recall), incidents that match no failure (noise), incidents over unrelated failures
/// (merges), failures spread over several incidents (splits); and the share of the most
/// frequent reasons that an explicit classification rule covers.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labels files (`eval/labels/*.yaml`).
    #[arg(required = true)]
    pub labels: Vec<PathBuf>,
    /// Directory of the dumps the labels name (default: $KUBETRAIL_REAL_EVENTS).
    #[arg(long, env = "KUBETRAIL_REAL_EVENTS")]
    pub dumps: PathBuf,
    /// Also list, after the table, what was missed, mis-rooted, noise, merged and split.
    #[arg(long)]
    pub details: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What `eval` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    pub dumps: Vec<Score>,
    pub total: Score,
    pub coverage: Coverage,
}

pub async fn run(config: &Config, args: EvalArgs) -> Result<ExitCode> {
    let rules = config.rules(&[])?;
    let mut scores = Vec::new();
    let mut all_events: Vec<Event> = Vec::new();
    for path in &args.labels {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let labels =
            Labels::parse(&text).with_context(|| format!("bad labels file {}", path.display()))?;
        let (found, events) = run_engine(config, &args.dumps.join(&labels.dump))
            .await
            .with_context(|| format!("cannot evaluate {}", labels.dump))?;
        scores.push(score::score(&labels, &found)?);
        all_events.extend(events);
    }
    let report = Report {
        total: score::total(&scores),
        dumps: scores,
        coverage: coverage::coverage(&rules, &all_events),
    };
    let mut out = std::io::stdout().lock();
    match choose(args.output.output) {
        Output::Table => table(&mut out, &report, args.details)?,
        _ => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Imports `dump` into a temporary store and returns the incidents over all of it (every
/// object listed) and its events.
async fn run_engine(config: &Config, dump: &Path) -> Result<(Vec<Incident>, Vec<Event>)> {
    let dir = TempDir::new()?;
    let store = SqliteStore::open(dir.0.join("kubetrail.db"))?;
    import_files(
        &store,
        vec![dump.to_path_buf()],
        Some(&store),
        "eval",
        config.rules(&[])?,
        config.max_future,
        false,
        &ProgressBar::hidden(),
        &Arc::new(AtomicU64::new(0)),
    )
    .await?;
    let until = newest(&store, &EventFilter::default())
        .await?
        .context("the dump holds no event")?;
    // All of the dump: the dumps span minutes to days.
    let since = until - SignedDuration::from_hours(24 * 3650);
    let filter = EventFilter {
        since: Some(since),
        until: Some(until),
        ..EventFilter::default()
    };
    let events = store.occurrences(&filter, 0).await?;
    let cfg = IncidentConfig {
        max_objects: usize::MAX,
        // The scorer matches incidents to failures by their events.
        max_timeline: usize::MAX,
        ..IncidentConfig::default()
    };
    let mut found = incidents(
        &AnalysisOccurrences::of_all(&events),
        Window::new(since, until)?,
        &cfg,
    )?;
    // The rollout history `import` reconstructed from the dump's ReplicaSets, if any.
    let changes = kubetrail_query::window_changes(&store, &filter, cfg.change_window, 0).await?;
    link_changes(&mut found, &changes, &cfg);
    Ok((found, events.into_iter().map(|e| e.event).collect()))
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("kubetrail-eval-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temporary directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn table(out: &mut impl Write, r: &Report, details: bool) -> Result<()> {
    let mut t = Table::new([
        "DUMP",
        "FAILURES",
        "RIGHT ROOT",
        "RECALL",
        "INCIDENTS",
        "NOISE",
        "NOISE %",
        "MERGES",
        "SPLITS",
    ]);
    for s in r.dumps.iter().chain(std::iter::once(&r.total)) {
        t.row(vec![
            s.dump.clone(),
            s.failures.to_string(),
            s.right_root.to_string(),
            format!("{:.1}%", s.recall()),
            s.incidents.to_string(),
            format!("{} ({} known)", s.noise, s.known_noise),
            format!("{:.1}%", s.noise_share()),
            s.merges.to_string(),
            s.splits.to_string(),
        ]);
    }
    t.write(out)?;
    writeln!(
        out,
        "\nClassification coverage: {} of the {} most frequent reasons matched by an explicit rule ({:.1}%).",
        r.coverage.explicit, r.coverage.reasons, r.coverage.share
    )?;
    if details {
        let d = &r.total.details;
        for (title, list) in [
            ("Missed", &d.missed),
            ("Wrong root cause", &d.wrong_root),
            ("Noise", &d.noise),
            ("Merges", &d.merges),
            ("Splits", &d.splits),
        ] {
            writeln!(out, "\n{title} ({}):", list.len())?;
            for line in list {
                writeln!(out, "  {line}")?;
            }
        }
        let fallback: Vec<String> = r
            .coverage
            .fallback
            .iter()
            .map(|(reason, n)| format!("{reason} ({n})"))
            .collect();
        writeln!(out, "\nReasons that fall back: {}", fallback.join(", "))?;
    }
    Ok(())
}
