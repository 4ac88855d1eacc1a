//! The one rule about time on input: an event dated far past the moment it is received (an
//! import, a watch batch, a POST, a NATS delivery) is refused. One such event (say
//! `9999-12-30`) would otherwise become the newest stored event forever: analysis windows that
//! end at the newest event (`incidents`, `patterns`, the UI overview) would show nothing, and
//! retention would never remove it.
//!
//! Refused, not clamped: a clamped time would be invented, and the event's real time is not
//! known. Every input path counts and reports what it refused.

use jiff::SignedDuration;
use kubetrail_model::{Event, Timestamp};

use crate::Rejected;

/// How far past the time of receipt an event may be dated: a day (clock skew between nodes
/// and the machine that receives their events stays well inside it).
pub const DEFAULT_MAX_FUTURE: SignedDuration = SignedDuration::from_hours(24);

/// How far past the time of receipt an event may be dated; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FutureLimit {
    max_ahead: SignedDuration,
}

impl Default for FutureLimit {
    fn default() -> Self {
        FutureLimit::new(DEFAULT_MAX_FUTURE)
    }
}

impl FutureLimit {
    /// A limit of `max_ahead` past the time of receipt (negative values count as zero).
    pub fn new(max_ahead: SignedDuration) -> FutureLimit {
        FutureLimit {
            max_ahead: max_ahead.max(SignedDuration::ZERO),
        }
    }

    /// How far past its time of receipt an event may be dated (never negative).
    pub fn max_ahead(self) -> SignedDuration {
        self.max_ahead
    }

    /// Refuses `event` when its newest time (`last_seen`; `first_seen` is never later) is more
    /// than the limit past `now`, the time it was received.
    pub fn check(self, event: &Event, now: Timestamp) -> Result<(), Rejected> {
        // Past the largest timestamp nothing is too far ahead to represent.
        let latest_allowed = now.checked_add(self.max_ahead).unwrap_or(Timestamp::MAX);
        if event.last_seen.max(event.first_seen) > latest_allowed {
            return Err(Rejected::FarFuture {
                max_ahead: self.max_ahead,
            });
        }
        Ok(())
    }

    /// Keeps the events `check` accepts; returns how many it refused.
    pub fn retain(self, events: &mut Vec<Event>, now: Timestamp) -> u64 {
        let before = events.len();
        events.retain(|e| self.check(e, now).is_ok());
        (before - events.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time: &str) -> Event {
        let json = format!(
            r#"{{"metadata":{{"name":"e","namespace":"ns","uid":"u"}},
            "involvedObject":{{"kind":"Pod","name":"p","namespace":"ns"}},
            "reason":"BackOff","lastTimestamp":"{time}"}}"#
        );
        let ev = serde_json::from_str(&json).expect("a valid core/v1 Event");
        crate::from_core(ev, "c").expect("an Event with uid and time")
    }

    #[test]
    fn an_event_more_than_a_day_past_receipt_is_refused_and_says_by_how_much() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let limit = FutureLimit::default();
        assert_eq!(limit.check(&at("2024-05-02T12:00:00Z"), now), Ok(()));
        assert_eq!(limit.check(&at("2020-01-01T00:00:00Z"), now), Ok(()));
        let far = limit.check(&at("9999-12-30T00:00:00Z"), now).unwrap_err();
        assert_eq!(
            far,
            Rejected::FarFuture {
                max_ahead: DEFAULT_MAX_FUTURE
            }
        );
        assert_eq!(
            far.to_string(),
            "event dated more than 24h after it was received"
        );
        assert!(limit.check(&at("2024-05-02T12:00:01Z"), now).is_err());
    }

    #[test]
    fn retain_keeps_the_others_in_order_and_counts_the_refused() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let mut events = vec![
            at("2024-05-01T00:00:00Z"),
            at("9999-12-30T00:00:00Z"),
            at("2024-05-01T01:00:00Z"),
        ];
        assert_eq!(
            FutureLimit::new(SignedDuration::ZERO).retain(&mut events, now),
            1
        );
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].last_seen.to_string(), "2024-05-01T01:00:00Z");
    }

    #[test]
    fn a_limit_that_overflows_the_calendar_accepts_everything() {
        let limit = FutureLimit::new(SignedDuration::MAX);
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(limit.check(&at("9999-12-30T00:00:00Z"), now), Ok(()));
    }
}
