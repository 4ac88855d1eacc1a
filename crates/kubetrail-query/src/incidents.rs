//! Incidents kept at ingest (issue 14 §1): the maintainer that keeps the stored incidents up to
//! date ([`maintain_incidents`]) and the read that answers from them ([`kept_incidents`]).
//!
//! The analysis is local in time: a failure joins an incident only within `quiet` of its other
//! failures, links reach `link_window` back, crash waves a minute. So the incidents around a
//! span the store marked dirty are found by reading the events of that span widened by a
//! horizon and running the unchanged [`incidents`] over them; the span (the *core*) grows to
//! take in every incident, found or stored, that overlaps it, until none crosses its edges; the
//! stored incidents of the core are then replaced by those found. Spans are walked in slices
//! of at most [`SLICE`], and no analysis holds more than [`MAX_READ`] events: a slice with more
//! is halved, and a core stops growing where its read would hold more. Memory is bounded by
//! that (a window found over the bound holds at most the walk's last read and one read of the
//! bound before it is dropped), not by the store (issue 14 §1: the first pass over a migrated
//! 1M store grew its cores to whole 30-day chains of failures and read most of the store at
//! once, 1.76 GiB). The walk keeps its last read: the next reads only what lies beyond it.
//!
//! Where this differs from one analysis of everything (the property test
//! `tests/incidents_incremental.rs` checks the rest): a sign of healing (`Started` after a
//! failed mount, `NodeReady` after `NodeNotReady`) written more than the horizon after the
//! failure is not seen by the incident it heals, and an Event with no occurrence within the
//! horizon of a span is not read for it; and an incident whose span (widened by the horizon)
//! holds more than [`MAX_READ`] events of its cluster is kept cut where the read stopped, as an
//! analysis of a window cuts it at the window's edge (a stored incident the cut core overlaps
//! is replaced by what was found inside it: its part beyond is no longer kept).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

// The merge's maps of uids borrowed from the reads: foldhash, not SipHash.
use foldhash::HashMap;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{
    Incident, IncidentConfig, Status, Window, incident_order_by, incidents, incidents_in,
};
use kubetrail_model::{AnalysisOccurrences, EventFilter, Occurrence, Severity};
use kubetrail_store::{
    DirtyRange, EventReader, IncidentStore, IncidentSummary, Replaced, StoredIncident,
};

use crate::Result;
use crate::pass_writes::{WriteQueue, pass_writes};
use crate::patterns::PatternPass;

/// The length of the span the maintainer recomputes at once (before it grows to take in the
/// incidents crossing it).
pub const SLICE: SignedDuration = SignedDuration::from_hours(6);

/// The most events one read of the maintainer (or of a read recomputing what is dirty) holds:
/// the bound on its memory (see the module's documentation).
pub const MAX_READ: usize = 50_000;

/// The shortest slice: a slice is halved while its read holds more than the bound, down to
/// this (then read cut, the latest events kept).
const MIN_SLICE: SignedDuration = SignedDuration::from_mins(1);

/// A read ahead (the next slice's new events, read while this slice is analysed) holds at
/// most the bound divided by this; one over it is dropped and read again in its turn.
const AHEAD_SHARE: usize = 4;

/// What one maintenance pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Maintained {
    /// Dirty ranges cleared.
    pub ranges: usize,
    /// Spans recomputed.
    pub spans: usize,
    /// Events read (an event read for two spans counts twice).
    pub events_read: usize,
    /// Incidents stored.
    pub stored: usize,
    /// The most events one analysis held: at most the bound plus one ([`MAX_READ`]), whatever
    /// the store holds.
    pub max_read: usize,
    /// Of the incidents stored, those found again as the walk had just stored them: kept as
    /// stored, not written again.
    pub unchanged: usize,
    /// Hours whose pattern parts were recomputed, from the walk's reads or read by hour
    /// ([`maintain_patterns`](crate::maintain_patterns)).
    pub pattern_hours: usize,
}

/// How far beyond a span events can change its incidents: a failure within `quiet` joins an
/// episode, a cluster-wide cause is read within `quiet`, a link reaches `link_window`.
fn horizon(cfg: &IncidentConfig) -> SignedDuration {
    cfg.quiet * 2 + cfg.link_window + SignedDuration::from_mins(5)
}

/// Brings the stored incidents up to date with everything written before the call: recomputes
/// the spans marked dirty and clears them. `None` when the store keeps no incidents. The
/// settings must be those the readers use ([`IncidentConfig::default`] for the CLI and API).
/// Its reads are [`PassReads::LEAN`].
pub async fn maintain_incidents(
    reader: &dyn EventReader,
    cfg: &IncidentConfig,
) -> Result<Option<Maintained>> {
    maintain_incidents_reading(reader, cfg, PassReads::LEAN).await
}

/// How a maintenance pass reads the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassReads {
    /// The most events one read holds (the bound on the pass's memory).
    pub max_read: usize,
    /// Whether the walk reads the next slice's new events while it analyses this one (at most
    /// a quarter of `max_read` of them): faster where a core is free for the read (the
    /// import's pass over 1M events: 11.7 s against 13.7), at up to a quarter more events
    /// held at the pass's peak; not for `run`, whose memory comes first.
    pub ahead: bool,
}

impl PassReads {
    /// At most [`MAX_READ`] events held by one read, nothing read ahead: `run`'s pass.
    pub const LEAN: PassReads = PassReads {
        max_read: MAX_READ,
        ahead: false,
    };
    /// At most [`MAX_READ`] events held by one read, the next slice read ahead: the import's
    /// pass.
    pub const AHEAD: PassReads = PassReads {
        max_read: MAX_READ,
        ahead: true,
    };
}

/// [`maintain_incidents`] reading as `reads` says.
pub async fn maintain_incidents_reading(
    reader: &dyn EventReader,
    cfg: &IncidentConfig,
    reads: PassReads,
) -> Result<Option<Maintained>> {
    let max_read = reads.max_read;
    let Some(store) = reader.incident_store() else {
        return Ok(None);
    };
    let dirty = store.dirty_ranges().await?;
    // What the walk finds is stored beside it, in order: incidents, and the pattern parts of
    // the dirty hours from the walk's reads.
    let (queue, writes) = pass_writes();
    let mut parts = reader
        .pattern_store()
        .map(|patterns| PatternPass::new(patterns, &dirty, queue.clone()));
    let walk = async {
        let mut queue = queue;
        let mut queued = Queued::default();
        let mut done = Maintained {
            ranges: dirty.len(),
            ..Maintained::default()
        };
        for (cluster, spans) in merged(&dirty, horizon(cfg)) {
            for span in spans {
                let mut walk = SpanWalk::new(&cluster, span);
                // What the walk's last replacement stored: consecutive cores overlap from the
                // start of the earliest incident left open, so most of what a core finds there
                // is found again unchanged (the 1M import's pass wrote ~94 MB of incidents to
                // keep ~7 MB).
                let mut last: Vec<Incident> = Vec::new();
                while let Some(found) = walk
                    .step(reader, store, cfg, reads, parts.as_mut(), &mut queued)
                    .await?
                {
                    done.spans += 1;
                    done.events_read += found.events_read;
                    done.max_read = done.max_read.max(found.max_read);
                    done.stored += found.incidents.len();
                    // What began before the walk's last cut stays as stored.
                    let replaced = Replaced {
                        since: found.core.0,
                        until: found.core.1,
                        keep_before: found.floor,
                    };
                    let same = unchanged(&last, &found.incidents, found.floor);
                    done.unchanged += same.len();
                    let rows = found
                        .incidents
                        .iter()
                        .filter(|i| !same.contains(i.id.as_str()))
                        .map(stored)
                        .collect::<Result<Vec<_>>>()?;
                    let spans = found.incidents.iter().map(|i| (i.start, i.end)).collect();
                    let same = same.into_iter().map(str::to_string).collect();
                    queued
                        .replace(&mut queue, store, &cluster, replaced, (same, spans), rows)
                        .await?;
                    last = found.incidents;
                }
            }
        }
        drop(queue);
        if let Some(parts) = parts {
            done.pattern_hours = parts.finish(reader, max_read).await?;
        }
        Ok::<_, crate::Error>(done)
    };
    let (done, written) = futures::future::join(walk, writes.run()).await;
    // A failed write ends the pass's writes: its own error, not the pass's refused queue.
    written?;
    let done = done?;
    // Every part is stored (the writes ended with the pass) before the ranges are clean.
    store
        .clear_dirty(dirty.iter().map(|d| d.id).collect())
        .await?;
    Ok(Some(done))
}

