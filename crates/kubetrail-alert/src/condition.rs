//! When a rule raises an alert. `count` and `first_seen` are judged event by event as batches
//! are committed; `pattern`, `anomaly`, `incident` and `change_followed_by_failure` are judged
//! over a window by analysis.

use std::fmt;

use jiff::SignedDuration;
use kubetrail_model::{Severity, parse_duration};

/// A rule's condition, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// At least `min` occurrences of matching events within `within`, counted across the whole
    /// group (e.g. BackOff of every replica of one Deployment together).
    Count {
        /// Fewest occurrences, at least 1.
        min: u64,
        /// How far back occurrences count (default 5m).
        within: SignedDuration,
    },
    /// A reason seen for the first time in a namespace that had events before.
    FirstSeen,
    /// A recurring pattern (same reason, kind, namespace and message template).
    Pattern {
        /// Fewest occurrences in the window (default 3).
        min_count: u64,
        /// Occurrences per minute the pattern must exceed (default 0.5).
        min_per_minute: f64,
        /// The window analysed, ending now (default 15m).
        window: SignedDuration,
    },
    /// An unusual rate, or a reason new to its namespace, scored at least `min_score`.
    Anomaly {
        /// Fewest standard deviations above the baseline (default 3).
        min_score: f64,
        /// The window whose buckets are judged, ending now (default 1h).
        window: SignedDuration,
    },
    /// An incident (correlated events with a likely root cause) of at least `min_severity`.
    Incident {
        /// The lowest incident severity that alerts (default error).
        min_severity: Severity,
        /// The window analysed, ending now (default 30m).
        window: SignedDuration,
    },
    /// An incident of at least `min_severity` rooted in a change: failures that began shortly
    /// after a change of the workload, a ConfigMap or Secret it uses, its autoscaler or its
    /// node (`kubetrail_analyze::link_changes`).
    ChangeFollowedByFailure {
        /// The lowest incident severity that alerts (default error).
        min_severity: Severity,
        /// The window analysed, ending now (default 30m).
        window: SignedDuration,
    },
}

impl Default for Condition {
    fn default() -> Self {
        Condition::Count {
            min: 1,
            within: SignedDuration::from_mins(5),
        }
    }
}

/// The analysis a windowed condition needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// `kubetrail_analyze::patterns`.
    Pattern,
    /// `kubetrail_analyze::anomalies`.
    Anomaly,
    /// `kubetrail_analyze::incidents`.
    Incident,
}

impl Condition {
    pub(crate) const PATTERN_WINDOW: SignedDuration = SignedDuration::from_mins(15);
    pub(crate) const ANOMALY_WINDOW: SignedDuration = SignedDuration::from_hours(1);
    pub(crate) const INCIDENT_WINDOW: SignedDuration = SignedDuration::from_mins(30);

    /// Parses the sentence form: `count >= 5 within 5m` (also `>`), `first_seen`, `pattern`,
    /// `anomaly`, `anomaly >= 3`, `incident`, `incident >= critical`, `change_followed_by_failure`,
    /// `change_followed_by_failure >= error`.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let bad = || {
            format!(
                "invalid condition {text:?} (expected \"count >= N within DURATION\", \
                 \"first_seen\", \"pattern\", \"anomaly >= SCORE\", \"incident >= SEVERITY\" \
                 or \"change_followed_by_failure >= SEVERITY\")"
            )
        };
        match words.as_slice() {
            ["count", op @ (">=" | ">"), n, "within", d] => {
                let n: u64 = n.parse().map_err(|_| bad())?;
                let min = if *op == ">" { n + 1 } else { n };
                Self::count(min, d)
            }
            ["first_seen"] => Ok(Condition::FirstSeen),
            ["pattern"] => Ok(Self::pattern(None, None, None)?),
            ["anomaly"] => Ok(Self::anomaly(None, None)?),
            ["anomaly", ">=", score] => {
                let s: f64 = score.parse().map_err(|_| bad())?;
                Self::anomaly(Some(s), None)
            }
            ["incident"] => Self::incident(None, None),
            ["incident", ">=", sev] => Self::incident(Some(sev), None),
            ["change_followed_by_failure"] => Self::change_followed_by_failure(None, None),
            ["change_followed_by_failure", ">=", sev] => {
                Self::change_followed_by_failure(Some(sev), None)
            }
            _ => Err(bad()),
        }
    }

    pub(crate) fn count(min: u64, within: &str) -> Result<Condition, String> {
        if min == 0 {
            return Err("count must be at least 1".into());
        }
        let within = window(within)?;
        Ok(Condition::Count { min, within })
    }

    pub(crate) fn pattern(
        min_count: Option<u64>,
        min_per_minute: Option<f64>,
        w: Option<&str>,
    ) -> Result<Condition, String> {
        let min_per_minute = min_per_minute.unwrap_or(0.5);
        if !min_per_minute.is_finite() || min_per_minute < 0.0 {
            return Err(format!("min_per_minute must be ≥ 0, not {min_per_minute}"));
        }
        Ok(Condition::Pattern {
            min_count: min_count.unwrap_or(3),
            min_per_minute,
            window: w.map(window).transpose()?.unwrap_or(Self::PATTERN_WINDOW),
        })
    }

    pub(crate) fn anomaly(min_score: Option<f64>, w: Option<&str>) -> Result<Condition, String> {
        let min_score = min_score.unwrap_or(3.0);
        if !min_score.is_finite() || min_score <= 0.0 {
            return Err(format!("min_score must be a number > 0, not {min_score}"));
        }
        Ok(Condition::Anomaly {
            min_score,
            window: w.map(window).transpose()?.unwrap_or(Self::ANOMALY_WINDOW),
        })
    }

    pub(crate) fn incident(min: Option<&str>, w: Option<&str>) -> Result<Condition, String> {
        let (min_severity, window) = incident_bounds(min, w)?;
        Ok(Condition::Incident {
            min_severity,
            window,
        })
    }

    /// Like [`Condition::incident`] (the same defaults: error, 30m), for incidents rooted in a
    /// change.
    pub(crate) fn change_followed_by_failure(
        min: Option<&str>,
        w: Option<&str>,
    ) -> Result<Condition, String> {
        let (min_severity, window) = incident_bounds(min, w)?;
        Ok(Condition::ChangeFollowedByFailure {
            min_severity,
            window,
        })
    }

    /// The analysis the condition needs, for those judged over a window.
    pub fn finding_kind(&self) -> Option<FindingKind> {
        match self {
            Condition::Pattern { .. } => Some(FindingKind::Pattern),
            Condition::Anomaly { .. } => Some(FindingKind::Anomaly),
            Condition::Incident { .. } | Condition::ChangeFollowedByFailure { .. } => {
                Some(FindingKind::Incident)
            }
            Condition::Count { .. } | Condition::FirstSeen => None,
        }
    }

    /// The window a windowed condition looks at.
    pub fn window(&self) -> Option<SignedDuration> {
        match self {
            Condition::Count { within, .. } => Some(*within),
            Condition::Pattern { window, .. }
            | Condition::Anomaly { window, .. }
            | Condition::Incident { window, .. }
            | Condition::ChangeFollowedByFailure { window, .. } => Some(*window),
            Condition::FirstSeen => None,
        }
    }
}

