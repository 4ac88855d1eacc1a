//! An Event as analysis reads it: only the fields incidents, patterns and explanations look
//! at, each string shared with the other events of the same read that carry it.
//!
//! Analysis holds every event of the window it reads (up to 50,000 in an incidents pass).
//! Whole, an [`EventOccurrences`] is 632 bytes before its strings, and its strings are ~700
//! bytes more on real clusters, although most of them repeat from event to event (the
//! cluster, namespaces, kinds, reasons, reporting components, nodes, objects, and the notes
//! and templates of repeated failures). Here a string is one pointer, and a read hands out
//! one copy of each distinct string ([`SharedStrings`]): issue 14 §2/§3, the pass's peak.

use std::collections::HashSet;

use arcstr::ArcStr;
use jiff::Timestamp;

use crate::{Category, Event, EventOccurrences, Occurrence, Severity};

/// The fields of an [`Event`] that analysis reads, each as that Event has it. What analysis
/// never reads (the Event object's name, the regarding object's API version and uid, the
/// related object, type, action, resource version, owner and labels) is not here.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisEvent {
    /// [`Event::cluster`].
    pub cluster: ArcStr,
    /// [`Event::uid`].
    pub uid: ArcStr,
    /// [`Event::namespace`].
    pub namespace: ArcStr,
    /// [`Event::regarding`], without its API version and uid.
    pub regarding: AnalysisRef,
    /// [`Event::reason`].
    pub reason: ArcStr,
    /// [`Event::note`].
    pub note: ArcStr,
    /// [`Event::reporting_controller`].
    pub reporting_controller: ArcStr,
    /// [`Event::reporting_instance`].
    pub reporting_instance: ArcStr,
    /// [`Event::first_seen`].
    pub first_seen: Timestamp,
    /// [`Event::last_seen`].
    pub last_seen: Timestamp,
    /// [`Event::count`].
    pub count: u64,
    /// [`Event::category`].
    pub category: Category,
    /// [`Event::severity`].
    pub severity: Severity,
    /// [`Event::correlation_id`].
    pub correlation_id: ArcStr,
    /// [`Event::node`].
    pub node: Option<ArcStr>,
    /// [`Event::template`].
    pub template: ArcStr,
}

/// The object an [`AnalysisEvent`] is about: [`ObjectRef`](crate::ObjectRef) without its API
/// version and uid.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRef {
    /// [`ObjectRef::kind`](crate::ObjectRef::kind).
    pub kind: ArcStr,
    /// [`ObjectRef::namespace`](crate::ObjectRef::namespace).
    pub namespace: ArcStr,
    /// [`ObjectRef::name`](crate::ObjectRef::name).
    pub name: ArcStr,
    /// [`ObjectRef::field_path`](crate::ObjectRef::field_path).
    pub field_path: ArcStr,
}

/// An [`AnalysisEvent`] with its occurrences inside a time window (oldest first), as
/// [`EventOccurrences`] holds a whole Event's.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOccurrences {
    /// The Event, as last stored.
    pub event: AnalysisEvent,
    /// Its occurrences inside the window, oldest first.
    pub occurrences: Vec<Occurrence>,
}

impl AnalysisOccurrences {
    /// Occurrences inside the window.
    pub fn count(&self) -> u64 {
        crate::occurrence::count_of(&self.occurrences)
    }

    /// The first occurrence inside the window (`None` when there is none).
    pub fn first(&self) -> Option<Timestamp> {
        self.occurrences.iter().map(|o| o.at).min()
    }

    /// The last occurrence inside the window (`None` when there is none).
    pub fn last(&self) -> Option<Timestamp> {
        self.occurrences.iter().map(|o| o.at).max()
    }

    /// `events` as analysis reads them, their strings shared among them.
    pub fn of_all(events: &[EventOccurrences]) -> Vec<AnalysisOccurrences> {
        let mut strings = SharedStrings::default();
        events
            .iter()
            .map(|e| AnalysisOccurrences {
                event: AnalysisEvent::of(&e.event, &mut strings),
                occurrences: e.occurrences.clone(),
            })
            .collect()
    }
}

impl AnalysisEvent {
    /// What analysis reads of `e`, its strings taken from `strings`.
    pub fn of(e: &Event, strings: &mut SharedStrings) -> AnalysisEvent {
        AnalysisEvent {
            cluster: strings.get(&e.cluster),
            uid: ArcStr::from(e.uid.as_str()),
            namespace: strings.get(&e.namespace),
            regarding: AnalysisRef {
                kind: strings.get(&e.regarding.kind),
                namespace: strings.get(&e.regarding.namespace),
                name: strings.get(&e.regarding.name),
                field_path: strings.get(&e.regarding.field_path),
            },
            reason: strings.get(&e.reason),
            note: strings.get(&e.note),
            reporting_controller: strings.get(&e.reporting_controller),
            reporting_instance: strings.get(&e.reporting_instance),
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            count: e.count,
            category: e.category,
            severity: e.severity,
            correlation_id: strings.get(&e.correlation_id),
            node: e.node.as_deref().map(|n| strings.get(n)),
            template: strings.get(&e.template),
        }
    }
}

