//! Patterns: what keeps happening. Events grouped by (cluster, namespace, kind, reason, message
//! template) over a window, kept when they recur often enough.
//!
//! The thresholds are those of the reference design (the Kubernetes blog's custom aggregation):
//! at least 3 occurrences and more than one every two minutes. The frequency is the count over
//! the span from the group's first to its last occurrence in the window, at least one minute, so
//! a burst inside one second counts as a burst rather than as an infinite rate.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use kubetrail_model::{AnalysisEvent, AnalysisOccurrences, Category, Occurrence, Severity};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Thresholds and sizes of [`patterns`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatternConfig {
    /// Fewest occurrences in the window (reference design: 3).
    pub min_count: u64,
    /// The frequency must be above this many occurrences per minute (reference design: 0.5).
    pub min_per_minute: f64,
    /// Sample messages kept per pattern (distinct notes, newest first).
    pub max_samples: usize,
    /// Objects named per pattern (the most frequent first); `object_count` has them all.
    pub max_objects: usize,
}

impl Default for PatternConfig {
    fn default() -> Self {
        PatternConfig {
            min_count: 3,
            min_per_minute: 0.5,
            max_samples: 3,
            max_objects: 20,
        }
    }
}

impl PatternConfig {
    /// Refuses a `min_per_minute` that is negative or not a number.
    pub fn validate(&self) -> Result<()> {
        if !self.min_per_minute.is_finite() || self.min_per_minute < 0.0 {
            return Err(Error::InvalidSetting {
                name: "min_per_minute",
                reason: format!("must be a number ≥ 0, not {}", self.min_per_minute),
            });
        }
        Ok(())
    }
}

/// What a pattern groups by.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct PatternKey {
    /// The cluster's name.
    pub cluster: String,
    /// The namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// The regarding objects' kind.
    pub kind: String,
    /// The event reason.
    pub reason: String,
    /// The message template: the message with its variable parts masked (see
    /// `kubetrail_process::template`).
    pub template: String,
}

/// One message of a pattern, as it was written.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = PatternSample)]
pub struct Sample {
    /// The regarding object, `Kind/name`.
    pub object: String,
    /// The message as written.
    pub note: String,
    /// The event's last occurrence in the window.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A recurring group of events.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Pattern {
    /// What the pattern groups by.
    pub key: PatternKey,
    /// Occurrences in the window (exact: count increases, not lifetime counts).
    pub count: u64,
    /// `count` per minute between `first_seen` and `last_seen` (at least one minute).
    pub frequency_per_min: f64,
    /// The earliest occurrence in the window.
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: Timestamp,
    /// The latest occurrence in the window.
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: Timestamp,
    /// `Kind/name` of the objects affected, the most frequent first, at most `max_objects`.
    pub objects: Vec<String>,
    /// How many objects are affected, including those beyond `max_objects`.
    pub object_count: usize,
    /// Distinct messages, the most recent first, at most `max_samples`.
    pub samples: Vec<Sample>,
    /// The highest severity among the pattern's events, and that event's category (the most
    /// recent of the most severe).
    pub severity: Severity,
    /// The category of that most severe event.
    pub category: Category,
}

/// How many samples a [`PatternPart`] keeps: those a pattern shows by default
/// ([`PatternConfig::max_samples`]). Parts kept in a store answer configurations that show at
/// most this many.
pub const KEPT_SAMPLES: usize = 3;

/// A pattern's sums over some of a window's events: what [`patterns`] adds up per group
/// before it applies its thresholds. Parts of the same key over disjoint time spans merge
/// ([`merge_parts`]) into the part of their union, exactly, so a window's patterns can be
/// merged from parts kept per hour and per day (issue 14 §1) instead of read from every event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternPart {
    /// What the pattern groups by.
    pub key: PatternKey,
    /// Occurrences.
    pub count: u64,
    /// The earliest occurrence.
    pub first: Timestamp,
    /// The latest occurrence.
    pub last: Timestamp,
    /// Occurrences per object (`Kind/name`), every object.
    pub objects: BTreeMap<String, u64>,
    /// For each distinct note, its most recent event (latest occurrence first, then the
    /// smallest uid): the first `max_samples` of this order.
    pub samples: Vec<Candidate>,
    /// The most severe event; among equals the first in the samples' order.
    pub worst: Worst,
}

