//! Watch cursors (saved in the transaction of the batch they cover) and gap markers.

use deadpool_postgres::GenericClient;
use kubetrail_model::Timestamp;

use super::filter::{micros, timestamp};
use crate::{Gap, Result, WatchCursor};

pub(crate) async fn save(c: &impl GenericClient, cursor: &WatchCursor) -> Result<()> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO cursors (cluster, stream, resource_version, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (cluster, stream) DO UPDATE
             SET resource_version = excluded.resource_version, updated_at = excluded.updated_at",
        )
        .await?;
    c.execute(
        &stmt,
        &[
            &cursor.cluster,
            &cursor.stream,
            &cursor.resource_version,
            &micros(cursor.updated_at),
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn load(
    c: &impl GenericClient,
    cluster: &str,
    stream: &str,
) -> Result<Option<WatchCursor>> {
    let stmt = c
        .prepare_cached(
            "SELECT resource_version, updated_at FROM cursors WHERE cluster = $1 AND stream = $2",
        )
        .await?;
    let Some(row) = c.query_opt(&stmt, &[&cluster, &stream]).await? else {
        return Ok(None);
    };
    Ok(Some(WatchCursor {
        cluster: cluster.to_owned(),
        stream: stream.to_owned(),
        resource_version: row.try_get(0)?,
        updated_at: timestamp(row.try_get(1)?, "updated_at")?,
    }))
}

pub(crate) async fn save_gap(c: &impl GenericClient, g: &Gap) -> Result<()> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO gaps (cluster, stream, started_at, ended_at, cause)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    c.execute(
        &stmt,
        &[
            &g.cluster,
            &g.stream,
            &micros(g.from),
            &micros(g.to),
            &g.cause,
        ],
    )
    .await?;
    Ok(())
}

/// Gaps overlapping `[since, until)`, oldest first.
pub(crate) async fn load_gaps(
    c: &impl GenericClient,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<Vec<Gap>> {
    let stmt = c
        .prepare_cached(
            "SELECT cluster, stream, started_at, ended_at, cause FROM gaps
             WHERE ended_at >= $1 AND started_at < $2 ORDER BY started_at, id",
        )
        .await?;
    let lo = since.map(micros).unwrap_or(i64::MIN);
    let hi = until.map(micros).unwrap_or(i64::MAX);
    let rows = c.query(&stmt, &[&lo, &hi]).await?;
    rows.iter()
        .map(|r| {
            Ok(Gap {
                cluster: r.try_get(0)?,
                stream: r.try_get(1)?,
                from: timestamp(r.try_get(2)?, "started_at")?,
                to: timestamp(r.try_get(3)?, "ended_at")?,
                cause: r.try_get(4)?,
            })
        })
        .collect()
}
