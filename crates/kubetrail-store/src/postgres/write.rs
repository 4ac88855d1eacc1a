//! Writing one batch inside the open transaction, with the same results as SQLite's
//! event-by-event writes, in a fixed number of multi-row statements per batch:
//! 1. placements (pod → node) upserted; the ones new or changed are remembered;
//! 2. the batch's stored events locked (`FOR UPDATE`, in id order), so that concurrent writers
//!    of the same Event (a redelivery to another instance) count each increase once;
//! 3. first copies of unknown events inserted (`unnest` arrays, `ON CONFLICT DO NOTHING`: one
//!    that another writer inserted meanwhile is locked and treated as stored);
//! 4. every other copy, in batch order, applied in memory as SQLite would: only a count
//!    increase adds an occurrence, the newest fields win;
//! 5. the updates, occurrences, node back-fill, rollup deltas and size delta written.

use std::collections::{BTreeMap, HashMap};

use deadpool_postgres::GenericClient;
use kubetrail_model::{Event, new_occurrences, stored_count};
use tokio_postgres::Row;

use super::filter::micros;
use super::rollup::{Deltas, Dims};
use super::stats::add_bytes;
use crate::identity::same_object;
use crate::written::Outcome;
use crate::{Error, Result};

/// Estimated bytes of one occurrence row with its two index entries.
pub(crate) const OCCURRENCE_BYTES: i64 = 80;

/// Estimated bytes of an event row besides its text: header, numbers, five index entries.
const EVENT_OVERHEAD: i64 = 240;

const LOCK: &str = "
SELECT e.id, e.cluster, e.uid, e.count, e.namespace, e.reg_kind, e.reason, e.category,
       e.severity, e.type, e.correlation_id, e.bytes, e.reg_name
FROM events e JOIN unnest($1::text[], $2::text[]) AS k(cluster, uid)
  ON e.cluster = k.cluster AND e.uid = k.uid
ORDER BY e.id
FOR UPDATE OF e";

const INSERT: &str = "
INSERT INTO events (
    cluster, uid, namespace, name, reg_api_version, reg_kind, reg_namespace, reg_name, reg_uid,
    reg_field_path, related, reason, note, type, action, reporting_controller,
    reporting_instance, first_seen, last_seen, count, resource_version, category, severity,
    correlation_id, owner_kind, owner_name, node, template, labels, bytes, stored_at)
SELECT u.cluster, u.uid, u.namespace, u.name, u.reg_api_version, u.reg_kind, u.reg_namespace,
    u.reg_name, u.reg_uid, u.reg_field_path, u.related, u.reason, u.note, u.type, u.action,
    u.reporting_controller, u.reporting_instance, u.first_seen, u.last_seen, u.count,
    u.resource_version, u.category, u.severity, u.correlation_id, u.owner_kind, u.owner_name,
    COALESCE(u.node, CASE WHEN u.reg_kind = 'Pod' THEN (
        SELECT p.node FROM placements p
        WHERE p.cluster = u.cluster AND p.namespace = u.reg_namespace AND p.pod = u.reg_name)
    END),
    u.template, u.labels, u.bytes, $31
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
    $15::text[], $16::text[], $17::text[], $18::int8[], $19::int8[], $20::int8[], $21::text[],
    $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::text[], $28::text[],
    $29::text[], $30::int8[])
  WITH ORDINALITY AS u(cluster, uid, namespace, name, reg_api_version, reg_kind, reg_namespace,
    reg_name, reg_uid, reg_field_path, related, reason, note, type, action, reporting_controller,
    reporting_instance, first_seen, last_seen, count, resource_version, category, severity,
    correlation_id, owner_kind, owner_name, node, template, labels, bytes, ord)
ORDER BY u.ord
ON CONFLICT (cluster, uid) DO NOTHING
RETURNING id, cluster, uid";

