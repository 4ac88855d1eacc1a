//! Reading events back: filters, time overlap, keyset paging, full reconstruction.

use deadpool_postgres::GenericClient;
use kubetrail_model::EventFilter;

use super::filter::{Table, Where, micros};
use crate::rows::{EVENT_COLUMNS as COLUMNS, stored_event};
use crate::{Page, Result, StoredEvent};

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