/// The incidents overlapping `window` of `clusters` (empty: every cluster), from the stored
/// results, with what was written since the last maintenance recomputed in memory (nothing is
/// written). `None` when the store keeps no incidents: the caller analyses raw events.
///
/// Each incident is whole, as one analysis of everything stored finds it: one that began
/// before the window or ends after it keeps its start, its id and all its events (an analysis
/// of the window's events alone would cut it at the edge). Its status is as of `now` (or the
/// window's end, if later). Sorted as [`incidents()`] sorts.
pub async fn kept_incidents(
    reader: &dyn EventReader,
    clusters: &[String],
    window: Window,
    now: Timestamp,
    cfg: &IncidentConfig,
) -> Result<Option<Vec<Incident>>> {
    Ok(kept_read(reader, clusters, window, now, cfg, Detail::Whole)
        .await?
        .map(|k| k.incidents))
}

/// How much of each stored incident a read decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The whole incident.
    Whole,
    /// Its head: the incident without its timeline and objects (what a list shows), a tenth
    /// of its size. [`whole_where_changes`] reads the whole incidents a change may be linked
    /// to (linking reads the timeline's messages).
    Head,
}

/// Kept incidents as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// Sorted as [`incidents()`] sorts.
    pub incidents: Vec<Incident>,
    /// For each incident read as a head, the row to read it whole by; `None` for whole ones
    /// (all of them when read [`Detail::Whole`]).
    pub heads: Vec<Option<i64>>,
}

/// One stored incident as a read decodes it: whole or its head.
struct Row {
    cluster: String,
    start: Timestamp,
    end: Timestamp,
    json: String,
    head: Option<i64>,
}

/// [`kept_incidents`], each incident decoded as `detail` says.
pub async fn kept_read(
    reader: &dyn EventReader,
    clusters: &[String],
    window: Window,
    now: Timestamp,
    cfg: &IncidentConfig,
    detail: Detail,
) -> Result<Option<Kept>> {
    let Some(store) = reader.incident_store() else {
        return Ok(None);
    };
    let last = window.until - SignedDuration::from_micros(1);
    let each: Vec<Option<&str>> = match clusters {
        [] => vec![None],
        _ => clusters.iter().map(|c| Some(c.as_str())).collect(),
    };
    let mut rows: Vec<Row> = Vec::new();
    for c in each {
        match detail {
            Detail::Whole => rows.extend(
                store
                    .stored_incidents(c, window.since, last)
                    .await?
                    .into_iter()
                    .map(|r| Row {
                        cluster: r.cluster,
                        start: r.start,
                        end: r.end,
                        json: r.body,
                        head: None,
                    }),
            ),
            Detail::Head => rows.extend(
                store
                    .incident_heads(c, window.since, last)
                    .await?
                    .into_iter()
                    .map(|r| Row {
                        cluster: r.cluster,
                        start: r.start,
                        end: r.end,
                        json: r.head,
                        head: Some(r.row),
                    }),
            ),
        }
    }
    let extent = rows.iter().fold((window.since, last), |(a, b), r| {
        (a.min(r.start), b.max(r.end))
    });
    let fresh = recompute_dirty(reader, store, clusters, extent, cfg).await?;
    let mut out: Vec<(Incident, Option<i64>)> = Vec::new();
    for r in rows {
        if !fresh.replaces(&r.cluster, r.start, r.end) {
            out.push((decode(&r.json)?, r.head));
        }
    }
    let out = finish(out, fresh.within(window), window, now, cfg);
    let (incidents, heads) = out.into_iter().unzip();
    Ok(Some(Kept { incidents, heads }))
}

/// What was written since the last maintenance near a read, recomputed in memory.
pub(crate) struct Recomputed {
    /// The incidents found.
    fresh: Vec<Incident>,
    /// The spans (cores) they were found in: they replace the stored incidents overlapping
    /// one.
    cores: Vec<(String, Timestamp, Timestamp)>,
}

impl Recomputed {
    /// Whether a stored incident of `cluster` over `[start, end]` is replaced.
    pub(crate) fn replaces(&self, cluster: &str, start: Timestamp, end: Timestamp) -> bool {
        self.cores
            .iter()
            .any(|(c, a, b)| c == cluster && end >= *a && start <= *b)
    }

    /// The incidents found overlapping `window`.
    pub(crate) fn within(self, window: Window) -> impl Iterator<Item = Incident> {
        let last = window.until - SignedDuration::from_micros(1);
        self.fresh
            .into_iter()
            .filter(move |i| i.end >= window.since && i.start <= last)
    }
}

/// Recomputes in memory the dirty spans of `clusters` (empty: every cluster) that can change
/// the stored incidents of `extent` (the window and the stored incidents read overlapping it):
/// those within the horizon of it (the rest cannot reach it).
pub(crate) async fn recompute_dirty(
    reader: &dyn EventReader,
    store: &dyn IncidentStore,
    clusters: &[String],
    extent: (Timestamp, Timestamp),
    cfg: &IncidentConfig,
) -> Result<Recomputed> {
    let h = horizon(cfg);
    let wanted = |c: &str| clusters.is_empty() || clusters.iter().any(|w| w == c);
    let (lo, hi) = (extent.0 - h, extent.1 + h);
    let dirty: Vec<DirtyRange> = store
        .dirty_ranges()
        .await?
        .into_iter()
        .filter(|d| wanted(&d.cluster) && d.until >= lo && d.since <= hi)
        .map(|mut d| {
            d.since = d.since.max(lo);
            d.until = d.until.min(hi);
            d
        })
        .collect();
    let mut fresh: Vec<Incident> = Vec::new();
    let mut cores: Vec<(String, Timestamp, Timestamp)> = Vec::new();
    for (cluster, spans) in merged(&dirty, h) {
        for span in spans {
            let mut walk = SpanWalk::new(&cluster, span);
            // Nothing is written: the store's incidents are read as they are.
            let mut stored = Queued::default();
            while let Some(found) = walk
                .step(reader, store, cfg, PassReads::LEAN, None, &mut stored)
                .await?
            {
                // As the maintainer stores them: a step replaces what an earlier step found
                // overlapping its core (an incident left open at that step's end).
                let (a, b) = found.core;
                // What began before the walk's last cut stays (as the maintainer keeps it
                // stored).
                let floor = found.floor;
                fresh.retain(|i| {
                    i.cluster != cluster
                        || i.end < a
                        || i.start > b
                        || floor.is_some_and(|f| i.start < f)
                });
                cores.push((cluster.clone(), a, b));
                fresh.extend(found.incidents);
            }
        }
    }
    Ok(Recomputed { fresh, cores })
}

