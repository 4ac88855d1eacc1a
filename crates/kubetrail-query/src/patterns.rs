//! Patterns kept at ingest (issue 14 §1): the maintainer's step that keeps the stored pattern
//! parts up to date ([`maintain_patterns`], run by [`maintain_incidents`](crate::maintain_incidents)
//! over the same dirty ranges) and the read that answers from them ([`kept_patterns`]).
//!
//! A pattern's sums over disjoint spans add up exactly (`kubetrail_analyze::PatternPart`), so
//! the store keeps one part per pattern key and hour, read from the hour's stored events, and
//! one per key and day, merged from its hours. A window's patterns are then merged from the
//! parts of the whole days and hours it covers, with parts computed from raw events only for
//! its ragged edges (less than an hour each side) and for the hours written since the last
//! pass (still dirty). The parts' sums (count, first, last) are read first: only the parts of
//! the patterns over the thresholds are read and decoded. The answer is that of [`patterns`](kubetrail_analyze::patterns) over
//! every event of the window (the property test `tests/patterns_incremental.rs`), with no cap
//! on the events read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{
    KEPT_SAMPLES, Pattern, PatternConfig, PatternPart, merge_parts, pattern_parts,
    pattern_parts_of, patterns_of_parts,
};
use kubetrail_model::{AnalysisEvent, AnalysisOccurrences, EventFilter, Occurrence};
use kubetrail_store::{
    DirtyRange, EventReader, Fields, PartKey, PartSpan, PartSum, PatternStore, StoredPatternPart,
    parts_can_answer,
};

use crate::Result;
use crate::part_body::{decode, encode};
use crate::pass_writes::{WriteQueue, pass_writes};

const HOUR: SignedDuration = SignedDuration::from_hours(1);
const DAY: SignedDuration = SignedDuration::from_hours(24);
/// An hour no read of the walk held whole is read in pages of this many events (~1.3 MB): in a
/// cluster writing more than the walk's bound in an hour, one read of it held every event of
/// the hour (100,000 at `bench live`'s restart: issue 14 §2).
const HOUR_PAGE: usize = 1_000;

/// Each cluster's dirty ranges as runs of whole hours (first and last start), merged.
fn dirty_runs(dirty: &[DirtyRange]) -> BTreeMap<&str, Vec<(Timestamp, Timestamp)>> {
    let mut spans: BTreeMap<&str, Vec<(Timestamp, Timestamp)>> = BTreeMap::new();
    for d in dirty {
        spans.entry(d.cluster.as_str()).or_default().push((
            PartSpan::Hour.floor(d.since),
            PartSpan::Hour.floor(d.until.max(d.since)),
        ));
    }
    for runs in spans.values_mut() {
        runs.sort_unstable();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(runs.len());
        for &(a, b) in runs.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1 + HOUR => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *runs = merged;
    }
    spans
}

/// The hours (their starts) inside `[since, until)` that `dirty` touches.
fn dirty_hours_in(dirty: &[DirtyRange], since: Timestamp, until: Timestamp) -> BTreeSet<Timestamp> {
    let mut out = BTreeSet::new();
    for runs in dirty_runs(dirty).into_values() {
        for (a, b) in runs {
            let mut h = a.max(PartSpan::Hour.floor(since));
            while h <= b && h < until {
                out.insert(h);
                h += HOUR;
            }
        }
    }
    out
}

/// Recomputes the parts of the hours `dirty` touches from the stored events, then the parts
/// of their days: merged in memory where a dirty run covers the whole day, else from the day's
/// hour parts as stored. One write per day. Returns the hours recomputed. (The maintainer
/// takes most hours from the incidents walk's reads instead: `PatternPass`.)
pub async fn maintain_patterns(
    reader: &dyn EventReader,
    store: &dyn PatternStore,
    dirty: &[DirtyRange],
) -> Result<usize> {
    let (queue, writes) = pass_writes();
    let pass = PatternPass::new(store, dirty, queue);
    let (hours, written) =
        futures::future::join(pass.finish(reader, crate::MAX_READ), writes.run()).await;
    written?;
    hours
}

