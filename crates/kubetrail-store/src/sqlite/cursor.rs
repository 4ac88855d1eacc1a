//! Watch cursors: where each stream stopped, saved in the transaction of the batch it covers;
//! and gap markers: when a stream may have missed events.

use kubetrail_model::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::filter::{micros, timestamp};
use crate::{Gap, Result, WatchCursor};

pub(crate) fn save_gap(conn: &Connection, g: &Gap) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO gaps (cluster, stream, started_at, ended_at, cause) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        g.cluster,
        g.stream,
        micros(g.from),
        micros(g.to),
        g.cause
    ])?;
    Ok(())
}

/// Gaps overlapping `[since, until)`, oldest first.
pub(crate) fn load_gaps(
    conn: &Connection,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<Vec<Gap>> {
    let mut stmt = conn.prepare_cached(
        "SELECT cluster, stream, started_at, ended_at, cause FROM gaps
         WHERE ended_at >= ?1 AND started_at < ?2 ORDER BY started_at, id",
    )?;
    let lo = since.map(micros).unwrap_or(i64::MIN);
    let hi = until.map(micros).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![lo, hi], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (cluster, stream, from, to, cause) = row?;
        out.push(Gap {
            cluster,
            stream,
            from: timestamp(from, "started_at")?,
            to: timestamp(to, "ended_at")?,
            cause,
        });
    }
    Ok(out)
}

pub(crate) fn save(conn: &Connection, c: &WatchCursor) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO cursors (cluster, stream, resource_version, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (cluster, stream) DO UPDATE
         SET resource_version = excluded.resource_version, updated_at = excluded.updated_at",
    )?
    .execute(params![
        c.cluster,
        c.stream,
        c.resource_version,
        micros(c.updated_at)
    ])?;
    Ok(())
}

pub(crate) fn load(conn: &Connection, cluster: &str, stream: &str) -> Result<Option<WatchCursor>> {
    let row = conn
        .prepare_cached(
            "SELECT resource_version, updated_at FROM cursors WHERE cluster = ?1 AND stream = ?2",
        )?
        .query_row(params![cluster, stream], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?;
    row.map(|(resource_version, updated_at)| {
        Ok(WatchCursor {
            cluster: cluster.to_owned(),
            stream: stream.to_owned(),
            resource_version,
            updated_at: timestamp(updated_at, "updated_at")?,
        })
    })
    .transpose()
}