/// What a read of kept incidents sorts by: an incident, or what stands for one.
pub(crate) trait Listed {
    /// `(status, severity, end, id)`, as [`incident_order_by`] takes them.
    fn order_key(&self) -> (Status, Severity, Timestamp, &str);
    /// Its start and subject (with its id, what tells a duplicate).
    fn start_subject(&self) -> (Timestamp, &str);
    /// Makes it resolved.
    fn resolve(&mut self);
    /// An incident recomputed in memory.
    fn fresh(incident: Incident) -> Self;
}

impl Listed for (Incident, Option<i64>) {
    fn order_key(&self) -> (Status, Severity, Timestamp, &str) {
        (self.0.status, self.0.severity, self.0.end, &self.0.id)
    }
    fn start_subject(&self) -> (Timestamp, &str) {
        (self.0.start, &self.0.subject)
    }
    fn resolve(&mut self) {
        self.0.status = Status::Resolved;
    }
    fn fresh(incident: Incident) -> Self {
        (incident, None)
    }
}

/// The stored incidents read (`out`, those not replaced) and the `fresh` ones as one answer:
/// duplicates dropped, the status as of `now` (or the window's end, if later), sorted as
/// [`incidents()`] sorts.
pub(crate) fn finish<T: Listed>(
    mut out: Vec<T>,
    fresh: impl Iterator<Item = Incident>,
    window: Window,
    now: Timestamp,
    cfg: &IncidentConfig,
) -> Vec<T> {
    out.extend(fresh.map(T::fresh));
    // Several slices may have found the same incident (a core that grew into the next).
    out.sort_by(|a, b| {
        let (ka, kb) = (a.order_key(), b.order_key());
        ka.3.cmp(kb.3)
            .then_with(|| a.start_subject().0.cmp(&b.start_subject().0))
    });
    out.dedup_by(|a, b| {
        a.order_key().3 == b.order_key().3 && a.start_subject() == b.start_subject()
    });
    let asked = now.max(window.until);
    for i in &mut out {
        if asked.duration_since(i.order_key().2) >= cfg.quiet {
            i.resolve();
        }
    }
    // As `sort_incidents` sorts (it sorts incidents alone).
    out.sort_by(|a, b| incident_order_by(a.order_key(), b.order_key()));
    out
}

/// Each cluster's change times, sorted once: an incident looks up its window by binary search
/// (a scan of every change per incident is incidents × changes).
pub(crate) struct ChangeTimes<'c>(BTreeMap<&'c str, Vec<Timestamp>>);

impl<'c> ChangeTimes<'c> {
    pub(crate) fn new(changes: &'c [kubetrail_model::Change]) -> Self {
        let mut times: BTreeMap<&str, Vec<Timestamp>> = BTreeMap::new();
        for c in changes {
            times.entry(c.cluster.as_str()).or_default().push(c.at);
        }
        times.values_mut().for_each(|t| t.sort_unstable());
        ChangeTimes(times)
    }

    /// Whether a change of `cluster` lies within `change_window` before `start`: what
    /// [`link_changes`](kubetrail_analyze::link_changes) looks at.
    pub(crate) fn near(&self, cluster: &str, start: Timestamp, cfg: &IncidentConfig) -> bool {
        let Some(at) = self.0.get(cluster) else {
            return false;
        };
        let earliest = start
            .checked_sub(cfg.change_window)
            .unwrap_or(Timestamp::MIN);
        let from = at.partition_point(|t| *t < earliest);
        at.get(from).is_some_and(|t| *t <= start)
    }
}

