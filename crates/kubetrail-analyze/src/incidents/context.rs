//! What the rules look things up in: every event's role, where pods run, and all the events of
//! the objects that failed (their `Started` and `Scheduled` events too, which are not failures
//! but tell whether a pod got past its failure).

use super::Map;
use jiff::Timestamp;
use kubetrail_model::{AnalysisEvent, AnalysisOccurrences, Severity};

use super::signals::Signal;
use crate::objects::{Placements, namespace_of};

/// `(cluster, namespace, kind, name)` of a regarding object.
pub type ObjectKey<'a> = (&'a str, &'a str, &'a str, &'a str);

pub struct Ctx<'a> {
    /// The events analysed, in the order given (see [`incidents_in`](super::incidents_in)).
    pub events: &'a [&'a AnalysisOccurrences],
    pub signals: Vec<Signal>,
    pub placements: Placements,
    /// Failure signals: Warning-or-worse events with an occurrence in the window.
    pub failures: Vec<usize>,
    /// All events of every object that has a failure, by object, oldest first.
    pub by_object: Map<ObjectKey<'a>, Vec<usize>>,
    /// `NodeUp` events by (cluster, node), to tell whether a node recovered.
    pub recoveries: Map<(&'a str, &'a str), Vec<usize>>,
    /// Pods their controller deleted, by (cluster, namespace, pod name): when it first said
    /// so (`SuccessfulDelete` "Deleted pod: <name>" on the ReplicaSet, DaemonSet, Job or
    /// StatefulSet, kubernetes `pkg/controller/controller_utils.go`).
    pub deleted_pods: Map<(&'a str, &'a str, &'a str), Timestamp>,
}

impl<'a> Ctx<'a> {
    pub fn new(events: &'a [&'a AnalysisOccurrences]) -> Ctx<'a> {
        let signals: Vec<Signal> = events.iter().map(|e| Signal::of(&e.event)).collect();
        let placements = Placements::learn(events.iter().copied());
        let failures: Vec<usize> = (0..events.len())
            .filter(|&i| is_failure(events[i], signals[i]))
            .collect();
        // One entry per failed object, added one at a time: collected from the failures, the
        // map was sized for one entry per failure (a crash loop's objects fail many times
        // over: ~120 bytes per event read at a pass's peak).
        let mut by_object: Map<ObjectKey<'a>, Vec<usize>> = Map::default();
        for &i in &failures {
            by_object.entry(object_key(&events[i].event)).or_default();
        }
        let mut recoveries: Map<(&str, &str), Vec<usize>> = Map::default();
        let mut deleted_pods: Map<(&str, &str, &str), Timestamp> = Map::default();
        for (i, e) in events.iter().enumerate() {
            if e.event.reason == "SuccessfulDelete"
                && let Some(pod) = e.event.note.strip_prefix("Deleted pod: ")
            {
                let at = deleted_pods
                    .entry((e.event.cluster.as_str(), namespace_of(&e.event), pod.trim()))
                    .or_insert(e.event.first_seen);
                *at = (*at).min(e.event.first_seen);
            }
            if let Some(list) = by_object.get_mut(&object_key(&e.event)) {
                list.push(i);
            }
            if signals[i] == Signal::NodeUp && e.event.regarding.kind == "Node" {
                recoveries
                    .entry((e.event.cluster.as_str(), e.event.regarding.name.as_str()))
                    .or_default()
                    .push(i);
            }
        }
        for list in by_object.values_mut() {
            list.sort_by_key(|&i| (events[i].event.first_seen, i));
        }
        Ctx {
            events,
            signals,
            placements,
            failures,
            by_object,
            recoveries,
            deleted_pods,
        }
    }

    /// When the controller of the pod event `i` is about deleted it, if it did.
    pub fn pod_deleted(&self, i: usize) -> Option<Timestamp> {
        let e = self.event(i);
        if e.regarding.kind != "Pod" {
            return None;
        }
        self.deleted_pods
            .get(&(
                e.cluster.as_str(),
                namespace_of(e),
                e.regarding.name.as_str(),
            ))
            .copied()
    }

    pub fn event(&self, i: usize) -> &'a AnalysisEvent {
        &self.events[i].event
    }

    pub fn start(&self, i: usize) -> Timestamp {
        self.events[i].event.first_seen
    }

    pub fn end(&self, i: usize) -> Timestamp {
        self.events[i].event.last_seen
    }

    /// The node of the object event `i` is about, if known.
    pub fn node(&self, i: usize) -> Option<&str> {
        self.placements.node(self.event(i))
    }

    /// All events of the object event `i` is about (only filled for objects with a failure).
    pub fn same_object(&self, i: usize) -> &[usize] {
        self.by_object
            .get(&object_key(self.event(i)))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

pub fn object_key(e: &AnalysisEvent) -> ObjectKey<'_> {
    (
        e.cluster.as_str(),
        namespace_of(e),
        e.regarding.kind.as_str(),
        e.regarding.name.as_str(),
    )
}

/// A failure: an event rated warning or worse (this includes `Back-off pulling image`, which
/// Kubernetes sends as Normal) with an occurrence in the window; a recovery never is one.
fn is_failure(e: &AnalysisOccurrences, signal: Signal) -> bool {
    e.event.severity >= Severity::Warning && signal != Signal::NodeUp && !e.occurrences.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::crash_loop;

    /// Bug (issue 14 §2/§3): the map of the failed objects' events was collected from the
    /// failures, and so sized for one entry per failure: 2,000 failures of 10 pods held room
    /// for 2,000 entries (~120 bytes per event read at the incidents pass's peak, where the
    /// event itself is ~260). It holds room for its objects now.
    #[test]
    fn the_failed_objects_are_held_once_each_whatever_their_failures() {
        let events = crash_loop(2_000, 10);
        let refs: Vec<&AnalysisOccurrences> = events.iter().collect();
        let ctx = Ctx::new(&refs);
        assert_eq!(ctx.failures.len(), 2_000);
        assert_eq!(ctx.by_object.len(), 10);
        assert!(
            ctx.by_object.capacity() < 100,
            "room for {} objects",
            ctx.by_object.capacity()
        );
    }
}
