//! The delivery state machine's transitions (see [`DeliveryState`]): pure functions of a
//! delivery, an outcome and `now`, so that backoff, bounds and expiry are tested without
//! waiting.
//!
//! ```text
//!  pending ──take──► delivering ──ok──► delivered
//!     ▲                  │ retriable error, attempts left, young enough
//!     └──── backoff ─────┤
//!                        ├── refused for good, or no attempt left ──► failed
//!  (too old) ────────────┴──────────────────────────────────────────► expired
//! ```

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{Delivery, DeliveryState, DeliveryUpdate};

use crate::notify::DeliveryError;

/// Retries: exponential backoff with jitter, bounded in delay, attempts and age.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failure (default 1s).
    pub initial: Duration,
    /// Longest delay (default 5m).
    pub max: Duration,
    /// Growth per failure (default 2).
    pub multiplier: f64,
    /// Each delay is moved randomly by up to this fraction, up or down (default 0.2), so that
    /// deliveries that failed together do not retry together.
    pub jitter: f64,
    /// Attempts before a delivery fails for good (default 20).
    pub max_attempts: u32,
    /// A delivery not done this long after it was queued expires (default 24h): an alert that
    /// old would mislead more than inform.
    pub max_age: SignedDuration,
    /// How long a worker holds a delivery it is sending; if it dies, the delivery is taken
    /// again after this (default: the request timeout plus 30s).
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            multiplier: 2.0,
            jitter: 0.2,
            max_attempts: 20,
            max_age: SignedDuration::from_hours(24),
            lease: Duration::from_secs(60),
        }
    }
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX)
}

