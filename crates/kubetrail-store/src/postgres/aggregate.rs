//! Occurrence counts grouped by dimensions and time buckets: runs the parts of the plan
//! (`crate::plan`, shared with SQLite) in one snapshot (a repeatable-read transaction).

use std::collections::HashMap;

use deadpool_postgres::{GenericClient, Object};
use kubetrail_model::{AggregateQuery, AggregateRow};
use tokio_postgres::IsolationLevel;

use super::filter::{Table, Where};
use crate::Result;
use crate::plan::{GroupKey, finish, interval_micros, parts};

pub(crate) async fn aggregate(
    client: &mut Object,
    q: &AggregateQuery,
    use_rollups: bool,
) -> Result<Vec<AggregateRow>> {
    let interval = interval_micros(q)?;
    let mut groups = HashMap::new();
    let parts = parts(q, use_rollups)?;
    if !parts.is_empty() {
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        for (table, lo, hi) in parts {
            collect(&tx, q, table, interval, lo, hi, &mut groups).await?;
        }
        tx.commit().await?;
    }
    finish(q, groups)
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
    let (from, ts, count) = crate::plan::source(table);
    let (select, group_by) = crate::plan::select_head(q, table, interval, "NULL::int8")?;
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
