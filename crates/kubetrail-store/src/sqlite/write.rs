//! Writing one batch of events inside the open write transaction.
//!
//! Each Event object is stored once per `(cluster, uid)`; the first write records its count as
//! occurrences (one at `first_seen`, the rest at `last_seen`), later writes only the increase of
//! its count, at their `last_seen`. Every occurrence also goes into the hourly rollups.

use std::borrow::Cow;

use kubetrail_model::{Event, new_occurrences, stored_count};
use rusqlite::{CachedStatement, Connection, params};

use super::filter::micros;
use super::rollup::RollupDeltas;
use crate::identity::same_object;
use crate::written::Outcome;
use crate::{Error, Result};

/// No `RETURNING`: it would give the statement a statement journal, and FTS5 flushes its pending
/// index at every such statement (measured 3× slower); `changes()` and `last_insert_rowid()`
/// tell the same.
const INSERT: &str = "
INSERT INTO events (
    cluster, uid, namespace, name, reg_api_version, reg_kind, reg_namespace, reg_name, reg_uid,
    reg_field_path, related, reason, note, type, action, reporting_controller,
    reporting_instance, first_seen, last_seen, count, resource_version, category, severity,
    correlation_id, owner_kind, owner_name, node, template, labels, stored_at)
VALUES (
    ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
    ?21, ?22, ?23, ?24, ?25, ?26,
    COALESCE(?27, CASE WHEN ?6 = 'Pod' THEN
        (SELECT node FROM placements WHERE cluster = ?1 AND namespace = ?7 AND pod = ?8) END),
    ?28, ?29, ?30)
ON CONFLICT (cluster, uid) DO NOTHING";

const EXISTING: &str = "
SELECT id, count, note, namespace, reg_kind, reason, type, category, severity, correlation_id,
       reg_name
FROM events WHERE cluster = ?1 AND uid = ?2";

/// What processing adds may have improved since the first write; what is unknown now is kept.
const UPDATE: &str = "
UPDATE events SET
    count = ?2, last_seen = MAX(last_seen, ?3), note = ?4, resource_version = ?5,
    template = ?6, category = ?7, severity = ?8, correlation_id = ?9,
    owner_kind = COALESCE(?10, owner_kind), owner_name = COALESCE(?11, owner_name),
    node = COALESCE(?12, node), labels = COALESCE(?13, labels), stored_at = ?14
WHERE id = ?1";

const OCCURRENCE: &str =
    "INSERT INTO occurrences (event_id, ts, count, stored_at) VALUES (?1, ?2, ?3, ?4)";
const OCCURRENCES_OF: &str = "SELECT ts, count FROM occurrences WHERE event_id = ?1";
const CONFLICT: &str = "
INSERT INTO identity_conflicts (cluster, uid, namespace, kind, name, count, last_at)
VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)
ON CONFLICT (cluster, uid, namespace, kind, name)
DO UPDATE SET count = count + 1, last_at = excluded.last_at";
const FTS_INSERT: &str = "INSERT INTO events_fts (rowid, note) VALUES (?1, ?2)";
const FTS_DELETE: &str =
    "INSERT INTO events_fts (events_fts, rowid, note) VALUES ('delete', ?1, ?2)";

/// Returns a non-zero change count only when the pod's node is new or different.
const PLACEMENT: &str = "
INSERT INTO placements (cluster, namespace, pod, node) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT DO UPDATE SET node = excluded.node WHERE node IS NOT excluded.node";

/// Events of a pod stored before its node was known get it now (at the end of the batch: a
/// multi-row update also flushes FTS5's pending index).
const BACKFILL: &str = "
UPDATE events SET node = ?1
WHERE cluster = ?2 AND reg_namespace = ?3 AND reg_kind = 'Pod' AND reg_name = ?4
  AND node IS NULL";

