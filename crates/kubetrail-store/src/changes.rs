//! Changes (issue 15): the [`ChangeStore`] role, what both backends share of it (SQL, the
//! filter, the row ↔ [`Change`] mapping), and the last-known state of each watched object.
//!
//! The change watcher diffs each object it sees against the state kept here, not in memory, so
//! its memory stays flat with the number of objects: per batch it reads the states of the
//! batch's objects ([`ChangeStore::object_states`]), diffs, and saves the new states with the
//! changes found and its cursor in one transaction ([`ChangeStore::save_changes`]).
//!
//! Tables (SQLite migration 9, PostgreSQL 5): `changes`, one row per `(cluster, uid,
//! resource_version)` (a relist or a second import of a dump stores nothing twice), fields and
//! references as JSON text; `change_states`, one row per `(cluster, uid)` with the normalized
//! state (opaque JSON text to the store: the diff's own format) and when it was last synced.

use async_trait::async_trait;
use kubetrail_model::{
    Change, ChangeFilter, ChangeOp, ChangeSource, FieldChange, ObjectRef, Timestamp,
};

use crate::{Error, Gap, Result, WatchCursor};

/// The last-known normalized state of one watched object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectState {
    /// The cluster the object lives in.
    pub cluster: String,
    /// The object (kind, namespace, name, uid; `field_path` unused).
    pub object: ObjectRef,
    /// Its `metadata.resourceVersion` when the state was taken.
    pub resource_version: String,
    /// Its `metadata.generation` then, when it has one.
    pub generation: Option<i64>,
    /// The normalized state, in the differ's own text format; the store does not read it.
    pub state: String,
    /// The ConfigMaps, Secrets and service account its pod template uses (a workload), or
    /// its target (an HPA): kept from the first listing on, so that a change of a ConfigMap
    /// can name the workloads that use it ([`ChangeStore::users_of`]) even when none of them
    /// has changed since.
    pub references: Vec<ObjectRef>,
    /// When the state was last confirmed (written by a listing or a watch event): a listing
    /// that started after it and did not see the object means the object is gone.
    pub synced_at: Timestamp,
}

/// One atomic step of the change watcher: changes found, states to keep or forget, and the
/// cursor (and gap) of the stream that covered them.
#[derive(Debug, Clone, Default)]
pub struct ChangeBatch {
    /// New changes; one already stored under its `(cluster, uid, resource_version)` is skipped.
    pub changes: Vec<Change>,
    /// States to insert or replace, by `(cluster, uid)`.
    pub states: Vec<ObjectState>,
    /// Objects whose state goes (deleted objects), as `(cluster, uid)`.
    pub forget: Vec<(String, String)>,
    /// The stream's cursor after this batch.
    pub cursor: Option<WatchCursor>,
    /// A period in which the stream may have missed changes.
    pub gap: Option<Gap>,
}

/// What [`ChangeStore::save_changes`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// Changes not stored before.
    pub new: u64,
    /// Changes already stored (a replay), skipped.
    pub unchanged: u64,
}

/// Where changes and the watched objects' last-known states are kept. Implemented by
/// [`SqliteStore`](crate::SqliteStore) and [`PostgresStore`](crate::PostgresStore); one
/// conformance suite ([`change_conformance_tests!`](crate::change_conformance_tests)) runs on
/// both.
#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// Saves a batch in one transaction: the changes (idempotent on `(cluster, uid,
    /// resource_version)`), the states, the forgotten states, the cursor and the gap.
    async fn save_changes(&self, batch: ChangeBatch) -> Result<ChangeSummary>;

    /// Changes matching `filter`, newest first (ties by id, newest stored first), at most
    /// `filter.limit` (0: all).
    async fn changes(&self, filter: &ChangeFilter) -> Result<Vec<Change>>;

    /// The stored states of these objects of `cluster` (by uid); uids without one are left out.
    async fn object_states(&self, cluster: &str, uids: &[String]) -> Result<Vec<ObjectState>>;

    /// States of `kind` in `cluster` not synced since `before` (objects a listing that started
    /// at `before` did not see: deleted while nobody watched), at most `limit`, oldest first.
    async fn stale_states(
        &self,
        cluster: &str,
        kind: &str,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ObjectState>>;

    /// The objects of `cluster` whose stored state references `object` (a ConfigMap or Secret,
    /// by kind, namespace and name): the workloads that use it.
    async fn users_of(&self, cluster: &str, object: &ObjectRef) -> Result<Vec<ObjectRef>>;

    /// Deletes changes made before `before`, and the states no watch keeps up since then
    /// (retention, which calls it with the longest age it keeps anything); returns how many
    /// changes and states went.
    async fn expire_changes(&self, before: Timestamp) -> Result<(u64, u64)>;
}