/// Reads whole the incidents of `found` read as heads that a change of `changes` may be
/// linked to (one of their cluster within `change_window` before their start: what
/// [`link_changes`](kubetrail_analyze::link_changes) looks at), keeping their status; the
/// others stay heads.
pub async fn whole_where_changes(
    reader: &dyn EventReader,
    found: &mut WindowIncidents,
    changes: &[kubetrail_model::Change],
    cfg: &IncidentConfig,
) -> Result<()> {
    let Some(store) = reader.incident_store() else {
        return Ok(());
    };
    let near = ChangeTimes::new(changes);
    let mut rows: Vec<(usize, i64)> = Vec::new();
    for (k, (i, head)) in found.incidents.iter().zip(&found.heads).enumerate() {
        if let Some(row) = head
            && near.near(&i.cluster, i.start, cfg)
        {
            rows.push((k, *row));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let bodies = store
        .incident_bodies(rows.iter().map(|(_, r)| *r).collect())
        .await?;
    for (k, row) in rows {
        if let Some((_, body)) = bodies.iter().find(|(r, _)| *r == row) {
            let status = found.incidents[k].status;
            found.incidents[k] = Incident {
                status,
                ..decode(body)?
            };
            found.heads[k] = None;
        }
    }
    Ok(())
}

/// The incidents of a window and how they were found.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowIncidents {
    /// Sorted as [`incidents()`] sorts.
    pub incidents: Vec<Incident>,
    /// Whether they come from the kept results ([`kept_incidents`]); else from an analysis of
    /// the window's events.
    pub kept: bool,
    /// Whether the analysis read `max` events and so may have left some out (never for kept
    /// results).
    pub cut: bool,
    /// Kept incidents read as heads ([`Detail::Head`]): for each incident, its row when it is
    /// a head ([`whole_where_changes`] reads those a change may be linked to). Empty otherwise.
    pub heads: Vec<Option<i64>>,
}

/// Whether the kept incidents answer a question: its filter narrows by cluster and time only,
/// and its settings are those the maintainer uses ([`IncidentConfig::default`], but `now`).
pub fn kept_answer(filter: &EventFilter, cfg: &IncidentConfig) -> bool {
    let by_time = EventFilter {
        since: filter.since,
        until: filter.until,
        clusters: filter.clusters.clone(),
        ..EventFilter::default()
    };
    let d = IncidentConfig::default();
    *filter == by_time
        && cfg.quiet == d.quiet
        && cfg.link_window == d.link_window
        && cfg.max_timeline == d.max_timeline
        && cfg.max_objects == d.max_objects
}

/// The incidents of `window` for `filter` (its times set to the window's), as `kubetrail
/// incidents` and `GET /api/v1/incidents` answer: from the kept results when they answer it
/// ([`kept_answer`], and a store that keeps them), else by analysing the window's events (at
/// most `max`, the latest; 0: no limit); kept ones decoded as `detail` says. Changes are not
/// linked here
/// ([`link_changes`](kubetrail_analyze::link_changes) with [`changes_filter`]).
pub async fn window_incidents(
    reader: &dyn EventReader,
    filter: &EventFilter,
    window: Window,
    cfg: &IncidentConfig,
    max: usize,
    detail: Detail,
) -> Result<WindowIncidents> {
    let now = cfg.now.unwrap_or(window.until);
    if kept_answer(filter, cfg)
        && let Some(found) = kept_read(reader, &filter.clusters, window, now, cfg, detail).await?
    {
        return Ok(WindowIncidents {
            incidents: found.incidents,
            kept: true,
            cut: false,
            heads: match detail {
                Detail::Head => found.heads,
                Detail::Whole => Vec::new(),
            },
        });
    }
    let (events, cut) = crate::read_events(reader, filter, max).await?;
    Ok(WindowIncidents {
        incidents: incidents(&events, window, cfg)?,
        kept: false,
        cut,
        heads: Vec::new(),
    })
}

/// The filter whose changes incidents are linked to: `filter`, from the earliest start of
/// `found` when they are kept ones (whole: they may begin long before the window).
pub fn changes_filter(filter: &EventFilter, found: &WindowIncidents) -> EventFilter {
    match found.kept {
        true => changes_from(filter, found.incidents.iter().map(|i| i.start).min()),
        false => filter.clone(),
    }
}

/// `filter`, from `first` (the earliest start of kept incidents) when it is earlier: the
/// filter whose changes kept incidents are linked to ([`changes_filter`]).
pub fn changes_from(filter: &EventFilter, first: Option<Timestamp>) -> EventFilter {
    let mut out = filter.clone();
    if let Some(first) = first {
        out.since = Some(out.since.map_or(first, |s| s.min(first)));
    }
    out
}

/// The incidents of one recomputed core, and the core as it grew.
struct Found {
    /// What the incidents replace: the stored incidents overlapping it.
    core: (Timestamp, Timestamp),
    incidents: Vec<Incident>,
    /// Where the next core of the span begins: the earliest start of the incidents found that
    /// events after this core may still change (`None`: right after this core).
    open_from: Option<Timestamp>,
    /// Whether the core was cut for the bound: what crosses its end is not read beyond it.
    cut: bool,
    /// The walk's last cut, if any, as of this core (a cut at its start included): what began
    /// before it is kept.
    floor: Option<Timestamp>,
    events_read: usize,
    max_read: usize,
}

/// One dirty span of a cluster, walked forward in cores of at most [`SLICE`] of new time each.
///
/// An incident still open at a core's end (events within the horizon after it may join it) is
/// not grown into by reading further right: the next core begins at its start instead, so it
/// is recomputed whole with the next slice's events (and replaces what was stored of it). The
/// core grows right only at the span's end. When that would read more than the bound, the
/// incident is cut: what was stored of it stays, and no later core of the walk grows left past
/// the cut (its continuation is a new incident). Each event is so read a few times per pass
/// at most, whatever the store holds: a pass costs in proportion to it. (Growing right a
/// horizon at a time instead, the previous walk, re-read a chain of failures days long once
/// per horizon: the first pass over a 1M store had not finished after an hour.)
struct SpanWalk<'c> {
    cluster: &'c str,
    span: (Timestamp, Timestamp),
    /// The end of the last core recomputed.
    done_to: Option<Timestamp>,
    /// The start of the earliest incident left open at that end.
    open_from: Option<Timestamp>,
    /// The last cut: no core grows left past it.
    floor: Option<Timestamp>,
    /// The events of the last read, kept for the next one.
    held: Held,
}

impl<'c> SpanWalk<'c> {
    fn new(cluster: &'c str, span: (Timestamp, Timestamp)) -> Self {
        SpanWalk {
            cluster,
            span,
            done_to: None,
            open_from: None,
            floor: None,
            held: Held::default(),
        }
    }

    /// Recomputes the next core of the span; `None` once the span is done. What is returned
    /// replaces the stored incidents overlapping its core.
    async fn step(
        &mut self,
        reader: &dyn EventReader,
        store: &dyn IncidentStore,
        cfg: &IncidentConfig,
        reads: PassReads,
        parts: Option<&mut PatternPass<'_>>,
        queued: &mut Queued,
    ) -> Result<Option<Found>> {
        let max_read = reads.max_read;
        let new_from = match self.done_to {
            None => self.span.0,
            Some(t) if t >= self.span.1 => return Ok(None),
            Some(t) => t + SignedDuration::from_micros(1),
        };
        let core = (
            self.open_from.map_or(new_from, |o| o.min(new_from)),
            self.span.1.min(new_from + SLICE),
        );
        let edges = Edges {
            new_from,
            span_end: self.span.1,
            floor: self.floor,
        };
        // What the next step reads from the store if this core does not grow: the events of
        // its new slice and a horizon beyond, read while this one is analysed (a quarter of
        // the bound at most: over it, read again in its turn).
        let h = horizon(cfg);
        // Under a bound of AHEAD_SHARE events the share is 0, which the store reads as no
        // limit at all: nothing is read ahead then.
        let ahead_max = max_read / AHEAD_SHARE;
        let ahead_range = (reads.ahead && ahead_max > 0 && core.1 < self.span.1).then(|| {
            let next_end = self
                .span
                .1
                .min(core.1 + SignedDuration::from_micros(1) + SLICE);
            (core.1 + h, next_end + h)
        });
        let ahead = async {
            let range = ahead_range?;
            let read = reader
                .analysis_occurrences(&cluster_filter(self.cluster, range), ahead_max)
                .await;
            Some(Ahead { range, read })
        };
        let (found, ahead) = futures::future::join(
            recompute(
                reader,
                store,
                self.cluster,
                core,
                edges,
                cfg,
                max_read,
                &mut self.held,
                parts,
                queued,
            ),
            ahead,
        )
        .await;
        let found = found?;
        self.held.ahead = ahead;
        self.done_to = Some(found.core.1);
        self.open_from = found.open_from;
        self.floor = if found.cut {
            Some(found.core.1 + SignedDuration::from_micros(1))
        } else {
            found.floor
        };
        if let (Some(o), Some(f)) = (self.open_from, self.floor) {
            self.open_from = Some(o.max(f));
        }
        Ok(Some(found))
    }
}

/// The walk's replacements of stored incidents queued to be stored and not known to be yet
/// (issue 14 §1: the walk waited for each, 5.7 of the 16 s pass over the 1M import, while the
/// store wrote the pattern parts queued before). The stored incidents the walk grows a core
/// by are read through them: as the store holds them once all are stored.
#[derive(Default)]
struct Queued {
    /// In the order queued; the first is the pass's `base`-th replacement.
    pending: VecDeque<Pending>,
    base: usize,
    /// How many of the pass's replacements the store holds (counted by their writes).
    stored: Arc<AtomicUsize>,
}

/// A replacement queued, as [`IncidentStore::replace_incidents_keeping`] makes it (to the
/// microsecond, as the store keeps times).
struct Pending {
    cluster: String,
    /// What it deletes: the stored incidents overlapping the core that do not begin before
    /// `keep_before`.
    core: (Timestamp, Timestamp),
    keep_before: Option<Timestamp>,
    /// The spans of what it stores.
    found: Vec<(Timestamp, Timestamp)>,
}

