//! Anomalies: what is unusual now. Per (cluster, namespace, reason), an occurrence-rate baseline
//! is learned from history and the buckets of the window are compared with it.
//!
//! # What the detector assumes
//! - **Input**: occurrence counts per fixed bucket (default one hour, which the store answers
//!   from its hourly rollups), grouped by cluster, namespace and reason, from the start of the
//!   history to the end of the window. A bucket without a row had no occurrence.
//! - **Baseline**: an exponentially weighted moving average of the count per bucket and of its
//!   variance ([`Ewma`]), run over every bucket from the first bucket in which the namespace had
//!   any event (earlier buckets are "no data", not "zero"). Recent buckets weigh most
//!   (`alpha`); there is no daily or weekly seasonality: a nightly batch job's burst is a spike
//!   until the history holds enough nights to raise the average.
//! - **Spike**: a window bucket with at least `min_count` occurrences whose count is at least
//!   `threshold` standard deviations above the baseline. The deviation is never taken below
//!   √mean (events arrive roughly independently, so counts vary at least as a Poisson count
//!   does) nor below 1. Each window bucket then updates the baseline, so a lasting change
//!   stops being reported after a few buckets.
//! - **New reason**: a reason that occurs in the window but never did in the history of its
//!   namespace, while the namespace itself has history (with no history at all, everything
//!   would be new and nothing can be judged). Only reasons of at least
//!   `new_reason_min_severity` count (a first `Pulled` in a namespace is not news).
//! - **Imported dumps** know only each Event's first and last time and its count: the store puts
//!   one occurrence at the first time and the rest at the last, so a long-repeating Event shows
//!   as a burst at its last time. Spikes found in dumps reflect that.

mod ewma;

pub use ewma::Ewma;

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{AggregateRow, Dimension, Severity};
use serde::Serialize;

use crate::{Error, Result};

/// Settings of [`anomalies`].
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyConfig {
    /// Bucket width; the rows must be bucketed by it (default 1h: the store's rollups).
    pub bucket: SignedDuration,
    /// EWMA weight of the newest bucket, in (0, 1] (default 0.3: about the last 6 buckets).
    pub alpha: f64,
    /// Standard deviations above the baseline that make a spike (default 3).
    pub threshold: f64,
    /// Fewest occurrences in a bucket for a spike (default 5).
    pub min_count: u64,
    /// Lowest severity for a new reason to be reported (default warning).
    pub new_reason_min_severity: Severity,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            bucket: SignedDuration::from_hours(1),
            alpha: 0.3,
            threshold: 3.0,
            min_count: 5,
            new_reason_min_severity: Severity::Warning,
        }
    }
}

impl AnomalyConfig {
    /// Refuses a bucket under 1s, an `alpha` outside (0, 1] and a threshold that is not a
    /// positive number; the error names the setting.
    pub fn validate(&self) -> Result<()> {
        if self.bucket.as_micros() < 1_000_000 {
            return Err(Error::InvalidSetting {
                name: "bucket",
                reason: format!("must be at least 1s, not {:?}", self.bucket),
            });
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(Error::InvalidSetting {
                name: "alpha",
                reason: format!("must be in (0, 1], not {}", self.alpha),
            });
        }
        if !self.threshold.is_finite() || self.threshold <= 0.0 {
            return Err(Error::InvalidSetting {
                name: "threshold",
                reason: format!("must be a number > 0, not {}", self.threshold),
            });
        }
        Ok(())
    }
}

/// What an anomaly is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct AnomalyKey {
    /// The cluster's name.
    pub cluster: String,
    /// The namespace; empty for cluster-scoped objects' events.
    pub namespace: String,
    /// The event reason, e.g. `BackOff`.
    pub reason: String,
}

/// Why a bucket is unusual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// Far more occurrences than the baseline.
    Spike,
    /// A reason never seen before in its namespace.
    NewReason,
}

/// One unusual bucket, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Anomaly {
    /// The series the bucket belongs to.
    pub key: AnomalyKey,
    /// Why it is unusual.
    pub kind: AnomalyKind,
    /// Standard deviations above the baseline (for a new reason: its count, the baseline being 0
    /// with the minimum deviation of 1).
    pub score: f64,
    /// Occurrences per minute in the bucket.
    pub rate: f64,
    /// The learned occurrences per minute before the bucket.
    pub baseline: f64,
    /// Start of the bucket.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Occurrences in the bucket.
    pub count: u64,
    /// The highest severity the reason had in its namespace.
    pub severity: Severity,
    /// The numbers above in a sentence.
    pub evidence: String,
}

struct Series {
    counts: BTreeMap<i64, u64>,
    severity: Severity,
}

