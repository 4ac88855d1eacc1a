//! Backend-neutral planning of aggregations and the helpers both SQL backends share: which
//! table answers which part of the time range, interval checks, and the final sort.
//!
//! The rollup path splits `[since, until)` into whole days (`rollup_daily_coarse`), whole
//! hours (`rollup_hourly_coarse`, or `rollup_hourly` when correlation is involved) and the
//! partial hours at the edges (raw occurrences); anything the rollups cannot answer reads raw
//! occurrences for the whole range. Each backend runs the parts against its own tables.

use std::collections::HashMap;

use kubetrail_model::{AggregateQuery, AggregateRow, Dimension, EventFilter, Timestamp};

use crate::{Error, Result};

pub(crate) const HOUR_MICROS: i64 = 3_600_000_000;
pub(crate) const DAY_MICROS: i64 = 24 * HOUR_MICROS;

/// Which table (and alias) a query part reads: `events e` (with `occurrences o`) or a rollup `r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Events,
    /// `rollup_hourly`, with correlation.
    Rollup,
    /// `rollup_hourly_coarse`: no correlation.
    CoarseHourly,
    /// `rollup_daily_coarse`: no correlation.
    CoarseDaily,
}

/// The column holding a dimension in `table` (the same names in both backends' schemas), or
/// `None` when the table does not keep it.
pub(crate) fn column(dim: Dimension, table: Table) -> Option<&'static str> {
    if matches!(table, Table::CoarseHourly | Table::CoarseDaily) {
        return match dim {
            Dimension::Correlation => None,
            d => column(d, Table::Rollup),
        };
    }
    Some(match (table, dim) {
        (Table::Events, Dimension::Cluster) => "e.cluster",
        (Table::Events, Dimension::Namespace) => "e.namespace",
        (Table::Events, Dimension::Kind) => "e.reg_kind",
        (Table::Events, Dimension::Name) => "e.reg_name",
        (Table::Events, Dimension::Reason) => "e.reason",
        (Table::Events, Dimension::Category) => "e.category",
        (Table::Events, Dimension::Severity) => "e.severity",
        (Table::Events, Dimension::Type) => "e.type",
        (Table::Events, Dimension::Correlation) => "e.correlation_id",
        (Table::Events, Dimension::Template) => "e.template",
        (Table::Events, Dimension::Node) => "e.node",
        (Table::Rollup, Dimension::Cluster) => "r.cluster",
        (Table::Rollup, Dimension::Namespace) => "r.namespace",
        (Table::Rollup, Dimension::Kind) => "r.kind",
        (Table::Rollup, Dimension::Reason) => "r.reason",
        (Table::Rollup, Dimension::Category) => "r.category",
        (Table::Rollup, Dimension::Severity) => "r.severity",
        (Table::Rollup, Dimension::Type) => "r.type",
        (Table::Rollup, Dimension::Correlation) => "r.correlation",
        _ => return None,
    })
}

/// What one part of an aggregation reads: its `FROM`, the time column (occurrence time or
/// rollup bucket) and the count column.
pub(crate) fn source(table: Table) -> (&'static str, &'static str, &'static str) {
    match table {
        Table::Events => (
            "occurrences o JOIN events e ON e.id = o.event_id",
            "o.ts",
            "o.count",
        ),
        Table::Rollup => ("rollup_hourly r", "r.bucket", "r.count"),
        Table::CoarseHourly => ("rollup_hourly_coarse r", "r.bucket", "r.count"),
        Table::CoarseDaily => ("rollup_daily_coarse r", "r.bucket", "r.count"),
    }
}

