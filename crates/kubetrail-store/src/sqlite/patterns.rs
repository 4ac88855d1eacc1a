//! Patterns kept at ingest, on SQLite (`crate::patterns`: the SQL is shared).

use async_trait::async_trait;
use kubetrail_model::Timestamp;
use rusqlite::{Connection, Row, params};

use super::SqliteStore;
use crate::patterns::{
    DELETE_PARTS, INSERT_PART, KeyLookup, SELECT_PARTS, SELECT_SUMS, SELECT_TOTALS, SumRow, Totals,
    part_sum, part_values,
};
use crate::rows::RowLike;
use crate::{KeyTotal, PartKey, PartSpan, PartSum, PatternStore, Result, StoredPatternPart};

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

/// The row, bucket and key of every part of span `$1` whose bucket is in `[$2, $3]`, from the
/// covering index `pattern_parts_bucket` (no part's row read).
const SELECT_PART_KEYS: &str = "SELECT id, bucket, cluster, namespace, kind, reason, template \
     FROM pattern_parts WHERE span = $1 AND bucket >= $2 AND bucket <= $3";

/// A part's body by its row.
const SELECT_BODY: &str = "SELECT body FROM pattern_parts WHERE id = $1";

/// The bodies of `keys` over a span of buckets ([`PatternStore::pattern_bodies`]): one step
/// through the span's keys in `pattern_parts_bucket` picks the rows of the keys wanted, then
/// each body is read by its row, in one read transaction. (Without an index by key: see the
/// schema's V16.)
fn bodies(
    conn: &Connection,
    (span, from, to): (i64, i64, i64),
    keys: &[PartKey],
) -> Result<Vec<Vec<String>>> {
    let tx = conn.unchecked_transaction()?;
    let mut rows_of: Vec<Vec<(i64, i64)>> = vec![Vec::new(); keys.len()];
    if !keys.is_empty() {
        let mut lookup = KeyLookup::new(keys);
        let mut stmt = tx.prepare_cached(SELECT_PART_KEYS)?;
        let mut rows = stmt.query(params![span, from, to])?;
        while let Some(row) = rows.next()? {
            if let Some(i) = lookup.find(row, 2)? {
                rows_of[i].push((row.i64(1)?, row.i64(0)?));
            }
        }
    }
    let mut body = tx.prepare_cached(SELECT_BODY)?;
    let mut out = Vec::with_capacity(keys.len());
    for mut rows in rows_of {
        // Oldest bucket first, as stored within one.
        rows.sort_unstable();
        let mut list = Vec::with_capacity(rows.len());
        for (_, id) in rows {
            list.push(body.query_row([id], |r| r.get(0))?);
        }
        out.push(list);
    }
    drop(body);
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

/// `found` in the order of the index `pattern_parts_bucket` (the bucket, then the key), the
/// order a replacement inserts them in: then each row goes after the last (the pass moves
/// forward through time), in the table as in its one index. Reads order the parts of one
/// bucket by id, and merge them by key.
fn in_bucket_order(found: &mut [StoredPatternPart]) {
    found.sort_unstable_by(|a, b| (a.sum.bucket, &a.sum.key).cmp(&(b.sum.bucket, &b.sum.key)));
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

    async fn pattern_bodies(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
        keys: &[PartKey],
    ) -> Result<Vec<Vec<String>>> {
        let (r, keys) = (range(span, from, to), keys.to_vec());
        self.read(move |c| bodies(c, r, &keys)).await
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
        // Some patterns' parts: their keys from the covering index, then each body by its row.
        let keys = plan_of(SELECT_PART_KEYS);
        assert!(
            keys.contains("COVERING INDEX pattern_parts_bucket (span=? AND bucket>? AND bucket<?)"),
            "{keys}"
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
