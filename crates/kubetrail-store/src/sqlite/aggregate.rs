//! Occurrence counts grouped by dimensions and time buckets: runs the parts of the plan
//! (`crate::plan`: whole days and hours from the rollups, the edges from raw occurrences) in one
//! snapshot. The raw path (all from `occurrences JOIN events`) gives identical results.

use std::collections::HashMap;

use kubetrail_model::{AggregateQuery, AggregateRow};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::filter::{Table, Where, search_error};
use crate::Result;
use crate::plan::{GroupKey, finish, interval_micros, parts};

/// Aggregates, through the rollups when `use_rollups` and the query allows it.
pub(crate) fn aggregate(
    conn: &Connection,
    q: &AggregateQuery,
    use_rollups: bool,
) -> Result<Vec<AggregateRow>> {
    let interval = interval_micros(q)?;
    let mut groups = HashMap::new();
    let parts = parts(q, use_rollups)?;
    if !parts.is_empty() {
        // One snapshot for all the parts.
        let tx = conn.unchecked_transaction()?;
        for (table, lo, hi) in parts {
            collect(&tx, q, table, interval, lo, hi, &mut groups)?;
        }
        tx.commit()?;
    }
    finish(q, groups)
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
    let (from, ts, count) = crate::plan::source(table);
    let (select, group_by) = crate::plan::select_head(q, table, interval, "NULL")?;
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
