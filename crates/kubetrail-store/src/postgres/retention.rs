//! Deleting what retention no longer keeps (the rule is `crate::expiry`), and counting what it
//! would delete (a dry run). Whole days older than every cutoff go by dropping their
//! partitions, unless something in them was stored since the cutoff; the rest is deleted per
//! severity, one transaction each. Every deleted occurrence is first taken out of the rollups
//! and counted per cluster, every deleted row out of the size ledger.

use std::collections::BTreeMap;

use deadpool_postgres::{GenericClient, Object};
use kubetrail_model::{Severity, Timestamp};

use super::partitions;
use super::rollup::subtract;
use super::stats::{add_bytes, bytes, compact};
use super::write::OCCURRENCE_BYTES;
use crate::{ClusterRetention, Result, RetentionPolicy, RetentionReport, expiry};

/// At most this many events are deleted per transaction when shrinking to a size.
const SHRINK_CHUNK: i64 = 20_000;

pub(crate) async fn apply(
    client: &mut Object,
    policy: &RetentionPolicy,
    now: Timestamp,
) -> Result<RetentionReport> {
    let mut report = RetentionReport {
        bytes_before: bytes(&*client).await?,
        ..RetentionReport::default()
    };
    // Days before every severity's cutoff go whole, unless something was stored in them since.
    let earliest = expiry::earliest_cutoff(policy, now);
    for (cluster, part) in partitions::drop_before(client, earliest).await? {
        report.add(cluster, part);
    }
    for severity in Severity::ALL {
        let cutoff = expiry::cutoff(policy, severity, now);
        expire(client, severity.as_str(), cutoff, &mut report).await?;
    }
    if let Some(max_bytes) = policy.max_bytes {
        shrink(client, max_bytes, &mut report).await?;
    }
    client
        .batch_execute(
            "DELETE FROM placements p WHERE NOT EXISTS (
                 SELECT 1 FROM events e
                 WHERE e.cluster = p.cluster AND e.reg_namespace = p.namespace
                   AND e.reg_kind = 'Pod' AND e.reg_name = p.pod)",
        )
        .await?;
    let (alerts, silences, gaps) =
        expire_records(client, crate::records::cutoff(policy, now)).await?;
    report.alerts_deleted = alerts;
    report.silences_deleted = silences;
    report.gaps_deleted = gaps;
    (report.changes_deleted, report.change_states_deleted) =
        super::changes::expire(client, crate::records::cutoff(policy, now)).await?;
    compact(&*client).await?;
    report.bytes_after = bytes(&*client).await?;
    Ok(report)
}

/// What [`apply`] would delete by age as of `now`, deleting nothing.
pub(crate) async fn preview(
    client: &Object,
    policy: &RetentionPolicy,
    now: Timestamp,
) -> Result<RetentionReport> {
    let mut report = RetentionReport {
        dry_run: true,
        bytes_before: bytes(client).await?,
        ..RetentionReport::default()
    };
    report.bytes_after = report.bytes_before;
    let mut events = BTreeMap::new();
    for row in client
        .query(&expiry::preview_events_sql(policy, now), &[])
        .await?
    {
        let (cluster, n): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
        events.insert(cluster, u64::try_from(n).unwrap_or(0));
    }
    for (cluster, mut part) in
        tally(client, &expiry::preview_occurrences_sql(policy, now), false).await?
    {
        part.events = events.remove(&cluster).unwrap_or(0);
        report.add(cluster, part);
    }
    Ok(report)
}

/// Per cluster, what goes of the occurrences `sql` (an `expiry::tally_sql`) selects.
pub(crate) async fn tally(
    client: &impl GenericClient,
    sql: &str,
    count_events: bool,
) -> Result<Vec<(String, ClusterRetention)>> {
    let mut out = Vec::new();
    for r in client.query(sql, &[]).await? {
        let row = (
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
        );
        out.push(expiry::tally_row(row, count_events));
    }
    Ok(out)
}

