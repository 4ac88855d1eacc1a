//! Relinks in SQLite: see `crate::relink`.

use std::borrow::Cow;

use kubetrail_model::Relink;
use rusqlite::{Connection, params};

use super::rollup::RollupDeltas;
use crate::Result;
use crate::relink::{ABSORBED_EVENTS, OBJECT_EVENTS, OCCURRENCES_OF, SET, absorbed, dims};

/// Applies the relinks in order (a later one sees what an earlier one moved); returns how many
/// stored events changed.
pub(crate) fn relink(conn: &Connection, relinks: &[Relink]) -> Result<u64> {
    let mut object = conn.prepare_cached(OBJECT_EVENTS)?;
    let mut under = conn.prepare_cached(ABSORBED_EVENTS)?;
    let mut occurrences = conn.prepare_cached(OCCURRENCES_OF)?;
    let mut set = conn.prepare_cached(SET)?;
    let mut rollups = RollupDeltas::default();
    // The spans of the events moved: their incidents change with their correlation ID.
    let mut dirty = Vec::new();
    let mut changed = 0;
    for r in relinks {
        let mut found = object
            .query_map(
                params![r.name, r.kind, r.namespace, r.cluster, r.correlation_id],
                row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if let Some(old) = absorbed(r) {
            found.extend(
                under
                    .query_map(params![old, r.cluster], row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            );
        }
        for (id, columns) in found {
            let old = dims(&r.cluster, columns).map(Cow::Owned);
            let mut new = old.clone();
            new[7] = Cow::Owned(r.correlation_id.clone());
            let mut rows = occurrences.query(params![id])?;
            while let Some(o) = rows.next()? {
                let (ts, n): (i64, i64) = (o.get(0)?, o.get(1)?);
                rollups.add(ts, &old, -n);
                rollups.add(ts, &new, n);
                crate::incidents::widen(&mut dirty, &r.cluster, ts, ts);
            }
            set.execute(params![r.correlation_id, r.owner.kind, r.owner.name, id])?;
            changed += 1;
        }
    }
    drop((object, under, occurrences, set));
    rollups.apply(conn)?;
    super::incidents::mark_dirty(conn, &dirty)?;
    Ok(changed)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, [String; 7])> {
    Ok((
        r.get(0)?,
        [
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        ],
    ))
}
