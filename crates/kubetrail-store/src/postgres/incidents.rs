//! Incidents kept at ingest, on PostgreSQL (`crate::incidents`: the SQL is shared).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use kubetrail_model::Timestamp;

use super::PostgresStore;
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
pub(crate) async fn mark_dirty(c: &impl GenericClient, spans: &[(String, i64, i64)]) -> Result<()> {
    if spans.is_empty() {
        return Ok(());
    }
    let stmt = c.prepare_cached(INSERT_DIRTY).await?;
    for (cluster, since, until) in spans {
        c.execute(&stmt, &[cluster, since, until]).await?;
    }
    Ok(())
}

fn incident_row(r: &tokio_postgres::Row) -> Result<StoredIncident> {
    IncidentRow {
        cluster: r.try_get(0)?,
        start: r.try_get(1)?,
        end: r.try_get(2)?,
        head: r.try_get(3)?,
        body: r.try_get(4)?,
        summary: summary_row(r, 5)?,
    }
    .into_incident()
}

/// The summary's columns from `at` on (`incident_id` to `message`).
fn summary_row(r: &tokio_postgres::Row, at: usize) -> Result<SummaryRow> {
    Ok(SummaryRow {
        id: r.try_get(at)?,
        subject: r.try_get(at + 1)?,
        severity: r.try_get(at + 2)?,
        ongoing: r.try_get(at + 3)?,
        event_count: r.try_get(at + 4)?,
        cluster_wide: r.try_get(at + 5)?,
        rule: r.try_get(at + 6)?,
        reason: r.try_get(at + 7)?,
        message: r.try_get(at + 8)?,
    })
}

fn line_row(r: &tokio_postgres::Row) -> Result<IncidentLine> {
    LineRow {
        row: r.try_get(0)?,
        cluster: r.try_get(1)?,
        start: r.try_get(2)?,
        end: r.try_get(3)?,
        summary: summary_row(r, 4)?,
    }
    .into_line()
}

impl PostgresStore {
    /// Hands `f` the body of each of `rows` still stored, in the order of `rows`.
    async fn each_body(&self, rows: Vec<i64>, mut f: impl FnMut(i64, &str)) -> Result<()> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(SELECT_BODY).await?;
        for row in rows {
            if let Some(r) = client.query_opt(&stmt, &[&row]).await? {
                f(row, r.try_get::<_, &str>(0)?);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl IncidentStore for PostgresStore {
    async fn dirty_ranges(&self) -> Result<Vec<DirtyRange>> {
        let client = self.client().await?;
        let rows = client.query(SELECT_DIRTY, &[]).await?;
        rows.iter()
            .map(|r| dirty_range(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
            .collect()
    }

    async fn stored_incidents(
        &self,
        cluster: Option<&str>,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredIncident>> {
        let client = self.client().await?;
        let (since, until) = (since.as_microsecond(), until.as_microsecond());
        let rows = match cluster {
            Some(c) => client.query(SELECT_CLUSTER, &[&since, &until, &c]).await?,
            None => client.query(SELECT_ALL, &[&since, &until]).await?,
        };
        rows.iter().map(incident_row).collect()
    }

    async fn incident_heads(
        &self,
        cluster: Option<&str>,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<IncidentHead>> {
        let client = self.client().await?;
        let (since, until) = (since.as_microsecond(), until.as_microsecond());
        let rows = match cluster {
            Some(c) => {
                client
                    .query(SELECT_HEADS_CLUSTER, &[&since, &until, &c])
                    .await?
            }
            None => client.query(SELECT_HEADS_ALL, &[&since, &until]).await?,
        };
        rows.iter()
            .map(|r| {
                incident_head(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                )
            })
            .collect()
    }

    async fn incident_lines(
        &self,
        cluster: Option<&str>,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<IncidentLine>> {
        let client = self.client().await?;
        let (since, until) = (since.as_microsecond(), until.as_microsecond());
        let rows = match cluster {
            Some(c) => {
                client
                    .query(SELECT_LINES_CLUSTER, &[&since, &until, &c])
                    .await?
            }
            None => client.query(SELECT_LINES_ALL, &[&since, &until]).await?,
        };
        rows.iter().map(line_row).collect()
    }

    async fn incident_bodies(&self, rows: Vec<i64>) -> Result<Vec<(i64, String)>> {
        let mut out = Vec::new();
        self.each_body(rows, |row, body| out.push((row, body.to_string())))
            .await?;
        Ok(out)
    }

    async fn incident_bodies_into(
        &self,
        rows: Vec<i64>,
        mut into: IncidentBodies,
    ) -> Result<IncidentBodies> {
        into.clear();
        self.each_body(rows, |row, body| into.push(row, body.as_bytes()))
            .await?;
        Ok(into)
    }

    async fn replace_incidents_keeping(
        &self,
        cluster: &str,
        replaced: Replaced,
        unchanged: Vec<String>,
        found: Vec<StoredIncident>,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let (since, until, keep_before) = replaced.micros();
        let covered = tx
            .query(SELECT_REPLACED, &[&since, &until, &cluster, &keep_before])
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<(i64, String)>>>()?;
        let delete_body = tx.prepare_cached(DELETE_BODY).await?;
        let delete = tx.prepare_cached(DELETE_INCIDENT).await?;
        for row in rows_replaced(cluster, covered, &unchanged)? {
            tx.execute(&delete_body, &[&row]).await?;
            tx.execute(&delete, &[&row]).await?;
        }
        let insert = tx.prepare_cached(INSERT_INCIDENT).await?;
        let insert_body = tx.prepare_cached(INSERT_BODY).await?;
        for i in &found {
            let (start, end) = (i.start.as_microsecond(), i.end.as_microsecond());
            let (severity, event_count) = summary_values(&i.summary);
            let s = &i.summary;
            let row: i64 = tx
                .query_one(
                    &insert,
                    &[
                        &i.cluster,
                        &start,
                        &end,
                        &i.head,
                        &s.id,
                        &s.subject,
                        &severity,
                        &s.ongoing,
                        &event_count,
                        &s.cluster_wide,
                        &s.rule,
                        &s.reason,
                        &s.message,
                    ],
                )
                .await?
                .try_get(0)?;
            tx.execute(&insert_body, &[&row, &i.body]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn clear_dirty(&self, ids: Vec<i64>) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let delete = tx.prepare_cached(DELETE_DIRTY).await?;
        for id in &ids {
            tx.execute(&delete, &[id]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
