//! The quarantine table (see `crate::quarantine`): refused events written, and read back.

use deadpool_postgres::GenericClient;

use crate::quarantine::{INSERT, NEWEST, Row, read};
use crate::{Quarantined, Result};

/// Inserts quarantine rows in the open transaction.
pub(crate) async fn save(c: &impl GenericClient, rows: &[Row]) -> Result<()> {
    let stmt = c.prepare_cached(INSERT).await?;
    for r in rows {
        c.execute(
            &stmt,
            &[&r.at, &r.source, &r.cluster, &r.uid, &r.error, &r.event],
        )
        .await?;
    }
    Ok(())
}

/// The newest quarantined events, at most `limit`.
pub(crate) async fn newest(c: &impl GenericClient, limit: usize) -> Result<Vec<Quarantined>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = c.query(NEWEST, &[&limit]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let event: String = r.try_get(3)?;
        out.push(read(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, &event)?);
    }
    Ok(out)
}
