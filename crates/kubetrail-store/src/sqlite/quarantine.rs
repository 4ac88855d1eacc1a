//! The quarantine table (see `crate::quarantine`): refused events written, and read back.

use rusqlite::{Connection, params};

use crate::quarantine::{INSERT, NEWEST, Row, read};
use crate::{Quarantined, Result};

/// Inserts quarantine rows in the open transaction.
pub(crate) fn save(conn: &Connection, rows: &[Row]) -> Result<()> {
    let mut stmt = conn.prepare_cached(INSERT)?;
    for r in rows {
        stmt.execute(params![r.at, r.source, r.cluster, r.uid, r.error, r.event])?;
    }
    Ok(())
}

/// The newest quarantined events, at most `limit`.
pub(crate) fn newest(conn: &Connection, limit: usize) -> Result<Vec<Quarantined>> {
    let mut stmt = conn.prepare_cached(NEWEST)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at, source, error, event) = row?;
        out.push(read(at, source, error, &event)?);
    }
    Ok(out)
}