/// One maintenance pass over the pattern parts of the dirty hours (issue 14 §1). The hours'
/// parts are computed from the events the incidents walk reads anyway ([`offer`](Self::offer):
/// every hour a read holds whole), a day written as soon as its dirty hours are all computed
/// (the walk goes forward: about a day of parts is held); what no read held whole is read by
/// hour at the end ([`finish`](Self::finish)). Before, the parts were computed from one more
/// read of every dirty hour's events: a third of the pass over the 1M store.
pub(crate) struct PatternPass<'s> {
    store: &'s dyn PatternStore,
    /// Where the parts computed are queued to be stored.
    writes: WriteQueue<'s>,
    clusters: BTreeMap<String, ClusterParts>,
    /// Hours computed.
    hours: usize,
}

/// A cluster's share of a [`PatternPass`].
#[derive(Default)]
struct ClusterParts {
    /// Its dirty runs of whole hours (first and last start), disjoint, in order.
    runs: Vec<(Timestamp, Timestamp)>,
    /// The parts of the dirty hours computed and not yet written, by hour.
    ready: BTreeMap<Timestamp, Vec<PatternPart>>,
    /// Hours computed (written or ready).
    done: BTreeSet<Timestamp>,
    /// The pieces of runs written: (first hour, last hour) of a run within one day.
    written: BTreeSet<(Timestamp, Timestamp)>,
    /// Days whose parts are merged from their stored hours at the end (a run covers part of
    /// them), and days written merged in memory.
    stored_days: BTreeSet<Timestamp>,
    merged_days: BTreeSet<Timestamp>,
}

impl ClusterParts {
    /// Each run's pieces within one day: (first hour, last hour).
    fn pieces(&self) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        self.runs.iter().flat_map(|&(first, last)| {
            let mut day = PartSpan::Day.floor(first);
            std::iter::from_fn(move || {
                if day > last {
                    return None;
                }
                let piece = (first.max(day), last.min(day + DAY - HOUR));
                day += DAY;
                Some(piece)
            })
        })
    }
}

impl<'s> PatternPass<'s> {
    /// The pass over `dirty`, queuing its writes to `writes` (run beside it until it is
    /// finished).
    pub(crate) fn new(
        store: &'s dyn PatternStore,
        dirty: &[DirtyRange],
        writes: WriteQueue<'s>,
    ) -> Self {
        let clusters = dirty_runs(dirty)
            .into_iter()
            .map(|(cluster, runs)| {
                (
                    cluster.to_string(),
                    ClusterParts {
                        runs,
                        ..ClusterParts::default()
                    },
                )
            })
            .collect();
        PatternPass {
            store,
            writes,
            clusters,
            hours: 0,
        }
    }

    /// Queues a write of `rows` as the parts of `cluster`'s `span`s from `first` to `last`.
    async fn replace(
        &mut self,
        cluster: &str,
        span: PartSpan,
        (first, last): (Timestamp, Timestamp),
        rows: Vec<StoredPatternPart>,
    ) -> Result<()> {
        let (store, cluster) = (self.store, cluster.to_string());
        self.writes
            .send(Box::pin(async move {
                Ok(store
                    .replace_pattern_parts(&cluster, span, first, last, rows)
                    .await?)
            }))
            .await
    }