/// Deletes the occurrences of `severity` that expire at `cutoff` (see `crate::expiry`), and
/// its events that do, counting them per cluster into `report`.
async fn expire(
    client: &mut Object,
    severity: &str,
    cutoff: i64,
    report: &mut RetentionReport,
) -> Result<()> {
    let tx = client.transaction().await?;
    let old = format!(
        "e.severity = '{severity}' AND {}",
        expiry::occurrence_expired(&cutoff.to_string())
    );
    let occurrences = tally(&tx, &expiry::tally_sql("occurrences", &old), false).await?;
    subtract(
        &tx,
        &format!(
            "SELECT o.event_id, o.ts, o.count FROM occurrences o JOIN events e ON e.id = o.event_id
             WHERE {old}"
        ),
    )
    .await?;
    let rows = tx
        .execute(
            &format!("DELETE FROM occurrences o USING events e WHERE o.event_id = e.id AND {old}"),
            &[],
        )
        .await?;
    let gone = tx
        .query(
            &format!(
                "WITH gone AS (
                     DELETE FROM events e WHERE e.severity = $1 AND {}
                     RETURNING e.cluster, e.bytes)
                 SELECT cluster, count(*), COALESCE(SUM(bytes), 0)::int8 FROM gone
                 GROUP BY cluster",
                expiry::event_expired("$2")
            ),
            &[&severity, &cutoff],
        )
        .await?;
    let mut event_bytes = 0;
    let mut events = Vec::new();
    for row in gone {
        let (cluster, n, b): (String, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        event_bytes += b;
        let part = ClusterRetention {
            events: u64::try_from(n).unwrap_or(0),
            ..ClusterRetention::default()
        };
        events.push((cluster, part));
    }
    add_bytes(&tx, -(event_bytes + OCCURRENCE_BYTES * rows as i64)).await?;
    tx.commit().await?;
    for (cluster, part) in occurrences.into_iter().chain(events) {
        report.add(cluster, part);
    }
    Ok(())
}

/// Deletes the events last seen longest ago, with their occurrences, until the estimated size
/// is at most `max_bytes`: each step a share of the events proportional to the excess.
async fn shrink(client: &mut Object, max_bytes: u64, report: &mut RetentionReport) -> Result<()> {
    loop {
        let used = bytes(&*client).await?;
        if used <= max_bytes {
            return Ok(());
        }
        let events: i64 = client
            .query_one("SELECT count(*) FROM events", &[])
            .await?
            .try_get(0)?;
        if events == 0 {
            tracing::warn!(
                max_bytes,
                "the store is empty and still above its size limit"
            );
            return Ok(());
        }
        let share = i128::from(events) * i128::from(used - max_bytes) / i128::from(used.max(1));
        let chunk = i64::try_from(share)
            .unwrap_or(i64::MAX)
            .clamp(64, SHRINK_CHUNK);
        let tx = client.transaction().await?;
        let ids: Vec<i64> = tx
            .query(
                "SELECT id FROM events ORDER BY last_seen, id LIMIT $1",
                &[&chunk],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let doomed = format!("o.event_id IN ({list})");
        let clusters = tally(&tx, &expiry::tally_sql("occurrences", &doomed), true).await?;
        subtract(
            &tx,
            &format!("SELECT event_id, ts, count FROM occurrences WHERE event_id IN ({list})"),
        )
        .await?;
        let rows = tx
            .execute("DELETE FROM occurrences WHERE event_id = ANY($1)", &[&ids])
            .await?;
        let event_bytes: i64 = tx
            .query_one(
                "WITH gone AS (DELETE FROM events WHERE id = ANY($1) RETURNING bytes)
                 SELECT COALESCE(SUM(bytes), 0)::int8 FROM gone",
                &[&ids],
            )
            .await?
            .try_get(0)?;
        add_bytes(&tx, -(event_bytes + OCCURRENCE_BYTES * rows as i64)).await?;
        tx.commit().await?;
        report.events_deleted_for_size += ids.len() as u64;
        for (cluster, part) in clusters {
            report.add(cluster, part);
        }
    }
}

/// Deletes the records retention no longer keeps (see `crate::records`) in one transaction;
/// returns (alerts, silences, gaps) deleted.
async fn expire_records(client: &mut Object, cutoff: i64) -> Result<(u64, u64, u64)> {
    use crate::records::{EXPIRE_ALERTS, EXPIRE_GAPS, EXPIRE_SILENCES, expire_deliveries_sql};
    let tx = client.transaction().await?;
    tx.execute(expire_deliveries_sql().as_str(), &[&cutoff])
        .await?;
    let alerts = tx.execute(EXPIRE_ALERTS, &[&cutoff]).await?;
    let silences = tx.execute(EXPIRE_SILENCES, &[&cutoff]).await?;
    let gaps = tx.execute(EXPIRE_GAPS, &[&cutoff]).await?;
    tx.execute(crate::quarantine::EXPIRE, &[&cutoff]).await?;
    tx.commit().await?;
    Ok((alerts, silences, gaps))
}