/// The strings of one read, each held once: a string asked for again is the same allocation.
/// Dropped with the read's end, so that it holds nothing past it (the events keep what they
/// share). Hashed with foldhash, not SipHash: a read looks up a dozen strings per event (with
/// SipHash, 6–7 % of the import's incidents pass, issue 14 §1).
#[derive(Debug, Default)]
pub struct SharedStrings {
    held: HashSet<ArcStr, foldhash::fast::RandomState>,
}

impl SharedStrings {
    /// `s`, shared with every earlier string equal to it.
    pub fn get(&mut self, s: &str) -> ArcStr {
        if s.is_empty() {
            return ArcStr::new();
        }
        if let Some(held) = self.held.get(s) {
            return held.clone();
        }
        let new = ArcStr::from(s);
        self.held.insert(new.clone());
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A processed Event as the store keeps it, every field set (those analysis does not
    /// read too).
    fn event(uid: &str, note: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "cluster": "prod", "uid": uid, "namespace": "shop", "name": format!("web.{uid}"),
            "regarding": {
                "api_version": "v1", "kind": "Pod", "namespace": "shop", "name": "web-1",
                "uid": "pod-uid", "field_path": "spec.containers{web}"
            },
            "related": {
                "api_version": "v1", "kind": "Node", "namespace": "", "name": "node-1",
                "uid": "", "field_path": ""
            },
            "reason": "BackOff", "note": note, "type": "Warning", "action": "Restarting",
            "reporting_controller": "kubelet", "reporting_instance": "node-1",
            "first_seen": "1970-01-01T00:00:00Z", "last_seen": "1970-01-01T00:01:00Z",
            "count": 3, "resource_version": "7", "category": "crash", "severity": "warning",
            "correlation_id": "shop/Deployment/web",
            "owner": { "kind": "Deployment", "name": "web" },
            "node": "node-1", "template": "Back-off restarting failed container",
            "labels": { "team": "shop" }
        }))
        .expect("an Event")
    }

    #[test]
    fn an_analysis_event_has_what_analysis_reads_of_the_event() {
        let e = event("u1", "Back-off restarting failed container web");
        let a = AnalysisEvent::of(&e, &mut SharedStrings::default());
        assert_eq!(a.cluster, "prod");
        assert_eq!(a.uid, "u1");
        assert_eq!(a.namespace, "shop");
        assert_eq!(
            (
                a.regarding.kind.as_str(),
                a.regarding.namespace.as_str(),
                a.regarding.name.as_str(),
                a.regarding.field_path.as_str()
            ),
            ("Pod", "shop", "web-1", "spec.containers{web}")
        );
        assert_eq!(a.reason, "BackOff");
        assert_eq!(a.note, "Back-off restarting failed container web");
        assert_eq!(
            (
                a.reporting_controller.as_str(),
                a.reporting_instance.as_str()
            ),
            ("kubelet", "node-1")
        );
        assert_eq!(
            (a.first_seen, a.last_seen, a.count),
            (e.first_seen, e.last_seen, 3)
        );
        assert_eq!(
            (a.category, a.severity),
            (Category::Crash, Severity::Warning)
        );
        assert_eq!(a.correlation_id, "shop/Deployment/web");
        assert_eq!(a.node.as_deref(), Some("node-1"));
        assert_eq!(a.template, "Back-off restarting failed container");
    }

    /// Issue 14 §2/§3: the events of one read hold one copy of each string they repeat; each
    /// Event's uid is its own.
    #[test]
    fn the_events_of_one_read_share_the_strings_they_repeat() {
        let events: Vec<EventOccurrences> = ["u1", "u2"]
            .into_iter()
            .map(|uid| EventOccurrences {
                event: event(uid, "Back-off restarting failed container web"),
                occurrences: Vec::new(),
            })
            .collect();
        let read = AnalysisOccurrences::of_all(&events);
        let (a, b) = (&read[0].event, &read[1].event);
        for (x, y) in [
            (&a.cluster, &b.cluster),
            (&a.note, &b.note),
            (&a.template, &b.template),
            (&a.regarding.name, &b.regarding.name),
            (&a.correlation_id, &b.correlation_id),
        ] {
            assert!(ArcStr::ptr_eq(x, y), "{x} is held twice");
        }
        assert!(ArcStr::ptr_eq(
            a.node.as_ref().expect("a node"),
            b.node.as_ref().expect("a node")
        ));
        assert_ne!(a.uid, b.uid);
    }

    /// Issue 14 §2/§3: an analysis holds one of these per event it reads (up to 50,000 in a
    /// pass); a whole `EventOccurrences` is 632 bytes.
    #[test]
    fn an_event_held_for_analysis_is_a_third_of_a_whole_one() {
        let size = std::mem::size_of::<AnalysisOccurrences>();
        assert!(size <= 208, "{size} bytes");
    }
}