    /// Takes the parts of the dirty hours of `cluster` that `window` (`[since, until)`) holds
    /// whole from `events`: every event of the cluster with an occurrence in the window, with
    /// exactly those occurrences (oldest first). Writes the days whose dirty hours are then
    /// all computed.
    pub(crate) async fn offer(
        &mut self,
        cluster: &str,
        (since, until): (Timestamp, Timestamp),
        events: &[&AnalysisOccurrences],
    ) -> Result<()> {
        let Some(c) = self.clusters.get_mut(cluster) else {
            return Ok(());
        };
        let first = {
            let h = PartSpan::Hour.floor(since);
            if h == since { h } else { h + HOUR }
        };
        let end = PartSpan::Hour.floor(until);
        let mut wanted: BTreeMap<Timestamp, Vec<(&AnalysisEvent, &[Occurrence])>> = BTreeMap::new();
        for &(a, b) in &c.runs {
            let mut h = a.max(first);
            while h <= b && h < end {
                if !c.done.contains(&h) {
                    wanted.insert(h, Vec::new());
                }
                h += HOUR;
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        for &e in events {
            let mut rest = e.occurrences.as_slice();
            while let Some(o) = rest.first() {
                let hour = PartSpan::Hour.floor(o.at);
                let n = rest
                    .iter()
                    .position(|o| o.at >= hour + HOUR)
                    .unwrap_or(rest.len());
                if let Some(list) = wanted.get_mut(&hour) {
                    list.push((&e.event, &rest[..n]));
                }
                rest = &rest[n..];
            }
        }
        for (hour, list) in wanted {
            c.ready.insert(hour, pattern_parts_of(list, KEPT_SAMPLES));
            c.done.insert(hour);
            self.hours += 1;
        }
        self.write_ready(cluster).await
    }

    /// Takes the parts of `cluster`'s dirty `hour`, computed from all its events, as
    /// [`PatternPass::offer`] of a read of that hour would; writes the days whose dirty hours
    /// are then all computed.
    async fn computed(
        &mut self,
        cluster: &str,
        hour: Timestamp,
        parts: Vec<PatternPart>,
    ) -> Result<()> {
        let Some(c) = self.clusters.get_mut(cluster) else {
            return Ok(());
        };
        c.ready.insert(hour, parts);
        c.done.insert(hour);
        self.hours += 1;
        self.write_ready(cluster).await
    }

    /// Writes the pieces of runs of `cluster` whose hours are all computed.
    async fn write_ready(&mut self, cluster: &str) -> Result<()> {
        let Some(c) = self.clusters.get_mut(cluster) else {
            return Ok(());
        };
        let complete: Vec<(Timestamp, Timestamp)> = c
            .pieces()
            .filter(|p| !c.written.contains(p))
            .filter(|&(a, b)| c.done.range(a..=b).count() as i64 == hours_in(a, b))
            .collect();
        let mut writes: Vec<(PartSpan, (Timestamp, Timestamp), Vec<StoredPatternPart>)> =
            Vec::new();
        for (a, b) in complete {
            let mut rows: Vec<StoredPatternPart> = Vec::new();
            let mut day_parts: Vec<PatternPart> = Vec::new();
            let hours: Vec<Timestamp> = c.ready.range(a..=b).map(|(h, _)| *h).collect();
            for hour in hours {
                for part in c.ready.remove(&hour).unwrap_or_default() {
                    rows.push(to_row(hour, &part)?);
                    day_parts.push(part);
                }
            }
            writes.push((PartSpan::Hour, (a, b), rows));
            let day = PartSpan::Day.floor(a);
            if (a, b) == (day, day + DAY - HOUR) {
                // The run covers the day: these are all its hours.
                writes.push((PartSpan::Day, (day, day), day_rows(day, day_parts)?));
                c.merged_days.insert(day);
            } else {
                c.stored_days.insert(day);
            }
            c.written.insert((a, b));
        }
        for (span, range, rows) in writes {
            self.replace(cluster, span, range, rows).await?;
        }
        Ok(())
    }

    /// Reads by hour what no offered read held whole, in pages of at most `max_read` events,
    /// writes what is left, and merges the days the runs cover in part from their stored
    /// hours. Returns the hours computed.
    pub(crate) async fn finish(
        mut self,
        reader: &dyn EventReader,
        max_read: usize,
    ) -> Result<usize> {
        let page = HOUR_PAGE.min(max_read.max(1));
        let clusters: Vec<String> = self.clusters.keys().cloned().collect();
        for cluster in clusters {
            let missing: Vec<Timestamp> = {
                let c = &self.clusters[&cluster];
                c.pieces()
                    .filter(|p| !c.written.contains(p))
                    .flat_map(|(a, b)| {
                        (0..hours_in(a, b)).map(move |n| a + HOUR * i32::try_from(n).unwrap_or(0))
                    })
                    .filter(|h| !c.done.contains(h))
                    .collect()
            };
            for hour in missing {
                let filter = EventFilter {
                    clusters: vec![cluster.clone()],
                    since: Some(hour),
                    until: Some(hour + HOUR),
                    ..EventFilter::default()
                };
                // No limit: always read, a page at a time; the parts of disjoint sets of
                // events merge into those of their union.
                let mut parts: Vec<PatternPart> = Vec::new();
                reader
                    .occurrences_in_pages(&filter, 0, page, Fields::Analysis, &mut |events| {
                        let events = AnalysisOccurrences::of_all(&events);
                        let found = pattern_parts(&events, KEPT_SAMPLES);
                        parts = merge_parts(
                            std::mem::take(&mut parts).into_iter().chain(found),
                            KEPT_SAMPLES,
                        );
                    })
                    .await?;
                self.computed(&cluster, hour, parts).await?;
            }
            let c = &self.clusters[&cluster];
            let days: Vec<Timestamp> = c.stored_days.difference(&c.merged_days).copied().collect();
            if !days.is_empty() {
                // Their hours are read as stored.
                self.writes.flush().await?;
            }
            for day in days {
                let mut parts: Vec<PatternPart> = Vec::new();
                for row in self
                    .store
                    .pattern_parts(&cluster, PartSpan::Hour, day, day + DAY - HOUR)
                    .await?
                {
                    parts.push(decode(&row.sum.key, &row.body)?);
                }
                let rows = day_rows(day, parts)?;
                self.replace(&cluster, PartSpan::Day, (day, day), rows)
                    .await?;
            }
        }
        Ok(self.hours)
    }
}

/// The hours from `a` to `b` (starts), both counted.
fn hours_in(a: Timestamp, b: Timestamp) -> i64 {
    b.duration_since(a).as_secs() / 3600 + 1
}

/// The rows of `day`'s parts: its hours' `parts` merged.
fn day_rows(day: Timestamp, parts: Vec<PatternPart>) -> Result<Vec<StoredPatternPart>> {
    merge_parts(parts, KEPT_SAMPLES)
        .iter()
        .map(|p| to_row(day, p))
        .collect()
}

/// The patterns of `filter`'s window (its `since` and `until` must be set) from the kept
/// parts; `None` when they cannot answer: the store keeps none, the filter narrows by more
/// than what a pattern groups by ([`parts_can_answer`]), or `cfg` shows more samples than a
/// part keeps. The caller then analyses raw events.
pub async fn kept_patterns(
    reader: &dyn EventReader,
    filter: &EventFilter,
    cfg: &PatternConfig,
) -> Result<Option<Vec<Pattern>>> {
    let (Some(store), Some(incidents)) = (reader.pattern_store(), reader.incident_store()) else {
        return Ok(None);
    };
    let (Some(since), Some(until)) = (filter.since, filter.until) else {
        return Ok(None);
    };
    if !parts_can_answer(filter) || cfg.max_samples > KEPT_SAMPLES || since >= until {
        return Ok(None);
    }
    let wanted = |c: &str| filter.clusters.is_empty() || filter.clusters.iter().any(|w| w == c);
    let dirty: Vec<DirtyRange> = incidents
        .dirty_ranges()
        .await?
        .into_iter()
        .filter(|d| wanted(&d.cluster) && d.until >= since && d.since < until)
        .collect();
    let dirty = dirty_hours_in(&dirty, since, until);
    let plan = plan(since, until, &dirty);
    // The edges and what is dirty, from raw events.
    let mut parts: Vec<PatternPart> = Vec::new();
    for (a, b) in &plan.raw {
        let piece = EventFilter {
            since: Some(*a),
            until: Some(*b),
            ..filter.clone()
        };
        parts.extend(pattern_parts(
            &reader
                .analysis_occurrences(&piece, 0)
                .await?
                .unwrap_or_default(),
            KEPT_SAMPLES,
        ));
    }
    // The kept parts' sums first: only the patterns over the thresholds are read whole.
    let runs: Vec<(PartSpan, Timestamp, Timestamp)> = plan
        .days
        .iter()
        .map(|&(a, b)| (PartSpan::Day, a, b))
        .chain(plan.hours.iter().map(|&(a, b)| (PartSpan::Hour, a, b)))
        .collect();
    // Each key's sums, and the rows of its kept parts, run after run.
    let mut sums: HashMap<PartKey, (u64, Timestamp, Timestamp, Vec<i64>)> = HashMap::new();
    let mut add = |key: PartKey, count: u64, first: Timestamp, last: Timestamp, rows: Vec<i64>| {
        let s = sums.entry(key).or_insert((0, first, last, Vec::new()));
        (s.0, s.1, s.2) = (s.0 + count, s.1.min(first), s.2.max(last));
        s.3.extend(rows);
    };
    for p in &parts {
        add(part_key(p), p.count, p.first, p.last, Vec::new());
    }
    for &(span, a, b) in &runs {
        for total in store.pattern_totals(span, a, b).await? {
            if total.key.matches(filter) {
                add(total.key, total.count, total.first, total.last, total.parts);
            }
        }
    }
    let recurring: BTreeMap<PartKey, Vec<i64>> = sums
        .into_iter()
        .filter(|(_, (count, first, last, _))| cfg.recurs(*count, *first, *last))
        .map(|(key, (.., rows))| (key, rows))
        .collect();
    parts.retain(|p| recurring.contains_key(&part_key(p)));
    // Their kept parts, key after key, each key's runs in order, in one read by row.
    let rows: Vec<i64> = recurring.values().flatten().copied().collect();
    let mut bodies = store.pattern_bodies(&rows).await?.into_iter().peekable();
    for (key, rows) in &recurring {
        for row in rows {
            // A part replaced since its totals were read is left out.
            if let Some((_, body)) = bodies.next_if(|(r, _)| r == row) {
                parts.push(decode(key, &body)?);
            }
        }
    }
    Ok(Some(patterns_of_parts(parts, cfg)))
}

/// The store's key of `p`.
pub(crate) fn part_key(p: &PatternPart) -> PartKey {
    PartKey {
        cluster: p.key.cluster.clone(),
        namespace: p.key.namespace.clone(),
        kind: p.key.kind.clone(),
        reason: p.key.reason.clone(),
        template: p.key.template.clone(),
    }
}

/// What a window is read from: raw events over `raw` (`[since, until)` spans), kept day parts
/// over `days` and hour parts over `hours` (runs of buckets, first and last start).
#[derive(Debug, Default, PartialEq)]
struct Plan {
    raw: Vec<(Timestamp, Timestamp)>,
    days: Vec<(Timestamp, Timestamp)>,
    hours: Vec<(Timestamp, Timestamp)>,
}

/// Cuts `[since, until)` into raw spans (the edges off the hour, the `dirty` hours), whole
/// clean days and the clean hours left.
fn plan(since: Timestamp, until: Timestamp, dirty: &BTreeSet<Timestamp>) -> Plan {
    let mut p = Plan::default();
    let first_hour = {
        let h = PartSpan::Hour.floor(since);
        if h == since { h } else { h + HOUR }
    };
    let end_hour = PartSpan::Hour.floor(until);
    if first_hour >= end_hour {
        p.raw.push((since, until));
        return p;
    }
    if since < first_hour {
        p.raw.push((since, first_hour));
    }
    let mut h = first_hour;
    while h < end_hour {
        let day = PartSpan::Day.floor(h);
        let whole_day =
            h == day && day + DAY <= end_hour && dirty.range(day..day + DAY).next().is_none();
        if whole_day {
            push_run(&mut p.days, day, DAY);
            h = day + DAY;
            continue;
        }
        if dirty.contains(&h) {
            push_span(&mut p.raw, h, h + HOUR);
        } else {
            push_run(&mut p.hours, h, HOUR);
        }
        h += HOUR;
    }
    if end_hour < until {
        push_span(&mut p.raw, end_hour, until);
    }
    p
}

/// Adds the bucket starting at `b` to `runs`, extending the last run when it is next.
fn push_run(runs: &mut Vec<(Timestamp, Timestamp)>, b: Timestamp, len: SignedDuration) {
    match runs.last_mut() {
        Some(last) if last.1 + len == b => last.1 = b,
        _ => runs.push((b, b)),
    }
}

/// Adds `[a, b)` to `spans`, extending the last span when it ends at `a`.
fn push_span(spans: &mut Vec<(Timestamp, Timestamp)>, a: Timestamp, b: Timestamp) {
    match spans.last_mut() {
        Some(last) if last.1 == a => last.1 = b,
        _ => spans.push((a, b)),
    }
}

fn to_row(bucket: Timestamp, p: &PatternPart) -> Result<StoredPatternPart> {
    Ok(StoredPatternPart {
        sum: PartSum {
            bucket,
            key: part_key(p),
            count: p.count,
            first: p.first,
            last: p.last,
        },
        body: encode(p)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("a time")
    }

    #[test]
    fn a_window_is_read_from_whole_days_hours_and_raw_edges() {
        let p = plan(
            t("2024-05-01T22:30:00Z"),
            t("2024-05-04T02:15:00Z"),
            &BTreeSet::new(),
        );
        assert_eq!(
            p.raw,
            [
                (t("2024-05-01T22:30:00Z"), t("2024-05-01T23:00:00Z")),
                (t("2024-05-04T02:00:00Z"), t("2024-05-04T02:15:00Z")),
            ]
        );
        assert_eq!(
            p.days,
            [(t("2024-05-02T00:00:00Z"), t("2024-05-03T00:00:00Z"))]
        );
        assert_eq!(
            p.hours,
            [
                (t("2024-05-01T23:00:00Z"), t("2024-05-01T23:00:00Z")),
                (t("2024-05-04T00:00:00Z"), t("2024-05-04T01:00:00Z")),
            ]
        );
    }

    #[test]
    fn a_dirty_hour_is_read_raw_and_its_day_from_its_other_hours() {
        let dirty: BTreeSet<Timestamp> = [t("2024-05-02T05:00:00Z")].into();
        let p = plan(t("2024-05-02T00:00:00Z"), t("2024-05-03T00:00:00Z"), &dirty);
        assert_eq!(
            p.raw,
            [(t("2024-05-02T05:00:00Z"), t("2024-05-02T06:00:00Z"))]
        );
        assert!(p.days.is_empty());
        assert_eq!(
            p.hours,
            [
                (t("2024-05-02T00:00:00Z"), t("2024-05-02T04:00:00Z")),
                (t("2024-05-02T06:00:00Z"), t("2024-05-02T23:00:00Z")),
            ]
        );
    }

    #[test]
    fn a_window_inside_one_hour_is_read_raw() {
        let p = plan(
            t("2024-05-02T05:10:00Z"),
            t("2024-05-02T05:50:00Z"),
            &BTreeSet::new(),
        );
        assert_eq!(
            p.raw,
            [(t("2024-05-02T05:10:00Z"), t("2024-05-02T05:50:00Z"))]
        );
        assert!(p.days.is_empty() && p.hours.is_empty());
    }

    #[test]
    fn the_hours_of_dirty_ranges_are_every_hour_they_touch_merged_per_cluster() {
        let range = |id, cluster: &str, since, until| DirtyRange {
            id,
            cluster: cluster.into(),
            since: t(since),
            until: t(until),
        };
        let dirty = [
            range(1, "a", "2024-05-02T05:59:59Z", "2024-05-02T07:00:00Z"),
            range(2, "a", "2024-05-02T08:10:00Z", "2024-05-02T08:20:00Z"),
            range(3, "a", "2024-05-03T00:00:00Z", "2024-05-03T00:00:00Z"),
            range(4, "b", "2024-05-02T06:30:00Z", "2024-05-02T06:40:00Z"),
        ];
        let runs = dirty_runs(&dirty);
        assert_eq!(
            runs["a"],
            [
                (t("2024-05-02T05:00:00Z"), t("2024-05-02T08:00:00Z")),
                (t("2024-05-03T00:00:00Z"), t("2024-05-03T00:00:00Z")),
            ]
        );
        assert_eq!(
            runs["b"],
            [(t("2024-05-02T06:00:00Z"), t("2024-05-02T06:00:00Z"))]
        );
        let inside = dirty_hours_in(&dirty, t("2024-05-02T06:30:00Z"), t("2024-05-02T08:00:00Z"));
        assert_eq!(
            inside.into_iter().collect::<Vec<_>>(),
            [t("2024-05-02T06:00:00Z"), t("2024-05-02T07:00:00Z")]
        );
    }
}
