//! Events with their occurrences inside a time range: what analysis reads.
//!
//! Two steps in one statement: pick the events with an occurrence in the range (newest latest
//! occurrence first, up to the limit) through the `occurrences_ts` index, then read back those
//! events and only their occurrences inside the range.
//!
//! The clusters of a filter with times are checked on each event, never used to pick them: the
//! index on `(cluster, uid)` would otherwise drive the read through every event the cluster ever
//! had, whatever the range (SQLite has no statistics to know that a cluster narrows little:
//! the incidents maintainer's read of six hours of a 1M-event store walked all 1M).

use kubetrail_model::{EventFilter, Occurrence};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::filter::{Sqlite, Table, Where, micros, search_error, timestamp};
use crate::Result;
use crate::rows::{RowLike, Shape};
use crate::where_clause::Dialect;

/// The events of `f` with their occurrences in its range, each row read as `shape` says
/// (whole, or what analysis reads). The result is
/// sized from the count of events picked: grown by doubling, its largest growth held the old
/// and the new buffer at once, ~1.5 KB per event of a read of 50,000 (issue 14 §1/§2).
///
/// Two steps: the events' ids in the read's order (newest latest occurrence first, then newest
/// row), then each event's row and its occurrences in the range, in that order. One statement
/// joining the picked ids to their rows had SQLite sort the whole result again (`USE TEMP
/// B-TREE FOR ORDER BY`: it does not know a materialized CTE keeps its order), every row with
/// all its columns in the sorter, which `temp_store = MEMORY` keeps in memory: as much again
/// as the events read at the read's peak (issue 14 §3: the import's pass).
///
/// With `over` [`Over::Nothing`], a read of more than `limit` events reads none of them
/// (`None`): the count comes with the ids, before any event is read.
pub(crate) fn occurrences<S: Shape>(
    conn: &Connection,
    f: &EventFilter,
    limit: usize,
    shape: S,
    over: Over,
) -> Result<Option<Vec<S::Item>>> {
    let read = statements(f, limit, shape.columns())?;
    let tx = conn.unchecked_transaction()?;
    let Some(ids) = picked(&tx, &read, f, limit, over)? else {
        return Ok(None);
    };
    let out = read_picked(&tx, &read, &ids, shape)?;
    tx.commit()?;
    Ok(Some(out))
}

/// The ids of the events [`occurrences`] reads (`over` [`Over::Latest`]), in its order: the
/// first step of a read in pages ([`occurrences_of`] reads each page).
pub(crate) fn occurrence_ids(conn: &Connection, f: &EventFilter, limit: usize) -> Result<Vec<i64>> {
    let read = statements(f, limit, crate::rows::EVENT_COLUMNS)?;
    Ok(picked(conn, &read, f, limit, Over::Latest)?.unwrap_or_default())
}

/// The events of `ids` (in that order, those no longer stored left out), each row read as
/// `shape` says, with their occurrences in `f`'s range: one page of a read in pages.
pub(crate) fn occurrences_of<S: Shape>(
    conn: &Connection,
    f: &EventFilter,
    ids: &[i64],
    shape: S,
) -> Result<Vec<S::Item>> {
    let read = statements(f, 0, shape.columns())?;
    let tx = conn.unchecked_transaction()?;
    let out = read_picked(&tx, &read, ids, shape)?;
    tx.commit()?;
    Ok(out)
}

/// The ids `read` picks, in its order; `None` when `over` is [`Over::Nothing`] and more than
/// `limit` events match.
fn picked(
    conn: &Connection,
    read: &Statements,
    f: &EventFilter,
    limit: usize,
    over: Over,
) -> Result<Option<Vec<i64>>> {
    let mut stmt = conn.prepare_cached(&read.picked)?;
    let mut rows = stmt
        .query(params_from_iter(read.picked_params.iter()))
        .map_err(|e| search_error(e, f))?;
    let mut ids: Vec<i64> = Vec::new();
    while let Some(row) = rows.next().map_err(|e| search_error(e, f))? {
        if ids.is_empty() {
            let picked: i64 = row.get(1)?;
            if over == Over::Nothing && limit > 0 && events_of(picked, 0) > limit {
                return Ok(None);
            }
            ids.reserve_exact(events_of(picked, limit));
        }
        ids.push(row.get(0)?);
    }
    Ok(Some(ids))
}