/// An event that may give a pattern its sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The regarding object, `Kind/name`.
    pub object: String,
    /// The message as written.
    pub note: String,
    /// The event's latest occurrence in the part.
    pub at: Timestamp,
    /// The event's uid (orders events with the same latest occurrence).
    pub uid: String,
}

/// The most severe event of a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worst {
    /// Its severity.
    pub severity: Severity,
    /// Its category.
    pub category: Category,
    /// Its latest occurrence in the part.
    pub at: Timestamp,
    /// Its uid.
    pub uid: String,
}

/// The samples' order: the latest occurrence first, then the smallest uid.
fn recent_first(a: (&Timestamp, &str), b: (&Timestamp, &str)) -> Ordering {
    b.0.cmp(a.0).then_with(|| a.1.cmp(b.1))
}

impl Worst {
    /// Whether `self` is the worse of the two: more severe, or as severe and first in the
    /// samples' order.
    fn beats(&self, other: &Worst) -> bool {
        self.severity
            .cmp(&other.severity)
            .then_with(|| recent_first((&other.at, &other.uid), (&self.at, &self.uid)))
            == Ordering::Greater
    }
}

impl PatternPart {
    /// Adds `other` (the same key, another time span) to `self`, keeping `max_samples`.
    fn absorb(&mut self, other: PatternPart, max_samples: usize) {
        self.count += other.count;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        for (object, n) in other.objects {
            *self.objects.entry(object).or_insert(0) += n;
        }
        let mut samples = std::mem::take(&mut self.samples);
        samples.extend(other.samples);
        self.samples = distinct_notes(samples, max_samples);
        if other.worst.beats(&self.worst) {
            self.worst = other.worst;
        }
    }
}

/// The first `max` candidates of distinct notes, in the samples' order.
fn distinct_notes(mut all: Vec<Candidate>, max: usize) -> Vec<Candidate> {
    all.sort_by(|a, b| recent_first((&a.at, &a.uid), (&b.at, &b.uid)));
    let mut out: Vec<Candidate> = Vec::with_capacity(max.min(all.len()));
    for c in all {
        if out.len() >= max {
            break;
        }
        if !out.iter().any(|s| s.note == c.note) {
            out.push(c);
        }
    }
    out
}

/// One part per group of `events` (each with its occurrences inside a span), keeping
/// `max_samples` samples each; events without occurrences are left out.
pub fn pattern_parts(events: &[AnalysisOccurrences], max_samples: usize) -> Vec<PatternPart> {
    pattern_parts_of(
        events.iter().map(|e| (&e.event, e.occurrences.as_slice())),
        max_samples,
    )
}

/// [`pattern_parts`] of events given as each Event and its occurrences inside the span (any
/// order), borrowed: the maintainer takes an hour's out of a longer read without copying the
/// Events.
pub fn pattern_parts_of<'a>(
    events: impl IntoIterator<Item = (&'a AnalysisEvent, &'a [Occurrence])>,
    max_samples: usize,
) -> Vec<PatternPart> {
    type Key<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);
    /// An event, its count, first and last occurrence in the span.
    type Member<'a> = (&'a AnalysisEvent, u64, Timestamp, Timestamp);
    // foldhash: the maintainer groups every event of the store by hour (SipHash was 2–3 % of
    // its pass).
    let mut groups: HashMap<Key<'_>, Vec<Member<'_>>, foldhash::fast::RandomState> =
        HashMap::default();
    for (ev, occurrences) in events {
        let (Some(first), Some(last)) = (
            occurrences.iter().map(|o| o.at).min(),
            occurrences.iter().map(|o| o.at).max(),
        ) else {
            continue;
        };
        let count = occurrences.iter().map(|o| o.count).sum();
        groups
            .entry((
                ev.cluster.as_str(),
                // The Event's namespace, as the store's filters and aggregations use it.
                ev.namespace.as_str(),
                ev.regarding.kind.as_str(),
                ev.reason.as_str(),
                ev.template.as_str(),
            ))
            .or_default()
            .push((ev, count, first, last));
    }
    groups
        .into_iter()
        .map(
            |((cluster, namespace, kind, reason, template), mut members)| {
                members.sort_by(|a, b| recent_first((&a.3, &a.0.uid), (&b.3, &b.0.uid)));
                let mut objects: BTreeMap<String, u64> = BTreeMap::new();
                let mut samples: Vec<Candidate> = Vec::new();
                let mut worst: Option<&Member<'_>> = None;
                let mut name = String::new();
                for m in &members {
                    let ev = m.0;
                    // One allocation per object, not per event.
                    name.clear();
                    name.push_str(&ev.regarding.kind);
                    name.push('/');
                    name.push_str(&ev.regarding.name);
                    match objects.get_mut(name.as_str()) {
                        Some(n) => *n += m.1,
                        None => {
                            objects.insert(name.clone(), m.1);
                        }
                    }
                    if samples.len() < max_samples && !samples.iter().any(|s| s.note == ev.note) {
                        samples.push(Candidate {
                            object: name.clone(),
                            note: ev.note.to_string(),
                            at: m.3,
                            uid: ev.uid.to_string(),
                        });
                    }
                    // Members are in the samples' order: the first of the most severe wins.
                    if worst.is_none_or(|w| ev.severity > w.0.severity) {
                        worst = Some(m);
                    }
                }
                let w = worst.expect("a group has a member");
                PatternPart {
                    key: PatternKey {
                        cluster: cluster.to_string(),
                        namespace: namespace.to_string(),
                        kind: kind.to_string(),
                        reason: reason.to_string(),
                        template: template.to_string(),
                    },
                    count: members.iter().map(|m| m.1).sum(),
                    first: members.iter().map(|m| m.2).min().expect("a member"),
                    last: members[0].3,
                    objects,
                    samples,
                    worst: Worst {
                        severity: w.0.severity,
                        category: w.0.category,
                        at: w.3,
                        uid: w.0.uid.to_string(),
                    },
                }
            },
        )
        .collect()
}

