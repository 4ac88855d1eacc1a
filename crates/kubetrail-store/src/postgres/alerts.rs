//! The alert outbox: alerts (one row per rule, group and start) and their deliveries (one row
//! per notification to one notifier), saved together so that nothing is sent that is not
//! stored first. Same rules as the SQLite backend (`sqlite/alerts.rs`).

use std::collections::HashMap;

use deadpool_postgres::{GenericClient, Object};
use kubetrail_model::Timestamp;

use super::filter::{Where, micros};
use crate::rows::{ALERT_COLUMNS, DELIVERY_COLUMNS, alert, delivery};
use crate::{
    AlertFilter, AlertRecord, Delivery, DeliveryState, DeliveryUpdate, Error, NewDelivery, Result,
    StoredAlert,
};

fn json<T: serde::Serialize>(value: &T, column: &'static str) -> Result<String> {
    serde_json::to_string(value).map_err(|source| Error::Json { column, source })
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Inserts or updates the alert and queues `deliveries` for it, in the caller's transaction.
/// A firing alert saved while another of its rule and group is firing is merged into that one.
pub(crate) async fn save_alert(
    c: &impl GenericClient,
    alert: &AlertRecord,
    deliveries: &[NewDelivery],
    now: Timestamp,
) -> Result<i64> {
    let starts_at = micros(alert.starts_at);
    let existing = c
        .query_opt(
            "SELECT id, starts_at FROM alerts
             WHERE rule = $1 AND group_key = $2 AND (starts_at = $3 OR status = 'firing')
             ORDER BY starts_at = $3 DESC LIMIT 1
             FOR UPDATE",
            &[&alert.rule, &alert.group_key, &starts_at],
        )
        .await?;
    let labels = json(&alert.labels, "labels")?;
    let annotations = json(&alert.annotations, "annotations")?;
    let events = json(&alert.events, "events")?;
    let ends_at = alert.ends_at.map(micros);
    let (first, last) = (micros(alert.first_seen), micros(alert.last_seen));
    let event_count = count(alert.event_count);
    let id: i64 = match existing {
        Some(row) => {
            let id: i64 = row.try_get(0)?;
            c.execute(
                "UPDATE alerts SET status = $2, severity = $3, labels = $4, annotations = $5,
                    ends_at = $6, first_seen = LEAST(first_seen, $7),
                    last_seen = GREATEST(last_seen, $8), event_count = $9, silenced_by = $10,
                    events = $11, updated_at = $12
                 WHERE id = $1",
                &[
                    &id,
                    &alert.status.as_str(),
                    &alert.severity.as_str(),
                    &labels,
                    &annotations,
                    &ends_at,
                    &first,
                    &last,
                    &event_count,
                    &alert.silenced_by,
                    &events,
                    &micros(now),
                ],
            )
            .await?;
            id
        }
        None => c
            .query_one(
                "INSERT INTO alerts (rule, group_key, status, severity, labels, annotations,
                    starts_at, ends_at, first_seen, last_seen, event_count, silenced_by, events,
                    updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 RETURNING id",
                &[
                    &alert.rule,
                    &alert.group_key,
                    &alert.status.as_str(),
                    &alert.severity.as_str(),
                    &labels,
                    &annotations,
                    &starts_at,
                    &ends_at,
                    &first,
                    &last,
                    &event_count,
                    &alert.silenced_by,
                    &events,
                    &micros(now),
                ],
            )
            .await?
            .try_get(0)?,
    };
    if !deliveries.is_empty() {
        let payload = json(alert, "payload")?;
        let notifiers: Vec<&str> = deliveries.iter().map(|d| d.notifier.as_str()).collect();
        let due: Vec<i64> = deliveries.iter().map(|d| micros(d.due_at)).collect();
        c.execute(
            "INSERT INTO alert_deliveries (alert_id, notifier, state, attempts, created_at,
                next_attempt_at, updated_at, payload)
             SELECT $1, n, 'pending', 0, $3, d, $3, $4
             FROM unnest($2::text[], $5::int8[]) WITH ORDINALITY AS u(n, d, i) ORDER BY i",
            &[&id, &notifiers, &micros(now), &payload, &due],
        )
        .await?;
    }
    Ok(id)
}