/// Each event of `ids` (in that order; one no longer stored, or with no occurrence in the
/// range, is left out) with its occurrences in the range, oldest first, as `shape` reads it.
fn read_picked<S: Shape>(
    conn: &Connection,
    read: &Statements,
    ids: &[i64],
    mut shape: S,
) -> Result<Vec<S::Item>> {
    let mut out: Vec<S::Item> = Vec::with_capacity(ids.len());
    let mut event = conn.prepare_cached(&read.event)?;
    let mut occurrences = conn.prepare_cached(&read.occurrences)?;
    let mut params: Vec<Value> = Vec::with_capacity(1 + read.range_params.len());
    for &id in ids {
        params.clear();
        params.extend(read.range_params.iter().cloned());
        params.push(Value::Integer(id));
        let mut found: Vec<Occurrence> = Vec::new();
        let mut rows = occurrences.query(params_from_iter(params.iter()))?;
        while let Some(row) = rows.next()? {
            found.push(Occurrence {
                at: timestamp(row.get(0)?, "ts")?,
                count: row.count(1)?,
            });
        }
        if found.is_empty() {
            continue;
        }
        // Oldest first; occurrences at the same time in the order of their rows, as the
        // index gives them.
        found.sort_by_key(|o| o.at);
        found.shrink_to_fit();
        let item = event
            .query_row([id], |row| Ok(shape.item(row, found)))
            .optional()?
            .transpose()?;
        out.extend(item);
    }
    Ok(out)
}

/// What a read of more events than its limit gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    /// The latest `limit` of them.
    Latest,
    /// None of them.
    Nothing,
}

/// The events a read gives: those picked (`picked`, counted before the limit), at most
/// `limit` (0: no limit).
pub(crate) fn events_of(picked: i64, limit: usize) -> usize {
    let picked = usize::try_from(picked).unwrap_or(0);
    match limit {
        0 => picked,
        _ => picked.min(limit),
    }
}

/// The statements [`occurrences`] runs, and their parameters.
struct Statements {
    /// The ids of the events picked, in the read's order, each with the number of events
    /// picked before the limit.
    picked: String,
    picked_params: Vec<Value>,
    /// One event's row (`columns`), by id.
    event: String,
    /// One event's occurrences in the range (time, count): the range's bounds
    /// (`range_params`), then the event's id.
    occurrences: String,
    range_params: Vec<Value>,
}

