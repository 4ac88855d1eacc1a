//! Patterns: what keeps happening. Events grouped by (cluster, namespace, kind, reason, message
//! template) over a window, kept when they recur often enough.
//!
//! The thresholds are those of the reference design (the Kubernetes blog's custom aggregation):
//! at least 3 occurrences and more than one every two minutes. The frequency is the count over
//! the span from the group's first to its last occurrence in the window, at least one minute, so
//! a burst inside one second counts as a burst rather than as an infinite rate.

use std::collections::HashMap;

use jiff::Timestamp;
use kubetrail_model::{Category, EventOccurrences, Severity};
use serde::Serialize;

use crate::objects::short_object;
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
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
    /// The highest severity among the pattern's events, and that event's category.
    pub severity: Severity,
    /// The category of that most severe event.
    pub category: Category,
}

#[derive(Default)]
struct Group<'a> {
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    members: Vec<&'a EventOccurrences>,
}

/// The patterns among `events` (each with its occurrences inside the window), most frequent
/// first.
pub fn patterns(events: &[EventOccurrences], cfg: &PatternConfig) -> Vec<Pattern> {
    let mut groups: HashMap<(&str, &str, &str, &str, &str), Group<'_>> = HashMap::new();
    for e in events {
        let (Some(first), Some(last)) = (e.first(), e.last()) else {
            continue;
        };
        let ev = &e.event;
        let g = groups
            .entry((
                ev.cluster.as_str(),
                // The Event's namespace, as the store's filters and aggregations use it.
                ev.namespace.as_str(),
                ev.regarding.kind.as_str(),
                ev.reason.as_str(),
                ev.template.as_str(),
            ))
            .or_default();
        g.count += e.count();
        g.first = Some(g.first.map_or(first, |f| f.min(first)));
        g.last = Some(g.last.map_or(last, |l| l.max(last)));
        g.members.push(e);
    }
    let mut out: Vec<Pattern> = groups
        .into_iter()
        .filter_map(|(key, g)| build(key, g, cfg))
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}

fn build(
    (cluster, namespace, kind, reason, template): (&str, &str, &str, &str, &str),
    mut g: Group<'_>,
    cfg: &PatternConfig,
) -> Option<Pattern> {
    let (first, last) = (g.first?, g.last?);
    let minutes = (last.duration_since(first).as_secs_f64() / 60.0).max(1.0);
    let frequency = g.count as f64 / minutes;
    if g.count < cfg.min_count || frequency <= cfg.min_per_minute {
        return None;
    }
    let mut per_object: HashMap<String, u64> = HashMap::new();
    for m in &g.members {
        *per_object.entry(short_object(&m.event)).or_insert(0) += m.count();
    }
    let object_count = per_object.len();
    let mut objects: Vec<(String, u64)> = per_object.into_iter().collect();
    objects.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    objects.truncate(cfg.max_objects);
    g.members.sort_by(|a, b| {
        b.last()
            .cmp(&a.last())
            .then_with(|| a.event.uid.cmp(&b.event.uid))
    });
    let mut samples: Vec<Sample> = Vec::new();
    for m in &g.members {
        if samples.len() >= cfg.max_samples {
            break;
        }
        if samples.iter().any(|s| s.note == m.event.note) {
            continue;
        }
        samples.push(Sample {
            object: short_object(&m.event),
            note: m.event.note.clone(),
            at: m.last().unwrap_or(last),
        });
    }
    let worst = g
        .members
        .iter()
        .max_by_key(|m| m.event.severity)
        .map(|m| (m.event.severity, m.event.category))
        .unwrap_or((Severity::Info, Category::Other));
    Some(Pattern {
        key: PatternKey {
            cluster: cluster.to_string(),
            namespace: namespace.to_string(),
            kind: kind.to_string(),
            reason: reason.to_string(),
            template: template.to_string(),
        },
        count: g.count,
        frequency_per_min: frequency,
        first_seen: first,
        last_seen: last,
        objects: objects.into_iter().map(|(o, _)| o).collect(),
        object_count,
        samples,
        severity: worst.0,
        category: worst.1,
    })
}