/// A query parameter either backend binds: both read `$1`, `$2`… in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    OptInt(Option<i64>),
}

/// The columns a change is read back from, in [`ChangeRow`] order.
pub(crate) const CHANGE_COLUMNS: &str = "cluster, api_version, kind, namespace, name, uid, at, \
     op, generation, resource_version, manager, source, fields, refs";

/// Inserts one change unless stored: `$1`… in [`change_params`] order, `$15` the time stored.
pub(crate) const INSERT_CHANGE: &str =
    "INSERT INTO changes (cluster, api_version, kind, namespace, \
     name, uid, at, op, generation, resource_version, manager, source, fields, refs, stored_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     ON CONFLICT (cluster, uid, resource_version) DO NOTHING";

/// Inserts or replaces one state: `$1`… in [`state_params`] order.
pub(crate) const UPSERT_STATE: &str =
    "INSERT INTO change_states (cluster, uid, api_version, kind, \
     namespace, name, resource_version, generation, state, synced_at, refs)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (cluster, uid) DO UPDATE SET api_version = excluded.api_version,
        kind = excluded.kind, namespace = excluded.namespace, name = excluded.name,
        resource_version = excluded.resource_version, generation = excluded.generation,
        state = excluded.state, synced_at = excluded.synced_at, refs = excluded.refs";

/// Deletes one state: `$1` cluster, `$2` uid.
pub(crate) const FORGET_STATE: &str = "DELETE FROM change_states WHERE cluster = $1 AND uid = $2";

/// The columns a state is read back from, in [`StateRow`] order.
pub(crate) const STATE_COLUMNS: &str = "cluster, api_version, kind, namespace, name, uid, resource_version, generation, state, synced_at, refs";

/// Stale states: `$1` cluster, `$2` kind, `$3` before (micros), `$4` limit.
pub(crate) const STALE_STATES: &str = "SELECT cluster, api_version, kind, namespace, name, uid, \
     resource_version, generation, state, synced_at, refs FROM change_states
     WHERE cluster = $1 AND kind = $2 AND synced_at < $3 ORDER BY synced_at, uid LIMIT $4";

/// The states that may reference an object: `$1` cluster, `$2` namespace, `$3` a `LIKE`
/// pattern on the references' JSON ([`users_pattern`]); [`StateRow::uses`] then checks.
pub(crate) const MAY_USE: &str = "SELECT cluster, api_version, kind, namespace, name, uid, \
     resource_version, generation, state, synced_at, refs FROM change_states
     WHERE cluster = $1 AND namespace = $2 AND refs LIKE $3";

/// The `LIKE` pattern of [`MAY_USE`] for `name` (Kubernetes names hold no `%`, `_` or `\\`;
/// a false match is dropped by [`StateRow::uses`]).
pub(crate) fn users_pattern(name: &str) -> String {
    format!("%\"name\":\"{name}\"%")
}

/// The parameters of [`STALE_STATES`] (a `limit` of 0: all).
pub(crate) fn stale_params(
    cluster: &str,
    kind: &str,
    before: Timestamp,
    limit: usize,
) -> Vec<Param> {
    vec![
        Param::Text(cluster.to_owned()),
        Param::Text(kind.to_owned()),
        Param::Int(before.as_microsecond()),
        Param::Int(
            i64::try_from(limit)
                .ok()
                .filter(|l| *l > 0)
                .unwrap_or(i64::MAX),
        ),
    ]
}

/// Old changes: `$1` the cutoff (micros).
pub(crate) const EXPIRE_CHANGES: &str = "DELETE FROM changes WHERE at < $1";

/// States no change watch keeps up any more, as retention removes them (`$1` the cutoff,
/// micros): not synced since the cutoff, and their stream (`changes/<kind, lower case, plural>`:
/// every tracked kind's plural adds an `s`) saved no cursor since then either — the resource
/// is no longer tracked, or the cluster no longer watched. A watched stream saves its cursor
/// with every batch and bookmark, so the state of an object that has not changed for longer
/// than the retention age is kept: its next change is diffed against it.
pub(crate) const EXPIRE_STATES: &str = "DELETE FROM change_states WHERE synced_at < $1
     AND NOT EXISTS (SELECT 1 FROM cursors c WHERE c.cluster = change_states.cluster
         AND c.stream = 'changes/' || lower(change_states.kind) || 's' AND c.updated_at >= $1)";

