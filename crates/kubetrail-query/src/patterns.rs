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
    patterns_of_parts,
};
use kubetrail_model::{AggregateQuery, EventFilter};
use kubetrail_store::{
    DirtyRange, EventReader, PartKey, PartSpan, PartSum, PatternStore, StoredPatternPart,
    parts_can_answer,
};

use crate::Result;

const HOUR: SignedDuration = SignedDuration::from_hours(1);
const DAY: SignedDuration = SignedDuration::from_hours(24);

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

/// The hours of `cluster` in `[first, last]` (starts) holding an occurrence, from the rollups.
async fn occupied_hours(
    reader: &dyn EventReader,
    cluster: &str,
    first: Timestamp,
    last: Timestamp,
) -> Result<Vec<Timestamp>> {
    let query = AggregateQuery {
        filter: EventFilter {
            clusters: vec![cluster.to_string()],
            since: Some(first),
            until: Some(last + HOUR),
            ..EventFilter::default()
        },
        group_by: Vec::new(),
        interval: Some(HOUR),
        limit: None,
    };
    let mut hours: Vec<Timestamp> = reader
        .aggregate(&query)
        .await?
        .into_iter()
        .filter(|r| r.count > 0)
        .filter_map(|r| r.bucket)
        .collect();
    hours.sort_unstable();
    hours.dedup();
    Ok(hours)
}

/// Recomputes the parts of the hours `dirty` touches from the stored events (only the hours
/// holding occurrences are read: the rollups say which; the others lose their parts), then
/// the parts of their days: merged in memory where a dirty run covers the whole day, else from
/// the day's hour parts as stored. One write per day. Returns the hours read.
pub async fn maintain_patterns(
    reader: &dyn EventReader,
    store: &dyn PatternStore,
    dirty: &[DirtyRange],
) -> Result<usize> {
    let mut read = 0;
    for (cluster, runs) in dirty_runs(dirty) {
        let mut merged_days: BTreeSet<Timestamp> = BTreeSet::new();
        let mut stored_days: BTreeSet<Timestamp> = BTreeSet::new();
        for (first, last) in runs {
            let occupied = occupied_hours(reader, cluster, first, last).await?;
            let (first_day, last_day) = (PartSpan::Day.floor(first), PartSpan::Day.floor(last));
            // The run's hours and days lose their parts; those with occurrences get them again.
            store
                .replace_pattern_parts(cluster, PartSpan::Hour, first, last, Vec::new())
                .await?;
            store
                .replace_pattern_parts(cluster, PartSpan::Day, first_day, last_day, Vec::new())
                .await?;
            let mut by_day: BTreeMap<Timestamp, Vec<Timestamp>> = BTreeMap::new();
            for hour in occupied {
                by_day
                    .entry(PartSpan::Day.floor(hour))
                    .or_default()
                    .push(hour);
            }
            for (day, hours) in by_day {
                let mut rows: Vec<StoredPatternPart> = Vec::new();
                let mut day_parts: Vec<PatternPart> = Vec::new();
                for hour in hours {
                    let filter = EventFilter {
                        clusters: vec![cluster.to_string()],
                        since: Some(hour),
                        until: Some(hour + HOUR),
                        ..EventFilter::default()
                    };
                    let events = reader.occurrences(&filter, 0).await?;
                    for part in pattern_parts(&events, KEPT_SAMPLES) {
                        rows.push(to_row(hour, &part)?);
                        day_parts.push(part);
                    }
                    read += 1;
                }
                let (a, b) = (first.max(day), last.min(day + DAY - HOUR));
                store
                    .replace_pattern_parts(cluster, PartSpan::Hour, a, b, rows)
                    .await?;
                if (a, b) == (day, day + DAY - HOUR) {
                    // The run covers the day: these are all its hours.
                    write_day(store, cluster, day, day_parts).await?;
                    merged_days.insert(day);
                } else {
                    stored_days.insert(day);
                }
            }
            stored_days.insert(first_day);
            stored_days.insert(last_day);
        }
        for day in stored_days.difference(&merged_days) {
            let mut parts: Vec<PatternPart> = Vec::new();
            for row in store
                .pattern_parts(cluster, PartSpan::Hour, *day, *day + DAY - HOUR)
                .await?
            {
                parts.push(decode(&row.body)?);
            }
            write_day(store, cluster, *day, parts).await?;
        }
    }
    Ok(read)
}

/// Stores the parts of `cluster`'s `day`: its hours' `parts` merged.
async fn write_day(
    store: &dyn PatternStore,
    cluster: &str,
    day: Timestamp,
    parts: Vec<PatternPart>,
) -> Result<()> {
    let merged = merge_parts(parts, KEPT_SAMPLES)
        .iter()
        .map(|p| to_row(day, p))
        .collect::<Result<Vec<_>>>()?;
    store
        .replace_pattern_parts(cluster, PartSpan::Day, day, day, merged)
        .await?;
    Ok(())
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
            &reader.occurrences(&piece, 0).await?,
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
    let mut sums: HashMap<PartKey, (u64, Timestamp, Timestamp)> = HashMap::new();
    let mut add = |key: PartKey, count: u64, first: Timestamp, last: Timestamp| {
        let s = sums.entry(key).or_insert((0, first, last));
        *s = (s.0 + count, s.1.min(first), s.2.max(last));
    };
    for p in &parts {
        add(part_key(p), p.count, p.first, p.last);
    }
    for &(span, a, b) in &runs {
        for total in store.pattern_totals(span, a, b).await? {
            if total.key.matches(filter) {
                add(total.key, total.count, total.first, total.last);
            }
        }
    }
    let recurring: BTreeSet<PartKey> = sums
        .into_iter()
        .filter(|(_, (count, first, last))| cfg.recurs(*count, *first, *last))
        .map(|(key, _)| key)
        .collect();
    parts.retain(|p| recurring.contains(&part_key(p)));
    for key in &recurring {
        for &(span, a, b) in &runs {
            for body in store.pattern_bodies(span, a, b, key).await? {
                parts.push(decode(&body)?);
            }
        }
    }
    Ok(Some(patterns_of_parts(parts, cfg)))
}

/// The store's key of `p`.
fn part_key(p: &PatternPart) -> PartKey {
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
        body: serde_json::to_string(p).map_err(json_error)?,
    })
}

fn decode(json: &str) -> Result<PatternPart> {
    serde_json::from_str(json).map_err(json_error)
}

fn json_error(source: serde_json::Error) -> crate::Error {
    crate::Error::Store(kubetrail_store::Error::Json {
        column: "pattern_parts.body",
        source,
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