/// `t` as the store keeps it: to the microsecond.
fn stored_time(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

impl Queued {
    /// Queues the replacement of what `replaced` covers of `cluster`'s stored incidents by
    /// those found, of spans `spans`: those of ids `unchanged` kept as stored, `rows` the rest.
    async fn replace<'s>(
        &mut self,
        queue: &mut WriteQueue<'s>,
        store: &'s dyn IncidentStore,
        cluster: &str,
        replaced: Replaced,
        (unchanged, spans): (Vec<String>, Vec<(Timestamp, Timestamp)>),
        rows: Vec<StoredIncident>,
    ) -> Result<()> {
        self.remember(cluster, replaced, spans);
        let (stored, cluster) = (Arc::clone(&self.stored), cluster.to_string());
        queue
            .send(Box::pin(async move {
                store
                    .replace_incidents_keeping(&cluster, replaced, unchanged, rows)
                    .await?;
                stored.fetch_add(1, Ordering::Release);
                Ok(())
            }))
            .await
    }

    /// Notes a replacement as queued: what it covers, and the spans of all it stores.
    fn remember(&mut self, cluster: &str, replaced: Replaced, spans: Vec<(Timestamp, Timestamp)>) {
        self.pending.push_back(Pending {
            cluster: cluster.to_string(),
            core: (stored_time(replaced.since), stored_time(replaced.until)),
            keep_before: replaced.keep_before.map(stored_time),
            found: spans
                .into_iter()
                .map(|(a, b)| (stored_time(a), stored_time(b)))
                .collect(),
        });
    }

    /// The spans of `cluster`'s stored incidents overlapping `[since, until]` once every
    /// queued replacement is stored. The store is read after dropping those it is known to
    /// hold; it may hold some of the rest too: a replacement made again after itself (and
    /// those after it made again too) changes nothing, each deleting by span alone.
    async fn stored_spans(
        &mut self,
        store: &dyn IncidentStore,
        cluster: &str,
        (since, until): (Timestamp, Timestamp),
    ) -> Result<Vec<(Timestamp, Timestamp)>> {
        let stored = self.stored.load(Ordering::Acquire);
        while self.base < stored && self.pending.pop_front().is_some() {
            self.base += 1;
        }
        let mut spans: Vec<(Timestamp, Timestamp)> = store
            .incident_heads(Some(cluster), since, until)
            .await?
            .iter()
            .map(|s| (s.start, s.end))
            .collect();
        let (since, until) = (stored_time(since), stored_time(until));
        for r in self.pending.iter().filter(|r| r.cluster == cluster) {
            spans.retain(|&(a, b)| {
                let deleted =
                    b >= r.core.0 && a <= r.core.1 && r.keep_before.is_none_or(|k| a >= k);
                !deleted
            });
            spans.extend(r.found.iter().filter(|&&(a, b)| b >= since && a <= until));
        }
        Ok(spans)
    }
}

/// Where a core stands in its span: the time it adds (from `new_from`; before it, what an
/// incident left open brought back), the span's end, and the walk's last cut.
#[derive(Debug, Clone, Copy)]
struct Edges {
    new_from: Timestamp,
    span_end: Timestamp,
    floor: Option<Timestamp>,
}

/// Recomputes the incidents of `cluster` overlapping `core`: grows the core until every stored
/// incident and every incident found that overlaps it lies inside it (to the right only at the
/// span's end: before it, an incident crossing the core's end is left open for the next core;
/// to the left never past the walk's last cut), reading the events of the core widened by the
/// horizon, at most `max_read` at once. A first read holding more drops what an open incident
/// brought back (a cut at `new_from`), then halves the core (down to [`MIN_SLICE`] of new
/// time); a later one stops the growth at the last core that fit, whose incidents crossing its
/// edges are then cut there. Events already `held` from the walk's last read are not read again
/// ([`read_window`]); every complete read is offered to the pattern `parts`.
#[allow(clippy::too_many_arguments)]
async fn recompute(
    reader: &dyn EventReader,
    store: &dyn IncidentStore,
    cluster: &str,
    mut core: (Timestamp, Timestamp),
    mut edges: Edges,
    cfg: &IncidentConfig,
    max_read: usize,
    held: &mut Held,
    mut patterns: Option<&mut PatternPass<'_>>,
    queued: &mut Queued,
) -> Result<Found> {
    let h = horizon(cfg);
    let cfg = IncidentConfig {
        now: None,
        ..cfg.clone()
    };
    let (mut events_read, mut largest) = (0, 0);
    // The last core whose read fit, and what it found.
    let mut fit: Option<Found> = None;
    loop {
        // Nothing before the last cut is read: what follows it is new incidents.
        let since = edges.floor.map_or(core.0 - h, |f| f.max(core.0 - h));
        let until = core.1 + h;
        let read = read_window(reader, cluster, (since, until), max_read, held).await?;
        events_read += read.from_store;
        let complete = read.complete;
        let mut parts = read.parts;
        if let Some(patterns) = patterns.as_deref_mut()
            && complete
        {
            patterns
                .offer(cluster, (since, until), &in_order(&parts))
                .await?;
        }
        if !complete || held_count(&parts) > max_read {
            match fit.take() {
                Some(found) => {
                    return Ok(Found {
                        cut: true,
                        open_from: None,
                        events_read,
                        max_read: largest,
                        ..found
                    });
                }
                None if core.0 < edges.new_from => {
                    core.0 = edges.new_from;
                    edges.floor = Some(edges.new_from);
                    continue;
                }
                None if core.1.duration_since(core.0) > MIN_SLICE => {
                    core.1 = core.0 + core.1.duration_since(core.0) / 2;
                    continue;
                }
                // One minute holds more: read the latest of it, as one read cut at the bound
                // gives them.
                None => {
                    if complete {
                        truncate(&mut parts, max_read + 1);
                    } else {
                        let events = reader
                            .latest_analysis_occurrences(
                                &cluster_filter(cluster, (since, until)),
                                max_read + 1,
                            )
                            .await?;
                        events_read += events.len();
                        parts = vec![events];
                    }
                }
            }
        }
        let events = in_order(&parts);
        largest = largest.max(events.len());
        let last = core.1 >= edges.span_end;
        let Some(newest) = events.iter().filter_map(|e| e.last()).max() else {
            drop(events);
            held.keep((since, until), parts, complete);
            return Ok(Found {
                core,
                incidents: Vec::new(),
                open_from: None,
                cut: false,
                floor: edges.floor,
                events_read,
                max_read: largest,
            });
        };
        // "Now" for the status is the newest occurrence read: an incident resolved then stays
        // resolved; an ongoing one is looked at again when it is read.
        let window = Window::new(since, newest + SignedDuration::from_micros(1))?;
        let found: Vec<Incident> = incidents_in(&events, window, &cfg)?
            .into_iter()
            .filter(|i| i.end >= core.0 && i.start <= core.1)
            .collect();
        drop(events);
        held.keep((since, until), parts, complete);
        // The stored incidents overlapping the core are replaced: take them in whole, with
        // those found (to the right only at the span's end, to the left not past the last
        // cut). The stored ones are those overlapping the found ones too, so that a chain
        // found crossing the core's start takes in the stored incident it continues at once,
        // not a horizon at a time.
        let grow = |c: (Timestamp, Timestamp), (a, b): (Timestamp, Timestamp)| {
            let left = c.0.min(a);
            (
                edges.floor.map_or(left, |f| left.max(f)),
                if last { c.1.max(b) } else { c.1 },
            )
        };
        let reach = found.iter().map(|i| (i.start, i.end)).fold(core, grow);
        let grown = queued
            .stored_spans(store, cluster, reach)
            .await?
            .into_iter()
            .fold(reach, grow);
        // Events within the horizon after the core may still change these.
        let open_from = (!last)
            .then(|| {
                found
                    .iter()
                    .filter(|i| i.end + h > core.1)
                    .map(|i| i.start.max(core.0))
                    .min()
            })
            .flatten();
        let here = Found {
            core,
            incidents: found,
            open_from,
            cut: false,
            floor: edges.floor,
            events_read,
            max_read: largest,
        };
        if grown == core {
            return Ok(here);
        }
        fit = Some(here);
        core = grown;
    }
}