/// What processing adds may have improved since the first write; what is unknown now is kept.
const UPDATE: &str = "
UPDATE events e SET
    count = u.count, last_seen = GREATEST(e.last_seen, u.last_seen), note = u.note,
    resource_version = u.resource_version, template = u.template, category = u.category,
    severity = u.severity, correlation_id = u.correlation_id,
    owner_kind = COALESCE(u.owner_kind, e.owner_kind),
    owner_name = COALESCE(u.owner_name, e.owner_name),
    node = COALESCE(u.node, e.node), labels = COALESCE(u.labels, e.labels), bytes = u.bytes,
    stored_at = $15
FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::int8[])
  AS u(id, count, last_seen, note, resource_version, template, category, severity,
    correlation_id, owner_kind, owner_name, node, labels, bytes)
WHERE e.id = u.id";

/// Counts copies refused as identity conflicts (one row per distinct conflict, see the
/// schema's `identity_conflicts`).
const CONFLICTS: &str = "
INSERT INTO identity_conflicts AS c (cluster, uid, namespace, kind, name, count, last_at)
SELECT u.cluster, u.uid, u.namespace, u.kind, u.name, u.count, $7
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[])
  AS u(cluster, uid, namespace, kind, name, count)
ON CONFLICT (cluster, uid, namespace, kind, name)
DO UPDATE SET count = c.count + excluded.count, last_at = excluded.last_at";

const OCCURRENCES: &str = "
INSERT INTO occurrences (event_id, ts, count, stored_at)
SELECT u.*, $4 FROM unnest($1::int8[], $2::int8[], $3::int8[]) AS u";

const OCCURRENCES_OF: &str = "SELECT ts, count FROM occurrences WHERE event_id = $1";

/// Returns only the placements that are new or name another node.
const PLACEMENTS: &str = "
INSERT INTO placements (cluster, namespace, pod, node)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
ON CONFLICT (cluster, namespace, pod) DO UPDATE SET node = excluded.node
WHERE placements.node IS DISTINCT FROM excluded.node
RETURNING cluster, namespace, pod, node";

/// Events of a pod stored before its node was known get it now.
const BACKFILL: &str = "
UPDATE events e SET node = p.node
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS p(cluster, namespace, pod, node)
WHERE e.cluster = p.cluster AND e.reg_namespace = p.namespace AND e.reg_kind = 'Pod'
  AND e.reg_name = p.pod AND e.node IS NULL";

/// A stored event as this batch sees it, and what the batch changes in it.
struct Stored<'a> {
    id: i64,
    count: i64,
    dims: Dims,
    /// The regarding object's name (its namespace and kind are in `dims`).
    reg_name: String,
    bytes: i64,
    update: Option<Update<'a>>,
}

/// The fields an update writes (the newest copy's, folding in what older copies knew).
struct Update<'a> {
    event: &'a Event,
    last_seen: i64,
    owner: Option<&'a kubetrail_model::Owner>,
    node: Option<&'a str>,
    labels: Option<String>,
    bytes: i64,
}

