//! The alert outbox: alerts (one row per rule, group and start) and their deliveries (one row
//! per notification to one notifier), saved together so that nothing is sent that is not
//! stored first.

use std::collections::HashMap;

use kubetrail_model::{Severity, Timestamp};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::filter::{micros, timestamp};
use crate::{
    AlertFilter, AlertRecord, AlertStatus, Delivery, DeliveryState, DeliveryUpdate, Error,
    NewDelivery, Result, StoredAlert,
};

fn json<T: serde::Serialize>(value: &T, column: &'static str) -> Result<String> {
    serde_json::to_string(value).map_err(|source| Error::Json { column, source })
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, column: &'static str) -> Result<T> {
    serde_json::from_str(text).map_err(|source| Error::Json { column, source })
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

const DELIVERY_COLUMNS: &str = "d.id, d.alert_id, d.notifier, d.state, d.attempts, d.created_at,
    d.next_attempt_at, d.updated_at, d.delivered_at, d.last_error, d.payload";

fn delivery(row: &Row<'_>) -> Result<Delivery> {
    let state: String = row.get(3)?;
    let attempts: i64 = row.get(4)?;
    let payload: String = row.get(10)?;
    Ok(Delivery {
        id: row.get(0)?,
        alert_id: row.get(1)?,
        notifier: row.get(2)?,
        state: state.parse().map_err(|_| Error::Corrupt {
            column: "state",
            value: state.clone(),
        })?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: timestamp(row.get(5)?, "created_at")?,
        next_attempt_at: timestamp(row.get(6)?, "next_attempt_at")?,
        updated_at: timestamp(row.get(7)?, "updated_at")?,
        delivered_at: row
            .get::<_, Option<i64>>(8)?
            .map(|t| timestamp(t, "delivered_at"))
            .transpose()?,
        last_error: row.get(9)?,
        payload: from_json(&payload, "payload")?,
    })
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

const ALERT_COLUMNS: &str = "a.id, a.rule, a.group_key, a.status, a.severity, a.labels,
    a.annotations, a.starts_at, a.ends_at, a.first_seen, a.last_seen, a.event_count,
    a.silenced_by, a.events";

fn alert(row: &Row<'_>) -> Result<(i64, AlertRecord)> {
    let status: String = row.get(3)?;
    let severity: String = row.get(4)?;
    let labels: String = row.get(5)?;
    let annotations: String = row.get(6)?;
    let events: String = row.get(13)?;
    let event_count: i64 = row.get(11)?;
    let record = AlertRecord {
        rule: row.get(1)?,
        group_key: row.get(2)?,
        status: status.parse::<AlertStatus>().map_err(|_| Error::Corrupt {
            column: "status",
            value: status.clone(),
        })?,
        severity: severity.parse::<Severity>().map_err(|_| Error::Corrupt {
            column: "severity",
            value: severity.clone(),
        })?,
        labels: from_json(&labels, "labels")?,
        annotations: from_json(&annotations, "annotations")?,
        starts_at: timestamp(row.get(7)?, "starts_at")?,
        ends_at: row
            .get::<_, Option<i64>>(8)?
            .map(|t| timestamp(t, "ends_at"))
            .transpose()?,
        first_seen: timestamp(row.get(9)?, "first_seen")?,
        last_seen: timestamp(row.get(10)?, "last_seen")?,
        event_count: u64::try_from(event_count).unwrap_or(0),
        silenced_by: row.get(12)?,
        events: from_json(&events, "events")?,
    };
    Ok((row.get(0)?, record))
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