/// The events of a walk's last read, kept for its next: consecutive cores overlap (an incident
/// left open brings the next core's start back to its start, and each read reaches a horizon
/// beyond its core), so the next read takes the part it shares from here and reads only what
/// lies beyond (issue 14 §1: an incident open across slices was read again with each slice,
/// four to five reads per event on the 1M store).
#[derive(Default)]
struct Held {
    /// `[since, until)`: every event of the walk's cluster with an occurrence in it is held,
    /// with exactly those occurrences, in the store's order (newest last occurrence first).
    range: Option<(Timestamp, Timestamp)>,
    parts: Parts,
    /// The next read from the store, if read ahead.
    ahead: Option<Ahead>,
}

/// A read of the store made ahead of its turn (while the walk's step before it analysed):
/// what [`EventReader::analysis_occurrences`] gave for `range`, with the bound of a read ahead.
struct Ahead {
    range: (Timestamp, Timestamp),
    read: Result<Option<Vec<AnalysisOccurrences>>, kubetrail_store::Error>,
}

impl Held {
    /// The events of `range` as one read of the store with bound `max` gives them: the read
    /// ahead when it read that range within its bound, else a read of the store (the read
    /// ahead is dropped either way).
    async fn read(
        &mut self,
        reader: &dyn EventReader,
        cluster: &str,
        range: (Timestamp, Timestamp),
        max: usize,
    ) -> Result<Option<Vec<AnalysisOccurrences>>> {
        match self.ahead.take() {
            Some(Ahead {
                range: r,
                read: Ok(Some(events)),
            }) if r == range => Ok(Some(events)),
            Some(Ahead {
                range: r,
                read: Err(e),
            }) if r == range => Err(e.into()),
            _ => Ok(reader
                .analysis_occurrences(&cluster_filter(cluster, range), max)
                .await?),
        }
    }
}

/// Events in parts, each from one read (or what is left of it), in the store's order: the
/// parts one after the other ([`in_order`]). A read is merged with what is held by putting its
/// parts before and after the held ones, never moving an event: merged into one buffer, the
/// held events and their copy were both resident at the merge (768 bytes each for the
/// `AnalysisOccurrences` alone), the pass's peak on the 1M import (issue 14 §3). No event in
/// them is without occurrences.
type Parts = Vec<Vec<AnalysisOccurrences>>;

/// The events of `parts`, in order.
fn in_order(parts: &Parts) -> Vec<&AnalysisOccurrences> {
    parts.iter().flatten().collect()
}

/// How many events `parts` hold.
fn held_count(parts: &Parts) -> usize {
    parts.iter().map(Vec::len).sum()
}

/// Keeps the first `n` events of `parts` (in order).
fn truncate(parts: &mut Parts, mut n: usize) {
    parts.retain_mut(|p| {
        p.truncate(n);
        n -= p.len();
        !p.is_empty()
    });
}

impl Held {
    /// Keeps `parts`, the events of `range`, when `complete` (not cut at a read's limit).
    fn keep(&mut self, range: (Timestamp, Timestamp), parts: Parts, complete: bool) {
        *self = match complete {
            true => Held {
                range: Some(range),
                parts,
                ahead: None,
            },
            false => Held::default(),
        };
    }
}

/// Events as [`read_window`] gives them.
struct WindowRead {
    /// The events of the window with their occurrences in it, in the store's order: as one
    /// read of it gives them ([`in_order`]).
    parts: Parts,
    /// Whether they are every event of the window (else a read found more than its bound, and
    /// `parts` is empty: the store read none of them).
    complete: bool,
    /// Events read from the store.
    from_store: usize,
}

impl WindowRead {
    /// A read that found more than its bound: nothing read.
    fn over() -> Self {
        WindowRead {
            parts: Vec::new(),
            complete: false,
            from_store: 0,
        }
    }
}

/// The filter of `cluster`'s events with an occurrence in `[since, until)`.
fn cluster_filter(cluster: &str, (since, until): (Timestamp, Timestamp)) -> EventFilter {
    EventFilter {
        clusters: vec![cluster.to_string()],
        since: Some(since),
        until: Some(until),
        ..EventFilter::default()
    }
}

