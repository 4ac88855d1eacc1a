//! Incidents kept at ingest, on SQLite (`crate::incidents`: the SQL is shared).

use async_trait::async_trait;
use kubetrail_model::Timestamp;
use rusqlite::{Connection, params};

use super::SqliteStore;
use crate::incidents::{
    DELETE_BODY, DELETE_DIRTY, DELETE_INCIDENT, INSERT_BODY, INSERT_DIRTY, INSERT_INCIDENT,
    IncidentRow, LineRow, Replaced, SELECT_ALL, SELECT_BODY, SELECT_CLUSTER, SELECT_DIRTY,
    SELECT_HEADS_ALL, SELECT_HEADS_CLUSTER, SELECT_LINES_ALL, SELECT_LINES_CLUSTER,
    SELECT_REPLACED, SummaryRow, dirty_range, incident_head, rows_replaced, summary_values,
};
use crate::{
    DirtyRange, IncidentBodies, IncidentHead, IncidentLine, IncidentStore, Result, StoredIncident,
};

/// Marks each `(cluster, since, until)` (micros) dirty, in the caller's transaction.
pub(crate) fn mark_dirty(conn: &Connection, spans: &[(String, i64, i64)]) -> Result<()> {
    let mut stmt = conn.prepare_cached(INSERT_DIRTY)?;
    for (cluster, since, until) in spans {
        stmt.execute(params![cluster, since, until])?;
    }
    Ok(())
}

fn dirty(conn: &Connection) -> Result<Vec<DirtyRange>> {
    let mut stmt = conn.prepare_cached(SELECT_DIRTY)?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, cluster, since, until) = row?;
        out.push(dirty_range(id, cluster, since, until)?);
    }
    Ok(out)
}

fn overlapping(
    conn: &Connection,
    cluster: Option<&str>,
    since: i64,
    until: i64,
) -> Result<Vec<StoredIncident>> {
    let row = |r: &rusqlite::Row<'_>| {
        Ok(IncidentRow {
            cluster: r.get(0)?,
            start: r.get(1)?,
            end: r.get(2)?,
            head: r.get(3)?,
            body: r.get(4)?,
            summary: summary_row(r, 5)?,
        })
    };
    let rows: Vec<IncidentRow> = match cluster {
        Some(c) => conn
            .prepare_cached(SELECT_CLUSTER)?
            .query_map(params![since, until, c], row)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached(SELECT_ALL)?
            .query_map(params![since, until], row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    rows.into_iter().map(IncidentRow::into_incident).collect()
}

/// The summary's columns from `at` on (`incident_id` to `message`).
fn summary_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        id: r.get(at)?,
        subject: r.get(at + 1)?,
        severity: r.get(at + 2)?,
        ongoing: r.get(at + 3)?,
        event_count: r.get(at + 4)?,
        cluster_wide: r.get(at + 5)?,
        rule: r.get(at + 6)?,
        reason: r.get(at + 7)?,
        message: r.get(at + 8)?,
    })
}

fn lines(
    conn: &Connection,
    cluster: Option<&str>,
    since: i64,
    until: i64,
) -> Result<Vec<IncidentLine>> {
    let row = |r: &rusqlite::Row<'_>| {
        Ok(LineRow {
            row: r.get(0)?,
            cluster: r.get(1)?,
            start: r.get(2)?,
            end: r.get(3)?,
            summary: summary_row(r, 4)?,
        })
    };
    let rows: Vec<LineRow> = match cluster {
        Some(c) => conn
            .prepare_cached(SELECT_LINES_CLUSTER)?
            .query_map(params![since, until, c], row)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached(SELECT_LINES_ALL)?
            .query_map(params![since, until], row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    rows.into_iter().map(LineRow::into_line).collect()
}

fn heads(
    conn: &Connection,
    cluster: Option<&str>,
    since: i64,
    until: i64,
) -> Result<Vec<IncidentHead>> {
    let row = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?));
    let rows: Vec<(i64, String, i64, i64, String)> = match cluster {
        Some(c) => conn
            .prepare_cached(SELECT_HEADS_CLUSTER)?
            .query_map(params![since, until, c], row)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached(SELECT_HEADS_ALL)?
            .query_map(params![since, until], row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    rows.into_iter()
        .map(|(id, cluster, start, end, head)| incident_head(id, cluster, start, end, head))
        .collect()
}

fn bodies(conn: &Connection, rows: &[i64]) -> Result<Vec<(i64, String)>> {
    // One read transaction for all: a statement outside one opens and closes its own (the
    // WAL's read lock taken and released per row was a third of reading 256 bodies).
    let tx = conn.unchecked_transaction()?;
    let mut stmt = tx.prepare_cached(SELECT_BODY)?;
    let mut out = Vec::new();
    for &row in rows {
        let body: Option<String> =
            stmt.query_row([row], |r| r.get(0))
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })?;
        out.extend(body.map(|b| (row, b)));
    }
    drop(stmt);
    tx.commit()?;
    Ok(out)
}

