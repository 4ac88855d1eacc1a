//! `kubetrail_events_total{cluster,namespace,reason,type,severity,category}`: occurrences of
//! Kubernetes Events as the store took them, a counter Prometheus can `rate()`. It counts each
//! committed batch's [`WriteSummary::by_group`](kubetrail_store::WriteSummary): new occurrences
//! only (an Event's count increases), so a relist or a repeated import adds nothing.
//!
//! Cardinality stays bounded: object names, messages and nodes are never labels; `type` is
//! `Normal`, `Warning` or `_other`, `severity` and `category` are fixed sets; and at most
//! [`MAX_EVENT_SERIES`] label sets get their own series, the first ones seen. An event of a new
//! label set beyond that is counted with `cluster`, `namespace` and `reason` set to `_other`
//! (keeping its type, severity and category), so there are never more than
//! `MAX_EVENT_SERIES + 3 × 4 × 14` series and sums by severity or category stay exact. `_other`
//! cannot be a namespace (Kubernetes names have no underscore).

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use kubetrail_store::OccurrenceGroup;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Most label sets of `kubetrail_events_total` with their own series.
pub const MAX_EVENT_SERIES: usize = 2_000;

/// The value of a label collapsed beyond the cap (or a `type` outside Normal and Warning).
const OTHER: &str = "_other";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EventLabels {
    cluster: String,
    namespace: String,
    reason: String,
    r#type: &'static str,
    severity: &'static str,
    category: &'static str,
}

pub(crate) struct EventCounters {
    events: Family<EventLabels, Counter>,
    known: Mutex<HashSet<EventLabels>>,
    max_series: usize,
}

impl EventCounters {
    pub fn new(max_series: usize) -> EventCounters {
        EventCounters {
            events: Family::default(),
            known: Mutex::new(HashSet::new()),
            max_series,
        }
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "kubetrail_events",
            "Occurrences of Kubernetes Events stored (count increases; a relist adds none), by \
             cluster, namespace, reason, type, severity and category; label sets beyond the cap \
             are counted with cluster, namespace and reason _other",
            self.events.clone(),
        );
    }

    /// Counts a committed batch's new occurrences.
    pub fn add(&self, by_group: &BTreeMap<OccurrenceGroup, u64>) {
        if by_group.is_empty() {
            return;
        }
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        for (group, n) in by_group {
            let labels = self.labels(&mut known, group);
            self.events.get_or_create(&labels).inc_by(*n);
        }
    }

    /// The group's own labels while under the cap (or already known), else its `_other` set.
    fn labels(&self, known: &mut HashSet<EventLabels>, g: &OccurrenceGroup) -> EventLabels {
        let own = EventLabels {
            cluster: g.cluster.clone(),
            namespace: g.namespace.clone(),
            reason: g.reason.clone(),
            r#type: match g.type_.as_str() {
                "Normal" => "Normal",
                "Warning" => "Warning",
                _ => OTHER,
            },
            severity: g.severity.as_str(),
            category: g.category.as_str(),
        };
        if known.contains(&own) {
            return own;
        }
        if known.len() < self.max_series {
            known.insert(own.clone());
            return own;
        }
        EventLabels {
            cluster: OTHER.to_string(),
            namespace: OTHER.to_string(),
            reason: OTHER.to_string(),
            ..own
        }
    }
}

#[cfg(test)]
mod tests {
    use kubetrail_model::{Category, Severity};
    use prometheus_client::encoding::text::encode;

    use super::*;

    fn group(ns: &str, reason: &str, type_: &str) -> OccurrenceGroup {
        OccurrenceGroup {
            cluster: "prod".into(),
            namespace: ns.into(),
            reason: reason.into(),
            type_: type_.into(),
            severity: Severity::Error,
            category: Category::Crash,
        }
    }

    fn render(c: &EventCounters) -> String {
        let mut registry = Registry::default();
        c.register(&mut registry);
        let mut out = String::new();
        encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn occurrences_add_up_per_label_set_across_batches() {
        let c = EventCounters::new(10);
        c.add(&BTreeMap::from([(group("shop", "BackOff", "Warning"), 3)]));
        c.add(&BTreeMap::from([(group("shop", "BackOff", "Warning"), 2)]));
        let text = render(&c);
        assert!(
            text.contains(r#"kubetrail_events_total{cluster="prod",namespace="shop",reason="BackOff",type="Warning",severity="error",category="crash"} 5"#),
            "{text}"
        );
    }

    #[test]
    fn label_sets_beyond_the_cap_are_counted_as_other_keeping_type_severity_and_category() {
        let c = EventCounters::new(2);
        c.add(&BTreeMap::from([
            (group("a", "BackOff", "Warning"), 1),
            (group("b", "BackOff", "Warning"), 1),
        ]));
        c.add(&BTreeMap::from([
            (group("c", "BackOff", "Warning"), 4),
            (group("d", "Evil", "Odd"), 1),
            (group("a", "BackOff", "Warning"), 1),
        ]));
        let text = render(&c);
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("kubetrail_events_total{"))
            .collect();
        assert_eq!(series.len(), 4, "{text}");
        assert!(text.contains(r#"{cluster="prod",namespace="a",reason="BackOff",type="Warning",severity="error",category="crash"} 2"#), "{text}");
        assert!(text.contains(r#"{cluster="_other",namespace="_other",reason="_other",type="Warning",severity="error",category="crash"} 4"#), "{text}");
        assert!(text.contains(r#"{cluster="_other",namespace="_other",reason="_other",type="_other",severity="error",category="crash"} 1"#), "{text}");
    }
}