/// Writes a batch in the open transaction; returns what each event did, in batch order. On
/// error part of it may be written: the caller rolls the transaction back.
/// `stored_at` (micros) is when the batch is stored: see `crate::expiry`.
pub(crate) async fn write_batch(
    c: &impl GenericClient,
    events: &[Event],
    stored_at: i64,
) -> Result<Vec<Outcome>> {
    let placed = place(c, events).await?;

    // Copies of one Event (with their positions in the batch), in batch order.
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut copies: HashMap<(&str, &str), Vec<(usize, &Event)>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let key = (e.cluster.as_str(), e.uid.as_str());
        copies
            .entry(key)
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push((i, e));
    }
    let mut stored = lock(c, &order).await?;
    let unknown: Vec<&Event> = order
        .iter()
        .filter(|k| !stored.contains_key(*k))
        .map(|k| copies[k][0].1)
        .collect();
    let inserted = insert(c, &unknown, stored_at).await?;
    let raced: Vec<(&str, &str)> = unknown
        .iter()
        .map(|e| (e.cluster.as_str(), e.uid.as_str()))
        .filter(|k| !inserted.contains_key(k))
        .collect();
    if !raced.is_empty() {
        // Inserted by another writer since the lock: stored now, and locked by this.
        stored.extend(lock(c, &raced).await?);
    }

    let mut outcomes: Vec<Option<Outcome>> = vec![None; events.len()];
    let mut deltas = Deltas::default();
    let mut occurrences: Vec<(i64, i64, i64)> = Vec::new();
    let mut conflicts: Vec<&Event> = Vec::new();
    let mut bytes_delta = 0;
    let mut changed: Vec<Stored<'_>> = Vec::new();
    for key in &order {
        let all = &copies[key];
        let (mut s, rest) = match inserted.get(key) {
            Some(id) => {
                let (i, first) = all[0];
                let s = Stored {
                    id: *id,
                    count: count_of(first),
                    dims: dims(first),
                    reg_name: first.regarding.name.clone(),
                    bytes: event_bytes(first),
                    update: None,
                };
                let added = new_occurrences(None, first);
                for o in &added {
                    let (ts, n) = (micros(o.at), db_count(o.count));
                    occurrences.push((s.id, ts, n));
                    deltas.add(ts, &s.dims, n);
                }
                bytes_delta += s.bytes;
                outcomes[i] = Some(Outcome::New(added));
                (s, &all[1..])
            }
            None => {
                let s = stored.remove(key).ok_or_else(|| Error::Corrupt {
                    column: "uid",
                    value: format!("{}/{} neither stored nor inserted", key.0, key.1),
                })?;
                (s, &all[..])
            }
        };
        for &(i, e) in rest {
            outcomes[i] = Some(if same_object(&s.dims[1], &s.dims[2], &s.reg_name, e) {
                apply_copy(c, &mut s, e, &mut deltas, &mut occurrences).await?
            } else {
                conflicts.push(e);
                Outcome::Conflict
            });
        }
        if let Some(u) = &s.update {
            bytes_delta += u.bytes - s.bytes;
            changed.push(s);
        }
    }
    update(c, &changed, stored_at).await?;
    insert_occurrences(c, &occurrences, stored_at).await?;
    record_conflicts(c, &conflicts, stored_at).await?;
    bytes_delta += OCCURRENCE_BYTES * occurrences.len() as i64;
    backfill(c, &placed).await?;
    deltas.apply(c).await?;
    add_bytes(c, bytes_delta).await?;
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.ok_or_else(|| Error::Corrupt {
                column: "uid",
                value: format!("event {i} of the batch was not written"),
            })
        })
        .collect()
}

/// Applies a later copy of a stored event about the same object: only a count increase changes
/// anything.
async fn apply_copy<'a>(
    c: &impl GenericClient,
    s: &mut Stored<'a>,
    e: &'a Event,
    deltas: &mut Deltas,
    occurrences: &mut Vec<(i64, i64, i64)>,
) -> Result<Outcome> {
    let count = count_of(e);
    let stored = u64::try_from(s.count).unwrap_or(0);
    let Some(added) = new_occurrences(Some(stored), e).pop() else {
        return Ok(Outcome::Unchanged);
    };
    let (last, delta) = (micros(added.at), db_count(added.count));
    let new_dims = {
        let mut d = s.dims.clone();
        d[4] = e.category.as_str().to_owned();
        d[5] = e.severity.as_str().to_owned();
        d[7] = e.correlation_id.clone();
        d
    };
    if new_dims != s.dims {
        // The event's earlier occurrences (stored, and added by this batch) now count under its
        // new dimensions.
        let stmt = c.prepare_cached(OCCURRENCES_OF).await?;
        for row in c.query(&stmt, &[&s.id]).await? {
            let (ts, n): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            deltas.add(ts, &s.dims, -n);
            deltas.add(ts, &new_dims, n);
        }
        for (_, ts, n) in occurrences.iter().filter(|(id, _, _)| *id == s.id) {
            deltas.add(*ts, &s.dims, -n);
            deltas.add(*ts, &new_dims, *n);
        }
        s.dims = new_dims;
    }
    occurrences.push((s.id, last, delta));
    deltas.add(last, &s.dims, delta);
    let previous = s.update.take();
    let labels = labels_json(e)?;
    s.update = Some(Update {
        event: e,
        last_seen: previous.as_ref().map_or(last, |p| p.last_seen.max(last)),
        owner: e.owner.as_ref().or(previous.as_ref().and_then(|p| p.owner)),
        node: e.node.as_deref().or(previous.as_ref().and_then(|p| p.node)),
        labels: labels.or(previous.and_then(|p| p.labels)),
        bytes: event_bytes(e),
    });
    s.count = count;
    Ok(Outcome::Updated(added))
}

