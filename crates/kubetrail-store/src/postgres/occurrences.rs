//! Events with their occurrences inside a time range: what analysis reads. One statement: pick
//! the events with an occurrence in the range (latest occurrence first, up to the limit)
//! through the `occurrences_ts` index of the partitions the range touches, then read back those
//! events and only their occurrences inside the range.

use deadpool_postgres::GenericClient;
use kubetrail_model::{EventFilter, EventOccurrences, Occurrence};

use super::filter::{Table, Where, micros, timestamp};
use crate::rows::{EVENT_COLUMN_COUNT as COLUMN_COUNT, stored_event};
use crate::{Error, Result};

pub(crate) async fn occurrences(
    c: &impl GenericClient,
    f: &EventFilter,
    limit: usize,
    columns: &str,
) -> Result<Vec<EventOccurrences>> {
    let mut w = Where::new();
    w.filter(f, Table::Events)?;
    let mut range = String::new();
    if let Some(since) = f.since {
        let p = w.param(micros(since));
        w.and(&format!("o.ts >= {p}"));
        range.push_str(&format!(" AND o.ts >= {p}"));
    }
    if let Some(until) = f.until {
        let p = w.param(micros(until));
        w.and(&format!("o.ts < {p}"));
        range.push_str(&format!(" AND o.ts < {p}"));
    }
    // LIMIT NULL is no limit.
    let limit = (limit > 0).then(|| i64::try_from(limit).unwrap_or(i64::MAX));
    let l = w.param(limit);
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
    // Sized once: the events are the rows of distinct ids, in order.
    let (mut events, mut last) = (0, None);
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        if last != Some(id) {
            events += 1;
            last = Some(id);
        }
    }
    let mut out: Vec<EventOccurrences> = Vec::with_capacity(events);
    let mut current: Option<i64> = None;
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let count: i64 = row.try_get(COLUMN_COUNT + 1)?;
        let occurrence = Occurrence {
            at: timestamp(row.try_get(COLUMN_COUNT)?, "ts")?,
            count: u64::try_from(count).map_err(|_| Error::Corrupt {
                column: "count",
                value: count.to_string(),
            })?,
        };
        match out.last_mut() {
            Some(last) if current == Some(id) => last.occurrences.push(occurrence),
            _ => {
                current = Some(id);
                out.push(EventOccurrences {
                    event: stored_event(row)?.event,
                    occurrences: vec![occurrence],
                });
            }
        }
    }
    Ok(out)
}
