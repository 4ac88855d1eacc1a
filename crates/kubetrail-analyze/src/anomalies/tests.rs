use super::*;
use crate::testing::at;

fn row(ns: &str, reason: &str, severity: &str, hour: i64, count: u64) -> AggregateRow {
    AggregateRow {
        key: vec![
            (Dimension::Cluster, Some("test".into())),
            (Dimension::Namespace, Some(ns.into())),
            (Dimension::Reason, Some(reason.into())),
            (Dimension::Severity, Some(severity.into())),
        ],
        bucket: Some(at(hour * 60)),
        count,
    }
}

/// 24 hours of history with `per_hour` BackOffs each hour in `shop`, then `now` in hour 24.
fn steady(per_hour: u64, now: u64) -> Vec<AggregateRow> {
    let mut rows: Vec<AggregateRow> = (0..24)
        .map(|h| row("shop", "BackOff", "error", h, per_hour))
        .collect();
    rows.push(row("shop", "BackOff", "error", 24, now));
    rows
}

fn detect(rows: &[AggregateRow]) -> Vec<Anomaly> {
    anomalies(rows, at(24 * 60), at(25 * 60), &AnomalyConfig::default()).unwrap()
}

#[test]
fn a_burst_far_above_a_steady_rate_is_a_spike_with_its_evidence() {
    let found = detect(&steady(10, 60));
    assert_eq!(found.len(), 1, "{found:?}");
    let a = &found[0];
    assert_eq!(a.kind, AnomalyKind::Spike);
    assert_eq!(a.key.reason, "BackOff");
    assert_eq!(a.count, 60);
    assert_eq!(a.at, at(24 * 60));
    assert!((a.rate - 1.0).abs() < 1e-9, "60 in an hour is 1/min");
    assert!((a.baseline - 10.0 / 60.0).abs() < 0.01, "{}", a.baseline);
    // (60 - 10) / √10 ≈ 15.8
    assert!(a.score > 15.0 && a.score < 16.5, "{}", a.score);
    assert!(a.evidence.contains("60 BackOff"), "{}", a.evidence);
    assert_eq!(a.severity, Severity::Error);
}

#[test]
fn ordinary_variation_and_small_counts_are_not_spikes() {
    assert!(detect(&steady(10, 18)).is_empty(), "within 3 sigma of √10");
    assert!(detect(&steady(0, 4)).is_empty(), "below min_count");
    assert!(detect(&steady(10, 0)).is_empty(), "silence is not a spike");
}

#[test]
fn a_reason_new_to_a_namespace_with_history_is_reported_once() {
    let mut rows = steady(10, 10);
    rows.push(row("shop", "FailedMount", "error", 24, 3));
    let found = detect(&rows);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, AnomalyKind::NewReason);
    assert_eq!(found[0].key.reason, "FailedMount");
    assert_eq!(found[0].score, 3.0);
    assert_eq!(found[0].baseline, 0.0);
}

#[test]
fn new_reasons_need_history_in_the_namespace_and_enough_severity() {
    let mut rows = steady(10, 10);
    // A namespace seen for the first time: nothing to compare with.
    rows.push(row("fresh", "FailedMount", "error", 24, 50));
    // A new but boring reason.
    rows.push(row("shop", "Pulled", "info", 24, 40));
    assert!(detect(&rows).is_empty());
}

#[test]
fn history_before_the_namespace_existed_is_not_counted_as_silence() {
    // shop has data from hour 20 only; the baseline is learned from 4 buckets, not 24.
    let mut rows: Vec<AggregateRow> = (20..24)
        .map(|h| row("shop", "BackOff", "error", h, 10))
        .collect();
    rows.push(row("shop", "BackOff", "error", 24, 60));
    let found = detect(&rows);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].evidence.contains("over 4 buckets"),
        "{}",
        found[0].evidence
    );
}

#[test]
fn rows_without_the_needed_dimensions_or_buckets_are_refused() {
    let mut bad = row("shop", "BackOff", "error", 0, 1);
    bad.key.retain(|(d, _)| *d != Dimension::Reason);
    assert!(matches!(
        anomalies(&[bad], at(0), at(60), &AnomalyConfig::default()),
        Err(Error::RowShape { .. })
    ));
    let mut unbucketed = row("shop", "BackOff", "error", 0, 1);
    unbucketed.bucket = None;
    assert!(anomalies(&[unbucketed], at(0), at(60), &AnomalyConfig::default()).is_err());
    let cfg = AnomalyConfig {
        alpha: 0.0,
        ..AnomalyConfig::default()
    };
    assert!(matches!(
        anomalies(&[], at(0), at(60), &cfg),
        Err(Error::InvalidSetting { name: "alpha", .. })
    ));
}

#[test]
fn each_window_bucket_is_judged_and_then_learned() {
    // A lasting jump from 10 to 100 per hour: reported when it starts, not forever.
    let mut rows: Vec<AggregateRow> = (0..24)
        .map(|h| row("shop", "BackOff", "error", h, 10))
        .collect();
    rows.extend((24..36).map(|h| row("shop", "BackOff", "error", h, 100)));
    let found = anomalies(&rows, at(24 * 60), at(36 * 60), &AnomalyConfig::default()).unwrap();
    assert!(!found.is_empty());
    assert!(found.len() < 12, "{}", found.len());
    assert!(found.iter().any(|a| a.at == at(24 * 60)));
}
