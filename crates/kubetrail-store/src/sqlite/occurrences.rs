//! Events with their occurrences inside a time range: what analysis reads.
//!
//! Two steps: the range's occurrences through the `occurrences_ts` index, newest first, which
//! picks the events (newest latest occurrence first, up to the limit) and gives each its
//! occurrences inside the range; then each event's row, by id.
//!
//! The clusters of a filter with times are checked on each event, never used to pick them: the
//! index on `(cluster, uid)` would otherwise drive the read through every event the cluster ever
//! had, whatever the range (SQLite has no statistics to know that a cluster narrows little:
//! the incidents maintainer's read of six hours of a 1M-event store walked all 1M).

use std::collections::HashMap;

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
/// Two steps: the events with their occurrences in the read's order (newest latest occurrence
/// first, then newest row: [`scanned`]), then each event's row by id, in that order. One
/// statement joining the picked events to their rows had SQLite sort the whole result again
/// (`USE TEMP B-TREE FOR ORDER BY`: it does not know a materialized CTE keeps its order),
/// every row with all its columns in the sorter, which `temp_store = MEMORY` keeps in memory:
/// as much again as the events read at the read's peak (issue 14 §3: the import's pass).
///
/// With `over` [`Over::Nothing`], a read of more than `limit` events reads none of them
/// (`None`): known once the scan meets one event more, before any row is read.
pub(crate) fn occurrences<S: Shape>(
    conn: &Connection,
    f: &EventFilter,
    limit: usize,
    mut shape: S,
    over: Over,
) -> Result<Option<Vec<S::Item>>> {
    let read = statements(f, limit, shape.columns())?;
    let tx = conn.unchecked_transaction()?;
    let Some(picked) = scanned(&tx, &read, f, limit, over)? else {
        return Ok(None);
    };
    let mut out: Vec<S::Item> = Vec::with_capacity(picked.len());
    {
        let mut event = tx.prepare_cached(&read.event)?;
        for (id, found) in picked {
            let item = event
                .query_row([id], |row| Ok(shape.item(row, found)))
                .optional()?
                .transpose()?;
            out.extend(item);
        }
    }
    tx.commit()?;
    Ok(Some(out))
}

/// An event picked by id, with its occurrences in the range (oldest first).
type Picked = (i64, Vec<Occurrence>);

/// The events `read` scans, in the read's order (newest latest occurrence first, then newest
/// row), each with its occurrences in the range (oldest first; at the same time in the order
/// of their rows); at most `limit` (0: no limit), the latest. `None` when `over` is
/// [`Over::Nothing`] and more than `limit` match: the scan stops at the first event over it.
///
/// One pass over the range's occurrences, newest first: an event is met first at its latest
/// occurrence, so once `limit` are held, one met later is not among the latest (unless its
/// latest occurrence ties the last held one: ties go to the newest row) and is passed over.
/// Before, the events' ids were picked by one statement (SQLite grouping and sorting the
/// range's occurrences in two temporary B-trees) and each event's occurrences read again by
/// one more statement per event (issue 14 §1: the import's pass).
fn scanned(
    conn: &Connection,
    read: &Statements,
    f: &EventFilter,
    limit: usize,
    over: Over,
) -> Result<Option<Vec<Picked>>> {
    let mut stmt = conn.prepare_cached(&read.scan)?;
    let mut rows = stmt
        .query(params_from_iter(read.scan_params.iter()))
        .map_err(|e| search_error(e, f))?;
    // Each event met: its id, its latest occurrence (micros) and its occurrences, newest
    // first; `at` finds it by id.
    let mut events: Vec<(i64, i64, Vec<Occurrence>)> = Vec::new();
    let mut at: HashMap<i64, usize, foldhash::fast::RandomState> = HashMap::default();
    while let Some(row) = rows.next().map_err(|e| search_error(e, f))? {
        let (id, ts): (i64, i64) = (row.get(0)?, row.get(1)?);
        let occurrence = Occurrence {
            at: timestamp(ts, "ts")?,
            count: row.count(2)?,
        };
        if let Some(&n) = at.get(&id) {
            events[n].2.push(occurrence);
            continue;
        }
        if limit > 0 && events.len() >= limit {
            if over == Over::Nothing {
                return Ok(None);
            }
            if ts < events[limit - 1].1 {
                continue;
            }
        }
        at.insert(id, events.len());
        events.push((id, ts, vec![occurrence]));
    }
    drop(at);
    // Ties of the latest occurrence: newest row first.
    events.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    if limit > 0 {
        events.truncate(limit);
    }
    Ok(Some(
        events
            .into_iter()
            .map(|(id, _, mut found)| {
                found.reverse();
                found.shrink_to_fit();
                (id, found)
            })
            .collect(),
    ))
}