/// The statements of a read of `f`'s events (at most `limit`, 0: no limit), their rows read
/// from `columns`.
fn statements(f: &EventFilter, limit: usize, columns: &str) -> Result<Statements> {
    let mut picked = Where::new();
    let timed = f.since.is_some() || f.until.is_some();
    if timed && !f.clusters.is_empty() {
        let others = EventFilter {
            clusters: Vec::new(),
            ..f.clone()
        };
        picked.filter(&others, Table::Events)?;
        // `+` keeps the term from choosing an index (SQLite's documented way).
        Sqlite::any_of(
            &mut picked,
            "+e.cluster",
            f.clusters.iter().map(String::as_str).collect(),
        );
    } else {
        picked.filter(f, Table::Events)?;
    }
    // An event's occurrences are found by its id (`occurrences_event`); `+` keeps the range
    // from choosing `occurrences_ts` instead.
    let mut range = Where::new();
    if let Some(since) = f.since {
        picked.and("o.ts >= ?", [Value::Integer(micros(since))]);
        range.and("+o.ts >= ?", [Value::Integer(micros(since))]);
    }
    if let Some(until) = f.until {
        picked.and("o.ts < ?", [Value::Integer(micros(until))]);
        range.and("+o.ts < ?", [Value::Integer(micros(until))]);
    }
    let limit = if limit == 0 {
        -1
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    };
    let mut picked_params = picked.params;
    picked_params.push(Value::Integer(limit));
    Ok(Statements {
        picked: format!(
            "SELECT o.event_id AS id, COUNT(*) OVER () AS picked
             FROM occurrences o JOIN events e ON e.id = o.event_id{}
             GROUP BY o.event_id
             ORDER BY MAX(o.ts) DESC, id DESC
             LIMIT ?",
            picked.sql
        ),
        picked_params,
        event: format!("SELECT {columns} FROM events e WHERE e.id = ?"),
        occurrences: format!(
            "SELECT o.ts, o.count FROM occurrences o{} AND o.event_id = ?",
            range.sql
        ),
        range_params: range.params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str, params: &[Value]) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan");
        let plan: Vec<String> = stmt
            .query_map(params_from_iter(params.iter()), |r| r.get(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("plan");
        plan.join("; ")
    }

    fn window_of_one_cluster() -> (tempfile::TempDir, Connection, EventFilter) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path().join("kubetrail.db")).expect("store");
        drop(store);
        let conn = Connection::open(dir.path().join("kubetrail.db")).expect("open");
        let f = EventFilter {
            clusters: vec!["prod".into()],
            since: Some("2025-01-01T00:00:00Z".parse().expect("time")),
            until: Some("2025-01-01T06:00:00Z".parse().expect("time")),
            ..EventFilter::default()
        };
        (dir, conn, f)
    }

    /// Issue 14 §1: with a cluster and a range, the events were picked through the index on
    /// `(cluster, uid)`: every event of the cluster, whatever the range (the first maintenance
    /// pass over a 1M store spent all its time there). The range's occurrences drive it now.
    #[test]
    fn a_window_of_one_cluster_is_read_from_the_occurrences_of_the_window() {
        let (_dir, conn, f) = window_of_one_cluster();
        let read = statements(&f, 50_001, crate::rows::ANALYSIS_COLUMNS).expect("sql");
        let plan = plan(&conn, &read.picked, &read.picked_params);
        assert!(plan.contains("INDEX occurrences_ts"), "{plan}");
        assert!(!plan.contains("sqlite_autoindex_events_1"), "{plan}");
    }

    /// Issue 14 §3: the picked events were joined to their rows in one statement, and SQLite
    /// sorted the whole result again, every row with all its columns, in memory (`temp_store
    /// = MEMORY`): as much again as the events read at the import pass's peak. The rows are
    /// now read by id in the picked order: no statement that reads a row sorts.
    #[test]
    fn the_rows_of_a_read_are_read_in_the_picked_order_without_sorting_them() {
        let (_dir, conn, f) = window_of_one_cluster();
        let read = statements(&f, 50_001, crate::rows::ANALYSIS_COLUMNS).expect("sql");
        let event = plan(&conn, &read.event, &[Value::Integer(1)]);
        assert!(!event.contains("TEMP B-TREE"), "{event}");
        assert!(event.contains("INTEGER PRIMARY KEY"), "{event}");
        let mut params = read.range_params.clone();
        params.push(Value::Integer(1));
        let occurrences = plan(&conn, &read.occurrences, &params);
        assert!(!occurrences.contains("TEMP B-TREE"), "{occurrences}");
        assert!(
            occurrences.contains("INDEX occurrences_event"),
            "{occurrences}"
        );
        // The ids are sorted alone: their rows carry no column of the events.
        let picked = plan(&conn, &read.picked, &read.picked_params);
        assert!(
            !read.picked.contains(crate::rows::ANALYSIS_COLUMNS),
            "{picked}"
        );
    }
}