impl RetryPolicy {
    /// The delay after `failures` failed attempts (≥ 1): `initial × multiplier^(failures−1)`,
    /// at most `max`, moved by the jitter; `unit` in [0, 1) picks the jitter (random in use).
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let exp = f64::from(failures.saturating_sub(1)).min(64.0);
        let base =
            (self.initial.as_secs_f64() * self.multiplier.powf(exp)).min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0) * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let secs = (base * (1.0 + jitter)).clamp(0.0, self.max.as_secs_f64());
        Duration::from_secs_f64(secs)
    }

    /// Whether the delivery is too old to be attempted.
    pub fn is_expired(&self, d: &Delivery, now: Timestamp) -> bool {
        now.duration_since(d.created_at) >= self.max_age
    }

    /// Pending → delivering: one more attempt, held for the lease.
    pub fn take(&self, d: &Delivery, now: Timestamp) -> DeliveryUpdate {
        DeliveryUpdate {
            id: d.id,
            state: DeliveryState::Delivering,
            attempts: d.attempts.saturating_add(1),
            next_attempt_at: plus(now, self.lease),
            last_error: d.last_error.clone(),
            at: now,
        }
    }

    /// → expired.
    pub fn expire(&self, d: &Delivery, now: Timestamp) -> DeliveryUpdate {
        DeliveryUpdate {
            id: d.id,
            state: DeliveryState::Expired,
            attempts: d.attempts,
            next_attempt_at: now,
            last_error: d.last_error.clone(),
            at: now,
        }
    }

    /// Delivering → delivered.
    pub fn delivered(&self, taken: &DeliveryUpdate, now: Timestamp) -> DeliveryUpdate {
        DeliveryUpdate {
            state: DeliveryState::Delivered,
            next_attempt_at: now,
            last_error: None,
            at: now,
            ..taken.clone()
        }
    }

    /// Delivering → pending again after a backoff, or failed, or expired. `taken` is the
    /// update that took the delivery (its attempt count includes this attempt).
    pub fn failed(
        &self,
        d: &Delivery,
        taken: &DeliveryUpdate,
        error: &DeliveryError,
        unit: f64,
        now: Timestamp,
    ) -> DeliveryUpdate {
        let message = error.to_string();
        let state = if !error.is_retriable() || taken.attempts >= self.max_attempts {
            DeliveryState::Failed
        } else if self.is_expired(d, now) {
            DeliveryState::Expired
        } else {
            DeliveryState::Pending
        };
        let mut delay = self.delay(taken.attempts, unit);
        if let Some(asked) = error.retry_after() {
            // The receiver's Retry-After, if longer, within our own bound.
            delay = delay.max(asked.min(self.max));
        }
        DeliveryUpdate {
            state,
            next_attempt_at: if state == DeliveryState::Pending {
                plus(now, delay)
            } else {
                now
            },
            last_error: Some(message),
            at: now,
            ..taken.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kubetrail_model::Severity;
    use kubetrail_model::{AlertRecord, AlertStatus};

    use super::*;
    use crate::testing::at;

    fn delivery(attempts: u32, created: i64) -> Delivery {
        Delivery {
            id: 1,
            alert_id: 1,
            notifier: "hook".into(),
            state: DeliveryState::Pending,
            attempts,
            created_at: at(created),
            next_attempt_at: at(created),
            updated_at: at(created),
            delivered_at: None,
            last_error: None,
            payload: AlertRecord {
                rule: "r".into(),
                group_key: "g".into(),
                status: AlertStatus::Firing,
                severity: Severity::Error,
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                starts_at: at(created),
                ends_at: None,
                first_seen: at(created),
                last_seen: at(created),
                event_count: 1,
                silenced_by: None,
                events: Vec::new(),
            },
        }
    }

    fn unavailable() -> DeliveryError {
        DeliveryError::Status {
            status: 503,
            body: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn delays_grow_exponentially_up_to_the_bound() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let secs: Vec<u64> = (1..=12).map(|n| p.delay(n, 0.5).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(p.delay(u32::MAX, 0.5), p.max);
    }

    #[test]
    fn jitter_moves_delays_within_its_fraction_and_never_past_the_bound() {
        let p = RetryPolicy::default();
        let lo = p.delay(3, 0.0).as_secs_f64();
        let hi = p.delay(3, 0.999_999).as_secs_f64();
        assert!(
            (lo - 3.2).abs() < 1e-3 && (hi - 4.8).abs() < 1e-3,
            "{lo} {hi}"
        );
        for i in 0..100 {
            let d = p.delay(40, f64::from(i) / 100.0);
            assert!(d <= p.max && d >= Duration::from_secs(240), "{d:?}");
        }
    }

    #[test]
    fn a_retriable_failure_goes_back_to_pending_after_the_backoff() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let d = delivery(2, 0);
        let taken = p.take(&d, at(1));
        assert_eq!(taken.state, DeliveryState::Delivering);
        assert_eq!(taken.attempts, 3);
        assert_eq!(taken.next_attempt_at, at(2), "the lease");
        let u = p.failed(&d, &taken, &unavailable(), 0.5, at(1));
        assert_eq!(u.state, DeliveryState::Pending);
        assert_eq!(u.attempts, 3);
        assert_eq!(u.next_attempt_at, at(1) + SignedDuration::from_secs(4));
        assert_eq!(u.last_error.as_deref(), Some("HTTP 503"));
        let ok = p.delivered(&taken, at(1));
        assert_eq!(
            (ok.state, ok.attempts, ok.last_error),
            (DeliveryState::Delivered, 3, None)
        );
    }

    #[test]
    fn refusals_exhausted_attempts_and_old_deliveries_end_the_retries() {
        let p = RetryPolicy::default();
        let d = delivery(0, 0);
        let taken = p.take(&d, at(0));
        let refused = DeliveryError::Status {
            status: 400,
            body: "bad alert".into(),
            retry_after: None,
        };
        assert_eq!(
            p.failed(&d, &taken, &refused, 0.5, at(0)).state,
            DeliveryState::Failed
        );
        let last = delivery(p.max_attempts - 1, 0);
        let taken = p.take(&last, at(0));
        assert_eq!(
            p.failed(&last, &taken, &unavailable(), 0.5, at(0)).state,
            DeliveryState::Failed
        );
        let old = delivery(1, 0);
        let late = at(24 * 60);
        assert!(p.is_expired(&old, late));
        let taken = p.take(&old, late);
        assert_eq!(
            p.failed(&old, &taken, &unavailable(), 0.5, late).state,
            DeliveryState::Expired
        );
        assert_eq!(p.expire(&old, late).state, DeliveryState::Expired);
    }

    #[test]
    fn a_longer_retry_after_is_honoured_within_the_bound() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let d = delivery(0, 0);
        let taken = p.take(&d, at(0));
        let limited = |secs| DeliveryError::Status {
            status: 429,
            body: String::new(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        let u = p.failed(&d, &taken, &limited(30), 0.5, at(0));
        assert_eq!(u.next_attempt_at, at(0) + SignedDuration::from_secs(30));
        let u = p.failed(&d, &taken, &limited(99_999), 0.5, at(0));
        assert_eq!(u.next_attempt_at, at(5), "capped at max");
    }
}
