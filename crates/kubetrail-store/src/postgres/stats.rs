//! Sizes and counts. Bytes are an estimate of the live data (rows and their index entries),
//! kept in an append-only ledger of deltas written with each transaction: PostgreSQL keeps the
//! space of deleted rows for reuse instead of shrinking its files, so file sizes would not show
//! what retention by size removed.

use deadpool_postgres::{GenericClient, Object};
use tokio_postgres::IsolationLevel;

use super::filter::timestamp;
use crate::{Result, StoreStats};

/// Records a change of the estimated size, in the caller's transaction.
pub(crate) async fn add_bytes(c: &impl GenericClient, delta: i64) -> Result<()> {
    if delta != 0 {
        let stmt = c
            .prepare_cached("INSERT INTO size_ledger (bytes) VALUES ($1)")
            .await?;
        c.execute(&stmt, &[&delta]).await?;
    }
    Ok(())
}

/// The estimated size of the live data.
pub(crate) async fn bytes(c: &impl GenericClient) -> Result<u64> {
    let n: i64 = c
        .query_one("SELECT COALESCE(SUM(bytes), 0)::int8 FROM size_ledger", &[])
        .await?
        .try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Folds the ledger into one row (rows written meanwhile by others are left alone).
pub(crate) async fn compact(c: &impl GenericClient) -> Result<()> {
    c.batch_execute(
        "WITH gone AS (
             DELETE FROM size_ledger WHERE id <= (SELECT MAX(id) FROM size_ledger) RETURNING bytes)
         INSERT INTO size_ledger (bytes) SELECT COALESCE(SUM(bytes), 0) FROM gone",
    )
    .await?;
    Ok(())
}

/// Counts events and occurrence units (from the daily rollup, which equals the occurrences);
/// the time range is that of the occurrences kept.
pub(crate) async fn stats(client: &mut Object) -> Result<StoreStats> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let row = tx
        .query_one(
            "SELECT (SELECT count(*) FROM events),
                    (SELECT COALESCE(SUM(count), 0)::int8 FROM rollup_daily_coarse),
                    (SELECT MIN(ts) FROM occurrences),
                    (SELECT MAX(ts) FROM occurrences),
                    (SELECT count(*) FROM quarantine),
                    (SELECT COALESCE(SUM(count), 0)::int8 FROM identity_conflicts)",
            &[],
        )
        .await?;
    let events: i64 = row.try_get(0)?;
    let occurrences: i64 = row.try_get(1)?;
    let oldest: Option<i64> = row.try_get(2)?;
    let newest: Option<i64> = row.try_get(3)?;
    let quarantined: i64 = row.try_get(4)?;
    let conflicts: i64 = row.try_get(5)?;
    let bytes = bytes(&tx).await?;
    tx.commit().await?;
    Ok(StoreStats {
        events: u64::try_from(events).unwrap_or(0),
        occurrences: u64::try_from(occurrences).unwrap_or(0),
        bytes,
        oldest: oldest.map(|t| timestamp(t, "ts")).transpose()?,
        newest: newest.map(|t| timestamp(t, "ts")).transpose()?,
        quarantined: u64::try_from(quarantined).unwrap_or(0),
        conflicts: u64::try_from(conflicts).unwrap_or(0),
    })
}
