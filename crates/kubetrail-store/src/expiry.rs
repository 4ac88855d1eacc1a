//! When retention lets an occurrence or an event go: the one rule, as SQL both backends run,
//! for deleting (`apply_retention`) and for counting what would go (`preview_retention`).
//!
//! An occurrence's age counts from the later of its own time (`ts`) and the time kubetrail
//! stored it (`stored_at`); an event's from the later of its `last_seen` and the last time
//! kubetrail stored something of it. So live events age with their own time (they are stored
//! as they happen), while history imported from a dump is kept for the policy's age after its
//! import. Both go once that age, for their severity, has passed.

use kubetrail_model::{Severity, Timestamp};

use crate::{ClusterRetention, RetentionPolicy};

/// The time (micros) before which things of `severity` go: `now` minus its age.
pub(crate) fn cutoff(policy: &RetentionPolicy, severity: Severity, now: Timestamp) -> i64 {
    let age = policy
        .max_age_by_severity
        .get(&severity)
        .copied()
        .unwrap_or(policy.max_age);
    now.checked_sub(age)
        .unwrap_or(Timestamp::MIN)
        .as_microsecond()
}

/// The earliest of every severity's cutoff: whatever is older than this goes, whatever its
/// severity.
pub(crate) fn earliest_cutoff(policy: &RetentionPolicy, now: Timestamp) -> i64 {
    Severity::ALL
        .into_iter()
        .map(|s| cutoff(policy, s, now))
        .min()
        .unwrap_or(i64::MIN)
}

/// SQL for the cutoff of the event aliased `e`, by its severity.
pub(crate) fn cutoff_sql(policy: &RetentionPolicy, now: Timestamp) -> String {
    let arms: String = Severity::ALL
        .into_iter()
        .map(|s| format!(" WHEN '{}' THEN {}", s.as_str(), cutoff(policy, s, now)))
        .collect();
    format!(
        "(CASE e.severity{arms} ELSE {} END)",
        cutoff(policy, Severity::Error, now)
    )
}

/// Whether the event aliased `e` goes, given the SQL of its cutoff.
pub(crate) fn event_expired(cutoff: &str) -> String {
    format!("e.last_seen < {cutoff} AND e.stored_at < {cutoff}")
}

/// Whether the occurrence aliased `o` goes, given the SQL of its event's cutoff.
pub(crate) fn occurrence_expired(cutoff: &str) -> String {
    format!("o.ts < {cutoff} AND o.stored_at < {cutoff}")
}

/// Per cluster, the occurrence units, their time range and the number of distinct events of
/// the occurrences of `table` (aliased `o`, joined with their events `e`) matching `condition`.
/// Rows: cluster, units, oldest, newest, events.
pub(crate) fn tally_sql(table: &str, condition: &str) -> String {
    format!(
        "SELECT e.cluster, CAST(SUM(o.count) AS BIGINT), MIN(o.ts), MAX(o.ts),
                COUNT(DISTINCT e.id)
         FROM {table} o JOIN events e ON e.id = o.event_id
         WHERE {condition} GROUP BY e.cluster"
    )
}

/// Per cluster, the number of events that go under `policy` as of `now`.
pub(crate) fn preview_events_sql(policy: &RetentionPolicy, now: Timestamp) -> String {
    format!(
        "SELECT e.cluster, COUNT(*) FROM events e WHERE {} GROUP BY e.cluster",
        event_expired(&cutoff_sql(policy, now))
    )
}

/// Per cluster, the occurrences that go under `policy` as of `now` (see [`tally_sql`]).
pub(crate) fn preview_occurrences_sql(policy: &RetentionPolicy, now: Timestamp) -> String {
    tally_sql("occurrences", &occurrence_expired(&cutoff_sql(policy, now)))
}

/// One row of [`tally_sql`]: the cluster and what went of it. `count_events` says whether its
/// events went too (or only some of their occurrences).
pub(crate) fn tally_row(
    (cluster, units, oldest, newest, events): (String, i64, i64, i64, i64),
    count_events: bool,
) -> (String, ClusterRetention) {
    let at = |micros: i64| Timestamp::from_microsecond(micros).ok();
    let part = ClusterRetention {
        events: if count_events {
            u64::try_from(events).unwrap_or(0)
        } else {
            0
        },
        occurrences: u64::try_from(units).unwrap_or(0),
        oldest: at(oldest),
        newest: at(newest),
    };
    (cluster, part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    #[test]
    fn each_severity_has_its_own_cutoff_and_the_earliest_is_the_longest_age() {
        let now = Timestamp::from_second(100 * 86_400).unwrap();
        let policy = RetentionPolicy {
            max_age: SignedDuration::from_hours(24),
            max_age_by_severity: [(Severity::Critical, SignedDuration::from_hours(240))].into(),
            max_bytes: None,
        };
        assert_eq!(cutoff(&policy, Severity::Info, now), 99 * 86_400_000_000);
        assert_eq!(
            cutoff(&policy, Severity::Critical, now),
            90 * 86_400_000_000
        );
        assert_eq!(earliest_cutoff(&policy, now), 90 * 86_400_000_000);
        let sql = cutoff_sql(&policy, now);
        assert!(sql.contains("WHEN 'critical' THEN 7776000000000"), "{sql}");
        assert!(sql.contains("WHEN 'info' THEN 8553600000000"), "{sql}");
    }
}
