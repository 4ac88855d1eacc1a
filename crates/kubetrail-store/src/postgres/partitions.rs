//! Daily partitions of `occurrences` (native declarative range partitioning on `ts`).
//!
//! Partitions are created ahead (yesterday to three days from now) so that live writes land
//! in their own day. A write for a day without a partition (an imported dump from last year,
//! a clock far off) lands in `occurrences_default`; maintenance later moves those rows into a
//! partition of their day. Retention drops whole days older than every cutoff in which nothing
//! was stored since it (after taking their counts out of the rollups) instead of deleting row
//! by row; a day holding history imported since is left to the row-by-row deletes.
//!
//! Partitions are made as plain tables and then attached: `ATTACH PARTITION` needs only a
//! `SHARE UPDATE EXCLUSIVE` lock on `occurrences`, so writers and readers go on meanwhile
//! (`CREATE TABLE ... PARTITION OF` would lock them out). The default partition is locked
//! against writes while rows move out of it. Every step has a lock timeout: maintenance gives
//! up and retries later rather than stall ingestion.
//!
//! Any number of instances may maintain partitions at once (several `run`s starting together,
//! their daily maintenance, their retention): every change takes one advisory lock of the
//! schema first and then checks again whether the partition is (still) attached, so one
//! instance makes each change and the others find it done.

use deadpool_postgres::{GenericClient, Object};
use jiff::tz::TimeZone;
use kubetrail_model::Timestamp;

use super::rollup::{DAY_MICROS, floor_to};
use crate::{ClusterRetention, Error, Result};

/// Days from today on created ahead, and days back.
const AHEAD_DAYS: i64 = 3;
const BEHIND_DAYS: i64 = 1;

/// At most this many days are moved out of the default partition per pass.
const ADOPT_PER_PASS: i64 = 400;

/// The partition holding the day starting at `day` (micros), e.g. `occurrences_20240501`.
fn name(day: i64) -> Result<String> {
    let ts = Timestamp::from_microsecond(day).map_err(|_| Error::Corrupt {
        column: "ts",
        value: day.to_string(),
    })?;
    let date = ts.to_zoned(TimeZone::UTC).date();
    Ok(format!(
        "occurrences_{:04}{:02}{:02}",
        date.year(),
        date.month(),
        date.day()
    ))
}

/// Creates the partitions of the days around `now` that do not exist yet.
pub(crate) async fn create_ahead(client: &mut Object, now: Timestamp) -> Result<()> {
    let today = floor_to(now.as_microsecond(), DAY_MICROS);
    for d in -BEHIND_DAYS..=AHEAD_DAYS {
        ensure(client, today + d * DAY_MICROS).await?;
    }
    Ok(())
}

/// Moves rows of the default partition into partitions of their days.
pub(crate) async fn adopt_default(client: &mut Object) -> Result<()> {
    let days = client
        .query(
            "SELECT DISTINCT ts - (((ts % $1) + $1) % $1) AS day FROM occurrences_default
             ORDER BY day LIMIT $2",
            &[&DAY_MICROS, &ADOPT_PER_PASS],
        )
        .await?;
    for row in days {
        ensure(client, row.get(0)).await?;
    }
    Ok(())
}

/// Serializes partition changes (create, attach, detach, drop) of one schema across every
/// instance: taken first in each such transaction, released with it.
const LOCK_PARTITIONS: &str =
    "SELECT pg_advisory_xact_lock(hashtext('kubetrail-partitions:' || current_schema()))";

/// Whether `table` is attached as a partition of `occurrences`.
async fn attached(client: &impl GenericClient, table: &str) -> Result<bool> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_inherits
               WHERE inhparent = 'occurrences'::regclass AND inhrelid = to_regclass($1))",
            &[&table],
        )
        .await?
        .get(0))
}