/// Merges parts of the same key (over disjoint time spans) into one each, keeping
/// `max_samples` samples; sorted by key.
pub fn merge_parts(
    parts: impl IntoIterator<Item = PatternPart>,
    max_samples: usize,
) -> Vec<PatternPart> {
    let mut merged: BTreeMap<PatternKey, PatternPart> = BTreeMap::new();
    for p in parts {
        match merged.get_mut(&p.key) {
            Some(m) => m.absorb(p, max_samples),
            None => {
                merged.insert(p.key.clone(), p);
            }
        }
    }
    merged.into_values().collect()
}

/// The patterns among `events` (each with its occurrences inside the window), most frequent
/// first.
pub fn patterns(events: &[AnalysisOccurrences], cfg: &PatternConfig) -> Vec<Pattern> {
    patterns_of_parts(pattern_parts(events, cfg.max_samples), cfg)
}

/// The patterns of a window from its parts (several per key are merged), most frequent first.
pub fn patterns_of_parts(
    parts: impl IntoIterator<Item = PatternPart>,
    cfg: &PatternConfig,
) -> Vec<Pattern> {
    let mut out: Vec<Pattern> = merge_parts(parts, cfg.max_samples)
        .into_iter()
        .filter_map(|p| build(p, cfg))
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}

impl PatternConfig {
    /// Whether a group of `count` occurrences from `first` to `last` is a pattern: at least
    /// `min_count`, more than `min_per_minute` over its span (at least a minute).
    pub fn recurs(&self, count: u64, first: Timestamp, last: Timestamp) -> bool {
        count >= self.min_count && frequency(count, first, last) > self.min_per_minute
    }
}

/// `count` per minute from `first` to `last` (at least one minute).
fn frequency(count: u64, first: Timestamp, last: Timestamp) -> f64 {
    let minutes = (last.duration_since(first).as_secs_f64() / 60.0).max(1.0);
    count as f64 / minutes
}