/// The parameters of [`INSERT_CHANGE`] for `c` (the last, `$15`, is `stored_at`).
pub(crate) fn change_params(c: &Change, stored_at: Timestamp) -> Result<Vec<Param>> {
    let json = |column: &'static str, r: serde_json::Result<String>| {
        r.map_err(|source| Error::Json { column, source })
    };
    let fields = json("fields", serde_json::to_string(&c.fields))?;
    let refs = json("refs", serde_json::to_string(&c.references))?;
    Ok(vec![
        Param::Text(c.cluster.clone()),
        Param::Text(c.object.api_version.clone()),
        Param::Text(c.object.kind.clone()),
        Param::Text(c.object.namespace.clone()),
        Param::Text(c.object.name.clone()),
        Param::Text(c.object.uid.clone()),
        Param::Int(c.at.as_microsecond()),
        Param::Text(op_str(c.op).to_owned()),
        Param::OptInt(c.generation),
        Param::Text(c.resource_version.clone()),
        Param::Text(c.manager.clone().unwrap_or_default()),
        Param::Text(source_str(c.source).to_owned()),
        Param::Text(fields),
        Param::Text(refs),
        Param::Int(stored_at.as_microsecond()),
    ])
}

/// The parameters of [`UPSERT_STATE`] for `s`.
pub(crate) fn state_params(s: &ObjectState) -> Result<Vec<Param>> {
    let refs = serde_json::to_string(&s.references).map_err(|source| Error::Json {
        column: "refs",
        source,
    })?;
    Ok(vec![
        Param::Text(s.cluster.clone()),
        Param::Text(s.object.uid.clone()),
        Param::Text(s.object.api_version.clone()),
        Param::Text(s.object.kind.clone()),
        Param::Text(s.object.namespace.clone()),
        Param::Text(s.object.name.clone()),
        Param::Text(s.resource_version.clone()),
        Param::OptInt(s.generation),
        Param::Text(s.state.clone()),
        Param::Int(s.synced_at.as_microsecond()),
        Param::Text(refs),
    ])
}

/// The `SELECT` of [`ChangeStore::changes`] for `f`, with its parameters.
pub(crate) fn select_changes(f: &ChangeFilter) -> (String, Vec<Param>) {
    let mut sql = format!("SELECT {CHANGE_COLUMNS} FROM changes WHERE 1 = 1");
    let mut params = Vec::new();
    let next = |p: Param, params: &mut Vec<Param>| {
        params.push(p);
        format!("${}", params.len())
    };
    if let Some(since) = f.since {
        let p = next(Param::Int(since.as_microsecond()), &mut params);
        sql.push_str(&format!(" AND at >= {p}"));
    }
    if let Some(until) = f.until {
        let p = next(Param::Int(until.as_microsecond()), &mut params);
        sql.push_str(&format!(" AND at < {p}"));
    }
    for (column, values) in [
        ("cluster", &f.clusters),
        ("namespace", &f.namespaces),
        ("kind", &f.kinds),
        ("name", &f.names),
    ] {
        if values.is_empty() {
            continue;
        }
        let list: Vec<String> = values
            .iter()
            .map(|v| next(Param::Text(v.clone()), &mut params))
            .collect();
        sql.push_str(&format!(" AND {column} IN ({})", list.join(", ")));
    }
    sql.push_str(" ORDER BY at DESC, id DESC");
    if f.limit > 0 {
        let p = next(Param::Int(f.limit as i64), &mut params);
        sql.push_str(&format!(" LIMIT {p}"));
    }
    (sql, params)
}

/// A stored change as read from [`CHANGE_COLUMNS`].
pub(crate) struct ChangeRow {
    pub cluster: String,
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub at: i64,
    pub op: String,
    pub generation: Option<i64>,
    pub resource_version: String,
    pub manager: String,
    pub source: String,
    pub fields: String,
    pub refs: String,
}

