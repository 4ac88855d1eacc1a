//! Patterns kept at ingest, on PostgreSQL (`crate::patterns`: the SQL is shared).

use std::collections::HashSet;

use async_trait::async_trait;
use kubetrail_model::Timestamp;
use tokio_postgres::Row;

use super::PostgresStore;
use crate::patterns::{
    DELETE_PARTS, INSERT_PART, SELECT_PARTS, SELECT_SUMS, SELECT_TOTALS, SumRow, Totals, part_sum,
    part_values,
};
use crate::{KeyTotal, PartKey, PartSpan, PartSum, PatternStore, Result, StoredPatternPart};

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

/// The parts of span `$1` and key `($4 cluster, $5 namespace, $6 kind, $7 reason,
/// $8 template)` whose bucket is in `[$2, $3]`, by the index `pattern_parts_key` (SQLite keeps
/// no such index: `sqlite::patterns::bodies`).
const SELECT_BODIES: &str = "SELECT body FROM pattern_parts \
     WHERE span = $1 AND bucket >= $2 AND bucket <= $3 AND cluster = $4 AND namespace = $5 \
     AND kind = $6 AND reason = $7 AND template = $8 ORDER BY bucket, id";

/// `found` in the order of the index `pattern_parts_key` (the key, then the bucket), the order
/// a replacement inserts them in: a day's hour parts, found hour by hour with their keys in no
/// order, were inserted at random places of that index. In its order the insert walks the
/// index once. Parts of one bucket keep no order of their own (each hour's come from a hash
/// map): reads order them by bucket then by id, and merge them by key.
fn in_key_order(found: &mut [StoredPatternPart]) {
    found.sort_unstable_by(|a, b| (&a.sum.key, a.sum.bucket).cmp(&(&b.sum.key, b.sum.bucket)));
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

    async fn pattern_bodies(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
        keys: &[PartKey],
    ) -> Result<Vec<Vec<String>>> {
        let client = self.client().await?;
        let (span, from, to) = range(span, from, to);
        let mut out: Vec<Vec<String>> = Vec::with_capacity(keys.len());
        let mut seen: HashSet<&PartKey> = HashSet::with_capacity(keys.len());
        for k in keys {
            if !seen.insert(k) {
                out.push(Vec::new());
                continue;
            }
            let rows = client
                .query(
                    SELECT_BODIES,
                    &[
                        &span,
                        &from,
                        &to,
                        &k.cluster,
                        &k.namespace,
                        &k.kind,
                        &k.reason,
                        &k.template,
                    ],
                )
                .await?;
            out.push(
                rows.iter()
                    .map(|r| Ok(r.try_get(0)?))
                    .collect::<Result<_>>()?,
            );
        }
        Ok(out)
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
        in_key_order(&mut found);
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
