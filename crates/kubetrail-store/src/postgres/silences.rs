//! Silences: matchers on alert labels and the time they are in force.

use deadpool_postgres::GenericClient;
use kubetrail_model::Timestamp;

use super::filter::micros;
use crate::rows::{SELECT_SILENCES as COLUMNS, silence};
use crate::{Error, Result, Silence};

/// Inserts a new silence (`id` 0) or replaces a saved one (e.g. to expire it early).
pub(crate) async fn save(c: &impl GenericClient, s: &Silence, now: Timestamp) -> Result<i64> {
    let matchers = serde_json::to_string(&s.matchers).map_err(|source| Error::Json {
        column: "matchers",
        source,
    })?;
    let (starts, ends) = (micros(s.starts_at), micros(s.ends_at));
    if s.id == 0 {
        let row = c
            .query_one(
                "INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[&matchers, &starts, &ends, &s.created_by, &s.comment, &micros(now)],
            )
            .await?;
        return Ok(row.try_get(0)?);
    }
    let changed = c
        .execute(
            "UPDATE silences SET matchers = $2, starts_at = $3, ends_at = $4, created_by = $5,
                comment = $6 WHERE id = $1",
            &[&s.id, &matchers, &starts, &ends, &s.created_by, &s.comment],
        )
        .await?;
    if changed == 0 {
        return Err(Error::NotFound {
            what: "silence",
            id: s.id,
        });
    }
    Ok(s.id)
}

/// Every silence (`active_at` `None`), or those in force at a time; newest first.
pub(crate) async fn load(
    c: &impl GenericClient,
    active_at: Option<Timestamp>,
) -> Result<Vec<Silence>> {
    let rows = match active_at {
        Some(t) => {
            c.query(
                &format!("{COLUMNS} WHERE starts_at <= $1 AND ends_at > $1 ORDER BY id DESC"),
                &[&micros(t)],
            )
            .await?
        }
        None => c.query(&format!("{COLUMNS} ORDER BY id DESC"), &[]).await?,
    };
    rows.iter().map(silence).collect()
}
