//! What retention removes besides events, the same on both backends: resolved alerts whose
//! deliveries are all finished (with those deliveries), ended silences and gaps, once older
//! than the longest age any event is kept. A firing alert, or one with a delivery still to be
//! attempted, is kept whatever its age.

use kubetrail_model::Timestamp;

use crate::{DeliveryState, RetentionPolicy};

/// The end time (micros) before which records go: now minus the longest configured age.
pub(crate) fn cutoff(policy: &RetentionPolicy, now: Timestamp) -> i64 {
    crate::expiry::earliest_cutoff(policy, now)
}

/// The finished deliveries of old resolved alerts. `$1` is the cutoff (SQLite reads `$1` as
/// its first parameter too).
pub(crate) fn expire_deliveries_sql() -> String {
    let finished: Vec<String> = DeliveryState::ALL
        .into_iter()
        .filter(|s| s.is_final())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!(
        "DELETE FROM alert_deliveries WHERE state IN ({}) AND alert_id IN (
             SELECT id FROM alerts WHERE status = 'resolved' AND ends_at < $1)",
        finished.join(", ")
    )
}

/// Old resolved alerts left without deliveries (all of theirs were finished and deleted).
pub(crate) const EXPIRE_ALERTS: &str = "DELETE FROM alerts WHERE status = 'resolved'
     AND ends_at < $1
     AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = alerts.id)";

/// Silences that ended before the cutoff.
pub(crate) const EXPIRE_SILENCES: &str = "DELETE FROM silences WHERE ends_at < $1";

/// Gaps that ended before the cutoff.
pub(crate) const EXPIRE_GAPS: &str = "DELETE FROM gaps WHERE ended_at < $1";

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;
    use kubetrail_model::Severity;

    #[test]
    fn the_cutoff_is_the_longest_age_back() {
        let now = Timestamp::from_second(100 * 86_400).unwrap();
        let mut policy = RetentionPolicy {
            max_age: SignedDuration::from_hours(24),
            ..RetentionPolicy::default()
        };
        assert_eq!(cutoff(&policy, now), 99 * 86_400_000_000);
        policy
            .max_age_by_severity
            .insert(Severity::Critical, SignedDuration::from_hours(10 * 24));
        assert_eq!(cutoff(&policy, now), 90 * 86_400_000_000);
        assert!(expire_deliveries_sql().contains("'delivered', 'failed', 'expired'"));
    }
}