fn build(p: PatternPart, cfg: &PatternConfig) -> Option<Pattern> {
    if !cfg.recurs(p.count, p.first, p.last) {
        return None;
    }
    let frequency = frequency(p.count, p.first, p.last);
    let object_count = p.objects.len();
    let mut objects: Vec<(String, u64)> = p.objects.into_iter().collect();
    objects.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    objects.truncate(cfg.max_objects);
    Some(Pattern {
        key: p.key,
        count: p.count,
        frequency_per_min: frequency,
        first_seen: p.first,
        last_seen: p.last,
        objects: objects.into_iter().map(|(o, _)| o).collect(),
        object_count,
        samples: p
            .samples
            .into_iter()
            .take(cfg.max_samples)
            .map(|c| Sample {
                object: c.object,
                note: c.note,
                at: c.at,
            })
            .collect(),
        severity: p.worst.severity,
        category: p.worst.category,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;
    use kubetrail_model::Occurrence;
    use proptest::prelude::*;

    fn t0() -> Timestamp {
        Timestamp::from_second(1_714_521_600).expect("a time")
    }

    /// An event of a small vocabulary (so groups, notes and ties recur) with occurrences at
    /// the given minutes.
    fn event(
        id: usize,
        pod: u8,
        key: u8,
        note: u8,
        sev: u8,
        minutes: &[u16],
    ) -> AnalysisOccurrences {
        let severities = [Severity::Info, Severity::Warning, Severity::Error];
        let categories = [Category::Other, Category::Scheduling, Category::Storage];
        let mut ev = crate::testing::pod_warning("ns", &format!("pod-{}", pod % 5), "BackOff", "")
            .at(0)
            .build()
            .event;
        ev.cluster = format!("c{}", key % 2).into();
        ev.uid = format!("u{id}").into();
        ev.namespace = format!("ns{}", key % 3).into();
        ev.note = format!("note {note}").into();
        ev.template = format!("template {}", key % 2).into();
        ev.severity = severities[usize::from(sev % 3)];
        ev.category = categories[usize::from(note % 3)];
        let mut occurrences: Vec<Occurrence> = minutes
            .iter()
            .map(|m| Occurrence {
                at: t0() + SignedDuration::from_mins(i64::from(*m)),
                count: 1 + u64::from(*m % 3),
            })
            .collect();
        occurrences.sort_by_key(|o| o.at);
        AnalysisOccurrences {
            event: ev,
            occurrences,
        }
    }

    /// `e` with only its occurrences in `[a, b)` (minutes).
    fn inside(e: &AnalysisOccurrences, a: i64, b: i64) -> AnalysisOccurrences {
        let (a, b) = (
            t0() + SignedDuration::from_mins(a),
            t0() + SignedDuration::from_mins(b),
        );
        AnalysisOccurrences {
            event: e.event.clone(),
            occurrences: e
                .occurrences
                .iter()
                .filter(|o| o.at >= a && o.at < b)
                .cloned()
                .collect(),
        }
    }

    fn arb_events() -> impl Strategy<Value = Vec<AnalysisOccurrences>> {
        prop::collection::vec(
            (
                any::<u8>(),
                0u8..6,
                0u8..4,
                any::<u8>(),
                prop::collection::vec(0u16..600, 0..6),
            ),
            0..40,
        )
        .prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (pod, key, note, sev, minutes))| event(i, pod, key, note, sev, &minutes))
                .collect()
        })
    }

    proptest! {
        /// The parts of the spans a window is cut into merge into the part of the whole
        /// window, and give its patterns: what lets a store keep parts per hour and per day.
        #[test]
        fn parts_of_a_window_cut_anywhere_merge_into_the_whole(
            events in arb_events(),
            mut cuts in prop::collection::vec(0i64..600, 0..5),
            max_samples in 1usize..4,
        ) {
            cuts.push(0);
            cuts.push(600);
            cuts.sort_unstable();
            cuts.dedup();
            let mut pieces: Vec<PatternPart> = Vec::new();
            for w in cuts.windows(2) {
                let slice: Vec<AnalysisOccurrences> =
                    events.iter().map(|e| inside(e, w[0], w[1])).collect();
                pieces.extend(pattern_parts(&slice, max_samples));
            }
            let whole = merge_parts(pattern_parts(&events, max_samples), max_samples);
            prop_assert_eq!(merge_parts(pieces.clone(), max_samples), whole);
            let cfg = PatternConfig { min_count: 1, min_per_minute: 0.0, max_samples, max_objects: 2 };
            prop_assert_eq!(patterns_of_parts(pieces, &cfg), patterns(&events, &cfg));
        }
    }

    #[test]
    fn the_category_is_that_of_the_most_recent_of_the_most_severe_events() {
        let events = vec![
            event(1, 1, 0, 0, 2, &[10]), // Error, Other, minute 10
            event(2, 2, 0, 1, 2, &[20]), // Error, Scheduling, minute 20: the most recent Error
            event(3, 3, 0, 2, 1, &[30]), // Warning, later: less severe
        ];
        let cfg = PatternConfig {
            min_count: 1,
            min_per_minute: 0.0,
            ..PatternConfig::default()
        };
        let found = patterns(&events, &cfg);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].category, Category::Scheduling);
        assert_eq!(found[0].samples.len(), 3);
        assert_eq!(found[0].samples[0].note, "note 2");
    }
}