/// The ids of the events [`occurrences`] reads (`over` [`Over::Latest`]), in its order: the
/// first step of a read in pages ([`occurrences_of`] reads each page).
pub(crate) fn occurrence_ids(conn: &Connection, f: &EventFilter, limit: usize) -> Result<Vec<i64>> {
    let read = statements(f, limit, crate::rows::EVENT_COLUMNS)?;
    picked(conn, &read, f, limit)
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

/// The ids `read` picks, in its order (at most `limit`, the latest; 0: all): only the ids,
/// sorted by SQLite, for a read in pages (whose events are then read a page at a time).
fn picked(conn: &Connection, read: &Statements, f: &EventFilter, limit: usize) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(&read.picked)?;
    let mut rows = stmt
        .query(params_from_iter(read.picked_params.iter()))
        .map_err(|e| search_error(e, f))?;
    let mut ids: Vec<i64> = Vec::new();
    while let Some(row) = rows.next().map_err(|e| search_error(e, f))? {
        if ids.is_empty() {
            ids.reserve_exact(events_of(row.get(1)?, limit));
        }
        ids.push(row.get(0)?);
    }
    Ok(ids)
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

/// The statements [`occurrences`] and the reads in pages run, and their parameters.
struct Statements {
    /// The range's occurrences of the events matching (event id, time, count), newest
    /// first, then newest row ([`scanned`]).
    scan: String,
    scan_params: Vec<Value>,
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
    let scan_params = picked.params.clone();
    let mut picked_params = picked.params;
    picked_params.push(Value::Integer(limit));
    Ok(Statements {
        scan: format!(
            "SELECT o.event_id, o.ts, o.count
             FROM occurrences o JOIN events e ON e.id = o.event_id{}
             ORDER BY o.ts DESC, o.rowid DESC",
            picked.sql
        ),
        scan_params,
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
    use proptest::prelude::*;

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
    /// pass over a 1M store spent all its time there). The range's occurrences drive it now,
    /// for the ids of a read in pages and for the scan of a read at once; the scan, newest
    /// first, in the index's order: no temporary B-tree groups or sorts its occurrences.
    #[test]
    fn a_window_of_one_cluster_is_read_from_the_occurrences_of_the_window() {
        let (_dir, conn, f) = window_of_one_cluster();
        let read = statements(&f, 50_001, crate::rows::ANALYSIS_COLUMNS).expect("sql");
        for (sql, params) in [
            (&read.picked, &read.picked_params),
            (&read.scan, &read.scan_params),
        ] {
            let plan = plan(&conn, sql, params);
            assert!(plan.contains("INDEX occurrences_ts"), "{plan}");
            assert!(!plan.contains("sqlite_autoindex_events_1"), "{plan}");
        }
        let scan = plan(&conn, &read.scan, &read.scan_params);
        assert!(!scan.contains("TEMP B-TREE"), "{scan}");
    }

    /// Events of two clusters with occurrences at few distinct times (ties of the latest
    /// occurrence, several occurrences at one time), some outside the window.
    fn random_store() -> impl Strategy<Value = (Vec<bool>, Vec<(usize, i64)>)> {
        (1usize..10).prop_flat_map(|n| {
            (
                proptest::collection::vec(any::<bool>(), n),
                proptest::collection::vec((0..n, 0i64..8), 0..30),
            )
        })
    }

    proptest! {
        /// The scan picks and orders the events as SQLite's grouping and sorting did (the
        /// latest occurrence, newest first, then the newest row; at most the limit, the
        /// latest), each with the occurrences one statement per event read (oldest first,
        /// at the same time in row order); over the limit, nothing when asked.
        #[test]
        fn the_scan_reads_what_the_grouped_pick_and_a_read_per_event_read(
            (clusters, occurrences) in random_store(),
            limit in 0usize..12,
        ) {
            let (_dir, conn, mut f) = window_of_one_cluster();
            let minute = 60_000_000;
            let t0 = micros(f.since.expect("since")) - minute;
            f.until = Some(timestamp(t0 + 6 * minute, "ts").expect("until"));
            for (n, prod) in clusters.iter().enumerate() {
                conn.execute(
                    "INSERT INTO events (id, cluster, uid, namespace, name, reg_api_version,
                     reg_kind, reg_namespace, reg_name, reg_uid, reg_field_path, reason, note,
                     type, action, reporting_controller, reporting_instance, first_seen,
                     last_seen, count, resource_version, category, severity, correlation_id,
                     template) VALUES (?1, ?2, ?3, '', '', '', '', '', '', '', '', '', '', '',
                     '', '', '', 0, 0, 1, '', '', '', '', '')",
                    rusqlite::params![n as i64 + 1, if *prod { "prod" } else { "dev" }, format!("u{n}")],
                )
                .expect("an event");
            }
            for (k, (event, minutes)) in occurrences.iter().enumerate() {
                conn.execute(
                    "INSERT INTO occurrences (event_id, ts, count) VALUES (?1, ?2, ?3)",
                    rusqlite::params![*event as i64 + 1, t0 + minutes * minute, k as i64 + 1],
                )
                .expect("an occurrence");
            }
            let read = statements(&f, limit, crate::rows::ANALYSIS_COLUMNS).expect("sql");
            let ids = picked(&conn, &read, &f, limit).expect("picked");
            let mut expected: Vec<Picked> = Vec::new();
            for &id in &ids {
                let mut params = read.range_params.clone();
                params.push(Value::Integer(id));
                let mut stmt = conn.prepare(&read.occurrences).expect("statement");
                let mut found: Vec<Occurrence> = stmt
                    .query_map(params_from_iter(params.iter()), |r| {
                        Ok(Occurrence {
                            at: timestamp(r.get(0)?, "ts").expect("ts"),
                            count: u64::try_from(r.get::<_, i64>(1)?).expect("count"),
                        })
                    })
                    .expect("occurrences")
                    .collect::<rusqlite::Result<_>>()
                    .expect("occurrences");
                found.sort_by_key(|o| o.at);
                expected.push((id, found));
            }
            let got = scanned(&conn, &read, &f, limit, Over::Latest).expect("scanned");
            prop_assert_eq!(got.as_ref(), Some(&expected));
            let every = statements(&f, 0, crate::rows::ANALYSIS_COLUMNS).expect("sql");
            let all = picked(&conn, &every, &f, 0).expect("picked").len();
            let over = scanned(&conn, &read, &f, limit, Over::Nothing).expect("scanned");
            if limit > 0 && all > limit {
                prop_assert_eq!(over, None);
            } else {
                prop_assert_eq!(over, Some(expected));
            }
        }
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