/// `SELECT <group columns>, <bucket or null>, ` and the matching `GROUP BY` list for one part;
/// `null` is the backend's typed NULL for "no bucket".
pub(crate) fn select_head(
    q: &AggregateQuery,
    table: Table,
    interval: Option<i64>,
    null: &str,
) -> Result<(String, String)> {
    let (_, ts, _) = source(table);
    let mut select = String::from("SELECT ");
    let mut group_by = String::new();
    for (i, dim) in q.group_by.iter().enumerate() {
        let col = column(*dim, table)
            .ok_or_else(|| Error::InvalidQuery(format!("the rollups cannot group by {dim}")))?;
        select.push_str(col);
        select.push_str(", ");
        group_by.push_str(&format!("{}, ", i + 1));
    }
    match interval {
        // Floor division, also before 1970.
        Some(i) => select.push_str(&format!("({ts} - ((({ts} % {i}) + {i}) % {i})), ")),
        None => select.push_str(&format!("{null}, ")),
    }
    group_by.push_str(&(q.group_by.len() + 1).to_string());
    Ok((select, group_by))
}

/// Group values in `group_by` order, and the bucket start (micros) when bucketing.
pub(crate) type GroupKey = (Vec<Option<String>>, Option<i64>);

/// One part of a plan: a table over `[lo, hi)` (`None` is unbounded).
pub(crate) type Part = (Table, Option<i64>, Option<i64>);

/// The start of the unit of `unit` micros holding `ts` (floor, also before 1970).
pub(crate) fn floor_to(ts: i64, unit: i64) -> i64 {
    ts - ts.rem_euclid(unit)
}

/// The parts that answer `q`; empty when the range is empty. Raw only unless `use_rollups`.
pub(crate) fn parts(q: &AggregateQuery, use_rollups: bool) -> Result<Vec<Part>> {
    let interval = interval_micros(q)?;
    let since = q.filter.since.map(|t| t.as_microsecond());
    let until = q.filter.until.map(|t| t.as_microsecond());
    let mut parts = Vec::new();
    if matches!((since, until), (Some(s), Some(u)) if s >= u) {
        return Ok(parts);
    }
    let levels = if use_rollups && rollup_fits(q, interval) {
        levels(q, interval)
    } else {
        &[]
    };
    split(levels, since, until, &mut parts);
    Ok(parts)
}

/// The bucket width in micros, if bucketing.
pub(crate) fn interval_micros(q: &AggregateQuery) -> Result<Option<i64>> {
    let Some(d) = q.interval else {
        return Ok(None);
    };
    match i64::try_from(d.as_micros()) {
        Ok(us) if us > 0 => Ok(Some(us)),
        _ => Err(Error::InvalidQuery(format!(
            "the interval must be at least one microsecond, not {d:?}"
        ))),
    }
}

/// Whether the rollups keep a dimension (names, templates and nodes are too many to keep).
fn rollup_keeps(dim: Dimension) -> bool {
    !matches!(dim, Dimension::Name | Dimension::Template | Dimension::Node)
}

/// Whether every non-empty part of the filter is a rollup dimension (no names, nodes, search).
pub(crate) fn rollup_can_answer(f: &EventFilter) -> bool {
    f.names.is_empty() && f.nodes.is_empty() && f.search.is_none()
}

fn rollup_fits(q: &AggregateQuery, interval: Option<i64>) -> bool {
    q.group_by.iter().all(|d| rollup_keeps(*d))
        && rollup_can_answer(&q.filter)
        && interval.is_none_or(|i| i % HOUR_MICROS == 0)
}

/// The rollup levels that can answer `q`, coarsest first, with their bucket width.
fn levels(q: &AggregateQuery, interval: Option<i64>) -> &'static [(Table, i64)] {
    let needs_correlation =
        q.group_by.contains(&Dimension::Correlation) || !q.filter.correlations.is_empty();
    if needs_correlation {
        &[(Table::Rollup, HOUR_MICROS)]
    } else if interval.is_none_or(|i| i % DAY_MICROS == 0) {
        &[
            (Table::CoarseDaily, DAY_MICROS),
            (Table::CoarseHourly, HOUR_MICROS),
        ]
    } else {
        &[(Table::CoarseHourly, HOUR_MICROS)]
    }
}

