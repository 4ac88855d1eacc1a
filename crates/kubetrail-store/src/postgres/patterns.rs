//! Patterns kept at ingest, on PostgreSQL (`crate::patterns`: the SQL is shared).

use std::collections::HashMap;

use async_trait::async_trait;
use kubetrail_model::Timestamp;
use tokio_postgres::Row;

use super::PostgresStore;
use crate::patterns::{
    DELETE_PARTS, INSERT_PART, SELECT_BODIES_PG, SELECT_PARTS, SELECT_SUMS, SELECT_TOTALS, SumRow,
    Totals, in_bucket_order, part_sum, part_values,
};
use crate::{KeyTotal, PartSpan, PartSum, PatternStore, Result, StoredPatternPart};

fn sum_row(r: &Row) -> Result<SumRow> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
        r.try_get(8)?,
    ))
}

fn range(span: PartSpan, from: Timestamp, to: Timestamp) -> (i64, i64, i64) {
    (span.micros(), from.as_microsecond(), to.as_microsecond())
}

#[async_trait]
impl PatternStore for PostgresStore {
    async fn pattern_sums(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PartSum>> {
        let client = self.client().await?;
        let (span, from, to) = range(span, from, to);
        let rows = client.query(SELECT_SUMS, &[&span, &from, &to]).await?;
        rows.iter().map(|r| part_sum(sum_row(r)?)).collect()
    }

    async fn pattern_totals(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<KeyTotal>> {
        let client = self.client().await?;
        let (span, from, to) = range(span, from, to);
        let mut totals = Totals::default();
        for row in client.query(SELECT_TOTALS, &[&span, &from, &to]).await? {
            totals.add(&row)?;
        }
        Ok(totals.into_totals())
    }

    async fn pattern_bodies(&self, rows: &[i64]) -> Result<Vec<(i64, String)>> {
        let client = self.client().await?;
        let mut found: HashMap<i64, String> = HashMap::with_capacity(rows.len());
        for row in client.query(SELECT_BODIES_PG, &[&rows]).await? {
            found.insert(row.try_get(0)?, row.try_get(1)?);
        }
        Ok(rows
            .iter()
            .filter_map(|&row| found.remove(&row).map(|body| (row, body)))
            .collect())
    }

    async fn pattern_parts(
        &self,
        cluster: &str,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredPatternPart>> {
        let client = self.client().await?;
        let (span, from, to) = range(span, from, to);
        let rows = client
            .query(SELECT_PARTS, &[&span, &from, &to, &cluster])
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredPatternPart {
                    sum: part_sum(sum_row(r)?)?,
                    body: r.try_get(9)?,
                })
            })
            .collect()
    }

    async fn replace_pattern_parts(
        &self,
        cluster: &str,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
        mut found: Vec<StoredPatternPart>,
    ) -> Result<()> {
        in_bucket_order(&mut found);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let (span, from, to) = range(span, from, to);
        tx.execute(DELETE_PARTS, &[&span, &cluster, &from, &to])
            .await?;
        let insert = tx.prepare_cached(INSERT_PART).await?;
        for p in &found {
            let (bucket, count, first, last) = part_values(&p.sum);
            let k = &p.sum.key;
            tx.execute(
                &insert,
                &[
                    &span,
                    &bucket,
                    &k.cluster,
                    &k.namespace,
                    &k.kind,
                    &k.reason,
                    &k.template,
                    &count,
                    &first,
                    &last,
                    &p.body,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
