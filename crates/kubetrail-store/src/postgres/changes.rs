//! Changes and the watched objects' states on PostgreSQL (`crate::changes`: the SQL is shared).

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Object};
use kubetrail_model::{Change, ChangeFilter, ObjectRef, Timestamp};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresStore, cursor};
use crate::changes::{
    ChangeRow, EXPIRE_CHANGES, EXPIRE_STATES, FORGET_STATE, INSERT_CHANGE, MAY_USE, Param,
    STALE_STATES, STATE_COLUMNS, StateRow, UPSERT_STATE, change_params, select_changes,
    stale_params, state_params, users_pattern,
};
use crate::{ChangeBatch, ChangeStore, ChangeSummary, ObjectState, Result};

/// Retention's part of changes (see [`ChangeStore::expire_changes`]), in one transaction.
pub(crate) async fn expire(client: &mut Object, before: i64) -> Result<(u64, u64)> {
    let tx = client.transaction().await?;
    let changes = tx.execute(EXPIRE_CHANGES, &[&before]).await?;
    let states = tx.execute(EXPIRE_STATES, &[&before]).await?;
    tx.commit().await?;
    Ok((changes, states))
}

/// The parameters as the driver takes them.
fn bind(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| match p {
            Param::Text(s) => s as &(dyn ToSql + Sync),
            Param::Int(i) => i as &(dyn ToSql + Sync),
            Param::OptInt(i) => i as &(dyn ToSql + Sync),
        })
        .collect()
}

async fn save(
    c: &impl GenericClient,
    batch: &ChangeBatch,
    now: Timestamp,
) -> Result<ChangeSummary> {
    let mut summary = ChangeSummary::default();
    let insert = c.prepare_cached(INSERT_CHANGE).await?;
    for change in &batch.changes {
        let params = change_params(change, now)?;
        match c.execute(&insert, &bind(&params)).await? {
            0 => summary.unchanged += 1,
            _ => summary.new += 1,
        }
    }
    let upsert = c.prepare_cached(UPSERT_STATE).await?;
    for state in &batch.states {
        c.execute(&upsert, &bind(&state_params(state)?)).await?;
    }
    for (cluster, uid) in &batch.forget {
        c.execute(FORGET_STATE, &[cluster, uid]).await?;
    }
    if let Some(cur) = &batch.cursor {
        cursor::save(c, cur).await?;
    }
    if let Some(g) = &batch.gap {
        cursor::save_gap(c, g).await?;
    }
    Ok(summary)
}

fn change_row(r: &Row) -> Result<ChangeRow> {
    Ok(ChangeRow {
        cluster: r.try_get(0)?,
        api_version: r.try_get(1)?,
        kind: r.try_get(2)?,
        namespace: r.try_get(3)?,
        name: r.try_get(4)?,
        uid: r.try_get(5)?,
        at: r.try_get(6)?,
        op: r.try_get(7)?,
        generation: r.try_get(8)?,
        resource_version: r.try_get(9)?,
        manager: r.try_get(10)?,
        source: r.try_get(11)?,
        fields: r.try_get(12)?,
        refs: r.try_get(13)?,
    })
}

fn state_row(r: &Row) -> Result<ObjectState> {
    state_row_raw(r)?.into_state()
}

fn state_row_raw(r: &Row) -> Result<StateRow> {
    Ok(StateRow {
        cluster: r.try_get(0)?,
        api_version: r.try_get(1)?,
        kind: r.try_get(2)?,
        namespace: r.try_get(3)?,
        name: r.try_get(4)?,
        uid: r.try_get(5)?,
        resource_version: r.try_get(6)?,
        generation: r.try_get(7)?,
        state: r.try_get(8)?,
        synced_at: r.try_get(9)?,
        refs: r.try_get(10)?,
    })
}

#[async_trait]
impl ChangeStore for PostgresStore {
    async fn save_changes(&self, batch: ChangeBatch) -> Result<ChangeSummary> {
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        let summary = save(&txn, &batch, Timestamp::now()).await?;
        txn.commit().await?;
        Ok(summary)
    }

    async fn changes(&self, filter: &ChangeFilter) -> Result<Vec<Change>> {
        let (sql, params) = select_changes(filter);
        let rows = self.client().await?.query(&sql, &bind(&params)).await?;
        rows.iter().map(|r| change_row(r)?.into_change()).collect()
    }

    async fn object_states(&self, cluster: &str, uids: &[String]) -> Result<Vec<ObjectState>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {STATE_COLUMNS} FROM change_states WHERE cluster = $1 AND uid = ANY($2)"
                ),
                &[&cluster, &uids],
            )
            .await?;
        rows.iter().map(state_row).collect()
    }

    async fn stale_states(
        &self,
        cluster: &str,
        kind: &str,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ObjectState>> {
        let params = stale_params(cluster, kind, before, limit);
        let rows = self
            .client()
            .await?
            .query(STALE_STATES, &bind(&params))
            .await?;
        rows.iter().map(state_row).collect()
    }

    async fn users_of(&self, cluster: &str, object: &ObjectRef) -> Result<Vec<ObjectRef>> {
        let pattern = users_pattern(&object.name);
        let rows = self
            .client()
            .await?
            .query(MAY_USE, &[&cluster, &object.namespace, &pattern])
            .await?;
        let mut out = Vec::new();
        for row in &rows {
            out.extend(state_row_raw(row)?.uses(object)?);
        }
        Ok(out)
    }

    async fn expire_changes(&self, before: Timestamp) -> Result<(u64, u64)> {
        expire(&mut self.client().await?, before.as_microsecond()).await
    }
}