/// Pending deliveries that are due, and deliveries whose worker's lease has run out, oldest
/// due first, at most `limit` per notifier (0: all).
pub(crate) async fn due_deliveries(
    c: &impl GenericClient,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<Delivery>> {
    let limit = (limit > 0).then(|| i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = c
        .query(
            &format!(
                "WITH due AS (
                     SELECT id, ROW_NUMBER() OVER (PARTITION BY notifier ORDER BY next_attempt_at, id) AS n
                     FROM alert_deliveries
                     WHERE state IN ('pending', 'delivering') AND next_attempt_at <= $1)
                 SELECT {DELIVERY_COLUMNS} FROM alert_deliveries d JOIN due ON due.id = d.id
                 WHERE $2::bigint IS NULL OR due.n <= $2
                 ORDER BY d.next_attempt_at, d.id"
            ),
            &[&micros(now), &limit],
        )
        .await?;
    rows.iter().map(delivery).collect()
}

/// Applies a state change; a final delivery never changes again.
pub(crate) async fn update_delivery(c: &impl GenericClient, u: &DeliveryUpdate) -> Result<()> {
    let delivered_at = (u.state == DeliveryState::Delivered).then(|| micros(u.at));
    c.execute(
        "UPDATE alert_deliveries SET state = $2, attempts = $3, next_attempt_at = $4,
            last_error = $5, updated_at = $6, delivered_at = COALESCE($7, delivered_at)
         WHERE id = $1 AND state IN ('pending', 'delivering')",
        &[
            &u.id,
            &u.state.as_str(),
            &i64::from(u.attempts),
            &micros(u.next_attempt_at),
            &u.last_error,
            &micros(u.at),
            &delivered_at,
        ],
    )
    .await?;
    Ok(())
}

/// Alerts matching the filter, newest start first, each with its deliveries (oldest first).
pub(crate) async fn alerts(client: &mut Object, f: &AlertFilter) -> Result<Vec<StoredAlert>> {
    let mut w = Where::new();
    if let Some(id) = f.id {
        let p = w.param(id);
        w.and(&format!("a.id = {p}"));
    }
    if let Some(status) = f.status {
        let p = w.param(status.as_str().to_owned());
        w.and(&format!("a.status = {p}"));
    }
    if !f.rules.is_empty() {
        let p = w.param(f.rules.clone());
        w.and(&format!("a.rule = ANY({p})"));
    }
    if let Some(key) = &f.group_key {
        let p = w.param(key.clone());
        w.and(&format!("a.group_key = {p}"));
    }
    if let Some(since) = f.since {
        let p = w.param(micros(since));
        w.and(&format!("(a.ends_at IS NULL OR a.ends_at >= {p})"));
    }
    let limit = (f.limit > 0).then(|| i64::try_from(f.limit).unwrap_or(i64::MAX));
    let l = w.param(limit);
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts a{} ORDER BY a.starts_at DESC, a.id DESC LIMIT {l}",
        w.sql
    );
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let mut out: Vec<StoredAlert> = Vec::new();
    for row in tx.query(&sql, &w.refs()).await? {
        let (id, alert) = alert(&row)?;
        out.push(StoredAlert {
            id,
            alert,
            deliveries: Vec::new(),
        });
    }
    let index: HashMap<i64, usize> = out.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    let ids: Vec<i64> = index.keys().copied().collect();
    let rows = tx
        .query(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries d
                 WHERE d.alert_id = ANY($1) ORDER BY d.id"
            ),
            &[&ids],
        )
        .await?;
    for row in &rows {
        let d = delivery(row)?;
        if let Some(i) = index.get(&d.alert_id) {
            out[*i].deliveries.push(d);
        }
    }
    tx.commit().await?;
    Ok(out)
}