impl ChangeRow {
    pub(crate) fn into_change(self) -> Result<Change> {
        let fields: Vec<FieldChange> =
            serde_json::from_str(&self.fields).map_err(|source| Error::Json {
                column: "fields",
                source,
            })?;
        let references: Vec<ObjectRef> =
            serde_json::from_str(&self.refs).map_err(|source| Error::Json {
                column: "refs",
                source,
            })?;
        Ok(Change {
            cluster: self.cluster,
            object: object_ref(
                self.api_version,
                self.kind,
                self.namespace,
                self.name,
                self.uid,
            ),
            at: micros_to_time(self.at, "at")?,
            op: parse_op(&self.op)?,
            generation: self.generation,
            resource_version: self.resource_version,
            manager: Some(self.manager).filter(|m| !m.is_empty()),
            source: parse_source(&self.source)?,
            fields,
            references,
        })
    }
}

/// A stored state as read from [`STATE_COLUMNS`].
pub(crate) struct StateRow {
    pub cluster: String,
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub generation: Option<i64>,
    pub state: String,
    pub synced_at: i64,
    pub refs: String,
}

impl StateRow {
    pub(crate) fn into_state(self) -> Result<ObjectState> {
        let references: Vec<ObjectRef> =
            serde_json::from_str(&self.refs).map_err(|source| Error::Json {
                column: "refs",
                source,
            })?;
        Ok(ObjectState {
            cluster: self.cluster,
            object: object_ref(
                self.api_version,
                self.kind,
                self.namespace,
                self.name,
                self.uid,
            ),
            resource_version: self.resource_version,
            generation: self.generation,
            state: self.state,
            synced_at: micros_to_time(self.synced_at, "synced_at")?,
            references,
        })
    }

    /// This row's object, if its state references `object` (kind, namespace and name).
    pub(crate) fn uses(self, object: &ObjectRef) -> Result<Option<ObjectRef>> {
        let state = self.into_state()?;
        let uses = state.references.iter().any(|r| {
            let namespace = if r.namespace.is_empty() {
                &state.object.namespace
            } else {
                &r.namespace
            };
            r.kind == object.kind && r.name == object.name && *namespace == object.namespace
        });
        Ok(uses.then_some(state.object))
    }
}

fn object_ref(
    api_version: String,
    kind: String,
    namespace: String,
    name: String,
    uid: String,
) -> ObjectRef {
    ObjectRef {
        api_version,
        kind,
        namespace,
        name,
        uid,
        field_path: String::new(),
    }
}

fn micros_to_time(v: i64, column: &'static str) -> Result<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|_| Error::Corrupt {
        column,
        value: v.to_string(),
    })
}

fn op_str(op: ChangeOp) -> &'static str {
    match op {
        ChangeOp::Created => "created",
        ChangeOp::Updated => "updated",
        ChangeOp::Deleted => "deleted",
    }
}

fn parse_op(s: &str) -> Result<ChangeOp> {
    [ChangeOp::Created, ChangeOp::Updated, ChangeOp::Deleted]
        .into_iter()
        .find(|op| op_str(*op) == s)
        .ok_or_else(|| Error::Corrupt {
            column: "op",
            value: s.to_owned(),
        })
}

fn source_str(s: ChangeSource) -> &'static str {
    match s {
        ChangeSource::Watch => "watch",
        ChangeSource::Import => "import",
    }
}

fn parse_source(s: &str) -> Result<ChangeSource> {
    [ChangeSource::Watch, ChangeSource::Import]
        .into_iter()
        .find(|x| source_str(*x) == s)
        .ok_or_else(|| Error::Corrupt {
            column: "source",
            value: s.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_numbers_its_parameters_in_order_of_appearance() {
        let f = ChangeFilter {
            since: Some(Timestamp::UNIX_EPOCH),
            clusters: vec!["a".into()],
            kinds: vec!["Deployment".into(), "Node".into()],
            limit: 5,
            ..ChangeFilter::default()
        };
        let (sql, params) = select_changes(&f);
        assert!(sql.contains("at >= $1 AND cluster IN ($2) AND kind IN ($3, $4)"));
        assert!(sql.ends_with("ORDER BY at DESC, id DESC LIMIT $5"), "{sql}");
        assert_eq!(params.len(), 5);
        assert_eq!(params[4], Param::Int(5));
    }

    #[test]
    fn ops_and_sources_read_back_as_written() {
        for op in [ChangeOp::Created, ChangeOp::Updated, ChangeOp::Deleted] {
            assert_eq!(parse_op(op_str(op)).unwrap(), op);
        }
        for s in [ChangeSource::Watch, ChangeSource::Import] {
            assert_eq!(parse_source(source_str(s)).unwrap(), s);
        }
        assert!(parse_op("moved").is_err());
    }
}
