//! The alert outbox: alerts (one row per rule, group and start) and their deliveries (one row
//! per notification to one notifier), saved together so that nothing is sent that is not
//! stored first.

use std::collections::HashMap;

use kubetrail_model::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::filter::micros;
use crate::rows::{ALERT_COLUMNS, DELIVERY_COLUMNS, alert, delivery};
use crate::{
    AlertFilter, AlertRecord, Delivery, DeliveryState, DeliveryUpdate, Error, NewDelivery, Result,
    StoredAlert,
};

fn json<T: serde::Serialize>(value: &T, column: &'static str) -> Result<String> {
    serde_json::to_string(value).map_err(|source| Error::Json { column, source })
}

/// Inserts or updates the alert and queues `deliveries` for it, in the caller's transaction.
///
/// An alert is named by (rule, group key, start). A firing alert saved while another alert of
/// the same rule and group is still firing is merged into that one (it keeps its id and start):
/// at most one open alert per group, even if the caller forgot it had one (e.g. a restart).
pub(crate) fn save_alert(
    conn: &Connection,
    alert: &AlertRecord,
    deliveries: &[NewDelivery],
    now: Timestamp,
) -> Result<i64> {
    let existing: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, starts_at FROM alerts
             WHERE rule = ?1 AND group_key = ?2 AND (starts_at = ?3 OR status = 'firing')
             ORDER BY starts_at = ?3 DESC LIMIT 1",
        )?
        .query_row(
            params![alert.rule, alert.group_key, micros(alert.starts_at)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let labels = json(&alert.labels, "labels")?;
    let annotations = json(&alert.annotations, "annotations")?;
    let events = json(&alert.events, "events")?;
    let id = match existing {
        Some((id, starts_at)) => {
            conn.prepare_cached(
                "UPDATE alerts SET status = ?2, severity = ?3, labels = ?4, annotations = ?5,
                    ends_at = ?6, first_seen = MIN(first_seen, ?7), last_seen = MAX(last_seen, ?8),
                    event_count = ?9, silenced_by = ?10, events = ?11, updated_at = ?12
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                alert.status.as_str(),
                alert.severity.as_str(),
                labels,
                annotations,
                alert.ends_at.map(micros),
                micros(alert.first_seen),
                micros(alert.last_seen),
                count(alert.event_count),
                alert.silenced_by,
                events,
                micros(now),
            ])?;
            if starts_at != micros(alert.starts_at) {
                tracing::debug!(
                    rule = %alert.rule,
                    group = %alert.group_key,
                    "merged a firing alert into the one already open for its group"
                );
            }
            id
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO alerts (rule, group_key, status, severity, labels, annotations,
                    starts_at, ends_at, first_seen, last_seen, event_count, silenced_by, events,
                    updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                alert.rule,
                alert.group_key,
                alert.status.as_str(),
                alert.severity.as_str(),
                labels,
                annotations,
                micros(alert.starts_at),
                alert.ends_at.map(micros),
                micros(alert.first_seen),
                micros(alert.last_seen),
                count(alert.event_count),
                alert.silenced_by,
                events,
                micros(now),
            ])?;
            conn.last_insert_rowid()
        }
    };
    if !deliveries.is_empty() {
        let payload = json(alert, "payload")?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO alert_deliveries (alert_id, notifier, state, attempts, created_at,
                next_attempt_at, updated_at, payload)
             VALUES (?1, ?2, 'pending', 0, ?3, ?4, ?3, ?5)",
        )?;
        for d in deliveries {
            insert.execute(params![
                id,
                d.notifier,
                micros(now),
                micros(d.due_at),
                payload
            ])?;
        }
    }
    Ok(id)
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Pending deliveries that are due, and deliveries whose worker's lease has run out, oldest
/// due first, at most `limit` per notifier (0: all).
pub(crate) fn due_deliveries(
    conn: &Connection,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<Delivery>> {
    let limit = if limit == 0 {
        -1
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    };
    let sql = format!(
        "WITH due AS (
             SELECT id, ROW_NUMBER() OVER (PARTITION BY notifier ORDER BY next_attempt_at, id) AS n
             FROM alert_deliveries
             WHERE state IN ('pending', 'delivering') AND next_attempt_at <= ?1)
         SELECT {DELIVERY_COLUMNS} FROM alert_deliveries d JOIN due ON due.id = d.id
         WHERE ?2 < 0 OR due.n <= ?2
         ORDER BY d.next_attempt_at, d.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![micros(now), limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(delivery(row)?);
    }
    Ok(out)
}

/// Applies a state change. A final delivery never changes again, so a late or repeated update
/// (a worker that lost its lease) cannot undo a delivery.
pub(crate) fn update_delivery(conn: &Connection, u: &DeliveryUpdate) -> Result<()> {
    let delivered_at = (u.state == DeliveryState::Delivered).then(|| micros(u.at));
    conn.prepare_cached(
        "UPDATE alert_deliveries SET state = ?2, attempts = ?3, next_attempt_at = ?4,
            last_error = ?5, updated_at = ?6, delivered_at = COALESCE(?7, delivered_at)
         WHERE id = ?1 AND state IN ('pending', 'delivering')",
    )?
    .execute(params![
        u.id,
        u.state.as_str(),
        i64::from(u.attempts),
        micros(u.next_attempt_at),
        u.last_error,
        micros(u.at),
        delivered_at,
    ])?;
    Ok(())
}

/// Alerts matching the filter, newest start first, each with its deliveries (oldest first).
pub(crate) fn alerts(conn: &Connection, f: &AlertFilter) -> Result<Vec<StoredAlert>> {
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts a WHERE 1 = 1");
    let mut params: Vec<Value> = Vec::new();
    if let Some(id) = f.id {
        sql.push_str(" AND a.id = ?");
        params.push(Value::Integer(id));
    }
    if let Some(status) = f.status {
        sql.push_str(" AND a.status = ?");
        params.push(Value::Text(status.as_str().into()));
    }
    if !f.rules.is_empty() {
        sql.push_str(" AND a.rule IN (");
        sql.push_str(&vec!["?"; f.rules.len()].join(", "));
        sql.push(')');
        params.extend(f.rules.iter().map(|r| Value::Text(r.clone())));
    }
    if let Some(key) = &f.group_key {
        sql.push_str(" AND a.group_key = ?");
        params.push(Value::Text(key.clone()));
    }
    if let Some(since) = f.since {
        sql.push_str(" AND (a.ends_at IS NULL OR a.ends_at >= ?)");
        params.push(Value::Integer(micros(since)));
    }
    sql.push_str(" ORDER BY a.starts_at DESC, a.id DESC LIMIT ?");
    params.push(Value::Integer(if f.limit == 0 {
        -1
    } else {
        i64::try_from(f.limit).unwrap_or(i64::MAX)
    }));

    let tx = conn.unchecked_transaction()?;
    let mut out: Vec<StoredAlert> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(params.iter()))?;
        while let Some(row) = rows.next()? {
            let (id, alert) = alert(row)?;
            out.push(StoredAlert {
                id,
                alert,
                deliveries: Vec::new(),
            });
        }
        let index: HashMap<i64, usize> = out.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries d WHERE d.alert_id = ?1 ORDER BY d.id"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        for (id, i) in &index {
            let mut rows = stmt.query(params![id])?;
            while let Some(row) = rows.next()? {
                out[*i].deliveries.push(delivery(row)?);
            }
        }
    }
    tx.commit()?;
    Ok(out)
}