/// The stored count (see [`stored_count`]).
fn count_of(e: &Event) -> i64 {
    db_count(stored_count(e))
}

fn db_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn dims(e: &Event) -> Dims {
    [
        e.cluster.clone(),
        e.namespace.clone(),
        e.regarding.kind.clone(),
        e.reason.clone(),
        e.category.as_str().to_owned(),
        e.severity.as_str().to_owned(),
        e.type_.clone(),
        e.correlation_id.clone(),
    ]
}

/// An estimate of the bytes an event takes with its index and full-text entries.
fn event_bytes(e: &Event) -> i64 {
    let r = &e.regarding;
    let text = [
        &e.cluster,
        &e.uid,
        &e.namespace,
        &e.name,
        &r.api_version,
        &r.kind,
        &r.namespace,
        &r.name,
        &r.uid,
        &r.field_path,
        &e.reason,
        &e.type_,
        &e.action,
        &e.reporting_controller,
        &e.reporting_instance,
        &e.resource_version,
        &e.correlation_id,
        &e.template,
    ]
    .iter()
    .map(|s| s.len())
    .sum::<usize>()
        + 2 * e.note.len()
        + e.labels
            .iter()
            .map(|(k, v)| k.len() + v.len() + 6)
            .sum::<usize>();
    EVENT_OVERHEAD + i64::try_from(text).unwrap_or(i64::MAX / 2)
}

fn json<T: serde::Serialize>(value: &T, column: &'static str) -> Result<String> {
    serde_json::to_string(value).map_err(|source| Error::Json { column, source })
}

fn labels_json(e: &Event) -> Result<Option<String>> {
    (!e.labels.is_empty())
        .then(|| json(&e.labels, "labels"))
        .transpose()
}

/// The lock query's row as a stored event (its key, and what updates need).
fn stored_from<'a>(row: &Row) -> Result<((String, String), Stored<'a>)> {
    let cluster: String = row.try_get(1)?;
    let dims: Dims = [
        cluster.clone(),
        row.try_get(4)?,
        row.try_get(5)?,
        row.try_get(6)?,
        row.try_get(7)?,
        row.try_get(8)?,
        row.try_get(9)?,
        row.try_get(10)?,
    ];
    let stored = Stored {
        id: row.try_get(0)?,
        count: row.try_get(3)?,
        dims,
        bytes: row.try_get(11)?,
        reg_name: row.try_get(12)?,
        update: None,
    };
    Ok(((cluster, row.try_get(2)?), stored))
}

/// Locks the stored events among `keys` and reads what updates need.
async fn lock<'k, 'a>(
    c: &impl GenericClient,
    keys: &[(&'k str, &'k str)],
) -> Result<HashMap<(&'k str, &'k str), Stored<'a>>> {
    let clusters: Vec<&str> = keys.iter().map(|k| k.0).collect();
    let uids: Vec<&str> = keys.iter().map(|k| k.1).collect();
    let stmt = c.prepare_cached(LOCK).await?;
    let rows = c.query(&stmt, &[&clusters, &uids]).await?;
    let by_key: HashMap<(&str, &str), (&'k str, &'k str)> =
        keys.iter().map(|k| ((k.0, k.1), *k)).collect();
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        let ((cluster, uid), stored) = stored_from(row)?;
        if let Some(key) = by_key.get(&(cluster.as_str(), uid.as_str())) {
            out.insert(*key, stored);
        }
    }
    Ok(out)
}

