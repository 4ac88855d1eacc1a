//! Silences: matchers on alert labels and the time they are in force.

use kubetrail_model::Timestamp;
use rusqlite::{Connection, params};

use super::filter::micros;
use crate::rows::{SELECT_SILENCES as COLUMNS, silence};
use crate::{Error, Result, Silence};

/// Inserts a new silence (`id` 0) or replaces a saved one (e.g. to expire it early).
pub(crate) fn save(conn: &Connection, s: &Silence, now: Timestamp) -> Result<i64> {
    let matchers = serde_json::to_string(&s.matchers).map_err(|source| Error::Json {
        column: "matchers",
        source,
    })?;
    if s.id == 0 {
        conn.prepare_cached(
            "INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            matchers,
            micros(s.starts_at),
            micros(s.ends_at),
            s.created_by,
            s.comment,
            micros(now)
        ])?;
        return Ok(conn.last_insert_rowid());
    }
    let changed = conn
        .prepare_cached(
            "UPDATE silences SET matchers = ?2, starts_at = ?3, ends_at = ?4, created_by = ?5,
                comment = ?6 WHERE id = ?1",
        )?
        .execute(params![
            s.id,
            matchers,
            micros(s.starts_at),
            micros(s.ends_at),
            s.created_by,
            s.comment
        ])?;
    if changed == 0 {
        return Err(Error::NotFound {
            what: "silence",
            id: s.id,
        });
    }
    Ok(s.id)
}

/// Every silence (`active_at` `None`), or those in force at a time; newest first.
pub(crate) fn load(conn: &Connection, active_at: Option<Timestamp>) -> Result<Vec<Silence>> {
    let rows_of = |sql: &str, at: Option<i64>| -> Result<Vec<Silence>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = match at {
            Some(t) => stmt.query(params![t])?,
            None => stmt.query([])?,
        };
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(silence(row)?);
        }
        Ok(out)
    };
    match active_at {
        Some(t) => rows_of(
            &format!("{COLUMNS} WHERE starts_at <= ?1 AND ends_at > ?1 ORDER BY id DESC"),
            Some(micros(t)),
        ),
        None => rows_of(&format!("{COLUMNS} ORDER BY id DESC"), None),
    }
}
