//! Patterns kept at ingest, on PostgreSQL (`crate::patterns`: the SQL is shared).

use async_trait::async_trait;
use kubetrail_model::Timestamp;

use super::PostgresStore;
use crate::patterns::{DELETE_PARTS, INSERT_PART, SELECT_PARTS, part_row};
use crate::{PartSpan, PatternStore, Result, StoredPatternPart};

#[async_trait]
impl PatternStore for PostgresStore {
    async fn pattern_parts(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredPatternPart>> {
        let client = self.client().await?;
        let (span, from, to) = (span.micros(), from.as_microsecond(), to.as_microsecond());
        let rows = client.query(SELECT_PARTS, &[&span, &from, &to]).await?;
        rows.iter()
            .map(|r| {
                part_row(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                )
            })
            .collect()
    }

    async fn replace_pattern_parts(
        &self,
        cluster: &str,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
        found: Vec<StoredPatternPart>,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let (span, from, to) = (span.micros(), from.as_microsecond(), to.as_microsecond());
        tx.execute(DELETE_PARTS, &[&span, &cluster, &from, &to])
            .await?;
        let insert = tx.prepare_cached(INSERT_PART).await?;
        for p in &found {
            let bucket = p.bucket.as_microsecond();
            tx.execute(
                &insert,
                &[
                    &span,
                    &bucket,
                    &p.cluster,
                    &p.namespace,
                    &p.kind,
                    &p.reason,
                    &p.body,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