/// Inserts the events, skipping any stored meanwhile; returns the ids of those inserted.
async fn insert<'e>(
    c: &impl GenericClient,
    events: &[&'e Event],
    stored_at: i64,
) -> Result<HashMap<(&'e str, &'e str), i64>> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let text = |f: fn(&Event) -> &str| -> Vec<&str> { events.iter().map(|e| f(e)).collect() };
    let related: Vec<Option<String>> = events
        .iter()
        .map(|e| e.related.as_ref().map(|r| json(r, "related")).transpose())
        .collect::<Result<_>>()?;
    let labels: Vec<Option<String>> = events
        .iter()
        .map(|e| labels_json(e))
        .collect::<Result<_>>()?;
    let first: Vec<i64> = events.iter().map(|e| micros(e.first_seen)).collect();
    let last: Vec<i64> = events.iter().map(|e| micros(e.last_seen)).collect();
    let count: Vec<i64> = events.iter().map(|e| count_of(e)).collect();
    let owner_kind: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.owner.as_ref().map(|o| o.kind.as_str()))
        .collect();
    let owner_name: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.owner.as_ref().map(|o| o.name.as_str()))
        .collect();
    let node: Vec<Option<&str>> = events.iter().map(|e| e.node.as_deref()).collect();
    let bytes: Vec<i64> = events.iter().map(|e| event_bytes(e)).collect();
    let cluster = text(|e| &e.cluster);
    let uid = text(|e| &e.uid);
    let namespace = text(|e| &e.namespace);
    let name = text(|e| &e.name);
    let api_version = text(|e| &e.regarding.api_version);
    let kind = text(|e| &e.regarding.kind);
    let reg_namespace = text(|e| &e.regarding.namespace);
    let reg_name = text(|e| &e.regarding.name);
    let reg_uid = text(|e| &e.regarding.uid);
    let field_path = text(|e| &e.regarding.field_path);
    let reason = text(|e| &e.reason);
    let note = text(|e| &e.note);
    let type_ = text(|e| &e.type_);
    let action = text(|e| &e.action);
    let controller = text(|e| &e.reporting_controller);
    let instance = text(|e| &e.reporting_instance);
    let rv = text(|e| &e.resource_version);
    let category = text(|e| e.category.as_str());
    let severity = text(|e| e.severity.as_str());
    let correlation = text(|e| &e.correlation_id);
    let template = text(|e| &e.template);
    let stmt = c.prepare_cached(INSERT).await?;
    let rows = c
        .query(
            &stmt,
            &[
                &cluster,
                &uid,
                &namespace,
                &name,
                &api_version,
                &kind,
                &reg_namespace,
                &reg_name,
                &reg_uid,
                &field_path,
                &related,
                &reason,
                &note,
                &type_,
                &action,
                &controller,
                &instance,
                &first,
                &last,
                &count,
                &rv,
                &category,
                &severity,
                &correlation,
                &owner_kind,
                &owner_name,
                &node,
                &template,
                &labels,
                &bytes,
                &stored_at,
            ],
        )
        .await?;
    let keys: HashMap<(&str, &str), (&'e str, &'e str)> = events
        .iter()
        .map(|e| {
            let k = (e.cluster.as_str(), e.uid.as_str());
            (k, k)
        })
        .collect();
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let cluster: &str = row.try_get(1)?;
        let uid: &str = row.try_get(2)?;
        if let Some(k) = keys.get(&(cluster, uid)) {
            out.insert(*k, id);
        }
    }
    Ok(out)
}