/// Anomalies in the buckets starting at or after `since` and before `until`, judged against
/// the buckets before `since` in `rows`. `rows` are occurrence counts grouped by at least
/// cluster, namespace and reason (severity too, if the caller wants it reported) and bucketed
/// by `cfg.bucket`; `since` should be a bucket boundary. Highest score first.
pub fn anomalies(
    rows: &[AggregateRow],
    since: Timestamp,
    until: Timestamp,
    cfg: &AnomalyConfig,
) -> Result<Vec<Anomaly>> {
    cfg.validate()?;
    let width = cfg.bucket.as_micros() as i64;
    let index = |t: Timestamp| t.as_microsecond().div_euclid(width);
    let (since_i, until_i) = (
        index(since) + i64::from(since.as_microsecond().rem_euclid(width) != 0),
        index(until) + i64::from(until.as_microsecond().rem_euclid(width) != 0),
    );
    let mut series: HashMap<AnomalyKey, Series> = HashMap::new();
    let mut namespace_start: HashMap<(String, String), i64> = HashMap::new();
    for row in rows {
        let (key, severity) = key_of(row)?;
        let bucket = row.bucket.ok_or(Error::RowShape {
            what: "anomalies",
            needed: "a time bucket (interval)",
        })?;
        let b = index(bucket);
        if b >= until_i || row.count == 0 {
            continue;
        }
        let start = namespace_start
            .entry((key.cluster.clone(), key.namespace.clone()))
            .or_insert(b);
        *start = (*start).min(b);
        let s = series.entry(key).or_insert_with(|| Series {
            counts: BTreeMap::new(),
            severity,
        });
        s.severity = s.severity.max(severity);
        *s.counts.entry(b).or_insert(0) += row.count;
    }
    let minutes = cfg.bucket.as_secs_f64() / 60.0;
    let mut out = Vec::new();
    for (key, s) in series {
        let start = namespace_start[&(key.cluster.clone(), key.namespace.clone())];
        if start >= since_i {
            // The namespace has no history: nothing to judge against.
            continue;
        }
        let mut ewma = Ewma::default();
        let mut seen = false;
        for b in start..until_i {
            let x = s.counts.get(&b).copied().unwrap_or(0);
            if b >= since_i && x > 0 {
                let found = if seen {
                    spike(&ewma, x, cfg)
                } else if s.severity >= cfg.new_reason_min_severity {
                    Some((AnomalyKind::NewReason, ewma.score(x as f64)))
                } else {
                    None
                };
                if let Some((kind, score)) = found {
                    out.push(anomaly(&key, &s, kind, score, &ewma, b, width, x, minutes));
                }
            }
            seen |= x > 0;
            ewma.update(x as f64, cfg.alpha);
        }
    }
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.key.cmp(&b.key))
            .then_with(|| a.at.cmp(&b.at))
    });
    Ok(out)
}

fn spike(ewma: &Ewma, x: u64, cfg: &AnomalyConfig) -> Option<(AnomalyKind, f64)> {
    let score = ewma.score(x as f64);
    (x >= cfg.min_count && score >= cfg.threshold).then_some((AnomalyKind::Spike, score))
}

#[allow(clippy::too_many_arguments)]
fn anomaly(
    key: &AnomalyKey,
    s: &Series,
    kind: AnomalyKind,
    score: f64,
    ewma: &Ewma,
    b: i64,
    width: i64,
    x: u64,
    minutes: f64,
) -> Anomaly {
    let at = Timestamp::from_microsecond(b * width).unwrap_or(Timestamp::UNIX_EPOCH);
    let rate = x as f64 / minutes;
    let baseline = ewma.mean / minutes;
    let evidence = match kind {
        AnomalyKind::Spike => format!(
            "{x} {} in the {} from {at}: {rate:.2}/min against a baseline of {baseline:.2}/min (±{:.2}) learned over {} buckets",
            key.reason,
            bucket_name(minutes),
            ewma.sigma() / minutes,
            ewma.n,
        ),
        AnomalyKind::NewReason => format!(
            "{x} {} in the {} from {at}, never seen in namespace {} during the {} buckets before",
            key.reason,
            bucket_name(minutes),
            key.namespace,
            ewma.n,
        ),
    };
    Anomaly {
        key: key.clone(),
        kind,
        score,
        rate,
        baseline,
        at,
        count: x,
        severity: s.severity,
        evidence,
    }
}

fn bucket_name(minutes: f64) -> String {
    if minutes == 60.0 {
        "hour".into()
    } else {
        format!("{minutes}-minute bucket")
    }
}

fn key_of(row: &AggregateRow) -> Result<(AnomalyKey, Severity)> {
    let get = |d: Dimension| {
        row.key
            .iter()
            .find(|(k, _)| *k == d)
            .map(|(_, v)| v.clone().unwrap_or_default())
    };
    let shape = || Error::RowShape {
        what: "anomalies",
        needed: "cluster, namespace and reason",
    };
    let key = AnomalyKey {
        cluster: get(Dimension::Cluster).ok_or_else(shape)?,
        namespace: get(Dimension::Namespace).ok_or_else(shape)?,
        reason: get(Dimension::Reason).ok_or_else(shape)?,
    };
    let severity = get(Dimension::Severity)
        .and_then(|s| s.parse().ok())
        .unwrap_or(Severity::Warning);
    Ok((key, severity))
}

#[cfg(test)]
mod tests;
