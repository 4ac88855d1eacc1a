//! Reading events back: filters, time overlap, keyset paging, full reconstruction.

use std::collections::BTreeMap;

use kubetrail_model::{Category, Event, EventFilter, ObjectRef, Owner, Severity};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use super::filter::{Table, Where, micros, search_error, timestamp};
use super::search;
use crate::{Error, Page, Result, StoredEvent};

pub(crate) const COLUMNS: &str =
    "e.id, e.cluster, e.uid, e.namespace, e.name, e.reg_api_version, e.reg_kind,
    e.reg_namespace, e.reg_name, e.reg_uid, e.reg_field_path, e.related, e.reason, e.note, e.type,
    e.action, e.reporting_controller, e.reporting_instance, e.first_seen, e.last_seen, e.count,
    e.resource_version, e.category, e.severity, e.correlation_id, e.owner_kind, e.owner_name,
    e.node, e.template, e.labels";

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

fn text(row: &Row<'_>, i: usize) -> Result<String> {
    Ok(row.get(i)?)
}

fn json<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    i: usize,
    column: &'static str,
) -> Result<Option<T>> {
    let Some(s) = row
        .get_ref(i)?
        .as_str_or_null()
        .map_err(rusqlite::Error::from)?
    else {
        return Ok(None);
    };
    serde_json::from_str(s)
        .map(Some)
        .map_err(|source| Error::Json { column, source })
}

pub(crate) fn stored_event(row: &Row<'_>) -> Result<StoredEvent> {
    let category = row.get_ref(22)?.as_str().map_err(rusqlite::Error::from)?;
    let category: Category = category.parse().map_err(|_| Error::Corrupt {
        column: "category",
        value: category.to_owned(),
    })?;
    let severity = row.get_ref(23)?.as_str().map_err(rusqlite::Error::from)?;
    let severity: Severity = severity.parse().map_err(|_| Error::Corrupt {
        column: "severity",
        value: severity.to_owned(),
    })?;
    let owner = match (
        row.get::<_, Option<String>>(25)?,
        row.get::<_, Option<String>>(26)?,
    ) {
        (Some(kind), Some(name)) => Some(Owner { kind, name }),
        _ => None,
    };
    let count: i64 = row.get(20)?;
    let event = Event {
        cluster: text(row, 1)?,
        uid: text(row, 2)?,
        namespace: text(row, 3)?,
        name: text(row, 4)?,
        regarding: ObjectRef {
            api_version: text(row, 5)?,
            kind: text(row, 6)?,
            namespace: text(row, 7)?,
            name: text(row, 8)?,
            uid: text(row, 9)?,
            field_path: text(row, 10)?,
        },
        related: json(row, 11, "related")?,
        reason: text(row, 12)?,
        note: text(row, 13)?,
        type_: text(row, 14)?,
        action: text(row, 15)?,
        reporting_controller: text(row, 16)?,
        reporting_instance: text(row, 17)?,
        first_seen: timestamp(row.get(18)?, "first_seen")?,
        last_seen: timestamp(row.get(19)?, "last_seen")?,
        count: u64::try_from(count).map_err(|_| Error::Corrupt {
            column: "count",
            value: count.to_string(),
        })?,
        resource_version: text(row, 21)?,
        category,
        severity,
        correlation_id: text(row, 24)?,
        owner,
        node: row.get(27)?,
        template: text(row, 28)?,
        labels: json::<BTreeMap<String, String>>(row, 29, "labels")?.unwrap_or_default(),
    };
    Ok(StoredEvent {
        id: row.get(0)?,
        event,
    })
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
