//! Patterns kept at ingest, on SQLite (`crate::patterns`: the SQL is shared).

use async_trait::async_trait;
use kubetrail_model::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::patterns::{
    DELETE_PARTS, INSERT_PART, SELECT_BODY, SELECT_PARTS, SELECT_SUMS, SELECT_TOTALS, SumRow,
    Totals, in_bucket_order, part_sum, part_values,
};
use crate::{KeyTotal, PartSpan, PartSum, PatternStore, Result, StoredPatternPart};

fn sum_row(r: &Row<'_>) -> rusqlite::Result<SumRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn sums(conn: &Connection, span: i64, from: i64, to: i64) -> Result<Vec<PartSum>> {
    let mut stmt = conn.prepare_cached(SELECT_SUMS)?;
    let rows = stmt.query_map(params![span, from, to], sum_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(part_sum(row?)?);
    }
    Ok(out)
}

fn totals(conn: &Connection, (span, from, to): (i64, i64, i64)) -> Result<Vec<KeyTotal>> {
    let mut stmt = conn.prepare_cached(SELECT_TOTALS)?;
    let mut rows = stmt.query(params![span, from, to])?;
    let mut totals = Totals::default();
    while let Some(row) = rows.next()? {
        totals.add(row)?;
    }
    Ok(totals.into_totals())
}

/// The bodies of the parts in `rows` ([`PatternStore::pattern_bodies`]), each read by its row,
/// in one read transaction.
fn bodies(conn: &Connection, rows: &[i64]) -> Result<Vec<(i64, String)>> {
    let tx = conn.unchecked_transaction()?;
    let mut stmt = tx.prepare_cached(SELECT_BODY)?;
    let mut out = Vec::with_capacity(rows.len());
    for &row in rows {
        if let Some(body) = stmt.query_row([row], |r| r.get(0)).optional()? {
            out.push((row, body));
        }
    }
    drop(stmt);
    tx.commit()?;
    Ok(out)
}

fn parts(
    conn: &Connection,
    (span, from, to): (i64, i64, i64),
    cluster: &str,
) -> Result<Vec<StoredPatternPart>> {
    let mut stmt = conn.prepare_cached(SELECT_PARTS)?;
    let rows = stmt.query_map(params![span, from, to, cluster], |r| {
        Ok((sum_row(r)?, r.get::<_, String>(9)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (sum, body) = row?;
        out.push(StoredPatternPart {
            sum: part_sum(sum)?,
            body,
        });
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
        let (bucket, count, first, last) = part_values(&p.sum);
        let k = &p.sum.key;
        insert.execute(params![
            span,
            bucket,
            k.cluster,
            k.namespace,
            k.kind,
            k.reason,
            k.template,
            count,
            first,
            last,
            p.body
        ])?;
    }
    Ok(())
}

fn range(span: PartSpan, from: Timestamp, to: Timestamp) -> (i64, i64, i64) {
    (span.micros(), from.as_microsecond(), to.as_microsecond())
}

#[async_trait]
impl PatternStore for SqliteStore {
    async fn pattern_sums(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PartSum>> {
        let (span, from, to) = range(span, from, to);
        self.read(move |c| sums(c, span, from, to)).await
    }

    async fn pattern_totals(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<KeyTotal>> {
        let r = range(span, from, to);
        self.read(move |c| totals(c, r)).await
    }

    async fn pattern_bodies(&self, rows: &[i64]) -> Result<Vec<(i64, String)>> {
        let rows = rows.to_vec();
        self.read(move |c| bodies(c, &rows)).await
    }

    async fn pattern_parts(
        &self,
        cluster: &str,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredPatternPart>> {
        let (r, cluster) = (range(span, from, to), cluster.to_owned());
        self.read(move |c| parts(c, r, &cluster)).await
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
        let (r, cluster) = (range(span, from, to), cluster.to_owned());
        self.write(true, move |c| replace(c, &cluster, r, &found))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PartKey;

    /// What SQLite plans for `sql` (parameters left unbound: NULL) on a fresh store.
    fn plan_of(sql: &str) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(SqliteStore::open(dir.path().join("kubetrail.db")).expect("store"));
        let conn = Connection::open(dir.path().join("kubetrail.db")).expect("open");
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan");
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("plan");
        plan.join("; ")
    }

    #[test]
    fn parts_are_found_by_bucket_and_their_bodies_by_row() {
        // Each key's totals and its parts' rows from the covering index, then the bodies of
        // some by their rows.
        let totals = plan_of(SELECT_TOTALS);
        assert!(
            totals
                .contains("COVERING INDEX pattern_parts_bucket (span=? AND bucket>? AND bucket<?)"),
            "{totals}"
        );
        let body = plan_of(SELECT_BODY);
        assert!(body.contains("INTEGER PRIMARY KEY (rowid=?)"), "{body}");
        // The sums from the index alone: a part's body is ~1 KB (30 days of a 1M store: 61 MB).
        let sums = plan_of(SELECT_SUMS);
        assert!(
            sums.contains("COVERING INDEX pattern_parts_bucket"),
            "{sums}"
        );
        // The one index a replacement writes besides the table (V16 dropped the one by key).
        let dir = tempfile::tempdir().expect("tempdir");
        drop(SqliteStore::open(dir.path().join("kubetrail.db")).expect("store"));
        let conn = Connection::open(dir.path().join("kubetrail.db")).expect("open");
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'pattern_parts'")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("indexes")
            .collect::<rusqlite::Result<_>>()
            .expect("indexes");
        assert_eq!(indexes, ["pattern_parts_bucket"]);
    }

    #[tokio::test]
    async fn a_replacement_inserts_its_parts_in_the_order_of_the_bucket_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kubetrail.db");
        let store = SqliteStore::open(&path).expect("store");
        let hour = |h: i64| Timestamp::from_second(1_735_689_600 + h * 3600).expect("time");
        let part = |h: i64, template: &str| StoredPatternPart {
            sum: PartSum {
                bucket: hour(h),
                key: PartKey {
                    cluster: "c".into(),
                    namespace: "ns".into(),
                    kind: "Pod".into(),
                    reason: "BackOff".into(),
                    template: template.into(),
                },
                count: 1,
                first: hour(h),
                last: hour(h),
            },
            body: "[]".into(),
        };
        // As the pass finds them: hour after hour, each hour's keys in no order.
        let found = vec![part(0, "b"), part(0, "a"), part(1, "b"), part(1, "a")];
        store
            .replace_pattern_parts("c", PartSpan::Hour, hour(0), hour(1), found)
            .await
            .expect("replace");
        let conn = Connection::open(&path).expect("open");
        let mut stmt = conn
            .prepare("SELECT template, bucket FROM pattern_parts ORDER BY id")
            .expect("select");
        let rows: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        let at = |h: i64| hour(h).as_microsecond();
        assert_eq!(
            rows,
            [
                ("a".to_string(), at(0)),
                ("b".to_string(), at(0)),
                ("a".to_string(), at(1)),
                ("b".to_string(), at(1)),
            ]
        );
    }
}