/// The events of `cluster` with an occurrence in `window` (`[since, until)`), as
/// `Store::occurrences` gives them, reading from the store only what `held` does not hold: the
/// part of the window before and after the held range. The window must not end before the
/// held range (an event's place in the store's order is its last occurrence; one cut at the
/// right would move): else it is read whole, as when it does not overlap. A part of more than
/// `max` events is not read ([`EventReader::analysis_occurrences`]): the result is then
/// incomplete, and empty (a read over the bound is dropped: it was read whole before, then
/// dropped, holding up to `max` events beside the walk's last read). Complete, it may hold
/// more than `max` events.
async fn read_window(
    reader: &dyn EventReader,
    cluster: &str,
    window: (Timestamp, Timestamp),
    max: usize,
    held: &mut Held,
) -> Result<WindowRead> {
    let (since, until) = window;
    let reuse = held
        .range
        .filter(|&(a, b)| since < b && a < until && until >= b);
    let Some((a, b)) = reuse else {
        held.parts = Vec::new();
        held.range = None;
        held.ahead = None;
        let read = reader
            .analysis_occurrences(&cluster_filter(cluster, window), max)
            .await?;
        return Ok(match read {
            Some(events) => WindowRead {
                complete: true,
                from_store: events.len(),
                parts: non_empty(vec![events]),
            },
            None => WindowRead::over(),
        });
    };
    // The held events, from `since` on: an event's last occurrence stays, so does its place.
    let mut kept = std::mem::take(&mut held.parts);
    held.range = None;
    if since > a {
        for part in &mut kept {
            part.retain_mut(|e| {
                e.occurrences.retain(|o| o.at >= since);
                !e.occurrences.is_empty()
            });
        }
        // Shrunk to what stays before the store is read: a held read's buffer is sized for
        // the whole previous window, of which the next shares the horizon's part.
        kept = non_empty(kept);
    }
    let right = match until > b {
        true => held.read(reader, cluster, (b, until), max).await?,
        false => Some(Vec::new()),
    };
    let Some(mut right) = right else {
        return Ok(WindowRead::over());
    };
    let left = match since < a {
        true => {
            reader
                .analysis_occurrences(&cluster_filter(cluster, (since, a)), max)
                .await?
        }
        false => Some(Vec::new()),
    };
    let Some(mut left) = left else {
        return Ok(WindowRead::over());
    };
    let from_store = right.len() + left.len();
    // In the store's order (newest last occurrence first, then newest row): those whose last
    // occurrence is after the held range, then the held ones, then those before it; within
    // each, the order of its read. An event read on both sides of a boundary is one event,
    // placed by its last occurrence, with the earlier occurrences first. Found by uids
    // borrowed from the reads.
    let into_right: Vec<((usize, usize), usize)> = match right.is_empty() {
        true => Vec::new(),
        false => {
            let at: HashMap<&str, usize> = right
                .iter()
                .enumerate()
                .map(|(n, e)| (e.event.uid.as_str(), n))
                .collect();
            kept.iter()
                .enumerate()
                .flat_map(|(p, part)| part.iter().enumerate().map(move |(k, e)| ((p, k), e)))
                .filter_map(|(pk, e)| at.get(e.event.uid.as_str()).map(|&n| (pk, n)))
                .collect()
        }
    };
    for ((p, k), n) in into_right {
        let earlier = std::mem::take(&mut kept[p][k].occurrences);
        prepend(&mut right[n], earlier);
    }
    let into: Vec<Option<Side>> = match left.is_empty() {
        true => Vec::new(),
        false => {
            let mut at: HashMap<&str, Side> = HashMap::with_capacity_and_hasher(
                right.len() + held_count(&kept),
                foldhash::fast::RandomState::default(),
            );
            for (p, part) in kept.iter().enumerate() {
                for (k, e) in part.iter().enumerate() {
                    if !e.occurrences.is_empty() {
                        at.insert(e.event.uid.as_str(), Side::Held(p, k));
                    }
                }
            }
            for (n, e) in right.iter().enumerate() {
                at.insert(e.event.uid.as_str(), Side::After(n));
            }
            left.iter()
                .map(|e| at.get(e.event.uid.as_str()).copied())
                .collect()
        }
    };
    for (e, side) in left.iter_mut().zip(into) {
        let later = match side {
            Some(Side::After(n)) => &mut right[n],
            Some(Side::Held(p, k)) => &mut kept[p][k],
            None => continue,
        };
        prepend(later, std::mem::take(&mut e.occurrences));
    }
    let mut parts = Vec::with_capacity(kept.len() + 2);
    parts.push(right);
    parts.extend(kept);
    parts.push(left);
    Ok(WindowRead {
        parts: non_empty(parts),
        complete: true,
        from_store,
    })
}

/// `parts` without the events left without occurrences (moved to the event's later place)
/// and without empty parts; a part that lost most of its events is shrunk to them.
fn non_empty(mut parts: Parts) -> Parts {
    parts.retain_mut(|p| {
        p.retain(|e| !e.occurrences.is_empty());
        if p.len() < p.capacity() / 2 {
            p.shrink_to_fit();
        }
        !p.is_empty()
    });
    parts
}

/// Where an event read before the held range continues: after it, or in it (part, index).
#[derive(Debug, Clone, Copy)]
enum Side {
    After(usize),
    Held(usize, usize),
}

/// Puts `earlier` (occurrences of the same event before its own) before `e`'s occurrences.
fn prepend(e: &mut AnalysisOccurrences, mut earlier: Vec<Occurrence>) {
    earlier.reserve_exact(e.occurrences.len());
    earlier.append(&mut e.occurrences);
    e.occurrences = earlier;
}

/// The dirty ranges per cluster, merged where they come within `gap` of each other, in order.
fn merged(
    dirty: &[DirtyRange],
    gap: SignedDuration,
) -> BTreeMap<String, Vec<(Timestamp, Timestamp)>> {
    let mut by_cluster: BTreeMap<String, Vec<(Timestamp, Timestamp)>> = BTreeMap::new();
    for d in dirty {
        by_cluster
            .entry(d.cluster.clone())
            .or_default()
            .push((d.since, d.until.max(d.since)));
    }
    for spans in by_cluster.values_mut() {
        spans.sort();
        let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
        for s in spans.drain(..) {
            match out.last_mut() {
                Some(last) if s.0 <= last.1 + gap => last.1 = last.1.max(s.1),
                _ => out.push(s),
            }
        }
        *spans = out;
    }
    by_cluster
}

/// The ids of the incidents `found` for a core that the walk's last replacement stored as
/// they are (`last`), and that this one (deleting what starts at or after `keep_before`, to the
/// microsecond as the store keeps times) covers: kept as stored rather than written again. An
/// id found twice in either is written again. Two maintainers over one store (two consumers of
/// a fan-in, each `run` with its own) do not coordinate: one may replace the other's incidents
/// between two of its steps, and a kept id no longer covered then fails that pass
/// (`Error::NotKept`: rolled back, retried at the next period).
fn unchanged<'f>(
    last: &[Incident],
    found: &'f [Incident],
    keep_before: Option<Timestamp>,
) -> std::collections::HashSet<&'f str> {
    let mut times: HashMap<&str, (usize, usize)> = HashMap::default();
    for i in last {
        times.entry(i.id.as_str()).or_default().0 += 1;
    }
    for i in found {
        times.entry(i.id.as_str()).or_default().1 += 1;
    }
    let by_id: HashMap<&str, &Incident> = last.iter().map(|i| (i.id.as_str(), i)).collect();
    found
        .iter()
        .filter(|i| times.get(i.id.as_str()) == Some(&(1, 1)))
        .filter(|i| keep_before.is_none_or(|k| stored_time(i.start) >= stored_time(k)))
        .filter(|i| by_id.get(i.id.as_str()) == Some(i))
        .map(|i| i.id.as_str())
        .collect()
}

/// The incident as stored: whole, and its head (without its timeline and objects, the lists
/// that make most of its size) for lists of incidents.
pub(crate) fn stored(i: &Incident) -> Result<StoredIncident> {
    let head = Incident {
        timeline: Vec::new(),
        objects: Vec::new(),
        ..i.clone()
    };
    Ok(StoredIncident {
        cluster: i.cluster.clone(),
        start: i.start,
        end: i.end,
        summary: IncidentSummary {
            id: i.id.clone(),
            subject: i.subject.clone(),
            severity: i.severity,
            ongoing: i.status == Status::Ongoing,
            event_count: i.event_count,
            cluster_wide: i.cluster_wide,
            rule: i.root_cause.rule.clone(),
            reason: i.root_cause.reason.clone(),
            message: i.root_cause.message.clone(),
        },
        head: serde_json::to_string(&head).map_err(json_error)?,
        body: serde_json::to_string(i).map_err(json_error)?,
    })
}

pub(crate) fn decode(json: &str) -> Result<Incident> {
    serde_json::from_str(json).map_err(json_error)
}

/// [`decode`] of the text's bytes.
pub(crate) fn decode_bytes(json: &[u8]) -> Result<Incident> {
    serde_json::from_slice(json).map_err(json_error)
}

