//! Sizes and counts of the database.

use rusqlite::Connection;

use super::filter::timestamp;
use crate::{Result, StoreStats};

/// Bytes of the database file: every page, used or free.
pub(crate) fn file_bytes(conn: &Connection) -> Result<u64> {
    let (pages, page_size) = pages(conn)?;
    Ok(pages.saturating_mul(page_size))
}

/// Bytes of the pages that hold data (free pages excluded): what retention by size limits.
pub(crate) fn used_bytes(conn: &Connection) -> Result<u64> {
    let (pages, page_size) = pages(conn)?;
    let free: u64 = conn.pragma_query_value(None, "freelist_count", |r| r.get::<_, i64>(0))? as u64;
    Ok(pages.saturating_sub(free).saturating_mul(page_size))
}

fn pages(conn: &Connection) -> Result<(u64, u64)> {
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    Ok((pages.max(0) as u64, page_size.max(0) as u64))
}

/// Counts events and occurrence units; the time range is that of the occurrences kept.
pub(crate) fn stats(conn: &Connection) -> Result<StoreStats> {
    let tx = conn.unchecked_transaction()?;
    let (events, occurrences, oldest, newest, quarantined, conflicts): (
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        i64,
        i64,
    ) = tx.query_row(
        "SELECT (SELECT count(*) FROM events),
                (SELECT COALESCE(SUM(count), 0) FROM occurrences),
                (SELECT MIN(ts) FROM occurrences),
                (SELECT MAX(ts) FROM occurrences),
                (SELECT count(*) FROM quarantine),
                (SELECT COALESCE(SUM(count), 0) FROM identity_conflicts)",
        [],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        },
    )?;
    let bytes = file_bytes(&tx)?;
    tx.commit()?;
    Ok(StoreStats {
        events: events.max(0) as u64,
        occurrences: occurrences.max(0) as u64,
        bytes,
        oldest: oldest.map(|t| timestamp(t, "ts")).transpose()?,
        newest: newest.map(|t| timestamp(t, "ts")).transpose()?,
        quarantined: quarantined.max(0) as u64,
        conflicts: conflicts.max(0) as u64,
    })
}
