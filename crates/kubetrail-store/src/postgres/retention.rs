//! Deleting what retention no longer keeps. Whole days older than every cutoff go by dropping
//! their partitions; the rest is deleted per severity, one transaction each. Every deleted
//! occurrence is first taken out of the rollups, every deleted row out of the size ledger.

use deadpool_postgres::{GenericClient, Object};
use kubetrail_model::{Severity, Timestamp};

use super::filter::micros;
use super::partitions;
use super::rollup::subtract;
use super::stats::{add_bytes, bytes, compact};
use super::write::OCCURRENCE_BYTES;
use crate::{Result, RetentionPolicy, RetentionReport};

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
    let cutoff = |severity: Severity| {
        let age = policy
            .max_age_by_severity
            .get(&severity)
            .copied()
            .unwrap_or(policy.max_age);
        micros(now.checked_sub(age).unwrap_or(Timestamp::MIN))
    };
    // Days before every severity's cutoff hold nothing any severity keeps.
    if let Some(earliest) = Severity::ALL.into_iter().map(cutoff).min() {
        let (_, units) = partitions::drop_before(client, earliest).await?;
        report.occurrences_deleted += units;
    }
    for severity in Severity::ALL {
        let (events, units) = expire(client, severity.as_str(), cutoff(severity)).await?;
        report.events_deleted += events;
        report.occurrences_deleted += units;
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
    compact(&*client).await?;
    report.bytes_after = bytes(&*client).await?;
    Ok(report)
}

/// Deletes the occurrences of `severity` older than `cutoff`, and its events last seen before
/// it. Returns (events, occurrence units) deleted.
async fn expire(client: &mut Object, severity: &str, cutoff: i64) -> Result<(u64, u64)> {
    let tx = client.transaction().await?;
    let old = format!(
        "SELECT o.event_id, o.ts, o.count FROM occurrences o JOIN events e ON e.id = o.event_id
         WHERE e.severity = '{severity}' AND o.ts < {cutoff}"
    );
    let units = subtract(&tx, &old).await?;
    let rows = tx
        .execute(
            "DELETE FROM occurrences o USING events e
             WHERE o.event_id = e.id AND e.severity = $1 AND o.ts < $2",
            &[&severity, &cutoff],
        )
        .await?;
    let gone = tx
        .query_one(
            "WITH gone AS (
                 DELETE FROM events WHERE severity = $1 AND last_seen < $2 RETURNING bytes)
             SELECT count(*), COALESCE(SUM(bytes), 0)::int8 FROM gone",
            &[&severity, &cutoff],
        )
        .await?;
    let (events, event_bytes): (i64, i64) = (gone.try_get(0)?, gone.try_get(1)?);
    add_bytes(&tx, -(event_bytes + OCCURRENCE_BYTES * rows as i64)).await?;
    tx.commit().await?;
    Ok((u64::try_from(events).unwrap_or(0), units))
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
        let units = subtract(
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
        report.events_deleted += ids.len() as u64;
        report.occurrences_deleted += units;
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