/// The lowest severity (default error) and window (default 30m) of an incident condition.
fn incident_bounds(
    min: Option<&str>,
    w: Option<&str>,
) -> Result<(Severity, SignedDuration), String> {
    let min_severity = match min {
        Some(s) => s.parse::<Severity>().map_err(|e| e.to_string())?,
        None => Severity::Error,
    };
    let window = w
        .map(window)
        .transpose()?
        .unwrap_or(Condition::INCIDENT_WINDOW);
    Ok((min_severity, window))
}

fn window(text: &str) -> Result<SignedDuration, String> {
    let d = parse_duration(text).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err(format!("the window {text:?} must be longer than 0"));
    }
    Ok(d)
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Count { min, within } => {
                write!(
                    f,
                    "count >= {min} within {}",
                    crate::template::duration(*within)
                )
            }
            Condition::FirstSeen => f.write_str("first_seen"),
            Condition::Pattern { .. } => f.write_str("pattern"),
            Condition::Anomaly { min_score, .. } => write!(f, "anomaly >= {min_score}"),
            Condition::Incident { min_severity, .. } => write!(f, "incident >= {min_severity}"),
            Condition::ChangeFollowedByFailure { min_severity, .. } => {
                write!(f, "change_followed_by_failure >= {min_severity}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_parse_into_conditions() {
        assert_eq!(
            Condition::parse("count >= 5 within 5m").unwrap(),
            Condition::Count {
                min: 5,
                within: SignedDuration::from_mins(5)
            }
        );
        assert_eq!(
            Condition::parse("count > 2 within 1h").unwrap(),
            Condition::Count {
                min: 3,
                within: SignedDuration::from_hours(1)
            }
        );
        assert_eq!(
            Condition::parse("first_seen").unwrap(),
            Condition::FirstSeen
        );
        assert!(matches!(
            Condition::parse("anomaly >= 4.5").unwrap(),
            Condition::Anomaly { min_score, .. } if min_score == 4.5
        ));
        assert!(matches!(
            Condition::parse("incident >= critical").unwrap(),
            Condition::Incident {
                min_severity: Severity::Critical,
                ..
            }
        ));
        for bad in [
            "count >= 5",
            "count >= x within 5m",
            "count >= 0 within 5m",
            "count >= 5 within 0s",
            "count >= 5 within soon",
            "incident >= loud",
            "change_followed_by_failure >= loud",
            "change_followed_by_failure error",
            "sometimes",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Condition::parse("change_followed_by_failure").unwrap(),
            Condition::ChangeFollowedByFailure {
                min_severity: Severity::Error,
                window: Condition::INCIDENT_WINDOW,
            }
        );
        assert_eq!(
            Condition::parse("change_followed_by_failure >= warning")
                .unwrap()
                .to_string(),
            "change_followed_by_failure >= warning"
        );
        assert_eq!(
            Condition::parse("count >= 3 within 10m")
                .unwrap()
                .to_string(),
            "count >= 3 within 10m"
        );
    }
}
