//! Alerts, their deliveries (the outbox) and silences: plain data that the pure evaluator
//! produces and the store keeps.
//!
//! The alerting stage decides *what* to raise; the store makes it durable: an alert is saved
//! with the notifications it needs in one transaction, before any delivery attempt, so that a
//! restart neither loses nor duplicates it. The types are plain data; the rules that move a
//! delivery from one state to the next live in `kubetrail-alert`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::{Severity, Timestamp};
use serde::{Deserialize, Serialize};

/// Whether an alert's condition still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The condition holds: notifications of it are (or will be) sent.
    Firing,
    /// The condition stopped holding (`ends_at` says when).
    Resolved,
}

impl AlertStatus {
    /// The lowercase name used in the database, the API and `--status` (`firing`, `resolved`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "firing" => Ok(AlertStatus::Firing),
            "resolved" => Ok(AlertStatus::Resolved),
            _ => Err(format!(
                "unknown alert status {s:?} (expected firing or resolved)"
            )),
        }
    }
}

/// One of the events that made an alert fire (a bounded sample is kept, not every event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertEvent {
    /// The cluster the Event came from.
    pub cluster: String,
    /// The Event object's uid, unique within its cluster.
    pub uid: String,
    /// `namespace/Kind/name` of the regarding object.
    pub object: String,
    /// The Event's reason, e.g. `BackOff`.
    pub reason: String,
    /// The Event's message.
    pub note: String,
    /// The Event's count when it was seen.
    pub count: u64,
    /// When the Event last occurred.
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: Timestamp,
}

/// An alert: one per rule and group (e.g. per Deployment), never one per event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertRecord {
    /// The name of the rule that raised it.
    pub rule: String,
    /// What the rule groups by, e.g. `prod/shop/Deployment/web`.
    pub group_key: String,
    /// Firing until the rule's condition stops holding.
    pub status: AlertStatus,
    /// The rule's severity, or, for a rule without one, the highest among the events counted in.
    pub severity: Severity,
    /// Labels that identify the alert to notifiers and silences (e.g. `cluster`, `namespace`).
    pub labels: BTreeMap<String, String>,
    /// Free-text details for people (e.g. `summary`), not used for matching.
    pub annotations: BTreeMap<String, String>,
    /// When the condition started to hold; with `rule` and `group_key` it names the alert.
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    /// When it was resolved.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Timestamp>,
    /// The first and last occurrence of the events counted into the alert.
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: Timestamp,
    /// See `first_seen`.
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: Timestamp,
    /// Occurrences counted into the alert.
    pub event_count: u64,
    /// The silence that kept it from being sent, if any.
    pub silenced_by: Option<i64>,
    /// A sample of the events that triggered it (newest last).
    pub events: Vec<AlertEvent>,
}

/// An alert as stored, with its deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredAlert {
    /// The store's id of the alert.
    pub id: i64,
    /// The alert itself.
    #[serde(flatten)]
    pub alert: AlertRecord,
    /// Its notifications, one per notifier.
    pub deliveries: Vec<Delivery>,
}

/// Where one notification of an alert to one notifier is. Each state says what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for `next_attempt_at` (the first attempt, or a retry after a backoff); then a
    /// delivery worker takes it.
    Pending,
    /// A worker is sending it. If the worker dies, it is taken again once `next_attempt_at`
    /// (the worker's lease) has passed: delivery is at least once.
    Delivering,
    /// The notifier accepted it. Final.
    Delivered,
    /// The notifier refused it for good, or every allowed attempt failed. Final.
    Failed,
    /// It became too old to be worth sending. Final.
    Expired,
}

impl DeliveryState {
    /// Every state, in lifecycle order.
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Pending,
        DeliveryState::Delivering,
        DeliveryState::Delivered,
        DeliveryState::Failed,
        DeliveryState::Expired,
    ];

    /// The lowercase name used in the database and the API (`pending`, `delivering`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivering => "delivering",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Expired => "expired",
        }
    }

    /// Delivered, failed and expired deliveries never change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryState::Delivered | DeliveryState::Failed | DeliveryState::Expired
        )
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| format!("unknown delivery state {s:?}"))
    }
}

