//! `kubetrail import PATH...`: stream dump files through processing into the store.
//!
//! A parser thread reads and processes one file after another and hands batches to the writer
//! over a bounded channel (so a 1 GB file never sits in memory). Each file is written in one
//! store transaction: a file that turns out to be broken half-way is rolled back whole, and what
//! earlier files committed stays. An event the store refuses (a data error) is quarantined in
//! that transaction, named in the summary by file and line, and the rest of the file stored.
//!
//! ReplicaSets and ControllerRevisions of the committed files (a support bundle's, a
//! must-gather's) are rebuilt into the rollout history of their workloads once every file is
//! read (`rollout_history`: revision N at time T with its template's diff); the Deployments
//! whose ReplicaSets the dump lacks get the rollouts their `ScalingReplicaSet` events show
//! (`rollouts_from_events`: a new ReplicaSet taking over, no diff). Both are stored as changes in
//! one transaction; a second import of the same dump stores none twice.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kubetrail_model::{Event, Relink, Timestamp};
use kubetrail_process::change::{Revision, Scaling, rollout_history, rollouts_from_events};
use kubetrail_process::{FutureLimit, Processor, Rules};
use kubetrail_source::import::{self as source, Item, Location, SkipReason};
use kubetrail_store::{ChangeBatch, ChangeStore, EventSink, StoreTxn, WriteSummary};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::args::{Output, OutputArgs};
use crate::config::Config;
use crate::output::choose;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or directories to import.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Cluster name given to the imported events.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Extra classification rules file (YAML), tried before the built-in rules.
    #[arg(long)]
    pub rules: Vec<PathBuf>,
    /// Go on with the next file after a broken one (the broken file is still not stored).
    #[arg(long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Events per batch: with two batches queued, one being read and one being written, about 3 KiB
/// each, this bounds what the import holds in flight (issue 14 §3: peak RSS).
const BATCH: usize = 1_000;
/// Skipped events listed with their file and line in a summary; the counts cover them all.
const MAX_LISTED: usize = 100;

/// What an import did, printed at the end.
#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    /// Files whose events were committed.
    pub files_imported: Vec<PathBuf>,
    /// Files found in directories that do not hold Events, with the reason.
    pub files_skipped: Vec<(PathBuf, String)>,
    /// The file that failed (nothing of it was stored), with the error.
    pub files_failed: Vec<(PathBuf, String)>,
    pub events_read: u64,
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub occurrences: u64,
    /// Events not stored, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// The first skipped events (at most 100), each with its file and line.
    pub skipped_events: Vec<SkippedEvent>,
    /// Events the store refused, kept aside in its quarantine (`kubetrail status`).
    pub quarantined: Vec<QuarantinedEvent>,
    /// Non-Event objects read (their owner links help correlation).
    pub objects: u64,
    /// Changes rebuilt from the rollout revisions (ReplicaSets, ControllerRevisions) read, and
    /// from the rollouts the deployment controller's events show.
    pub changes: u64,
    /// Of those, changes not stored before (a second import of a dump stores none).
    pub changes_new: u64,
}

/// An event that was not stored: where it is (`file:line`, or `file[items N]` when the line
/// is not known) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedEvent {
    pub location: String,
    pub reason: String,
}

/// An event of a file that the store refused.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantinedEvent {
    /// `file:line`, or `file[items N]` when lines are unknown.
    pub location: String,
    pub uid: String,
    pub error: String,
}

/// Per-file counts, added to the summary only when the file commits.
#[derive(Debug, Default)]
struct FileCounts {
    events_read: u64,
    objects: u64,
    skipped: BTreeMap<String, u64>,
    skipped_events: Vec<SkippedEvent>,
    /// Rollout revisions read (ReplicaSets, ControllerRevisions).
    revisions: Vec<Revision>,
    /// The deployment controller's `ScalingReplicaSet` events read.
    scalings: Vec<Scaling>,
}

impl FileCounts {
    fn skip(&mut self, location: &Location, reason: &SkipReason) {
        if reason.is_event() {
            self.events_read += 1;
            if self.skipped_events.len() < MAX_LISTED {
                self.skipped_events.push(SkippedEvent {
                    location: location.to_string(),
                    reason: reason.to_string(),
                });
            }
        }
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }
}

