//! Rollups of occurrence counts, exactly as in SQLite: signed deltas accumulated per batch and
//! applied once to every level, so each rollup table always equals `occurrences JOIN events`
//! summed by its bucket and dimensions:
//! - `rollup_hourly`: per hour, by cluster, namespace, kind, reason, category, severity, type
//!   and correlation;
//! - `rollup_hourly_coarse` and `rollup_daily_coarse`: without correlation, per hour and day.
//!
//! Deltas are kept sorted, so concurrent writers (several `run --source nats` instances) lock
//! rollup rows in the same order and do not deadlock each other.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;

use crate::Result;

pub(crate) use crate::plan::{DAY_MICROS, HOUR_MICROS, floor_to};

/// SQL for the start of the hour holding the integer expression `col` (floor).
pub(crate) fn hour_sql(col: &str) -> String {
    format!("({col} - ((({col} % {HOUR_MICROS}) + {HOUR_MICROS}) % {HOUR_MICROS}))")
}

/// The rollup dimensions of an event in column order: cluster, namespace, kind, reason,
/// category, severity, type, correlation.
pub(crate) type Dims = [String; 8];

/// Signed count changes per `rollup_hourly` row (hour, dimensions).
#[derive(Debug, Default)]
pub(crate) struct Deltas(BTreeMap<(i64, Dims), i64>);

impl Deltas {
    pub fn add(&mut self, ts: i64, dims: &Dims, count: i64) {
        *self
            .0
            .entry((floor_to(ts, HOUR_MICROS), dims.clone()))
            .or_insert(0) += count;
    }

    /// Writes the deltas to every rollup level: each row's count changes by its delta, and rows
    /// that reach zero are deleted.
    pub async fn apply(self, c: &impl GenericClient) -> Result<()> {
        let mut hourly: BTreeMap<(i64, Vec<&str>), i64> = BTreeMap::new();
        let mut coarse: BTreeMap<(i64, Vec<&str>), i64> = BTreeMap::new();
        let mut daily: BTreeMap<(i64, Vec<&str>), i64> = BTreeMap::new();
        for ((bucket, dims), delta) in &self.0 {
            if *delta == 0 {
                continue;
            }
            let all: Vec<&str> = dims.iter().map(String::as_str).collect();
            let without_correlation = all[..7].to_vec();
            *coarse
                .entry((*bucket, without_correlation.clone()))
                .or_insert(0) += delta;
            *daily
                .entry((floor_to(*bucket, DAY_MICROS), without_correlation))
                .or_insert(0) += delta;
            hourly.insert((*bucket, all), *delta);
        }
        apply_level(c, "rollup_hourly", &CORRELATED, &hourly).await?;
        apply_level(c, "rollup_hourly_coarse", &CORRELATED[..7], &coarse).await?;
        apply_level(c, "rollup_daily_coarse", &CORRELATED[..7], &daily).await
    }
}

const CORRELATED: [&str; 8] = [
    "cluster",
    "namespace",
    "kind",
    "reason",
    "category",
    "severity",
    "type",
    "correlation",
];

/// One multi-row upsert for the level, then one delete of the rows its decreases emptied.
async fn apply_level(
    c: &impl GenericClient,
    table: &str,
    columns: &[&str],
    deltas: &BTreeMap<(i64, Vec<&str>), i64>,
) -> Result<()> {
    let deltas: Vec<_> = deltas.iter().filter(|(_, d)| **d != 0).collect();
    if deltas.is_empty() {
        return Ok(());
    }
    let n = columns.len();
    let buckets: Vec<i64> = deltas.iter().map(|((b, _), _)| *b).collect();
    let counts: Vec<i64> = deltas.iter().map(|(_, d)| **d).collect();
    let dims: Vec<Vec<&str>> = (0..n)
        .map(|i| deltas.iter().map(|((_, d), _)| d[i]).collect())
        .collect();
    let cols = columns.join(", ");
    let arrays: String = (0..n).map(|i| format!(", ${}::text[]", i + 2)).collect();
    let count_param = n + 2;
    let upsert = format!(
        "INSERT INTO {table} (bucket, {cols}, count)
         SELECT * FROM unnest($1::int8[]{arrays}, ${count_param}::int8[])
         ON CONFLICT (bucket, {cols}) DO UPDATE SET count = {table}.count + excluded.count"
    );
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&buckets];
    for d in &dims {
        params.push(d);
    }
    params.push(&counts);
    let stmt = c.prepare_cached(&upsert).await?;
    c.execute(&stmt, &params).await?;

    if counts.iter().any(|d| *d < 0) {
        let matches: String = columns
            .iter()
            .map(|col| format!(" AND r.{col} = u.{col}"))
            .collect();
        let delete = format!(
            "DELETE FROM {table} r
             USING unnest($1::int8[]{arrays}, ${count_param}::int8[]) AS u(bucket, {cols}, delta)
             WHERE u.delta < 0 AND r.bucket = u.bucket{matches} AND r.count <= 0"
        );
        let stmt = c.prepare_cached(&delete).await?;
        c.execute(&stmt, &params).await?;
    }
    Ok(())
}

/// Takes out of the rollups the occurrences that `occurrences_sql` selects (a query returning
/// `event_id, ts, count`), before they are deleted. Returns the occurrence units they held.
pub(crate) async fn subtract(c: &impl GenericClient, occurrences_sql: &str) -> Result<u64> {
    let sql = format!(
        "SELECT {hour}, e.cluster, e.namespace, e.reg_kind, e.reason, e.category, e.severity,
                e.type, e.correlation_id, SUM(o.count)::int8
         FROM ({occurrences_sql}) o JOIN events e ON e.id = o.event_id
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
        hour = hour_sql("o.ts"),
    );
    let rows = c.query(&sql, &[]).await?;
    let mut deltas = Deltas::default();
    let mut units: i64 = 0;
    for row in rows {
        let dims: Dims = std::array::from_fn(|i| row.get::<_, String>(i + 1));
        let count: i64 = row.get(9);
        units += count;
        deltas.0.insert((row.get(0), dims), -count);
    }
    deltas.apply(c).await?;
    Ok(u64::try_from(units).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_at_the_floor_also_before_the_epoch() {
        assert_eq!(floor_to(0, HOUR_MICROS), 0);
        assert_eq!(floor_to(HOUR_MICROS - 1, HOUR_MICROS), 0);
        assert_eq!(floor_to(-1, HOUR_MICROS), -HOUR_MICROS);
        assert_eq!(floor_to(-1, DAY_MICROS), -DAY_MICROS);
    }
}
