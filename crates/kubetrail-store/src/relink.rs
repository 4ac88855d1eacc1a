//! Relinks (see [`Relink`]): stored events of an object get the owner and correlation ID that
//! processing learned after they were written, and their counts move along in `rollup_hourly`
//! (the coarse rollups have no correlation). The same SQL on both backends: `$n` parameters
//! appear in order, which SQLite binds by position as PostgreSQL does.

use kubetrail_model::Relink;

/// The events to move: the object's own with another correlation ID.
pub(crate) const OBJECT_EVENTS: &str = "
SELECT id, namespace, reg_kind, reason, category, severity, type, correlation_id FROM events
WHERE reg_name = $1 AND reg_kind = $2 AND reg_namespace = $3 AND cluster = $4
  AND correlation_id <> $5";

/// The events to move: those under the ID the object absorbs (its descendants').
pub(crate) const ABSORBED_EVENTS: &str = "
SELECT id, namespace, reg_kind, reason, category, severity, type, correlation_id FROM events
WHERE correlation_id = $1 AND cluster = $2";

pub(crate) const OCCURRENCES_OF: &str = "SELECT ts, count FROM occurrences WHERE event_id = $1";

pub(crate) const SET: &str = "
UPDATE events SET correlation_id = $1, owner_kind = $2, owner_name = $3 WHERE id = $4";

/// The rollup dimensions of a selected event (cluster first), in `rollup_hourly`'s order,
/// from the columns after `id` of [`OBJECT_EVENTS`] and [`ABSORBED_EVENTS`].
pub(crate) fn dims(cluster: &str, columns: [String; 7]) -> [String; 8] {
    let [
        namespace,
        kind,
        reason,
        category,
        severity,
        type_,
        correlation,
    ] = columns;
    [
        cluster.to_string(),
        namespace,
        kind,
        reason,
        category,
        severity,
        type_,
        correlation,
    ]
}

/// Whether `absorbs` names another correlation than the relink's target (else nothing moves).
pub(crate) fn absorbed(r: &Relink) -> Option<&str> {
    r.absorbs.as_deref().filter(|old| *old != r.correlation_id)
}
