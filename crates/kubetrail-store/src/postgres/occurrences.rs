//! Events with their occurrences inside a time range: what analysis reads. One statement: pick
//! the events with an occurrence in the range (latest occurrence first, up to the limit)
//! through the `occurrences_ts` index of the partitions the range touches, then read back those
//! events and only their occurrences inside the range.

use deadpool_postgres::GenericClient;
use kubetrail_model::{EventFilter, Occurrence};

use super::filter::{Table, Where, micros, timestamp};
use crate::Result;
use crate::rows::{EVENT_COLUMN_COUNT as COLUMN_COUNT, RowLike, Shape};

/// The events of `f` with their occurrences in its range (at most `limit`, 0: all, the
/// latest), each row read as `shape` says (whole, or what analysis reads).
pub(crate) async fn occurrences<S: Shape>(
    c: &impl GenericClient,
    f: &EventFilter,
    limit: usize,
    shape: S,
) -> Result<Vec<S::Item>> {
    let columns = shape.columns();
    let (mut w, range) = picking(f)?;
    let l = w.param(sql_limit(limit));
    let sql = format!(
        "WITH picked AS (
            SELECT o.event_id AS id, MAX(o.ts) AS latest
            FROM occurrences o JOIN events e ON e.id = o.event_id{}
            GROUP BY o.event_id
            ORDER BY latest DESC, id DESC
            LIMIT {l})
         SELECT {columns}, o.ts, o.count
         FROM picked p JOIN events e ON e.id = p.id JOIN occurrences o ON o.event_id = p.id
         WHERE 1 = 1{range}
         ORDER BY p.latest DESC, p.id DESC, o.ts",
        w.sql
    );
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &w.refs()).await?;
    grouped(&rows, shape)
}

/// The ids of the events [`occurrences`] reads, in its order: the first step of a read in
/// pages ([`occurrences_of`] reads each page).
pub(crate) async fn occurrence_ids(
    c: &impl GenericClient,
    f: &EventFilter,
    limit: usize,
) -> Result<Vec<i64>> {
    let (mut w, _) = picking(f)?;
    let l = w.param(sql_limit(limit));
    let sql = format!(
        "SELECT o.event_id AS id
         FROM occurrences o JOIN events e ON e.id = o.event_id{}
         GROUP BY o.event_id
         ORDER BY MAX(o.ts) DESC, id DESC
         LIMIT {l}",
        w.sql
    );
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &w.refs()).await?;
    rows.iter()
        .map(|r| r.try_get::<_, i64>(0).map_err(Into::into))
        .collect()
}

/// The events of `ids` (in that order, those no longer stored left out), each row read as
/// `shape` says, with their occurrences in `f`'s range: one page of a read in pages.
pub(crate) async fn occurrences_of<S: Shape>(
    c: &impl GenericClient,
    f: &EventFilter,
    ids: &[i64],
    shape: S,
) -> Result<Vec<S::Item>> {
    let columns = shape.columns();
    let mut w = Where::new();
    let p = w.param(ids.to_vec());
    let range = and_each(&range_terms(&mut w, f));
    let sql = format!(
        "SELECT {columns}, o.ts, o.count
         FROM unnest({p}::bigint[]) WITH ORDINALITY AS p(id, n)
         JOIN events e ON e.id = p.id JOIN occurrences o ON o.event_id = p.id
         WHERE 1 = 1{range}
         ORDER BY p.n, o.ts"
    );
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &w.refs()).await?;
    grouped(&rows, shape)
}

/// The terms that pick `f`'s events with an occurrence in its range, and the range's terms
/// alone (on the same parameters) for their occurrences.
fn picking(f: &EventFilter) -> Result<(Where, String)> {
    let mut w = Where::new();
    w.filter(f, Table::Events)?;
    let range = range_terms(&mut w, f);
    for t in &range {
        w.and(t);
    }
    Ok((w, and_each(&range)))
}

/// `f`'s time range on occurrences `o`, one term per bound.
fn range_terms(w: &mut Where, f: &EventFilter) -> Vec<String> {
    let mut terms = Vec::new();
    if let Some(since) = f.since {
        terms.push(format!("o.ts >= {}", w.param(micros(since))));
    }
    if let Some(until) = f.until {
        terms.push(format!("o.ts < {}", w.param(micros(until))));
    }
    terms
}

/// Terms to follow a `WHERE`: each after ` AND `.
fn and_each(terms: &[String]) -> String {
    terms.iter().map(|t| format!(" AND {t}")).collect()
}

/// A limit as SQL's: `LIMIT NULL` is no limit.
fn sql_limit(limit: usize) -> Option<i64> {
    (limit > 0).then(|| i64::try_from(limit).unwrap_or(i64::MAX))
}

/// Rows of an event's columns then an occurrence's time and count, ordered by event then
/// time, as one item of `shape` per event.
fn grouped<S: Shape>(rows: &[tokio_postgres::Row], mut shape: S) -> Result<Vec<S::Item>> {
    // Sized once: the events are the rows of distinct ids, in order.
    let (mut events, mut last) = (0, None);
    for row in rows {
        let id: i64 = row.try_get(0)?;
        if last != Some(id) {
            events += 1;
            last = Some(id);
        }
    }
    let mut out: Vec<S::Item> = Vec::with_capacity(events);
    let mut current: Option<i64> = None;
    for row in rows {
        let id: i64 = row.try_get(0)?;
        let occurrence = Occurrence {
            at: timestamp(row.try_get(COLUMN_COUNT)?, "ts")?,
            count: row.count(COLUMN_COUNT + 1)?,
        };
        match out.last_mut() {
            Some(last) if current == Some(id) => S::occurrences(last).push(occurrence),
            _ => {
                current = Some(id);
                out.push(shape.item(row, vec![occurrence])?);
            }
        }
    }
    Ok(out)
}
