//! Deleting what retention no longer keeps (the rule is `crate::expiry`), one bounded chunk per
//! write transaction so that ingestion waits little, and counting what it would delete (a dry
//! run). Every deleted occurrence is first subtracted from the rollups and counted per cluster.

use kubetrail_model::Timestamp;
use rusqlite::{Connection, params};

use super::rollup::subtract_occurrences;
use super::stats::used_bytes;
use crate::{ClusterRetention, Result, RetentionPolicy, RetentionReport, expiry};

/// At most this many events or occurrence rows are deleted per transaction.
pub(crate) const CHUNK: u64 = 5_000;

/// What one step deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Deleted {
    /// Events, or occurrence rows for [`expire_occurrences`].
    pub rows: u64,
    /// Per cluster: events, occurrence units and their time range.
    pub clusters: Vec<(String, ClusterRetention)>,
    /// Where the next step of the same kind starts (micros): the scan goes forward in time, so
    /// the rows kept (other severities, history stored recently) are not read again at every
    /// step.
    pub resume: i64,
}

/// Deletes up to [`CHUNK`] events of `severity` that expire at `cutoff` (micros; see
/// `crate::expiry`) and were last seen at or after `from`, oldest first.
pub(crate) fn expire_events(
    conn: &Connection,
    severity: &str,
    from: i64,
    cutoff: i64,
) -> Result<Deleted> {
    conn.prepare_cached(&format!(
        "INSERT INTO doomed_events (id)
         SELECT e.id FROM events e WHERE e.last_seen >= ?1 AND e.severity = ?3 AND {}
         ORDER BY e.last_seen LIMIT ?4",
        expiry::event_expired("?2")
    ))?
    .execute(params![from, cutoff, severity, CHUNK as i64])?;
    let resume: Option<i64> = conn.query_row(
        "SELECT MAX(last_seen) FROM events WHERE id IN (SELECT id FROM doomed_events)",
        [],
        |r| r.get(0),
    )?;
    let deleted = delete_doomed_events(conn)?;
    Ok(Deleted {
        resume: resume.unwrap_or(from),
        ..deleted
    })
}

/// Deletes up to [`CHUNK`] occurrence rows at or after `from` of events of `severity` that
/// expire at `cutoff`, oldest first (the events themselves are kept: they were seen again, or
/// stored, later).
pub(crate) fn expire_occurrences(
    conn: &Connection,
    severity: &str,
    from: i64,
    cutoff: i64,
) -> Result<Deleted> {
    let rows = conn
        .prepare_cached(&format!(
            "INSERT INTO doomed_occurrences (id)
             SELECT o.rowid FROM occurrences o JOIN events e ON e.id = o.event_id
             WHERE o.ts >= ?1 AND e.severity = ?3 AND {}
             ORDER BY o.ts LIMIT ?4",
            expiry::occurrence_expired("?2")
        ))?
        .execute(params![from, cutoff, severity, CHUNK as i64])?;
    let resume: Option<i64> = conn.query_row(
        "SELECT MAX(ts) FROM occurrences WHERE rowid IN (SELECT id FROM doomed_occurrences)",
        [],
        |r| r.get(0),
    )?;
    let clusters = tally(
        conn,
        "o.rowid IN (SELECT id FROM doomed_occurrences)",
        false,
    )?;
    subtract_occurrences(conn, "o.rowid IN (SELECT id FROM doomed_occurrences)")?;
    conn.execute_batch(
        "DELETE FROM occurrences WHERE rowid IN (SELECT id FROM doomed_occurrences);
         DELETE FROM doomed_occurrences;",
    )?;
    Ok(Deleted {
        rows: rows as u64,
        clusters,
        resume: resume.unwrap_or(from),
    })
}

/// What `apply_retention` would delete by age as of `now`, deleting nothing.
pub(crate) fn preview(
    conn: &Connection,
    policy: &RetentionPolicy,
    now: Timestamp,
) -> Result<RetentionReport> {
    let mut report = RetentionReport {
        dry_run: true,
        bytes_before: used_bytes(conn)?,
        ..RetentionReport::default()
    };
    let mut events = std::collections::BTreeMap::new();
    let mut stmt = conn.prepare(&expiry::preview_events_sql(policy, now))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (cluster, n): (String, i64) = (row.get(0)?, row.get(1)?);
        events.insert(cluster, u64::try_from(n).unwrap_or(0));
    }
    for (cluster, mut part) in
        tally_rows(conn, &expiry::preview_occurrences_sql(policy, now), false)?
    {
        part.events = events.remove(&cluster).unwrap_or(0);
        report.add(cluster, part);
    }
    report.bytes_after = report.bytes_before;
    Ok(report)
}