struct Statements<'c> {
    conn: &'c Connection,
    /// Whether notes go into `events_fts` now (not when a bulk write rebuilds it at commit).
    fts: bool,
    /// When this batch is stored (micros): see `crate::expiry`.
    stored_at: i64,
    insert: CachedStatement<'c>,
    existing: CachedStatement<'c>,
    update: CachedStatement<'c>,
    occurrence: CachedStatement<'c>,
    occurrences_of: CachedStatement<'c>,
    conflict: CachedStatement<'c>,
    fts_insert: CachedStatement<'c>,
    fts_delete: CachedStatement<'c>,
    placement: CachedStatement<'c>,
    backfill: CachedStatement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(conn: &'c Connection, stored_at: i64, fts: bool) -> Result<Self> {
        Ok(Statements {
            conn,
            fts,
            stored_at,
            insert: conn.prepare_cached(INSERT)?,
            existing: conn.prepare_cached(EXISTING)?,
            update: conn.prepare_cached(UPDATE)?,
            occurrence: conn.prepare_cached(OCCURRENCE)?,
            occurrences_of: conn.prepare_cached(OCCURRENCES_OF)?,
            conflict: conn.prepare_cached(CONFLICT)?,
            fts_insert: conn.prepare_cached(FTS_INSERT)?,
            fts_delete: conn.prepare_cached(FTS_DELETE)?,
            placement: conn.prepare_cached(PLACEMENT)?,
            backfill: conn.prepare_cached(BACKFILL)?,
        })
    }
}

/// Writes a batch in the open transaction; returns what each event did, in batch order. On
/// error part of it may be written: the caller rolls the whole transaction back (a savepoint
/// per batch would make SQLite's statement journal cost grow with the batch). Notes go into
/// the full-text index when `fts` (a bulk write into an empty store rebuilds it at commit:
/// `bulk`).
pub(crate) fn write_batch(
    conn: &Connection,
    events: &[Event],
    stored_at: i64,
    fts: bool,
) -> Result<Vec<Outcome>> {
    let mut st = Statements::prepare(conn, stored_at, fts)?;
    let mut rollups = RollupDeltas::default();
    let mut outcomes = Vec::with_capacity(events.len());
    let mut placed = Vec::new();
    for e in events {
        if place(&mut st, e)? {
            placed.push(e);
        }
        outcomes.push(write_one(&mut st, e, &mut rollups)?);
    }
    for e in placed {
        let r = &e.regarding;
        st.backfill
            .execute(params![e.node, e.cluster, r.namespace, r.name])?;
    }
    drop(st);
    rollups.apply(conn)?;
    Ok(outcomes)
}

/// Records where a pod runs; true when that is new, so that the pod's earlier events get it.
fn place(st: &mut Statements<'_>, e: &Event) -> Result<bool> {
    let Some(node) = &e.node else {
        return Ok(false);
    };
    if e.regarding.kind != "Pod" {
        return Ok(false);
    }
    let (ns, pod) = (&e.regarding.namespace, &e.regarding.name);
    Ok(st.placement.execute(params![e.cluster, ns, pod, node])? > 0)
}

/// The stored count (see [`stored_count`]).
fn count_of(e: &Event) -> i64 {
    db_count(stored_count(e))
}

fn db_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json<T: serde::Serialize>(value: &T, column: &'static str) -> Result<String> {
    serde_json::to_string(value).map_err(|source| Error::Json { column, source })
}

