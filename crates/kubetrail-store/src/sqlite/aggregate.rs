//! Occurrence counts grouped by dimensions and time buckets.
//!
//! Two paths give identical results. The rollup path splits the range: whole days from
//! `rollup_daily_coarse`, whole hours of the partial days from `rollup_hourly_coarse`, and only
//! the partial hours at the edges from `occurrences JOIN events` — or, when the query groups or
//! filters by correlation, whole hours from `rollup_hourly`. It applies when every grouping and
//! filter is a rollup dimension and buckets are whole hours (whole days for the daily level).
//! The raw path reads `occurrences JOIN events` for all.

use std::collections::HashMap;

use kubetrail_model::{AggregateQuery, AggregateRow, Dimension};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::filter::{Table, Where, column, micros, rollup_can_answer, search_error, timestamp};
use super::rollup::{DAY_MICROS, HOUR_MICROS, floor_to};
use crate::{Error, Result};

/// Group values in `group_by` order, and the bucket start (micros) when bucketing.
type GroupKey = (Vec<Option<String>>, Option<i64>);

/// Aggregates, through the rollups when `use_rollups` and the query allows it.
pub(crate) fn aggregate(
    conn: &Connection,
    q: &AggregateQuery,
    use_rollups: bool,
) -> Result<Vec<AggregateRow>> {
    let interval = interval_micros(q)?;
    let since = q.filter.since.map(micros);
    let until = q.filter.until.map(micros);
    let mut groups = HashMap::new();
    if !matches!((since, until), (Some(s), Some(u)) if s >= u) {
        // One snapshot for all the parts.
        let tx = conn.unchecked_transaction()?;
        let levels = if use_rollups && rollup_fits(q, interval) {
            levels(q, interval)
        } else {
            &[]
        };
        collect_range(&tx, q, levels, interval, since, until, &mut groups)?;
        tx.commit()?;
    }
    finish(q, groups)
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

/// Counts `[lo, hi)`: whole units of the coarsest level from its table, the partial units at
/// the edges from the finer levels, and what is left from raw occurrences.
fn collect_range(
    conn: &Connection,
    q: &AggregateQuery,
    levels: &[(Table, i64)],
    interval: Option<i64>,
    lo: Option<i64>,
    hi: Option<i64>,
    groups: &mut HashMap<GroupKey, u64>,
) -> Result<()> {
    let Some(((table, unit), finer)) = levels.split_first() else {
        return collect(conn, q, Table::Events, interval, lo, hi, groups);
    };
    // Whole units inside the range; `None` is unbounded.
    let first = lo.map(|s| floor_to(s.saturating_add(unit - 1), *unit));
    let end = hi.map(|u| floor_to(u, *unit));
    let any_whole = match (first, end) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    };
    if !any_whole {
        return collect_range(conn, q, finer, interval, lo, hi, groups);
    }
    if let (Some(s), Some(f)) = (lo, first)
        && s < f
    {
        collect_range(conn, q, finer, interval, Some(s), Some(f), groups)?;
    }
    collect(conn, q, *table, interval, first, end, groups)?;
    if let (Some(e), Some(u)) = (end, hi)
        && e < u
    {
        collect_range(conn, q, finer, interval, Some(e), Some(u), groups)?;
    }
    Ok(())
}

fn interval_micros(q: &AggregateQuery) -> Result<Option<i64>> {
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

fn rollup_fits(q: &AggregateQuery, interval: Option<i64>) -> bool {
    q.group_by
        .iter()
        .all(|d| column(*d, Table::Rollup).is_some())
        && rollup_can_answer(&q.filter)
        && interval.is_none_or(|i| i % HOUR_MICROS == 0)
}

/// Adds the counts of one table over `[lo, hi)` (occurrence time, or rollup hour) to `groups`.
fn collect(
    conn: &Connection,
    q: &AggregateQuery,
    table: Table,
    interval: Option<i64>,
    lo: Option<i64>,
    hi: Option<i64>,
    groups: &mut HashMap<GroupKey, u64>,
) -> Result<()> {
    let (from, ts, count) = match table {
        Table::Events => (
            "occurrences o JOIN events e ON e.id = o.event_id",
            "o.ts",
            "o.count",
        ),
        Table::Rollup => ("rollup_hourly r", "r.bucket", "r.count"),
        Table::CoarseHourly => ("rollup_hourly_coarse r", "r.bucket", "r.count"),
        Table::CoarseDaily => ("rollup_daily_coarse r", "r.bucket", "r.count"),
    };
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
        None => select.push_str("NULL, "),
    }
    group_by.push_str(&(q.group_by.len() + 1).to_string());
    let mut w = Where::new();
    w.filter(&q.filter, table)?;
    if let Some(lo) = lo {
        w.and(&format!("{ts} >= ?"), [Value::Integer(lo)]);
    }
    if let Some(hi) = hi {
        w.and(&format!("{ts} < ?"), [Value::Integer(hi)]);
    }
    let sql = format!(
        "{select}SUM({count}) FROM {from}{} GROUP BY {group_by}",
        w.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt
        .query(params_from_iter(w.params.iter()))
        .map_err(|e| search_error(e, &q.filter))?;
    let n = q.group_by.len();
    while let Some(row) = rows.next().map_err(|e| search_error(e, &q.filter))? {
        let mut key = Vec::with_capacity(n);
        for i in 0..n {
            key.push(row.get::<_, Option<String>>(i)?);
        }
        let bucket: Option<i64> = row.get(n)?;
        let c: i64 = row.get(n + 1)?;
        *groups.entry((key, bucket)).or_insert(0) += u64::try_from(c).unwrap_or(0);
    }
    Ok(())
}

/// Sorts by count descending, then key, then bucket; applies the limit (0 means none).
fn finish(q: &AggregateQuery, groups: HashMap<GroupKey, u64>) -> Result<Vec<AggregateRow>> {
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
