//! Patterns kept at ingest, on SQLite (`crate::patterns`: the SQL is shared).

use async_trait::async_trait;
use kubetrail_model::Timestamp;
use rusqlite::{Connection, params};

use super::SqliteStore;
use crate::patterns::{DELETE_PARTS, INSERT_PART, SELECT_PARTS, part_row};
use crate::{PartSpan, PatternStore, Result, StoredPatternPart};

fn parts(conn: &Connection, span: i64, from: i64, to: i64) -> Result<Vec<StoredPatternPart>> {
    let mut stmt = conn.prepare_cached(SELECT_PARTS)?;
    let rows = stmt.query_map(params![span, from, to], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (bucket, cluster, namespace, kind, reason, body) = row?;
        out.push(part_row(bucket, cluster, namespace, kind, reason, body)?);
    }
    Ok(out)
}

fn replace(
    conn: &Connection,
    cluster: &str,
    (span, from, to): (i64, i64, i64),
    found: &[StoredPatternPart],
) -> Result<()> {
    conn.prepare_cached(DELETE_PARTS)?
        .execute(params![span, cluster, from, to])?;
    let mut insert = conn.prepare_cached(INSERT_PART)?;
    for p in found {
        insert.execute(params![
            span,
            p.bucket.as_microsecond(),
            p.cluster,
            p.namespace,
            p.kind,
            p.reason,
            p.body
        ])?;
    }
    Ok(())
}

#[async_trait]
impl PatternStore for SqliteStore {
    async fn pattern_parts(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredPatternPart>> {
        let (span, from, to) = (span.micros(), from.as_microsecond(), to.as_microsecond());
        self.read(move |c| parts(c, span, from, to)).await
    }

    async fn replace_pattern_parts(
        &self,
        cluster: &str,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
        found: Vec<StoredPatternPart>,
    ) -> Result<()> {
        let cluster = cluster.to_owned();
        let range = (span.micros(), from.as_microsecond(), to.as_microsecond());
        self.write(true, move |c| replace(c, &cluster, range, &found))
            .await
    }
}