fn write_one<'a>(
    st: &mut Statements<'_>,
    e: &'a Event,
    rollups: &mut RollupDeltas<'a>,
) -> Result<Outcome> {
    let first = micros(e.first_seen);
    let last = micros(e.last_seen);
    let count = count_of(e);
    let related = e.related.as_ref().map(|r| json(r, "related")).transpose()?;
    let labels = (!e.labels.is_empty())
        .then(|| json(&e.labels, "labels"))
        .transpose()?;
    let owner_kind = e.owner.as_ref().map(|o| o.kind.as_str());
    let owner_name = e.owner.as_ref().map(|o| o.name.as_str());
    let r = &e.regarding;
    let inserted = st.insert.execute(params![
        e.cluster,
        e.uid,
        e.namespace,
        e.name,
        r.api_version,
        r.kind,
        r.namespace,
        r.name,
        r.uid,
        r.field_path,
        related,
        e.reason,
        e.note,
        e.type_,
        e.action,
        e.reporting_controller,
        e.reporting_instance,
        first,
        last,
        count,
        e.resource_version,
        e.category.as_str(),
        e.severity.as_str(),
        e.correlation_id,
        owner_kind,
        owner_name,
        e.node,
        e.template,
        labels,
        st.stored_at,
    ])?;

    if inserted > 0 {
        let id = st.conn.last_insert_rowid();
        if st.fts {
            st.fts_insert.execute(params![id, e.note])?;
        }
        let dims = [
            Cow::Borrowed(e.cluster.as_str()),
            Cow::Borrowed(e.namespace.as_str()),
            Cow::Borrowed(r.kind.as_str()),
            Cow::Borrowed(e.reason.as_str()),
            Cow::Borrowed(e.category.as_str()),
            Cow::Borrowed(e.severity.as_str()),
            Cow::Borrowed(e.type_.as_str()),
            Cow::Borrowed(e.correlation_id.as_str()),
        ];
        let added = new_occurrences(None, e);
        for o in &added {
            let (ts, n) = (micros(o.at), db_count(o.count));
            st.occurrence.execute(params![id, ts, n, st.stored_at])?;
            rollups.add(ts, &dims, n);
        }
        return Ok(Outcome::New(added));
    }

    let old = st.existing.query_row(params![e.cluster, e.uid], |row| {
        Ok(Existing {
            id: row.get(0)?,
            count: row.get(1)?,
            note: row.get(2)?,
            dims: [
                Cow::Borrowed(e.cluster.as_str()),
                Cow::Owned(row.get(3)?),
                Cow::Owned(row.get(4)?),
                Cow::Owned(row.get(5)?),
                Cow::Owned(row.get(7)?),
                Cow::Owned(row.get(8)?),
                Cow::Owned(row.get(6)?),
                Cow::Owned(row.get(9)?),
            ],
            reg_name: row.get(10)?,
        })
    })?;
    if !same_object(&old.dims[1], &old.dims[2], &old.reg_name, e) {
        let r = &e.regarding;
        st.conflict.execute(params![
            e.cluster,
            e.uid,
            e.namespace,
            r.kind,
            r.name,
            st.stored_at
        ])?;
        return Ok(Outcome::Conflict);
    }
    let Some(added) = new_occurrences(Some(u64::try_from(old.count).unwrap_or(0)), e).pop() else {
        return Ok(Outcome::Unchanged);
    };
    let delta = db_count(added.count);
    st.update.execute(params![
        old.id,
        count,
        last,
        e.note,
        e.resource_version,
        e.template,
        e.category.as_str(),
        e.severity.as_str(),
        e.correlation_id,
        owner_kind,
        owner_name,
        e.node,
        labels,
        st.stored_at,
    ])?;
    if st.fts && old.note != e.note {
        st.fts_delete.execute(params![old.id, old.note])?;
        st.fts_insert.execute(params![old.id, e.note])?;
    }
    // Only category, severity and correlation are updated among the rollup dimensions.
    let mut dims = old.dims.clone();
    dims[4] = Cow::Borrowed(e.category.as_str());
    dims[5] = Cow::Borrowed(e.severity.as_str());
    dims[7] = Cow::Borrowed(e.correlation_id.as_str());
    if dims != old.dims {
        // The event's earlier occurrences now count under its new dimensions.
        let mut rows = st.occurrences_of.query(params![old.id])?;
        while let Some(row) = rows.next()? {
            let (ts, n): (i64, i64) = (row.get(0)?, row.get(1)?);
            rollups.add(ts, &old.dims, -n);
            rollups.add(ts, &dims, n);
        }
    }
    st.occurrence
        .execute(params![old.id, micros(added.at), delta, st.stored_at])?;
    rollups.add(micros(added.at), &dims, delta);
    Ok(Outcome::Updated(added))
}

struct Existing<'a> {
    id: i64,
    count: i64,
    note: String,
    dims: [Cow<'a, str>; 8],
    reg_name: String,
}
