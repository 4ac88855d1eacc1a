//! Changes and the watched objects' states on SQLite (`crate::changes`: the SQL is shared).

use async_trait::async_trait;
use kubetrail_model::{Change, ChangeFilter, ObjectRef, Timestamp};
use rusqlite::types::{ToSql, ToSqlOutput};
use rusqlite::{Connection, Row, params_from_iter};

use super::{SqliteStore, cursor};
use crate::changes::{
    ChangeRow, EXPIRE_CHANGES, EXPIRE_STATES, FORGET_STATE, INSERT_CHANGE, MAY_USE, Param,
    STALE_STATES, STATE_COLUMNS, StateRow, UPSERT_STATE, change_params, select_changes,
    stale_params, state_params, users_pattern,
};
use crate::{ChangeBatch, ChangeStore, ChangeSummary, ObjectState, Result};

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(i) => i.to_sql(),
            Param::OptInt(i) => i.to_sql(),
        }
    }
}

fn save(conn: &Connection, batch: &ChangeBatch, now: Timestamp) -> Result<ChangeSummary> {
    let mut summary = ChangeSummary::default();
    for change in &batch.changes {
        let params = change_params(change, now)?;
        let n = conn
            .prepare_cached(INSERT_CHANGE)?
            .execute(params_from_iter(params.iter()))?;
        match n {
            0 => summary.unchanged += 1,
            _ => summary.new += 1,
        }
    }
    for state in &batch.states {
        conn.prepare_cached(UPSERT_STATE)?
            .execute(params_from_iter(state_params(state)?.iter()))?;
    }
    for (cluster, uid) in &batch.forget {
        conn.prepare_cached(FORGET_STATE)?.execute([cluster, uid])?;
    }
    if let Some(c) = &batch.cursor {
        cursor::save(conn, c)?;
    }
    if let Some(g) = &batch.gap {
        cursor::save_gap(conn, g)?;
    }
    Ok(summary)
}

/// Retention's part of changes (see [`ChangeStore::expire_changes`]), in the caller's
/// transaction.
pub(crate) fn expire(conn: &Connection, before: i64) -> Result<(u64, u64)> {
    let changes = conn.prepare_cached(EXPIRE_CHANGES)?.execute([before])?;
    let states = conn.prepare_cached(EXPIRE_STATES)?.execute([before])?;
    Ok((changes as u64, states as u64))
}

fn change_row(r: &Row<'_>) -> rusqlite::Result<ChangeRow> {
    Ok(ChangeRow {
        cluster: r.get(0)?,
        api_version: r.get(1)?,
        kind: r.get(2)?,
        namespace: r.get(3)?,
        name: r.get(4)?,
        uid: r.get(5)?,
        at: r.get(6)?,
        op: r.get(7)?,
        generation: r.get(8)?,
        resource_version: r.get(9)?,
        manager: r.get(10)?,
        source: r.get(11)?,
        fields: r.get(12)?,
        refs: r.get(13)?,
    })
}

fn state_row(r: &Row<'_>) -> rusqlite::Result<StateRow> {
    Ok(StateRow {
        cluster: r.get(0)?,
        api_version: r.get(1)?,
        kind: r.get(2)?,
        namespace: r.get(3)?,
        name: r.get(4)?,
        uid: r.get(5)?,
        resource_version: r.get(6)?,
        generation: r.get(7)?,
        state: r.get(8)?,
        synced_at: r.get(9)?,
        refs: r.get(10)?,
    })
}

fn load_changes(conn: &Connection, f: &ChangeFilter) -> Result<Vec<Change>> {
    let (sql, params) = select_changes(f);
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(params.iter()), change_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?.into_change()?);
    }
    Ok(out)
}

fn load_states(conn: &Connection, cluster: &str, uids: &[String]) -> Result<Vec<ObjectState>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {STATE_COLUMNS} FROM change_states WHERE cluster = ?1 AND uid = ?2"
    ))?;
    let mut out = Vec::new();
    for uid in uids {
        let mut rows = stmt.query_map([cluster, uid.as_str()], state_row)?;
        if let Some(row) = rows.next() {
            out.push(row?.into_state()?);
        }
    }
    Ok(out)
}

fn users(conn: &Connection, cluster: &str, object: &ObjectRef) -> Result<Vec<ObjectRef>> {
    let mut stmt = conn.prepare_cached(MAY_USE)?;
    let pattern = users_pattern(&object.name);
    let rows = stmt.query_map(
        [cluster, object.namespace.as_str(), pattern.as_str()],
        state_row,
    )?;
    let mut out = Vec::new();
    for row in rows {
        out.extend(row?.uses(object)?);
    }
    Ok(out)
}

fn stale(conn: &Connection, params: &[Param]) -> Result<Vec<ObjectState>> {
    let mut stmt = conn.prepare_cached(STALE_STATES)?;
    let rows = stmt.query_map(params_from_iter(params.iter()), state_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?.into_state()?);
    }
    Ok(out)
}

#[async_trait]
impl ChangeStore for SqliteStore {
    async fn save_changes(&self, batch: ChangeBatch) -> Result<ChangeSummary> {
        let now = Timestamp::now();
        self.write(true, move |c| save(c, &batch, now)).await
    }

    async fn changes(&self, filter: &ChangeFilter) -> Result<Vec<Change>> {
        let filter = filter.clone();
        self.read(move |c| load_changes(c, &filter)).await
    }

    async fn object_states(&self, cluster: &str, uids: &[String]) -> Result<Vec<ObjectState>> {
        let (cluster, uids) = (cluster.to_owned(), uids.to_vec());
        self.read(move |c| load_states(c, &cluster, &uids)).await
    }

    async fn stale_states(
        &self,
        cluster: &str,
        kind: &str,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ObjectState>> {
        let params = stale_params(cluster, kind, before, limit);
        self.read(move |c| stale(c, &params)).await
    }

    async fn users_of(&self, cluster: &str, object: &ObjectRef) -> Result<Vec<ObjectRef>> {
        let (cluster, object) = (cluster.to_owned(), object.clone());
        self.read(move |c| users(c, &cluster, &object)).await
    }

    async fn expire_changes(&self, before: Timestamp) -> Result<(u64, u64)> {
        let before = before.as_microsecond();
        self.write(true, move |c| expire(c, before)).await
    }
}