enum Msg {
    /// Events with where each was read, then the relinks learned with them (to apply after
    /// them: see `Processor::take_relinks`).
    Batch(Vec<Event>, Vec<Location>, Vec<Relink>),
    FileDone(PathBuf, FileCounts),
    FileFailed(PathBuf, String),
}

pub async fn run(config: &Config, args: ImportArgs) -> Result<ExitCode> {
    let rules = config.rules(&args.rules)?;
    let cluster = args
        .cluster
        .clone()
        .unwrap_or_else(|| config.cluster.clone());
    let discovered = source::discover(&args.paths)?;
    refuse_unreadable(&discovered.skipped, args.keep_going)?;
    let store = super::open_bulk_store(config)?;

    let total: u64 = discovered.files.iter().map(|f| f.size).sum();
    let bar = progress_bar(total);
    let done = Arc::new(AtomicU64::new(0));
    let summary = import_files(
        store.as_ref(),
        discovered.files.into_iter().map(|f| f.path).collect(),
        store.change_store(),
        &cluster,
        rules,
        config.max_future,
        args.keep_going,
        &bar,
        &done,
    )
    .await?;
    pass_after_import(store.as_ref()).await?;
    bar.finish_and_clear();
    let summary = ImportSummary {
        files_skipped: discovered
            .skipped
            .into_iter()
            .map(|s| (s.path, s.reason))
            .collect(),
        ..summary
    };

    let mut out = std::io::stdout().lock();
    match choose(args.output.output) {
        Output::Table => print_summary(&mut crate::output::Human::new(&mut out), &summary)?,
        _ => {
            serde_json::to_writer_pretty(&mut out, &summary)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    if let Some((path, error)) = summary.files_failed.first() {
        let committed = if summary.files_imported.is_empty() {
            "nothing was stored".to_string()
        } else {
            format!(
                "events of {} earlier file(s) were committed: {}",
                summary.files_imported.len(),
                summary
                    .files_imported
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        anyhow::bail!(
            "{error}\nnothing of {} was stored; {committed}",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What an import does once its files are stored: ends its bulk writes (the writer's
/// import-sized page cache is not the pass's), lets go of the code that only the import ran
/// (`resident`: the pass faults in its own), and keeps incidents and patterns up to date.
pub async fn pass_after_import(
    store: &dyn kubetrail_store::Store,
) -> Result<Option<kubetrail_query::Maintained>> {
    store
        .end_bulk()
        .await
        .context("ending the import's bulk writes")?;
    crate::resident::code_on_demand();
    // The import's writer is done: a core is free to read the next slice ahead.
    super::maintain::maintain(store, kubetrail_query::PassReads::AHEAD).await.context(
        "keeping incidents up to date (the events are stored: the next run or import catches up)",
    )
}

/// Files found in directories that could not be read fail the import before anything is
/// stored, unless `keep_going` (then they are listed as skipped): whether they hold Events is
/// unknown, and an import that quietly leaves out part of a bundle looks complete.
fn refuse_unreadable(skipped: &[source::SkippedFile], keep_going: bool) -> Result<()> {
    let unreadable: Vec<String> = skipped
        .iter()
        .filter(|s| s.unreadable)
        .map(|s| format!("{}: {}", s.path.display(), s.reason))
        .collect();
    if unreadable.is_empty() || keep_going {
        return Ok(());
    }
    anyhow::bail!(
        "cannot read {} file(s):\n  {}\nnothing was imported; --keep-going imports the other files without them",
        unreadable.len(),
        unreadable.join("\n  ")
    )
}

/// Imports `files` in order; stops at the first broken file unless `keep_going`. Events dated
/// further past the start of the import than `limit` allows are skipped with that reason. The
/// rollout history of the committed files' ReplicaSets and ControllerRevisions goes to
/// `changes` (none for a store that keeps no changes).
#[allow(clippy::too_many_arguments)]
pub async fn import_files(
    store: &dyn EventSink,
    files: Vec<PathBuf>,
    changes: Option<&dyn ChangeStore>,
    cluster: &str,
    rules: Rules,
    limit: FutureLimit,
    keep_going: bool,
    bar: &ProgressBar,
    done: &Arc<AtomicU64>,
) -> Result<ImportSummary> {
    let admit = Admit {
        limit,
        now: Timestamp::now(),
    };
    let mut summary = ImportSummary::default();
    let mut revisions: Vec<Revision> = Vec::new();
    let mut scalings = FirstScalings::default();
    // Files are written in bulk transactions until one refuses a batch (see `Wrote::Redo`);
    // that file and the rest are then written again in plain ones, which isolate refused events.
    let mut plain_from: Option<usize> = None;
    loop {
        let first = plain_from.unwrap_or(0);
        let (tx, mut rx) = mpsc::channel::<Msg>(2);
        let parse = Parse {
            files: files.clone(),
            cluster: cluster.to_string(),
            rules: rules.clone(),
            admit,
            keep_going,
            replay: first,
        };
        let parse_done = done.clone();
        let parser = std::thread::Builder::new()
            .name("import-parse".into())
            .spawn(move || parse_files(parse, &tx, &parse_done))
            .context("cannot start the import thread")?;
        let mut writer = FileWriter {
            store,
            plain: plain_from.is_some(),
            txn: None,
            writes: WriteSummary::default(),
            quarantined: Vec::new(),
        };
        let mut file = first;
        let mut redo = false;
        while let Some(msg) = rx.recv().await {
            bar.set_position(done.load(Ordering::Relaxed));
            match msg {
                Msg::Batch(events, locations, relinks) => {
                    if writer.write(events, locations, relinks).await? == Wrote::Redo {
                        redo = true;
                        break;
                    }
                }
                Msg::FileDone(path, counts) => {
                    file += 1;
                    let (w, mut quarantined) = writer.commit(&path).await?;
                    summary.new += w.new;
                    summary.updated += w.updated;
                    summary.unchanged += w.unchanged;
                    summary.occurrences += w.occurrences;
                    if w.conflicts > 0 {
                        *summary
                            .skipped
                            .entry("its uid is a stored event's about another object".into())
                            .or_default() += w.conflicts;
                    }
                    summary.quarantined.append(&mut quarantined);
                    summary.events_read += counts.events_read;
                    summary.objects += counts.objects;
                    revisions.extend(counts.revisions);
                    scalings.add(counts.scalings);
                    for (reason, n) in counts.skipped {
                        *summary.skipped.entry(reason).or_default() += n;
                    }
                    let room = MAX_LISTED.saturating_sub(summary.skipped_events.len());
                    (summary.skipped_events).extend(counts.skipped_events.into_iter().take(room));
                    summary.files_imported.push(path);
                }
                Msg::FileFailed(path, error) => {
                    file += 1;
                    writer.roll_back();
                    summary.files_failed.push((path, error));
                }
            }
        }
        // Stops the parser at its next batch, if it is still reading.
        drop(rx);
        writer.roll_back();
        parser
            .join()
            .map_err(|_| anyhow::anyhow!("the import thread panicked"))?;
        if !redo {
            break;
        }
        plain_from = Some(file);
    }
    let history = dump_changes(cluster, revisions, scalings);
    if let Some(store) = changes
        && !history.is_empty()
    {
        summary.changes = history.len() as u64;
        let saved = store
            .save_changes(ChangeBatch {
                changes: history,
                ..ChangeBatch::default()
            })
            .await
            .context("cannot store the rollout history")?;
        summary.changes_new = saved.new;
    }
    Ok(summary)
}

/// What writing one batch came to.
#[derive(Debug, PartialEq)]
enum Wrote {
    Done,
    /// The store refused a batch of a bulk transaction and rolled it back whole
    /// (`kubetrail_store::Error::BulkRefused`): the file must be written again, in a plain
    /// transaction.
    Redo,
}

/// Writes one file's batches into one transaction, and keeps what they did.
struct FileWriter<'s> {
    store: &'s dyn EventSink,
    /// Plain transactions instead of bulk ones.
    plain: bool,
    txn: Option<Box<dyn StoreTxn>>,
    writes: WriteSummary,
    quarantined: Vec<QuarantinedEvent>,
}

impl FileWriter<'_> {
    async fn write(
        &mut self,
        events: Vec<Event>,
        locations: Vec<Location>,
        relinks: Vec<Relink>,
    ) -> Result<Wrote> {
        let t = match self.txn.as_mut() {
            Some(t) => t,
            None if self.plain => self.txn.insert(self.store.begin().await?),
            None => self.txn.insert(self.store.begin_bulk().await?),
        };
        let source = match locations.first() {
            Some(l) => format!("import {}", l.path.display()),
            None => "import".to_string(),
        };
        let done = match t.write_or_quarantine(events, &source).await {
            Err(kubetrail_store::Error::BulkRefused(error)) => {
                let error = format!("{:#}", anyhow::Error::new(*error));
                tracing::info!(%error, %source, "the store refused a batch of a bulk import: writing the file again with each batch isolated");
                self.roll_back();
                return Ok(Wrote::Redo);
            }
            done => done?,
        };
        t.relink(relinks).await?;
        self.writes += done.written.summary;
        self.quarantined.extend(done.rejected.into_iter().map(|r| {
            QuarantinedEvent {
                location: locations
                    .get(r.index)
                    .map_or_else(|| source.clone(), Location::to_string),
                uid: r.event.uid,
                error: r.error,
            }
        }));
        Ok(Wrote::Done)
    }

    /// Commits the file's transaction; returns what it wrote.
    async fn commit(
        &mut self,
        path: &std::path::Path,
    ) -> Result<(WriteSummary, Vec<QuarantinedEvent>)> {
        if let Some(t) = self.txn.take() {
            t.commit()
                .await
                .with_context(|| format!("cannot commit {}", path.display()))?;
        }
        Ok((
            std::mem::take(&mut self.writes),
            std::mem::take(&mut self.quarantined),
        ))
    }

    /// Drops the file's transaction, which rolls it back, and what it wrote.
    fn roll_back(&mut self) {
        drop(self.txn.take());
        self.writes = WriteSummary::default();
        self.quarantined.clear();
    }
}

/// The changes a dump shows: the rollout history of its ReplicaSets and ControllerRevisions,
/// and for the Deployments without ReplicaSets in it, the rollouts of their events.
fn dump_changes(
    cluster: &str,
    revisions: Vec<Revision>,
    scalings: FirstScalings,
) -> Vec<kubetrail_model::Change> {
    let mut changes = rollout_history(cluster, revisions);
    let known: std::collections::BTreeSet<(String, String)> = changes
        .iter()
        .filter(|c| c.object.kind == "Deployment")
        .map(|c| (c.object.namespace.clone(), c.object.name.clone()))
        .collect();
    changes.extend(
        rollouts_from_events(cluster, scalings.0.into_values().collect())
            .into_iter()
            .filter(|c| !known.contains(&(c.object.namespace.clone(), c.object.name.clone()))),
    );
    changes
}

/// The first `ScalingReplicaSet` of each ReplicaSet of a Deployment (by uid), all the rollout
/// rule reads: one entry per ReplicaSet, however many events a dump holds.
#[derive(Default)]
struct FirstScalings(BTreeMap<(String, String, String), Scaling>);

impl FirstScalings {
    fn add(&mut self, scalings: Vec<Scaling>) {
        for s in scalings {
            let key = (
                s.deployment.uid.clone(),
                s.deployment.name.clone(),
                s.replica_set.clone(),
            );
            match self.0.get(&key) {
                Some(first) if (first.at, !first.up) <= (s.at, !s.up) => {}
                _ => {
                    self.0.insert(key, s);
                }
            }
        }
    }
}

/// Which events an import takes: those `limit` accepts at `now`, the start of the import.
#[derive(Debug, Clone, Copy)]
struct Admit {
    limit: FutureLimit,
    now: Timestamp,
}

/// What the parser thread reads, and how.
struct Parse {
    files: Vec<PathBuf>,
    cluster: String,
    rules: Rules,
    admit: Admit,
    keep_going: bool,
    /// The files before this one are processed again without sending anything, so that the
    /// processor's state (correlation, owners) is what it was at the start of this one: for
    /// a file written again (see `Wrote::Redo`).
    replay: usize,
}

/// The parser thread: read, process, batch. Stops when the writer goes away.
fn parse_files(parse: Parse, tx: &mpsc::Sender<Msg>, done: &AtomicU64) {
    let Parse {
        files,
        cluster,
        rules,
        admit,
        keep_going,
        replay,
    } = parse;
    let mut processor = Processor::new(rules);
    let mut finished_bytes = 0u64;
    for (i, path) in files.into_iter().enumerate() {
        let send = (i >= replay).then_some(tx);
        let outcome = parse_file(&path, &cluster, &mut processor, admit, send, |n| {
            done.store(finished_bytes + n, Ordering::Relaxed)
        });
        if send.is_none() {
            finished_bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            continue;
        }
        finished_bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        done.store(finished_bytes, Ordering::Relaxed);
        let msg = match outcome {
            Ok(Some(counts)) => Msg::FileDone(path, counts),
            Ok(None) => return, // the writer stopped
            Err(error) => Msg::FileFailed(path, format!("{error:#}")),
        };
        let failed = matches!(msg, Msg::FileFailed(..));
        if tx.blocking_send(msg).is_err() || (failed && !keep_going) {
            return;
        }
    }
}

/// Reads one file, sending its batches to `tx` (none when replayed: `Parse::replay`);
/// `Ok(None)` when the writer went away.
fn parse_file(
    path: &std::path::Path,
    cluster: &str,
    processor: &mut Processor,
    admit: Admit,
    tx: Option<&mpsc::Sender<Msg>>,
    progress: impl Fn(u64),
) -> Result<Option<FileCounts>> {
    let send = |msg: Msg| tx.is_none_or(|tx| tx.blocking_send(msg).is_ok());
    let mut items = source::read_file(path, cluster)?;
    let bytes = items.progress();
    let mut counts = FileCounts::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut locations = Vec::with_capacity(BATCH);
    for item in &mut items {
        match item? {
            Item::Event { event, location } => {
                if let Err(rejected) = admit.limit.check(&event, admit.now) {
                    counts.skip(&location, &SkipReason::Rejected(rejected));
                    continue;
                }
                counts.events_read += 1;
                counts.scalings.extend(Scaling::of(&event));
                batch.push(processor.process(event));
                locations.push(location);
                if batch.len() == BATCH {
                    progress(bytes.load(Ordering::Relaxed));
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    let at = std::mem::replace(&mut locations, Vec::with_capacity(BATCH));
                    let relinks = processor.take_relinks();
                    if !send(Msg::Batch(full, at, relinks)) {
                        return Ok(None);
                    }
                }
            }
            Item::Object(link) => {
                counts.objects += 1;
                processor.observe(link);
            }
            Item::Revision(revision) => counts.revisions.push(revision),
            Item::Skipped { reason, location } => counts.skip(&location, &reason),
        }
    }
    let relinks = processor.take_relinks();
    if (!batch.is_empty() || !relinks.is_empty()) && !send(Msg::Batch(batch, locations, relinks)) {
        return Ok(None);
    }
    Ok(Some(counts))
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

fn print_summary(out: &mut impl Write, s: &ImportSummary) -> Result<()> {
    writeln!(
        out,
        "files:   {} imported, {} skipped (not events), {} failed",
        s.files_imported.len(),
        s.files_skipped.len(),
        s.files_failed.len()
    )?;
    writeln!(
        out,
        "events:  {} read, {} new, {} updated, {} unchanged, {} skipped",
        s.events_read,
        s.new,
        s.updated,
        s.unchanged,
        s.skipped.values().sum::<u64>()
    )?;
    writeln!(out, "occurrences added: {}", s.occurrences)?;
    if !s.quarantined.is_empty() {
        writeln!(
            out,
            "quarantined: {} event(s) the store refused (kept aside; see kubetrail status)",
            s.quarantined.len()
        )?;
    }
    for q in &s.quarantined {
        writeln!(
            out,
            "  quarantined {} (uid {}): {}",
            q.location, q.uid, q.error
        )?;
    }
    if s.objects > 0 {
        writeln!(out, "other objects read (for owner links): {}", s.objects)?;
    }
    if s.changes > 0 {
        writeln!(
            out,
            "changes: {} rollouts rebuilt from ReplicaSets, ControllerRevisions and the deployment controller's events, {} new (kubetrail changes)",
            s.changes, s.changes_new
        )?;
    }
    for (reason, n) in &s.skipped {
        writeln!(out, "  skipped {n}: {reason}")?;
    }
    for e in &s.skipped_events {
        writeln!(out, "    {}: {}", e.location, e.reason)?;
    }
    for (path, reason) in &s.files_skipped {
        writeln!(out, "  skipped file {}: {reason}", path.display())?;
    }
    Ok(())
}
