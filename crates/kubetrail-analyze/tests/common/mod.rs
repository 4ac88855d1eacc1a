//! Reading the real dumps as an import would: normalized by the source, processed with the
//! owner links the dump carries, and turned into occurrences the way the store keeps them (the
//! first copy of an Event: 1 at its first time and the rest at its last; a later copy with a
//! higher count: the increase at its last time).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::Window;
use kubetrail_model::{AggregateRow, AnalysisOccurrences, Dimension, EventOccurrences, Occurrence};
use kubetrail_process::{Processor, Rules};
use kubetrail_source::import::{Item, read_file};

#[allow(unused_imports)]
pub use kubetrail_testkit::real_events as dataset;

/// The events of one dump, with their occurrences, in file order, as analysis reads them.
pub fn load(name: &str) -> Vec<AnalysisOccurrences> {
    AnalysisOccurrences::of_all(&load_whole(name))
}

/// The events of one dump, with their occurrences, in file order.
pub fn load_whole(name: &str) -> Vec<EventOccurrences> {
    let path = dataset().join(name);
    let mut processor = Processor::new(Rules::builtin());
    let mut out: Vec<EventOccurrences> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in read_file(&path, "test").unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        match item.expect("a readable dump") {
            Item::Object(link) => processor.observe(link),
            Item::Event { event, .. } => {
                let ev = processor.process(event);
                let count = ev.count.max(1);
                match index.get(&ev.uid) {
                    Some(&i) => {
                        let known = out[i].event.count.max(1);
                        if count > known {
                            out[i].occurrences.push(Occurrence {
                                at: ev.last_seen,
                                count: count - known,
                            });
                            out[i].event = ev;
                        }
                    }
                    None => {
                        let mut occurrences = vec![Occurrence {
                            at: ev.first_seen,
                            count: 1,
                        }];
                        if count > 1 {
                            occurrences.push(Occurrence {
                                at: ev.last_seen,
                                count: count - 1,
                            });
                        }
                        index.insert(ev.uid.clone(), out.len());
                        out.push(EventOccurrences {
                            event: ev,
                            occurrences,
                        });
                    }
                }
            }
            Item::Revision(_) | Item::Skipped { .. } => {}
        }
    }
    out
}

/// From the first occurrence to just after the last.
pub fn whole(events: &[AnalysisOccurrences]) -> Window {
    let first = events
        .iter()
        .filter_map(AnalysisOccurrences::first)
        .min()
        .expect("events");
    let last = events
        .iter()
        .filter_map(AnalysisOccurrences::last)
        .max()
        .expect("events");
    Window::new(first, last + SignedDuration::from_secs(1)).expect("a window")
}

/// Only the occurrences inside `[since, until)`, and only events that have one, as
/// `Store::occurrences` returns them.
pub fn inside(
    events: &[AnalysisOccurrences],
    since: Timestamp,
    until: Timestamp,
) -> Vec<AnalysisOccurrences> {
    events
        .iter()
        .filter_map(|e| {
            let occurrences: Vec<Occurrence> = e
                .occurrences
                .iter()
                .copied()
                .filter(|o| o.at >= since && o.at < until)
                .collect();
            (!occurrences.is_empty()).then(|| AnalysisOccurrences {
                event: e.event.clone(),
                occurrences,
            })
        })
        .collect()
}

/// Occurrence counts per hour and (cluster, namespace, reason, severity), as
/// `Store::aggregate` returns them.
pub fn hourly(events: &[AnalysisOccurrences]) -> Vec<AggregateRow> {
    let hour = 3_600_000_000i64;
    let mut groups: BTreeMap<(String, String, String, String, i64), u64> = BTreeMap::new();
    for e in events {
        let ev = &e.event;
        let ns = ev.namespace.to_string();
        for o in &e.occurrences {
            let b = o.at.as_microsecond().div_euclid(hour) * hour;
            *groups
                .entry((
                    ev.cluster.to_string(),
                    ns.clone(),
                    ev.reason.to_string(),
                    ev.severity.to_string(),
                    b,
                ))
                .or_insert(0) += o.count;
        }
    }
    groups
        .into_iter()
        .map(|((cluster, ns, reason, severity, b), count)| AggregateRow {
            key: vec![
                (Dimension::Cluster, Some(cluster)),
                (Dimension::Namespace, Some(ns)),
                (Dimension::Reason, Some(reason)),
                (Dimension::Severity, Some(severity)),
            ],
            bucket: Some(Timestamp::from_microsecond(b).expect("a bucket")),
            count,
        })
        .collect()
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("an RFC 3339 time")
}
