//! Rollouts seen only in Events (issue 15 §2): a dump without ReplicaSets still tells when a
//! Deployment rolled out, through its deployment controller's `ScalingReplicaSet` events.
//!
//! The rule is Kubernetes' own (`pkg/controller/deployment/sync.go`): a rollout creates a new
//! ReplicaSet (a new `pod-template-hash` in its name) and the controller reports `Scaled up
//! replica set <new> to N` (`getNewReplicaSet`), then scales the old ones down (`Scaled down
//! replica set <old> to M`, `scaleReplicaSet`; `… from K` since v1.27). So a ReplicaSet of a
//! Deployment that is first named scaling *up* while
//! another ReplicaSet of the same Deployment was named before it, or is first named scaling
//! *down* (it had pods before the dump began), is a new revision at that event's time. The
//! first ReplicaSet of a Deployment with no other is its creation or a plain scale: no change.
//! A rollback scales an old ReplicaSet up again, which the events do not tell from a scale of
//! it: not recorded. A Deployment is its uid (the events' `involvedObject.uid`): one deleted and created again
//! under the same name starts over (its first ReplicaSet is a creation, not a rollout).
//!
//! Such a change has no diff (the events do not hold the template): its one field is the
//! ReplicaSet that took over (`replicaSet: web-5d4f8 → web-7c9b2`). `import` records them for the
//! Deployments whose ReplicaSets the dump does not hold (those give the real history); `run`
//! does not, since its Deployment watch records the same rollout with its diff.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kubetrail_model::{Change, ChangeOp, ChangeSource, Event, FieldChange, ObjectRef};

/// One `ScalingReplicaSet` event of a Deployment, as much as the rule needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaling {
    /// The Deployment (identity only).
    pub deployment: ObjectRef,
    /// The ReplicaSet scaled.
    pub replica_set: String,
    /// Up (true) or down.
    pub up: bool,
    /// When it was first reported.
    pub at: Timestamp,
}

impl Scaling {
    /// The scaling an event reports, if it is the deployment controller's `ScalingReplicaSet`
    /// about a Deployment ("Scaled up replica set web-5d4f8 to 3", "… from 2", also behind
    /// "(combined from similar events): ").
    pub fn of(event: &Event) -> Option<Scaling> {
        if event.reason != "ScalingReplicaSet" || event.regarding.kind != "Deployment" {
            return None;
        }
        let note = event.note.as_str();
        let note = note
            .strip_prefix("(combined from similar events): ")
            .unwrap_or(note);
        let (up, rest) = if let Some(rest) = note.strip_prefix("Scaled up replica set ") {
            (true, rest)
        } else {
            (false, note.strip_prefix("Scaled down replica set ")?)
        };
        let replica_set = rest.split_whitespace().next()?;
        // Its ReplicaSets are named after it: `<deployment>-<pod-template-hash>`.
        if !replica_set.starts_with(&format!("{}-", event.regarding.name)) {
            return None;
        }
        let mut deployment = event.regarding.clone();
        deployment.field_path.clear();
        if deployment.namespace.is_empty() {
            deployment.namespace.clone_from(&event.namespace);
        }
        if deployment.uid.is_empty() {
            deployment.uid = format!("{}/Deployment/{}", deployment.namespace, deployment.name);
        }
        Some(Scaling {
            deployment,
            replica_set: replica_set.to_owned(),
            up,
            at: event.first_seen,
        })
    }
}

