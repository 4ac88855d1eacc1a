//! Rollups of occurrence counts: changes are accumulated per batch as signed deltas and applied
//! once to every level, so each rollup table always equals `occurrences JOIN events` summed by
//! its bucket and dimensions:
//! - `rollup_hourly`: per hour, by cluster, namespace, kind, reason, category, severity, type
//!   and correlation;
//! - `rollup_hourly_coarse` and `rollup_daily_coarse`: the same without correlation, per hour
//!   and per day (few rows: what long group-bys read).

use std::borrow::Cow;

use rusqlite::{Connection, params};

// The deltas' maps hash with foldhash, not SipHash: every occurrence the writer stores adds
// to one (SipHash was 1.1 % of the writer thread's samples in the 1M import).
use foldhash::HashMap;

use crate::Result;

pub(crate) use crate::plan::{DAY_MICROS, HOUR_MICROS, floor_to};

/// The start of the hour holding `ts` (microseconds; floor, also before 1970).
pub(crate) fn hour_of(ts: i64) -> i64 {
    ts - ts.rem_euclid(HOUR_MICROS)
}

/// SQL for the start of the hour holding the integer expression `col`, matching [`hour_of`].
pub(crate) fn hour_sql(col: &str) -> String {
    format!("({col} - ((({col} % {HOUR_MICROS}) + {HOUR_MICROS}) % {HOUR_MICROS}))")
}

/// One `rollup_hourly` row key: the hour and the values of the rollup dimensions in column
/// order (cluster, namespace, kind, reason, category, severity, type, correlation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RollupKey<'a> {
    pub bucket: i64,
    pub dims: [Cow<'a, str>; 8],
}

/// Signed count changes per rollup row, applied at the end of a batch.
#[derive(Debug, Default)]
pub(crate) struct RollupDeltas<'a>(HashMap<RollupKey<'a>, i64>);

