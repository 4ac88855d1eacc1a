//! Reading events back: filters, time overlap, keyset paging, full reconstruction.

use kubetrail_model::EventFilter;
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::filter::{Table, Where, micros, search_error};
use super::search;
use crate::rows::{EVENT_COLUMNS as COLUMNS, stored_event};
use crate::{Page, Result, StoredEvent};

/// Events matching `f` whose `[first_seen, last_seen]` overlaps `[since, until)`, newest first,
/// strictly after `page.after`. A search for a common word walks the window instead of the
/// full-text index (`search`: same results).
pub(crate) fn query(conn: &Connection, f: &EventFilter, page: &Page) -> Result<Vec<StoredEvent>> {
    match search::time_first(conn, f, page)? {
        Some(events) => Ok(events),
        None => index_first(conn, f, page),
    }
}

/// [`query`] as one statement; with a search, the matching notes are read from the full-text
/// index first.
pub(crate) fn index_first(
    conn: &Connection,
    f: &EventFilter,
    page: &Page,
) -> Result<Vec<StoredEvent>> {
    let (sql, params) = select(f, page)?;
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt
        .query(params_from_iter(params.iter()))
        .map_err(|e| search_error(e, f))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| search_error(e, f))? {
        out.push(stored_event(row)?);
    }
    Ok(out)
}

/// The statement of [`index_first`] and its parameters.
fn select(f: &EventFilter, page: &Page) -> Result<(String, Vec<Value>)> {
    let mut w = conditions(f, page)?;
    let mut sql = format!(
        "SELECT {COLUMNS} FROM events e{} ORDER BY e.last_seen DESC, e.id DESC",
        w.sql
    );
    if page.limit > 0 {
        sql.push_str(" LIMIT ?");
        w.params.push(Value::Integer(
            i64::try_from(page.limit).unwrap_or(i64::MAX),
        ));
    }
    Ok((sql, w.params))
}

/// What [`query`] selects: the filter, the window and the page's keyset.
pub(crate) fn conditions(f: &EventFilter, page: &Page) -> Result<Where> {
    let mut w = listed(f, page)?;
    if let Some(since) = f.since {
        w.and("e.last_seen >= ?", [Value::Integer(micros(since))]);
    }
    if let Some(until) = f.until {
        w.and("e.first_seen < ?", [Value::Integer(micros(until))]);
    }
    Ok(w)
}

/// [`conditions`] but the window: the filter's lists and search, and the page's keyset.
pub(crate) fn listed(f: &EventFilter, page: &Page) -> Result<Where> {
    let mut w = Where::new();
    w.filter(f, Table::Events)?;
    if let Some((last_seen, id)) = page.after {
        let t = micros(last_seen);
        w.and(
            "(e.last_seen < ? OR (e.last_seen = ? AND e.id < ?))",
            [Value::Integer(t), Value::Integer(t), Value::Integer(id)],
        );
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SQLite plans for `f` on a fresh store: the details of `EXPLAIN QUERY PLAN`.
    fn plan(f: &EventFilter) -> String {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path().join("plan.db")).unwrap();
        drop(store);
        let conn = Connection::open(dir.path().join("plan.db")).unwrap();
        let (sql, params) = select(f, &Page::default()).unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let details: Vec<String> = stmt
            .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        details.join("; ")
    }

    #[test]
    fn an_objects_history_is_read_from_its_index_newest_first() {
        let p = plan(&EventFilter {
            namespaces: vec!["shop".into()],
            kinds: vec!["Pod".into()],
            names: vec!["web-1".into()],
            ..EventFilter::default()
        });
        assert!(p.contains("events_object"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "no sort of the matches: {p}");
    }
}
