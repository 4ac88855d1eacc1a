//! Watch cursors: where each stream stopped, saved in the transaction of the batch it covers.

use rusqlite::{Connection, OptionalExtension, params};

use super::filter::{micros, timestamp};
use crate::{Result, WatchCursor};

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