impl<'a> RollupDeltas<'a> {
    pub fn add(&mut self, ts: i64, dims: &[Cow<'a, str>; 8], count: i64) {
        let key = RollupKey {
            bucket: hour_of(ts),
            dims: dims.clone(),
        };
        *self.0.entry(key).or_insert(0) += count;
    }

    pub fn add_key(&mut self, key: RollupKey<'a>, count: i64) {
        *self.0.entry(key).or_insert(0) += count;
    }

    /// Writes the deltas to every rollup level: increases are upserted, decreases subtract and
    /// drop rows that reach zero.
    pub fn apply(self, conn: &Connection) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        // The coarse levels: the same deltas without correlation, by hour and by day.
        let mut hourly: HashMap<(i64, [&str; 7]), i64> = HashMap::default();
        let mut daily: HashMap<(i64, [&str; 7]), i64> = HashMap::default();
        for (k, delta) in &self.0 {
            let [c, ns, kind, reason, cat, sev, ty, _] = &k.dims;
            let dims = [&**c, &**ns, &**kind, &**reason, &**cat, &**sev, &**ty];
            *hourly.entry((k.bucket, dims)).or_insert(0) += delta;
            *daily
                .entry((floor_to(k.bucket, DAY_MICROS), dims))
                .or_insert(0) += delta;
        }
        let mut upsert = conn.prepare_cached(
            "INSERT INTO rollup_hourly
                 (bucket, cluster, namespace, kind, reason, category, severity, type, correlation,
                  count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT DO UPDATE SET count = count + excluded.count",
        )?;
        let mut drop_empty = conn.prepare_cached(
            "DELETE FROM rollup_hourly
             WHERE bucket = ?1 AND cluster = ?2 AND namespace = ?3 AND kind = ?4 AND reason = ?5
               AND category = ?6 AND severity = ?7 AND type = ?8 AND correlation = ?9
               AND count <= 0",
        )?;
        for (k, delta) in &self.0 {
            if *delta == 0 {
                continue;
            }
            let [c, ns, kind, reason, cat, sev, ty, corr] = &k.dims;
            upsert.execute(params![
                k.bucket, c, ns, kind, reason, cat, sev, ty, corr, delta
            ])?;
            if *delta < 0 {
                drop_empty.execute(params![k.bucket, c, ns, kind, reason, cat, sev, ty, corr])?;
            }
        }
        apply_coarse(conn, "rollup_hourly_coarse", &hourly)?;
        apply_coarse(conn, "rollup_daily_coarse", &daily)?;
        Ok(())
    }
}

fn apply_coarse(
    conn: &Connection,
    table: &str,
    deltas: &HashMap<(i64, [&str; 7]), i64>,
) -> Result<()> {
    let mut upsert = conn.prepare_cached(&format!(
        "INSERT INTO {table} (bucket, cluster, namespace, kind, reason, category, severity, type, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT DO UPDATE SET count = count + excluded.count"
    ))?;
    let mut drop_empty = conn.prepare_cached(&format!(
        "DELETE FROM {table}
         WHERE bucket = ?1 AND cluster = ?2 AND namespace = ?3 AND kind = ?4 AND reason = ?5
           AND category = ?6 AND severity = ?7 AND type = ?8 AND count <= 0"
    ))?;
    for ((bucket, [c, ns, kind, reason, cat, sev, ty]), delta) in deltas {
        if *delta == 0 {
            continue;
        }
        upsert.execute(params![bucket, c, ns, kind, reason, cat, sev, ty, delta])?;
        if *delta < 0 {
            drop_empty.execute(params![bucket, c, ns, kind, reason, cat, sev, ty])?;
        }
    }
    Ok(())
}

/// Subtracts from the rollups the occurrences selected by `occurrence_filter` (a condition on
/// `o` and `e`, e.g. `o.event_id IN (SELECT id FROM doomed_events)`), before they are deleted.
/// Returns the occurrence units they held.
pub(crate) fn subtract_occurrences(conn: &Connection, occurrence_filter: &str) -> Result<u64> {
    let sql = format!(
        "SELECT {hour}, e.cluster, e.namespace, e.reg_kind, e.reason, e.category, e.severity,
                e.type, e.correlation_id, SUM(o.count)
         FROM occurrences o JOIN events e ON e.id = o.event_id
         WHERE {occurrence_filter}
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
        hour = hour_sql("o.ts"),
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([])?;
    let mut deltas = RollupDeltas::default();
    let mut units: i64 = 0;
    while let Some(row) = rows.next()? {
        let text = |i: usize| -> rusqlite::Result<Cow<'static, str>> {
            Ok(Cow::Owned(row.get::<_, String>(i)?))
        };
        let key = RollupKey {
            bucket: row.get(0)?,
            dims: [
                text(1)?,
                text(2)?,
                text(3)?,
                text(4)?,
                text(5)?,
                text(6)?,
                text(7)?,
                text(8)?,
            ],
        };
        let count: i64 = row.get(9)?;
        units += count;
        deltas.add_key(key, -count);
    }
    drop(rows);
    deltas.apply(conn)?;
    Ok(u64::try_from(units).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_start_at_the_floor_also_before_the_epoch() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(HOUR_MICROS - 1), 0);
        assert_eq!(hour_of(HOUR_MICROS), HOUR_MICROS);
        assert_eq!(hour_of(-1), -HOUR_MICROS);
    }

    #[test]
    fn the_sql_hour_matches_the_rust_hour() {
        let conn = Connection::open_in_memory().unwrap();
        for ts in [
            0,
            1,
            HOUR_MICROS - 1,
            HOUR_MICROS,
            -1,
            -HOUR_MICROS,
            1_714_521_600_123_456,
        ] {
            let sql = format!("SELECT {}", hour_sql("?1"));
            let got: i64 = conn.query_row(&sql, [ts], |r| r.get(0)).unwrap();
            assert_eq!(got, hour_of(ts), "ts {ts}");
        }
    }
}