/// A notification to queue with an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The name of the notifier that sends it, as configured.
    pub notifier: String,
    /// When to make the first attempt (normally now).
    pub due_at: Timestamp,
}

/// One notification of an alert to one notifier: a row of the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The store's id of the delivery.
    pub id: i64,
    /// The store's id of the alert it notifies ([`StoredAlert::id`]).
    pub alert_id: i64,
    /// The name of the notifier that sends it.
    pub notifier: String,
    /// Where it is now; see [`DeliveryState`] for what happens next.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was queued.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it is due for its next attempt, or, while [`DeliveryState::Delivering`], when the
    /// worker's lease runs out.
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    /// When its state last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// When the notifier accepted it; `None` until then.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Timestamp>,
    /// What went wrong the last time (never a secret: notifiers strip URLs and tokens).
    pub last_error: Option<String>,
    /// The alert as it was when this notification was queued: what is sent, even if the alert
    /// has changed since (a firing notice stays a firing notice).
    #[serde(skip)]
    pub payload: AlertRecord,
}

/// A state change of a delivery, written by the delivery worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    /// The delivery changed ([`Delivery::id`]).
    pub id: i64,
    /// Its new state.
    pub state: DeliveryState,
    /// Attempts made so far, counting the one that led to this change.
    pub attempts: u32,
    /// When it is due next (a retry after a backoff, or the end of the worker's lease).
    pub next_attempt_at: Timestamp,
    /// What went wrong in this attempt; `None` when it succeeded.
    pub last_error: Option<String>,
    /// When the change happened (also the delivery time when `state` is delivered).
    pub at: Timestamp,
}

/// Which alerts to list. Empty fields mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// The alert with this id (the other fields still apply).
    pub id: Option<i64>,
    /// Only alerts in this status.
    pub status: Option<AlertStatus>,
    /// Only alerts of these rules (any of them).
    pub rules: Vec<String>,
    /// Only the alert group with this key (see [`AlertRecord::group_key`]).
    pub group_key: Option<String>,
    /// Alerts still firing at or after this time (firing, or resolved at or after it).
    pub since: Option<Timestamp>,
    /// At most this many, newest first (0: no limit).
    pub limit: usize,
}

/// How a silence matcher compares an alert label with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MatchOp {
    /// The label equals the value.
    #[serde(rename = "=")]
    Equal,
    /// The label differs from the value (a missing label counts as empty).
    #[serde(rename = "!=")]
    NotEqual,
    /// The label matches the regular expression, anchored at both ends (a missing label counts
    /// as empty).
    #[serde(rename = "=~")]
    Regex,
    /// The label does not match the regular expression (anchored as for `Regex`).
    #[serde(rename = "!~")]
    NotRegex,
}

impl MatchOp {
    /// The operator as written in a matcher: `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// `name=value`, `name!=value`, `name=~regex` or `name!~regex` on an alert's labels, as in
/// Alertmanager.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SilenceMatcher {
    /// The label name.
    pub name: String,
    /// How the label's value is compared.
    pub op: MatchOp,
    /// The value or regular expression compared with.
    pub value: String,
}

impl fmt::Display for SilenceMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op.as_str(), self.value)
    }
}

/// Alerts whose labels match every matcher between `starts_at` and `ends_at` are recorded
/// but not sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// 0 for a silence not saved yet.
    pub id: i64,
    /// The matchers, all of which an alert's labels must match.
    pub matchers: Vec<SilenceMatcher>,
    /// When it comes into force.
    pub starts_at: Timestamp,
    /// When it stops being in force (excluded).
    pub ends_at: Timestamp,
    /// Who made it (free text, e.g. a user name).
    pub created_by: String,
    /// Why it was made.
    pub comment: String,
}

impl Silence {
    /// Whether the silence is in force at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_statuses_round_trip_through_their_names() {
        for s in DeliveryState::ALL {
            assert_eq!(s.as_str().parse::<DeliveryState>().unwrap(), s);
        }
        assert_eq!(
            "Firing".parse::<AlertStatus>().unwrap(),
            AlertStatus::Firing
        );
        assert!("open".parse::<AlertStatus>().is_err());
        assert!(DeliveryState::Expired.is_final() && !DeliveryState::Delivering.is_final());
    }
}
