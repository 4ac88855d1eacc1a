//! Reading events back: filters, time overlap, keyset paging, full reconstruction.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use kubetrail_model::{Category, Event, EventFilter, ObjectRef, Owner, Severity};
use tokio_postgres::Row;

use super::filter::{Table, Where, micros, timestamp};
use crate::{Error, Page, Result, StoredEvent};

pub(crate) const COLUMNS: &str =
    "e.id, e.cluster, e.uid, e.namespace, e.name, e.reg_api_version, e.reg_kind,
    e.reg_namespace, e.reg_name, e.reg_uid, e.reg_field_path, e.related, e.reason, e.note, e.type,
    e.action, e.reporting_controller, e.reporting_instance, e.first_seen, e.last_seen, e.count,
    e.resource_version, e.category, e.severity, e.correlation_id, e.owner_kind, e.owner_name,
    e.node, e.template, e.labels";

/// The number of columns in [`COLUMNS`].
pub(crate) const COLUMN_COUNT: usize = 30;

/// Events matching `f` whose `[first_seen, last_seen]` overlaps `[since, until)`, newest first,
/// strictly after `page.after`.
pub(crate) async fn query(
    c: &impl GenericClient,
    f: &EventFilter,
    page: &Page,
) -> Result<Vec<StoredEvent>> {
    let mut w = Where::new();
    w.filter(f, Table::Events)?;
    if let Some(since) = f.since {
        let p = w.param(micros(since));
        w.and(&format!("e.last_seen >= {p}"));
    }
    if let Some(until) = f.until {
        let p = w.param(micros(until));
        w.and(&format!("e.first_seen < {p}"));
    }
    if let Some((last_seen, id)) = page.after {
        let t = w.param(micros(last_seen));
        let i = w.param(id);
        w.and(&format!("(e.last_seen, e.id) < ({t}, {i})"));
    }
    let mut sql = format!(
        "SELECT {COLUMNS} FROM events e{} ORDER BY e.last_seen DESC, e.id DESC",
        w.sql
    );
    if page.limit > 0 {
        let p = w.param(i64::try_from(page.limit).unwrap_or(i64::MAX));
        sql.push_str(&format!(" LIMIT {p}"));
    }
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &w.refs()).await?;
    rows.iter().map(stored_event).collect()
}

fn json<T: serde::de::DeserializeOwned>(
    row: &Row,
    i: usize,
    column: &'static str,
) -> Result<Option<T>> {
    let Some(s) = row.try_get::<_, Option<&str>>(i)? else {
        return Ok(None);
    };
    serde_json::from_str(s)
        .map(Some)
        .map_err(|source| Error::Json { column, source })
}

pub(crate) fn stored_event(row: &Row) -> Result<StoredEvent> {
    let category: &str = row.try_get(22)?;
    let category: Category = category.parse().map_err(|_| Error::Corrupt {
        column: "category",
        value: category.to_owned(),
    })?;
    let severity: &str = row.try_get(23)?;
    let severity: Severity = severity.parse().map_err(|_| Error::Corrupt {
        column: "severity",
        value: severity.to_owned(),
    })?;
    let owner = match (
        row.try_get::<_, Option<String>>(25)?,
        row.try_get::<_, Option<String>>(26)?,
    ) {
        (Some(kind), Some(name)) => Some(Owner { kind, name }),
        _ => None,
    };
    let count: i64 = row.try_get(20)?;
    let text = |i: usize| -> Result<String> { Ok(row.try_get(i)?) };
    let event = Event {
        cluster: text(1)?,
        uid: text(2)?,
        namespace: text(3)?,
        name: text(4)?,
        regarding: ObjectRef {
            api_version: text(5)?,
            kind: text(6)?,
            namespace: text(7)?,
            name: text(8)?,
            uid: text(9)?,
            field_path: text(10)?,
        },
        related: json(row, 11, "related")?,
        reason: text(12)?,
        note: text(13)?,
        type_: text(14)?,
        action: text(15)?,
        reporting_controller: text(16)?,
        reporting_instance: text(17)?,
        first_seen: timestamp(row.try_get(18)?, "first_seen")?,
        last_seen: timestamp(row.try_get(19)?, "last_seen")?,
        count: u64::try_from(count).map_err(|_| Error::Corrupt {
            column: "count",
            value: count.to_string(),
        })?,
        resource_version: text(21)?,
        category,
        severity,
        correlation_id: text(24)?,
        owner,
        node: row.try_get(27)?,
        template: text(28)?,
        labels: json::<BTreeMap<String, String>>(row, 29, "labels")?.unwrap_or_default(),
    };
    Ok(StoredEvent {
        id: row.try_get(0)?,
        event,
    })
}
