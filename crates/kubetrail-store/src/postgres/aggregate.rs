//! Occurrence counts grouped by dimensions and time buckets, as in SQLite: the rollup path
//! splits the range into whole days (`rollup_daily_coarse`), whole hours
//! (`rollup_hourly_coarse`, or `rollup_hourly` when correlation is involved) and the partial
//! hours at the edges (raw occurrences); the raw path reads `occurrences JOIN events` for all.
//! All parts read one snapshot (a repeatable-read transaction).

use std::collections::HashMap;

use deadpool_postgres::{GenericClient, Object};
use kubetrail_model::{AggregateQuery, AggregateRow, Dimension};
use tokio_postgres::IsolationLevel;

use super::filter::{Table, Where, column, micros, rollup_can_answer, timestamp};
use super::rollup::{DAY_MICROS, HOUR_MICROS, floor_to};
use crate::{Error, Result};

/// Group values in `group_by` order, and the bucket start (micros) when bucketing.
type GroupKey = (Vec<Option<String>>, Option<i64>);

pub(crate) async fn aggregate(
    client: &mut Object,
    q: &AggregateQuery,
    use_rollups: bool,
) -> Result<Vec<AggregateRow>> {
    let interval = interval_micros(q)?;
    let since = q.filter.since.map(micros);
    let until = q.filter.until.map(micros);
    let mut groups = HashMap::new();
    if !matches!((since, until), (Some(s), Some(u)) if s >= u) {
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let levels = if use_rollups && rollup_fits(q, interval) {
            levels(q, interval)
        } else {
            &[]
        };
        let mut parts = Vec::new();
        split(levels, since, until, &mut parts);
        for (table, lo, hi) in parts {
            collect(&tx, q, table, interval, lo, hi, &mut groups).await?;
        }
        tx.commit().await?;
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

/// Splits `[lo, hi)` into parts: whole units of the coarsest level, the partial units at the
/// edges from the finer levels, and what is left from raw occurrences (`Table::Events`).
fn split(
    levels: &[(Table, i64)],
    lo: Option<i64>,
    hi: Option<i64>,
    parts: &mut Vec<(Table, Option<i64>, Option<i64>)>,
) {
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

/// Adds the counts of one table over `[lo, hi)` (occurrence time, or rollup bucket).
async fn collect(
    c: &impl GenericClient,
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
        None => select.push_str("NULL::int8, "),
    }
    group_by.push_str(&(q.group_by.len() + 1).to_string());
    let mut w = Where::new();
    w.filter(&q.filter, table)?;
    if let Some(lo) = lo {
        let p = w.param(lo);
        w.and(&format!("{ts} >= {p}"));
    }
    if let Some(hi) = hi {
        let p = w.param(hi);
        w.and(&format!("{ts} < {p}"));
    }
    let sql = format!(
        "{select}SUM({count})::int8 FROM {from}{} GROUP BY {group_by}",
        w.sql
    );
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &w.refs()).await?;
    let n = q.group_by.len();
    for row in rows {
        let mut key = Vec::with_capacity(n);
        for i in 0..n {
            key.push(row.try_get::<_, Option<String>>(i)?);
        }
        let bucket: Option<i64> = row.try_get(n)?;
        let c: i64 = row.try_get(n + 1)?;
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