/// The rollouts `scalings` show (see the module doc), one change per new revision, oldest
/// first per Deployment. Identified by `rollout <replica set>`: importing a dump twice stores
/// nothing twice.
pub fn rollouts_from_events(cluster: &str, mut scalings: Vec<Scaling>) -> Vec<Change> {
    scalings.sort_by(|a, b| {
        let key = |s: &Scaling| {
            (
                s.deployment.uid.clone(),
                s.at,
                // At the same second the scale-up of a rollout comes first (the controller
                // creates the new ReplicaSet, then scales the old one down).
                !s.up,
            )
        };
        key(a).cmp(&key(b))
    });
    let mut by_deployment: BTreeMap<String, Vec<Scaling>> = BTreeMap::new();
    for s in scalings {
        by_deployment
            .entry(s.deployment.uid.clone())
            .or_default()
            .push(s);
    }
    let mut out = Vec::new();
    for list in by_deployment.values() {
        // Each ReplicaSet's first mention, in time order.
        let mut firsts: Vec<&Scaling> = Vec::new();
        for s in list {
            if !firsts.iter().any(|f| f.replica_set == s.replica_set) {
                firsts.push(s);
            }
        }
        for (i, new) in firsts.iter().enumerate() {
            if !new.up {
                continue;
            }
            let before = firsts[..i].last().map(|s| s.replica_set.clone());
            let retired = firsts[i + 1..].iter().find(|s| !s.up);
            let old = before.or_else(|| retired.map(|s| s.replica_set.clone()));
            let Some(old) = old else { continue };
            out.push(Change {
                cluster: cluster.to_owned(),
                object: new.deployment.clone(),
                at: new.at,
                op: ChangeOp::Updated,
                generation: None,
                resource_version: format!("rollout {}", new.replica_set),
                manager: None,
                source: ChangeSource::Import,
                fields: vec![FieldChange {
                    path: "replicaSet".to_owned(),
                    before: Some(old),
                    after: Some(new.replica_set.clone()),
                }],
                references: Vec::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaled(at: &str, note: &str) -> Event {
        let at: Timestamp = at.parse().unwrap();
        let mut e = kubetrail_testkit::event("shop", "Deployment", "web", "ScalingReplicaSet")
            .note(note)
            .type_("Normal")
            .seen(at, at, 1)
            .build();
        e.regarding.api_version = "apps/v1".into();
        e
    }

    fn rollouts(events: &[Event]) -> Vec<String> {
        let scalings = events.iter().filter_map(Scaling::of).collect();
        rollouts_from_events("c", scalings)
            .iter()
            .map(|c| format!("{} {} {}", c.at, c.resource_version, c.summary()))
            .collect()
    }

    #[test]
    fn a_new_replica_set_scaled_up_while_the_old_one_goes_down_is_a_rollout() {
        // kspan's rollout: the new ReplicaSet first, the old one only named scaling down.
        let events = [
            scaled(
                "2026-12-05T10:00:00Z",
                "Scaled up replica set web-5d4f8 to 1",
            ),
            scaled(
                "2026-12-05T10:00:08Z",
                "Scaled down replica set web-7c9b2 to 1",
            ),
            scaled(
                "2026-12-05T10:00:08Z",
                "Scaled up replica set web-5d4f8 to 2",
            ),
            scaled(
                "2026-12-05T10:00:09Z",
                "Scaled down replica set web-7c9b2 to 0 from 1",
            ),
        ];
        assert_eq!(
            rollouts(&events),
            ["2026-12-05T10:00:00Z rollout web-5d4f8 replicaSet: web-7c9b2 → web-5d4f8"]
        );
    }

    #[test]
    fn creation_and_scaling_of_one_replica_set_are_no_rollout() {
        let events = [
            scaled(
                "2026-12-05T10:00:00Z",
                "Scaled up replica set web-5d4f8 to 1",
            ),
            scaled(
                "2026-12-05T10:05:00Z",
                "Scaled up replica set web-5d4f8 to 4 from 1",
            ),
            scaled(
                "2026-12-05T10:09:00Z",
                "Scaled down replica set web-5d4f8 to 2 from 4",
            ),
        ];
        assert!(rollouts(&events).is_empty());
    }

    #[test]
    fn each_later_replica_set_is_a_revision_but_an_old_one_scaled_up_again_is_not() {
        let events = [
            scaled(
                "2026-12-05T10:00:00Z",
                "Scaled up replica set web-aaaa to 2",
            ),
            scaled(
                "2026-12-05T11:00:00Z",
                "Scaled up replica set web-bbbb to 1",
            ),
            scaled(
                "2026-12-05T11:00:00Z",
                "Scaled down replica set web-aaaa to 1",
            ),
            scaled(
                "2026-12-05T11:00:30Z",
                "(combined from similar events): Scaled down replica set web-aaaa to 0",
            ),
            // A rollback, or a scale: the events do not tell; not recorded.
            scaled(
                "2026-12-05T12:00:00Z",
                "Scaled up replica set web-aaaa to 1",
            ),
        ];
        assert_eq!(
            rollouts(&events),
            ["2026-12-05T11:00:00Z rollout web-bbbb replicaSet: web-aaaa → web-bbbb"]
        );
    }

    #[test]
    fn a_deployment_created_again_under_its_name_starts_over() {
        // C5's background-1: created (uid a) with web-aaaa, deleted, created again (uid b) with
        // web-bbbb, whose template then changed to web-aaaa's: one rollout, in uid b.
        let mut events = [
            scaled(
                "2026-12-05T10:00:00Z",
                "Scaled up replica set web-aaaa to 1",
            ),
            scaled(
                "2026-12-05T10:05:00Z",
                "Scaled up replica set web-bbbb to 1",
            ),
            scaled(
                "2026-12-05T10:05:48Z",
                "Scaled up replica set web-aaaa to 1",
            ),
        ];
        events[0].regarding.uid = "a".into();
        assert_eq!(
            rollouts(&events),
            ["2026-12-05T10:05:48Z rollout web-aaaa replicaSet: web-bbbb → web-aaaa"]
        );
    }

    #[test]
    fn events_of_other_kinds_or_other_controllers_are_not_scalings() {
        let mut rs = scaled(
            "2026-12-05T10:00:00Z",
            "Scaled up replica set web-5d4f8 to 1",
        );
        rs.regarding.kind = "MachineSet".into();
        assert_eq!(Scaling::of(&rs), None);
        let other = scaled(
            "2026-12-05T10:00:00Z",
            "Scaled up replica set api-5d4f8 to 1",
        );
        assert_eq!(Scaling::of(&other), None, "not a ReplicaSet of web");
        let s = Scaling::of(&scaled(
            "2026-12-05T10:00:00Z",
            "Scaled down replica set web-5d4f8 to 0 from 3",
        ))
        .expect("a scaling");
        assert_eq!((s.replica_set.as_str(), s.up), ("web-5d4f8", false));
    }
}