pub(crate) fn json_error(source: serde_json::Error) -> crate::Error {
    crate::Error::Store(kubetrail_store::Error::Json {
        column: "incidents.body",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubetrail_store::SqliteStore;
    use proptest::prelude::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// Minute `m` of a day, and a microsecond into it when `odd` (the store keeps
    /// microseconds).
    fn at(m: i64, odd: bool) -> Timestamp {
        t("2024-01-01T00:00:00Z")
            + SignedDuration::from_mins(m)
            + SignedDuration::from_micros(i64::from(odd))
    }

    fn incident(cluster: &str, (a, b): (i64, i64)) -> StoredIncident {
        StoredIncident {
            cluster: cluster.into(),
            start: at(a, false),
            end: at(a + b, a % 2 == 0),
            summary: IncidentSummary {
                id: format!("{a}-{b}"),
                subject: "default/Deployment/web".into(),
                severity: Severity::Warning,
                ongoing: false,
                event_count: 1,
                cluster_wide: false,
                rule: "rule".into(),
                reason: "BackOff".into(),
                message: "message".into(),
            },
            head: "{}".into(),
            body: "{}".into(),
        }
    }

    /// One replacement: a core, what it keeps (starting before), the spans found.
    type Replacement = ((i64, i64), Option<i64>, Vec<(i64, i64)>);

    fn replacement() -> impl Strategy<Value = Replacement> {
        (
            (0i64..200, 0i64..60),
            proptest::option::of(0i64..200),
            proptest::collection::vec((0i64..200, 0i64..60), 0..4),
        )
            .prop_map(|((a, b), keep, found)| ((a, a + b), keep, found))
    }

    fn sorted(mut spans: Vec<(Timestamp, Timestamp)>) -> Vec<(Timestamp, Timestamp)> {
        spans.sort_unstable();
        spans.dedup();
        spans
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The walk grows a core by the stored incidents as they will be once its queued
        /// replacements are stored, whichever of them the store already holds and whichever
        /// it is known to hold (issue 14 §1: the walk no longer waits for them).
        #[test]
        fn the_stored_spans_are_those_after_every_queued_replacement(
            before in proptest::collection::vec((0i64..200, 0i64..60), 0..6),
            other in proptest::collection::vec((0i64..200, 0i64..60), 0..3),
            replacements in proptest::collection::vec(replacement(), 0..5),
            applied in 0usize..6,
            known in 0usize..6,
            reach in (0i64..200, 0i64..120),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let store = SqliteStore::open(dir.path().join("kubetrail.db")).unwrap();
                let (start, end) = (at(0, false), at(10_000, false));
                let stored: Vec<StoredIncident> = before.iter().map(|&s| incident("a", s)).collect();
                store.replace_incidents("a", start, end, None, stored).await.unwrap();
                let stored: Vec<StoredIncident> = other.iter().map(|&s| incident("b", s)).collect();
                store.replace_incidents("b", start, end, None, stored).await.unwrap();
                let applied = applied.min(replacements.len());
                let known = known.min(applied);
                let mut queued = Queued::default();
                for (n, ((a, b), keep, found)) in replacements.iter().enumerate() {
                    let (core, keep) = ((at(*a, true), at(*b, false)), keep.map(|k| at(k, false)));
                    let rows: Vec<StoredIncident> = found.iter().map(|&s| incident("a", s)).collect();
                    let replaced = Replaced { since: core.0, until: core.1, keep_before: keep };
                    queued.remember("a", replaced, rows.iter().map(|r| (r.start, r.end)).collect());
                    if n < applied {
                        store.replace_incidents("a", core.0, core.1, keep, rows).await.unwrap();
                    }
                }
                queued.stored.store(known, Ordering::Release);
                let reach = (at(reach.0, true), at(reach.0 + reach.1, false));
                let seen = queued.stored_spans(&store, "a", reach).await.unwrap();
                for ((a, b), keep, found) in &replacements[applied..] {
                    let rows = found.iter().map(|&s| incident("a", s)).collect();
                    let keep = keep.map(|k| at(k, false));
                    store.replace_incidents("a", at(*a, true), at(*b, false), keep, rows).await.unwrap();
                }
                let after = Queued::default().stored_spans(&store, "a", reach).await.unwrap();
                prop_assert_eq!(sorted(seen), sorted(after));
                Ok(())
            })?;
        }
    }

    /// An incident of id `id` from minute `a` to minute `b` (of 2024-01-01), titled `title`.
    fn found(id: &str, (a, b): (i64, i64), title: &str) -> Incident {
        let at = |m: i64| (t("2024-01-01T00:00:00Z") + SignedDuration::from_mins(m)).to_string();
        serde_json::from_value(serde_json::json!({
            "id": id, "cluster": "prod", "subject": "shop/Deployment/web", "cluster_wide": false,
            "affected": [], "title": title, "severity": "warning", "status": "resolved",
            "start": at(a), "end": at(b),
            "root_cause": {"reason": "BackOff", "rule": "crash-loop", "evidence": [],
                "object": "shop/Pod/web-1", "message": "Back-off", "at": at(a), "hint": ""},
            "objects": [], "object_count": 0, "nodes": [], "event_count": 1, "timeline": [],
            "timeline_omitted": 0
        }))
        .expect("incident")
    }

    #[test]
    fn incidents_found_again_as_just_stored_are_kept_unless_the_replacement_would_not_cover_them() {
        let last = vec![
            found("a", (0, 10), "a"),
            found("b", (20, 30), "b"),
            found("d", (40, 50), "d"),
        ];
        let now = vec![
            found("a", (0, 10), "a"),
            found("b", (20, 35), "b"),
            found("c", (60, 70), "c"),
            found("d", (40, 50), "d"),
        ];
        fn ids(kept: std::collections::HashSet<&str>) -> Vec<String> {
            let mut ids: Vec<String> = kept.into_iter().map(str::to_string).collect();
            ids.sort_unstable();
            ids
        }
        // b changed (it grew), c is new.
        assert_eq!(ids(unchanged(&last, &now, None)), ["a", "d"]);
        // a starts before what the replacement deletes: written again, as before.
        let keep = Some(t("2024-01-01T00:05:00Z"));
        assert_eq!(ids(unchanged(&last, &now, keep)), ["d"]);
        // An id found twice is written again.
        let twice = vec![found("a", (0, 10), "a"), found("a", (12, 15), "a again")];
        assert!(unchanged(&last, &twice, None).is_empty());
        assert!(unchanged(&[], &now, None).is_empty());
    }

    fn range(cluster: &str, since: &str, until: &str) -> DirtyRange {
        DirtyRange {
            id: 0,
            cluster: cluster.into(),
            since: t(since),
            until: t(until),
        }
    }

    #[test]
    fn dirty_ranges_merge_per_cluster_when_within_the_gap() {
        let m = merged(
            &[
                range("a", "2024-01-01T03:00:00Z", "2024-01-01T04:00:00Z"),
                range("a", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"),
                range("a", "2024-01-01T01:30:00Z", "2024-01-01T02:00:00Z"),
                range("b", "2024-01-01T01:30:00Z", "2024-01-01T02:00:00Z"),
            ],
            SignedDuration::from_mins(30),
        );
        assert_eq!(
            m["a"],
            [
                (t("2024-01-01T00:00:00Z"), t("2024-01-01T02:00:00Z")),
                (t("2024-01-01T03:00:00Z"), t("2024-01-01T04:00:00Z")),
            ]
        );
        assert_eq!(m["b"].len(), 1);
    }
}