/// [`bodies`] copied from SQLite's own buffer into `into`, with no `String` per body.
fn bodies_into(
    conn: &Connection,
    rows: &[i64],
    mut into: IncidentBodies,
) -> Result<IncidentBodies> {
    into.clear();
    let tx = conn.unchecked_transaction()?;
    let mut stmt = tx.prepare_cached(SELECT_BODY)?;
    for &row in rows {
        let mut found = stmt.query([row])?;
        if let Some(r) = found.next()? {
            let body = r.get_ref(0)?;
            let text = body.as_bytes().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, body.data_type(), Box::new(e))
            })?;
            into.push(row, text);
        }
    }
    drop(stmt);
    tx.commit()?;
    Ok(into)
}

fn replace(
    conn: &Connection,
    cluster: &str,
    replaced: Replaced,
    unchanged: &[String],
    found: &[StoredIncident],
) -> Result<()> {
    let (since, until, keep_before) = replaced.micros();
    let covered = conn
        .prepare_cached(SELECT_REPLACED)?
        .query_map(params![since, until, cluster, keep_before], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<Vec<(i64, String)>>>()?;
    let mut delete_body = conn.prepare_cached(DELETE_BODY)?;
    let mut delete = conn.prepare_cached(DELETE_INCIDENT)?;
    for row in rows_replaced(cluster, covered, unchanged)? {
        delete_body.execute([row])?;
        delete.execute([row])?;
    }
    let mut insert = conn.prepare_cached(INSERT_INCIDENT)?;
    let mut insert_body = conn.prepare_cached(INSERT_BODY)?;
    for i in found {
        let (severity, event_count) = summary_values(&i.summary);
        let s = &i.summary;
        let row: i64 = insert.query_row(
            params![
                i.cluster,
                i.start.as_microsecond(),
                i.end.as_microsecond(),
                i.head,
                s.id,
                s.subject,
                severity,
                s.ongoing,
                event_count,
                s.cluster_wide,
                s.rule,
                s.reason,
                s.message,
            ],
            |r| r.get(0),
        )?;
        insert_body.execute(params![row, i.body])?;
    }
    Ok(())
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn dirty_ranges(&self) -> Result<Vec<DirtyRange>> {
        self.read(dirty).await
    }

    async fn stored_incidents(
        &self,
        cluster: Option<&str>,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredIncident>> {
        let cluster = cluster.map(str::to_owned);
        let (since, until) = (since.as_microsecond(), until.as_microsecond());
        self.read(move |c| overlapping(c, cluster.as_deref(), since, until))
            .await
    }

    async fn incident_heads(
        &self,
        cluster: Option<&str>,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<IncidentHead>> {
        let cluster = cluster.map(str::to_owned);
        let (since, until) = (since.as_microsecond(), until.as_microsecond());
        self.read(move |c| heads(c, cluster.as_deref(), since, until))
            .await
    }

    async fn incident_lines(
        &self,
        cluster: Option<&str>,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<IncidentLine>> {
        let cluster = cluster.map(str::to_owned);
        let (since, until) = (since.as_microsecond(), until.as_microsecond());
        self.read(move |c| lines(c, cluster.as_deref(), since, until))
            .await
    }

    async fn incident_bodies(&self, rows: Vec<i64>) -> Result<Vec<(i64, String)>> {
        self.read(move |c| bodies(c, &rows)).await
    }

    async fn incident_bodies_into(
        &self,
        rows: Vec<i64>,
        into: IncidentBodies,
    ) -> Result<IncidentBodies> {
        self.read(move |c| bodies_into(c, &rows, into)).await
    }

    async fn replace_incidents_keeping(
        &self,
        cluster: &str,
        replaced: Replaced,
        unchanged: Vec<String>,
        found: Vec<StoredIncident>,
    ) -> Result<()> {
        let cluster = cluster.to_owned();
        self.write(true, move |c| {
            replace(c, &cluster, replaced, &unchanged, &found)
        })
        .await
    }

    async fn clear_dirty(&self, ids: Vec<i64>) -> Result<()> {
        self.write(true, move |c| {
            let mut stmt = c.prepare_cached(DELETE_DIRTY)?;
            for id in &ids {
                stmt.execute([id])?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The details of `EXPLAIN QUERY PLAN sql` on a fresh store.
    fn plan(sql: &str, params: &[&dyn rusqlite::ToSql]) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(crate::SqliteStore::open(dir.path().join("kubetrail.db")).expect("store"));
        let conn = Connection::open(dir.path().join("kubetrail.db")).expect("open");
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan");
        let plan: Vec<String> = stmt
            .query_map(params, |r| r.get(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("plan");
        plan.join("; ")
    }

    /// Issue 14 §1: the summary columns come after the body in a row (added by a migration);
    /// read from the table, each line walked the body's overflow pages (half of a 30-day
    /// list). The covering index holds them.
    #[test]
    fn a_list_of_a_window_reads_the_covering_index_of_the_lines_alone() {
        for (sql, params) in [
            (SELECT_LINES_ALL, vec![&1i64 as &dyn rusqlite::ToSql, &2i64]),
            (SELECT_LINES_CLUSTER, vec![&1i64, &2i64, &"prod"]),
        ] {
            let p = plan(sql, &params);
            assert!(p.contains("COVERING INDEX incidents_lines"), "{p}");
        }
    }
}
