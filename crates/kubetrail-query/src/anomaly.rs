//! The anomaly detector's read: its window widened to whole buckets, and the counts per bucket
//! of the baseline history before it.

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::Window;
use kubetrail_model::{AggregateQuery, Dimension, EventFilter};

use crate::{Error, Result};

/// What to aggregate for `anomalies`, and the window to judge.
#[derive(Debug, Clone)]
pub struct AnomalyPlan {
    /// Counts per (cluster, namespace, reason, severity) and bucket, history included.
    pub query: AggregateQuery,
    /// The window's start, rounded down to a bucket.
    pub since: Timestamp,
    /// The window's end, rounded up to a bucket.
    pub until: Timestamp,
}

/// The plan for `window` with buckets of `bucket`, learning over `history` before it.
pub fn anomaly_plan(
    mut filter: EventFilter,
    window: Window,
    bucket: SignedDuration,
    history: SignedDuration,
) -> Result<AnomalyPlan> {
    let since = align(window.since, bucket, false)?;
    let until = align(window.until, bucket, true)?;
    let baseline = since
        .checked_sub(history)
        .map_err(|_| Error::param("history", "reaches before the year -9999"))?;
    filter.since = Some(baseline);
    filter.until = Some(until);
    Ok(AnomalyPlan {
        query: AggregateQuery {
            filter,
            group_by: vec![
                Dimension::Cluster,
                Dimension::Namespace,
                Dimension::Reason,
                Dimension::Severity,
            ],
            interval: Some(bucket),
            limit: None,
        },
        since,
        until,
    })
}

/// `t` rounded down (or up) to a multiple of `bucket` since the epoch.
fn align(t: Timestamp, bucket: SignedDuration, up: bool) -> Result<Timestamp> {
    let too_long = || Error::param("bucket", "is longer than the calendar");
    let width = i64::try_from(bucket.as_micros())
        .map_err(|_| too_long())?
        .max(1);
    let us = t.as_microsecond();
    let mut b = us.div_euclid(width) * width;
    if up && b < us {
        b = b.checked_add(width).ok_or_else(too_long)?;
    }
    Timestamp::from_microsecond(b).map_err(|e| Error::param("bucket", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_widened_to_whole_buckets_and_history_comes_before_it() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let w = Window::new(t("2024-01-01T10:20:00Z"), t("2024-01-01T11:05:00Z")).unwrap();
        let plan = anomaly_plan(
            EventFilter::default(),
            w,
            SignedDuration::from_hours(1),
            SignedDuration::from_hours(24),
        )
        .unwrap();
        assert_eq!(plan.since, t("2024-01-01T10:00:00Z"));
        assert_eq!(plan.until, t("2024-01-01T12:00:00Z"));
        assert_eq!(plan.query.filter.since, Some(t("2023-12-31T10:00:00Z")));
        assert_eq!(plan.query.filter.until, Some(plan.until));
    }
}
