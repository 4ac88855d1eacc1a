//! Events with their occurrences inside a time range: what analysis reads.
//!
//! Two steps in one statement: pick the events with an occurrence in the range (newest latest
//! occurrence first, up to the limit) through the `occurrences_ts` index, then read back those
//! events and only their occurrences inside the range.

use kubetrail_model::{EventFilter, EventOccurrences, Occurrence};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::filter::{Table, Where, micros, search_error, timestamp};
use crate::rows::{EVENT_COLUMN_COUNT as TS, EVENT_COLUMNS as COLUMNS, stored_event};
use crate::{Error, Result};

pub(crate) fn occurrences(
    conn: &Connection,
    f: &EventFilter,
    limit: usize,
) -> Result<Vec<EventOccurrences>> {
    let mut picked = Where::new();
    picked.filter(f, Table::Events)?;
    let mut range = Where::new();
    if let Some(since) = f.since {
        picked.and("o.ts >= ?", [Value::Integer(micros(since))]);
        range.and("o.ts >= ?", [Value::Integer(micros(since))]);
    }
    if let Some(until) = f.until {
        picked.and("o.ts < ?", [Value::Integer(micros(until))]);
        range.and("o.ts < ?", [Value::Integer(micros(until))]);
    }
    let limit = if limit == 0 {
        -1
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    };
    let sql = format!(
        "WITH picked AS (
            SELECT o.event_id AS id, MAX(o.ts) AS latest
            FROM occurrences o JOIN events e ON e.id = o.event_id{}
            GROUP BY o.event_id
            ORDER BY latest DESC, id DESC
            LIMIT ?)
         SELECT {COLUMNS}, o.ts, o.count
         FROM picked p JOIN events e ON e.id = p.id JOIN occurrences o ON o.event_id = p.id{}
         ORDER BY p.latest DESC, p.id DESC, o.ts",
        picked.sql, range.sql
    );
    let mut params = picked.params;
    params.push(Value::Integer(limit));
    params.extend(range.params);
    let tx = conn.unchecked_transaction()?;
    let mut out: Vec<EventOccurrences> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt
            .query(params_from_iter(params.iter()))
            .map_err(|e| search_error(e, f))?;
        let mut current: Option<i64> = None;
        while let Some(row) = rows.next().map_err(|e| search_error(e, f))? {
            let id: i64 = row.get(0)?;
            let count: i64 = row.get(TS + 1)?;
            let occurrence = Occurrence {
                at: timestamp(row.get(TS)?, "ts")?,
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
    }
    tx.commit()?;
    Ok(out)
}