/// Creates (if missing) the partition of the day starting at `day`, moving in the rows of
/// that day that were stored in the default partition. Safe with any number of instances at
/// once: the check is repeated under the partitions lock, so only one of them creates it.
async fn ensure(client: &mut Object, day: i64) -> Result<()> {
    let table = name(day)?;
    if attached(&*client, &table).await? {
        return Ok(());
    }
    let (lo, hi) = (day, day + DAY_MICROS);
    let tx = client.transaction().await?;
    tx.batch_execute(LOCK_PARTITIONS).await?;
    if attached(&tx, &table).await? {
        // Another instance created it while this one waited for the lock.
        return Ok(());
    }
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '5s';
         CREATE TABLE IF NOT EXISTS {table} (LIKE occurrences INCLUDING DEFAULTS);
         LOCK TABLE occurrences_default IN EXCLUSIVE MODE;
         INSERT INTO {table} SELECT * FROM occurrences_default WHERE ts >= {lo} AND ts < {hi};
         DELETE FROM occurrences_default WHERE ts >= {lo} AND ts < {hi};
         ALTER TABLE occurrences ATTACH PARTITION {table} FOR VALUES FROM ({lo}) TO ({hi});"
    ))
    .await?;
    tx.commit().await?;
    tracing::debug!(partition = %table, "created an occurrences partition");
    Ok(())
}

/// The day partitions, as `[start, end)` micros, oldest first.
pub(crate) async fn list(client: &Object) -> Result<Vec<(i64, i64)>> {
    let rows = client
        .query(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'occurrences'::regclass",
            &[],
        )
        .await?;
    let mut out = Vec::new();
    for row in rows {
        // NULL while another instance attaches or drops that partition: not a day partition yet.
        let bound: Option<String> = row.get(0);
        if let Some(range) = bound.as_deref().and_then(parse_bound) {
            out.push(range);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// `FOR VALUES FROM ('1') TO ('2')` → (1, 2); `DEFAULT` → None.
fn parse_bound(bound: &str) -> Option<(i64, i64)> {
    let numbers: Vec<i64> = bound
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter(|s| !s.is_empty() && *s != "-")
        .filter_map(|s| s.parse().ok())
        .collect();
    match numbers[..] {
        [lo, hi] => Some((lo, hi)),
        _ => None,
    }
}

/// Drops the partitions that end at or before `cutoff` and hold nothing stored since it (an
/// imported dump of those days is kept for the age after its import: its rows are deleted one
/// by one when they expire), first taking their occurrences out of the rollups and the size
/// ledger. Returns what went, per cluster.
pub(crate) async fn drop_before(
    client: &mut Object,
    cutoff: i64,
) -> Result<Vec<(String, ClusterRetention)>> {
    let mut dropped = Vec::new();
    for (lo, hi) in list(client).await? {
        if hi > cutoff {
            break;
        }
        let table = name(lo)?;
        let tx = client.transaction().await?;
        tx.batch_execute(LOCK_PARTITIONS).await?;
        if !attached(&tx, &table).await? {
            // Another instance's retention dropped it meanwhile.
            continue;
        }
        tx.batch_execute("SET LOCAL lock_timeout = '5s'").await?;
        let stored_since: bool = tx
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE stored_at >= $1)"),
                &[&cutoff],
            )
            .await?
            .get(0);
        if stored_since {
            continue;
        }
        let rows: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await?
            .get(0);
        let clusters =
            super::retention::tally(&tx, &crate::expiry::tally_sql(&table, "TRUE"), false).await?;
        super::rollup::subtract(&tx, &format!("SELECT event_id, ts, count FROM {table}")).await?;
        super::stats::add_bytes(&tx, -rows * super::write::OCCURRENCE_BYTES).await?;
        tx.batch_execute(&format!(
            "ALTER TABLE occurrences DETACH PARTITION {table}; DROP TABLE {table};"
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(partition = %table, rows, "dropped an occurrences partition");
        dropped.extend(clusters);
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_are_utc_days() {
        assert_eq!(name(1_714_521_600_000_000).unwrap(), "occurrences_20240501");
        assert_eq!(name(-DAY_MICROS).unwrap(), "occurrences_19691231");
    }

    #[test]
    fn bounds_parse_from_the_catalog_text() {
        assert_eq!(
            parse_bound("FOR VALUES FROM ('1714521600000000') TO ('1714608000000000')"),
            Some((1_714_521_600_000_000, 1_714_608_000_000_000))
        );
        assert_eq!(parse_bound("DEFAULT"), None);
        assert_eq!(
            parse_bound("FOR VALUES FROM ('-86400000000') TO ('0')"),
            Some((-86_400_000_000, 0))
        );
    }
}
