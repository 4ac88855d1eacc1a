//! Relinks in PostgreSQL: see `crate::relink`.

use deadpool_postgres::GenericClient;
use kubetrail_model::Relink;
use tokio_postgres::Row;

use super::rollup::Deltas;
use crate::Result;
use crate::relink::{ABSORBED_EVENTS, OBJECT_EVENTS, OCCURRENCES_OF, SET, absorbed, dims};

/// Applies the relinks in order (a later one sees what an earlier one moved); returns how many
/// stored events changed.
pub(crate) async fn relink(c: &impl GenericClient, relinks: &[Relink]) -> Result<u64> {
    let object = c.prepare(OBJECT_EVENTS).await?;
    let under = c.prepare(ABSORBED_EVENTS).await?;
    let occurrences = c.prepare(OCCURRENCES_OF).await?;
    let set = c.prepare(SET).await?;
    let mut deltas = Deltas::default();
    // The spans of the events moved: their incidents change with their correlation ID.
    let mut dirty = Vec::new();
    let mut changed = 0;
    for r in relinks {
        let mut found = c
            .query(
                &object,
                &[
                    &r.name,
                    &r.kind,
                    &r.namespace,
                    &r.cluster,
                    &r.correlation_id,
                ],
            )
            .await?;
        if let Some(old) = absorbed(r) {
            found.extend(c.query(&under, &[&old, &r.cluster]).await?);
        }
        for row in found {
            let (id, columns) = columns(&row)?;
            let old = dims(&r.cluster, columns);
            let mut new = old.clone();
            new[7] = r.correlation_id.clone();
            for o in c.query(&occurrences, &[&id]).await? {
                let (ts, n): (i64, i64) = (o.try_get(0)?, o.try_get(1)?);
                deltas.add(ts, &old, -n);
                deltas.add(ts, &new, n);
                crate::incidents::widen(&mut dirty, &r.cluster, ts, ts);
            }
            c.execute(
                &set,
                &[&r.correlation_id, &r.owner.kind, &r.owner.name, &id],
            )
            .await?;
            changed += 1;
        }
    }
    deltas.apply(c).await?;
    super::incidents::mark_dirty(c, &dirty).await?;
    Ok(changed)
}

fn columns(row: &Row) -> Result<(i64, [String; 7])> {
    Ok((
        row.try_get(0)?,
        [
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
            row.try_get(6)?,
            row.try_get(7)?,
        ],
    ))
}
