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

use kubetrail_model::{EventFilter, EventOccurrences, Occurrence};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::filter::{Sqlite, Table, Where, micros, search_error, timestamp};
use crate::rows::{EVENT_COLUMN_COUNT as TS, stored_event};
use crate::where_clause::Dialect;
use crate::{Error, Result};

/// The events of `f` with their occurrences in its range, each row read from `columns`
/// ([`EVENT_COLUMNS`](crate::rows::EVENT_COLUMNS), or the analysis' fewer). The result is
/// sized from the count of events the statement gives with its first row: grown by doubling,
/// its largest growth held the old and the new buffer at once, ~1.5 KB per event of a read of
/// 50,000 (issue 14 §1/§2).
///
/// With `over` [`Over::Nothing`], a read of more than `limit` events reads none of them
/// (`None`): the count comes with the first row, before any event is decoded.
pub(crate) fn occurrences(
    conn: &Connection,
    f: &EventFilter,
    limit: usize,
    columns: &str,
    over: Over,
) -> Result<Option<Vec<EventOccurrences>>> {
    let (sql, params) = statement(f, limit, columns)?;
    let tx = conn.unchecked_transaction()?;
    let mut out: Vec<EventOccurrences> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt
            .query(params_from_iter(params.iter()))
            .map_err(|e| search_error(e, f))?;
        let mut current: Option<i64> = None;
        while let Some(row) = rows.next().map_err(|e| search_error(e, f))? {
            if current.is_none() {
                let picked: i64 = row.get(TS + 2)?;
                if over == Over::Nothing && limit > 0 && events_of(picked, 0) > limit {
                    return Ok(None);
                }
                out.reserve_exact(events_of(picked, limit));
            }
            let id: i64 = row.get(0)?;
            let count: i64 = row.get(TS + 1)?;
            let occurrence = Occurrence {
                at: timestamp(row.get(TS)?, "ts")?,
                count: u64::try_from(count).map_err(|_| Error::Corrupt {
                    column: "count",
                    value: count.to_string(),
                })?,
            };
            match out.last_mut() {
                Some(last) if current == Some(id) => last.occurrences.push(occurrence),
                _ => {
                    current = Some(id);
                    out.push(EventOccurrences {
                        event: stored_event(row)?.event,
                        occurrences: vec![occurrence],
                    });
                }
            }
        }
    }
    tx.commit()?;
    Ok(Some(out))
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

/// The statement [`occurrences`] runs, and its parameters: the columns, each occurrence's time
/// and count, and the number of events picked before the limit.
fn statement(f: &EventFilter, limit: usize, columns: &str) -> Result<(String, Vec<Value>)> {
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
    let mut range = Where::new();
    if let Some(since) = f.since {
        picked.and("o.ts >= ?", [Value::Integer(micros(since))]);
        range.and("o.ts >= ?", [Value::Integer(micros(since))]);
    }
    if let Some(until) = f.until {
        picked.and("o.ts < ?", [Value::Integer(micros(until))]);
        range.and("o.ts < ?", [Value::Integer(micros(until))]);
    }
    let limit = if limit == 0 {
        -1
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    };
    let sql = format!(
        "WITH picked AS (
            SELECT o.event_id AS id, MAX(o.ts) AS latest, COUNT(*) OVER () AS picked
            FROM occurrences o JOIN events e ON e.id = o.event_id{}
            GROUP BY o.event_id
            ORDER BY latest DESC, id DESC
            LIMIT ?)
         SELECT {columns}, o.ts, o.count, p.picked
         FROM picked p JOIN events e ON e.id = p.id JOIN occurrences o ON o.event_id = p.id{}
         ORDER BY p.latest DESC, p.id DESC, o.ts",
        picked.sql, range.sql
    );
    let mut params = picked.params;
    params.push(Value::Integer(limit));
    params.extend(range.params);
    Ok((sql, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14 §1: with a cluster and a range, the events were picked through the index on
    /// `(cluster, uid)`: every event of the cluster, whatever the range (the first maintenance
    /// pass over a 1M store spent all its time there). The range's occurrences drive it now.
    #[test]
    fn a_window_of_one_cluster_is_read_from_the_occurrences_of_the_window() {
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
        let (sql, params) = statement(&f, 50_001, crate::rows::ANALYSIS_COLUMNS).expect("sql");
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan");
        let plan: Vec<String> = stmt
            .query_map(params_from_iter(params.iter()), |r| r.get(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("plan");
        let plan = plan.join("; ");
        assert!(plan.contains("INDEX occurrences_ts"), "{plan}");
        assert!(!plan.contains("sqlite_autoindex_events_1"), "{plan}");
    }
}