/// Splits `[lo, hi)`: whole units of the coarsest level, the partial units at the edges from
/// the finer levels, and what is left from raw occurrences (`Table::Events`).
fn split(levels: &[(Table, i64)], lo: Option<i64>, hi: Option<i64>, parts: &mut Vec<Part>) {
    let Some(((table, unit), finer)) = levels.split_first() else {
        parts.push((Table::Events, lo, hi));
        return;
    };
    let first = lo.map(|s| floor_to(s.saturating_add(unit - 1), *unit));
    let end = hi.map(|u| floor_to(u, *unit));
    let any_whole = match (first, end) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    };
    if !any_whole {
        split(finer, lo, hi, parts);
        return;
    }
    if let (Some(s), Some(f)) = (lo, first)
        && s < f
    {
        split(finer, Some(s), Some(f), parts);
    }
    parts.push((*table, first, end));
    if let (Some(e), Some(u)) = (end, hi)
        && e < u
    {
        split(finer, Some(e), Some(u), parts);
    }
}

/// Sorts by count descending, then key, then bucket; applies the limit (0 means none).
pub(crate) fn finish(
    q: &AggregateQuery,
    groups: HashMap<GroupKey, u64>,
) -> Result<Vec<AggregateRow>> {
    let mut groups: Vec<(GroupKey, u64)> = groups.into_iter().filter(|(_, c)| *c > 0).collect();
    groups.sort_unstable_by(|(a, ca), (b, cb)| cb.cmp(ca).then_with(|| a.cmp(b)));
    if let Some(limit) = q.limit.filter(|l| *l > 0) {
        groups.truncate(limit);
    }
    groups
        .into_iter()
        .map(|((values, bucket), count)| {
            Ok(AggregateRow {
                key: q.group_by.iter().copied().zip(values).collect(),
                bucket: bucket.map(|b| timestamp(b, "bucket")).transpose()?,
                count,
            })
        })
        .collect()
}

/// A stored microsecond count as a timestamp; out of range means a corrupt row.
pub(crate) fn timestamp(micros: i64, column: &'static str) -> Result<Timestamp> {
    Timestamp::from_microsecond(micros).map_err(|_| Error::Corrupt {
        column,
        value: micros.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(since: Option<i64>, until: Option<i64>, group_by: Vec<Dimension>) -> AggregateQuery {
        let t = |m: i64| Timestamp::from_microsecond(m).unwrap();
        AggregateQuery {
            filter: EventFilter {
                since: since.map(t),
                until: until.map(t),
                ..EventFilter::default()
            },
            group_by,
            interval: None,
            limit: None,
        }
    }

    #[test]
    fn a_range_splits_into_raw_edges_whole_hours_and_whole_days() {
        let h = HOUR_MICROS;
        let d = DAY_MICROS;
        let q = ask(
            Some(d - h - 5),
            Some(2 * d + h + 7),
            vec![Dimension::Reason],
        );
        assert_eq!(
            parts(&q, true).unwrap(),
            vec![
                (Table::Events, Some(d - h - 5), Some(d - h)),
                (Table::CoarseHourly, Some(d - h), Some(d)),
                (Table::CoarseDaily, Some(d), Some(2 * d)),
                (Table::CoarseHourly, Some(2 * d), Some(2 * d + h)),
                (Table::Events, Some(2 * d + h), Some(2 * d + h + 7)),
            ]
        );
    }

    #[test]
    fn correlation_names_and_the_raw_path_choose_their_tables() {
        let q = ask(None, None, vec![Dimension::Correlation]);
        assert_eq!(parts(&q, true).unwrap(), vec![(Table::Rollup, None, None)]);
        let q = ask(None, None, vec![Dimension::Name]);
        assert_eq!(parts(&q, true).unwrap(), vec![(Table::Events, None, None)]);
        let q = ask(None, None, vec![Dimension::Reason]);
        assert_eq!(parts(&q, false).unwrap(), vec![(Table::Events, None, None)]);
        let q = ask(Some(5), Some(5), vec![]);
        assert!(parts(&q, true).unwrap().is_empty());
    }
}