/// Per cluster, what goes of the occurrences matching `condition` (see `expiry::tally_sql`).
fn tally(
    conn: &Connection,
    condition: &str,
    count_events: bool,
) -> Result<Vec<(String, ClusterRetention)>> {
    tally_rows(
        conn,
        &expiry::tally_sql("occurrences", condition),
        count_events,
    )
}

fn tally_rows(
    conn: &Connection,
    sql: &str,
    count_events: bool,
) -> Result<Vec<(String, ClusterRetention)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let row = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        out.push(expiry::tally_row(row, count_events));
    }
    Ok(out)
}

/// When the used pages exceed `max_bytes`, deletes the events last seen longest ago: a share
/// of the `events` left proportional to the excess (pages free unevenly, so steps repeat).
/// `None` when the database already fits.
pub(crate) fn shrink(conn: &Connection, max_bytes: u64, events: u64) -> Result<Option<Deleted>> {
    let used = used_bytes(conn)?;
    if used <= max_bytes {
        return Ok(None);
    }
    let share = u128::from(events) * u128::from(used - max_bytes) / u128::from(used);
    let chunk = u64::try_from(share)
        .unwrap_or(u64::MAX)
        .clamp(64, 4 * CHUNK);
    conn.prepare_cached(
        "INSERT INTO doomed_events (id) SELECT id FROM events ORDER BY last_seen, id LIMIT ?1",
    )?
    .execute(params![chunk as i64])?;
    delete_doomed_events(conn).map(Some)
}

/// Forgets the node of pods none of whose events are kept any more.
pub(crate) fn forget_placements(conn: &Connection) -> Result<()> {
    conn.execute(
        "DELETE FROM placements WHERE NOT EXISTS (
             SELECT 1 FROM events e
             WHERE e.cluster = placements.cluster AND e.reg_namespace = placements.namespace
               AND e.reg_kind = 'Pod' AND e.reg_name = placements.pod)",
        [],
    )?;
    Ok(())
}

/// Returns free pages to the file system.
pub(crate) fn vacuum(conn: &Connection) -> Result<()> {
    // Each step of this pragma frees pages: it must run to completion.
    let mut stmt = conn.prepare("PRAGMA incremental_vacuum")?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Deletes the events listed in `doomed_events` with their occurrences, full-text rows and
/// rollup counts.
fn delete_doomed_events(conn: &Connection) -> Result<Deleted> {
    let rows: i64 = conn.query_row("SELECT count(*) FROM doomed_events", [], |r| r.get(0))?;
    if rows == 0 {
        return Ok(Deleted::default());
    }
    let clusters = tally(conn, "o.event_id IN (SELECT id FROM doomed_events)", true)?;
    subtract_occurrences(conn, "o.event_id IN (SELECT id FROM doomed_events)")?;
    conn.execute_batch(
        "INSERT INTO events_fts (events_fts, rowid, note)
             SELECT 'delete', id, note FROM events WHERE id IN (SELECT id FROM doomed_events);
         DELETE FROM occurrences WHERE event_id IN (SELECT id FROM doomed_events);
         DELETE FROM events WHERE id IN (SELECT id FROM doomed_events);
         DELETE FROM doomed_events;",
    )?;
    Ok(Deleted {
        rows: rows as u64,
        clusters,
        resume: 0,
    })
}

/// Deletes the records retention no longer keeps (see `crate::records`); returns (alerts,
/// silences, gaps) deleted.
pub(crate) fn expire_records(conn: &Connection, cutoff: i64) -> Result<(u64, u64, u64)> {
    use crate::records::{EXPIRE_ALERTS, EXPIRE_GAPS, EXPIRE_SILENCES, expire_deliveries_sql};
    conn.execute(&expire_deliveries_sql(), params![cutoff])?;
    let alerts = conn.execute(EXPIRE_ALERTS, params![cutoff])?;
    let silences = conn.execute(EXPIRE_SILENCES, params![cutoff])?;
    let gaps = conn.execute(EXPIRE_GAPS, params![cutoff])?;
    conn.execute(crate::quarantine::EXPIRE, params![cutoff])?;
    Ok((alerts as u64, silences as u64, gaps as u64))
}