async fn update(c: &impl GenericClient, changed: &[Stored<'_>], stored_at: i64) -> Result<()> {
    let updates: Vec<(i64, i64, &Update<'_>)> = changed
        .iter()
        .filter_map(|s| s.update.as_ref().map(|u| (s.id, s.count, u)))
        .collect();
    if updates.is_empty() {
        return Ok(());
    }
    let id: Vec<i64> = updates.iter().map(|u| u.0).collect();
    let count: Vec<i64> = updates.iter().map(|u| u.1).collect();
    let last: Vec<i64> = updates.iter().map(|u| u.2.last_seen).collect();
    let text =
        |f: fn(&Event) -> &str| -> Vec<&str> { updates.iter().map(|u| f(u.2.event)).collect() };
    let note = text(|e| &e.note);
    let rv = text(|e| &e.resource_version);
    let template = text(|e| &e.template);
    let category = text(|e| e.category.as_str());
    let severity = text(|e| e.severity.as_str());
    let correlation = text(|e| &e.correlation_id);
    let owner_kind: Vec<Option<&str>> = updates
        .iter()
        .map(|u| u.2.owner.map(|o| o.kind.as_str()))
        .collect();
    let owner_name: Vec<Option<&str>> = updates
        .iter()
        .map(|u| u.2.owner.map(|o| o.name.as_str()))
        .collect();
    let node: Vec<Option<&str>> = updates.iter().map(|u| u.2.node).collect();
    let labels: Vec<Option<&str>> = updates.iter().map(|u| u.2.labels.as_deref()).collect();
    let bytes: Vec<i64> = updates.iter().map(|u| u.2.bytes).collect();
    let stmt = c.prepare_cached(UPDATE).await?;
    c.execute(
        &stmt,
        &[
            &id,
            &count,
            &last,
            &note,
            &rv,
            &template,
            &category,
            &severity,
            &correlation,
            &owner_kind,
            &owner_name,
            &node,
            &labels,
            &bytes,
            &stored_at,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_occurrences(
    c: &impl GenericClient,
    rows: &[(i64, i64, i64)],
    stored_at: i64,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let id: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let ts: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let count: Vec<i64> = rows.iter().map(|r| r.2).collect();
    let stmt = c.prepare_cached(OCCURRENCES).await?;
    c.execute(&stmt, &[&id, &ts, &count, &stored_at]).await?;
    Ok(())
}

async fn record_conflicts(c: &impl GenericClient, refused: &[&Event], at: i64) -> Result<()> {
    if refused.is_empty() {
        return Ok(());
    }
    // One row per distinct conflict: a statement may not update the same row twice.
    let mut counts: BTreeMap<[&str; 5], i64> = BTreeMap::new();
    for e in refused {
        let r = &e.regarding;
        *counts
            .entry([&e.cluster, &e.uid, &e.namespace, &r.kind, &r.name])
            .or_default() += 1;
    }
    let column = |i: usize| -> Vec<&str> { counts.keys().map(|k| k[i]).collect() };
    let n: Vec<i64> = counts.values().copied().collect();
    let stmt = c.prepare_cached(CONFLICTS).await?;
    c.execute(
        &stmt,
        &[
            &column(0),
            &column(1),
            &column(2),
            &column(3),
            &column(4),
            &n,
            &at,
        ],
    )
    .await?;
    Ok(())
}

type Placement = (String, String, String, String);

/// Records where the batch's pods run; returns the placements that are new or changed.
async fn place(c: &impl GenericClient, events: &[Event]) -> Result<Vec<Placement>> {
    let mut latest: BTreeMap<(&str, &str, &str), &str> = BTreeMap::new();
    for e in events {
        if let (Some(node), "Pod") = (&e.node, e.regarding.kind.as_str()) {
            latest.insert(
                (&e.cluster, &e.regarding.namespace, &e.regarding.name),
                node,
            );
        }
    }
    if latest.is_empty() {
        return Ok(Vec::new());
    }
    let cluster: Vec<&str> = latest.keys().map(|k| k.0).collect();
    let namespace: Vec<&str> = latest.keys().map(|k| k.1).collect();
    let pod: Vec<&str> = latest.keys().map(|k| k.2).collect();
    let node: Vec<&str> = latest.values().copied().collect();
    let stmt = c.prepare_cached(PLACEMENTS).await?;
    let rows = c.query(&stmt, &[&cluster, &namespace, &pod, &node]).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect()
}

async fn backfill(c: &impl GenericClient, placed: &[Placement]) -> Result<()> {
    if placed.is_empty() {
        return Ok(());
    }
    let cluster: Vec<&str> = placed.iter().map(|p| p.0.as_str()).collect();
    let namespace: Vec<&str> = placed.iter().map(|p| p.1.as_str()).collect();
    let pod: Vec<&str> = placed.iter().map(|p| p.2.as_str()).collect();
    let node: Vec<&str> = placed.iter().map(|p| p.3.as_str()).collect();
    let stmt = c.prepare_cached(BACKFILL).await?;
    c.execute(&stmt, &[&cluster, &namespace, &pod, &node])
        .await?;
    Ok(())
}
