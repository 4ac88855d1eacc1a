//! Evidence must hold against later events (issue 13, 2.3): a failure the object got past is
//! not a failure episode. Each failure below has a sign, written by the same component, that
//! the object got past it:
//! - the kubelet reports `FailedMount` (`events.FailedMountVolume`), `FailedCreatePodSandBox`
//!   or a container that failed to start (`Failed`, `Error: …`) while what the pod needs is
//!   missing, e.g. a Secret a controller creates a few seconds later, the `kube-root-ca.crt`
//!   ConfigMap its informer has not seen yet, or the network plugin not started; once it is
//!   there, the kubelet starts the container and reports `Started` (`events.StartedContainer`,
//!   kubernetes `pkg/kubelet/events/event.go`);
//! - the ReplicaSet, DaemonSet, Job and StatefulSet controllers report `FailedCreate` when a
//!   pod cannot be created (a ServiceAccount or admission not ready yet) and retry, then
//!   `SuccessfulCreate` (`pkg/controller/controller_utils.go`, `FailedCreatePodReason`,
//!   `SuccessfulCreatePodReason`);
//! - library-go's resource apply reports `<Kind>CreateFailed` / `<Kind>UpdateFailed` and, on
//!   a later try, `<Kind>Created` / `<Kind>Updated` (`pkg/operator/resource/resourceapply`);
//! - library-go's status controller reports `OperatorStatusChanged` `Degraded changed from …
//!   to True`, then `Degraded changed from True to False` (and the same for `Available`);
//! - the HPA controller reports `FailedGetResourceMetric` / `FailedComputeMetricsReplicas`
//!   while its pods have no metrics yet, then `SuccessfulRescale` once it computed a scale
//!   (`pkg/controller/podautoscaler/horizontal.go`).
//!
//! - the scheduler reports `FailedScheduling` while no node fits the pod yet (a node still
//!   joining or not ready, a volume being provisioned, a peer of an anti-affinity rule still
//!   terminating) and retries whenever the cluster changes, then `Scheduled` once it bound
//!   the pod (`pkg/scheduler/schedule_one.go`): a pod placed within minutes was waiting, not
//!   failing;
//! - a pod that could not mount or start, deleted by its own controller (`SuccessfulDelete`
//!   "Deleted pod: …", `pkg/controller/controller_utils.go`), e.g. a DaemonSet or ReplicaSet
//!   replacing it a second after creating it: the pod was no longer wanted, so it never
//!   needed to start.
//!
//! - the kubelet reports its node `NodeNotReady` as it starts, before the container runtime
//!   answers, and `NodeReady` seconds later (`pkg/kubelet/nodestatus`, `setNodeReadyCondition`);
//!   a condition the kubelet cleared within [`NODE_BLIP`] is that start-up blip. Pods tolerate
//!   the not-ready taint for 300 s by default (DefaultTolerationSeconds admission plugin), so
//!   it evicted nothing; but the node lifecycle controller marks the node's pods not ready
//!   while it lasts, so a longer spell stays an incident.
//!
//! Only the kubelet's start is taken whenever it comes (a pod that started was not stuck); the
//! other signs must come within [`TRANSIENT`] of the failure's first report: a controller that
//! failed for an hour and then succeeded had an incident.
//!
//! And a pod whose only failures are readiness probes for less than [`TRANSIENT`], with no
//! restart, was starting or stopping (the kubelet's prober reports each failed probe,
//! `pkg/kubelet/prober/prober.go`): not a failure episode either. The same holds per pod for
//! a liveness probe that failed fewer times than its `failureThreshold`: the kubelet killed
//! nothing (no `Killing` "failed liveness probe", no back-off), so each failed probe of a pod
//! whose probes failed for less than [`TRANSIENT`] in all, with no restart, is got past.
//!
//! A workload whose pods keep failing to schedule is not healed by each pod landing in the
//! end: an episode with scheduling failures heals only if it lasted less than [`TRANSIENT`]
//! and no pod of it failed to schedule after another pod of it had been placed (pods
//! replaced one after another, each waiting for a node, e.g. a descheduler evicting them as
//! they land, or a rollout whose new pods wait for the old ones' nodes: churn).

use jiff::SignedDuration;

use super::context::Ctx;
use super::episodes::{Episode, Scope};
use super::signals::{Signal, clears, container};

/// How soon a node condition must clear to be the kubelet's start-up blip.
pub const NODE_BLIP: SignedDuration = SignedDuration::from_secs(60);

/// How soon a controller must get past a failure for it to be transient.
pub const TRANSIENT: SignedDuration = SignedDuration::from_mins(5);

/// Whether `ep` is not a failure episode: every failure of it was got past, or it is only a
/// short spell of failing readiness probes.
pub fn healed(ctx: &Ctx<'_>, ep: &Episode<'_>) -> bool {
    if matches!(ep.scope, Scope::Cluster(_)) {
        return false;
    }
    let pending: Vec<usize> = ep
        .events
        .iter()
        .copied()
        .filter(|&i| ctx.event(i).reason == "FailedScheduling")
        .collect();
    let churn = !pending.is_empty()
        && (ep.end.duration_since(ep.start) > TRANSIENT || replaced(ctx, &pending));
    (!churn && ep.events.iter().all(|&i| got_past(ctx, i)))
        || (ep
            .events
            .iter()
            .all(|&i| ctx.signals[i] == Signal::ReadinessFailed)
            && ep.end.duration_since(ep.start) <= TRANSIENT)
}

/// Whether the object of failure `i` reported the sign of getting past it.
pub fn got_past(ctx: &Ctx<'_>, i: usize) -> bool {
    let e = ctx.event(i);
    let later = |sign: &dyn Fn(usize) -> bool, bounded: bool| {
        ctx.same_object(i).iter().any(|&j| {
            j != i
                && ctx.end(j) >= ctx.end(i)
                && (!bounded || ctx.start(j) <= ctx.start(i) + TRANSIENT)
                && sign(j)
        })
    };
    let started = |j: usize| {
        ctx.event(j).reason == "Started"
            && match (container(e), container(ctx.event(j))) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    };
    // The kubelet's sync of a pod waits for its volumes (`WaitForAttachAndMount`, reporting
    // `FailedMount` while it fails), then creates its sandbox (`FailedCreatePodSandBox`), then
    // pulls images and creates and starts containers (`Pulling`, `Pulled`, `Created`,
    // `Started`: kubernetes `pkg/kubelet/kubelet.go` `SyncPod`,
    // `pkg/kubelet/kuberuntime/kuberuntime_manager.go`, `pkg/kubelet/images/image_manager.go`).
    // Any of the later steps shows the earlier one done, even when the dump lost the
    // container's `Started`.
    let past_setup = |j: usize| {
        matches!(
            ctx.event(j).reason.as_str(),
            "Pulling" | "Pulled" | "Created" | "Started"
        )
    };
    let reason = e.reason.as_str();
    if ctx.signals[i] == Signal::FailedMount
        || ctx.signals[i] == Signal::StartFailed
        || reason == "FailedCreatePodSandBox"
    {
        let unwanted = ctx
            .pod_deleted(i)
            .is_some_and(|at| at <= ctx.start(i) + TRANSIENT);
        let sign: &dyn Fn(usize) -> bool = if ctx.signals[i] == Signal::StartFailed {
            &started
        } else {
            &past_setup
        };
        return unwanted || later(sign, false);
    }
    if matches!(
        ctx.signals[i],
        Signal::ReadinessFailed | Signal::LivenessFailed
    ) {
        return short_probe_spell(ctx, i);
    }
    if ctx.signals[i] == Signal::NodeDown && e.regarding.kind == "Node" {
        return ctx.same_object(i).iter().any(|&j| {
            ctx.signals[j] == Signal::NodeUp
                && clears(&ctx.event(j).reason, reason)
                && ctx.end(j) >= ctx.end(i)
                && ctx.start(j) <= ctx.end(i) + NODE_BLIP
        });
    }
    if reason == "FailedScheduling" {
        return later(&|j| ctx.event(j).reason == "Scheduled", true);
    }
    if reason == "FailedCreate" {
        return later(&|j| ctx.event(j).reason == "SuccessfulCreate", true);
    }
    if matches!(
        reason,
        "FailedGetResourceMetric" | "FailedComputeMetricsReplicas"
    ) {
        return later(&|j| ctx.event(j).reason == "SuccessfulRescale", true);
    }
    if reason == "OperatorStatusChanged" {
        let bad: Vec<&(&str, &str, &str)> = [
            ("Degraded", "True", "False"),
            ("Available", "False", "True"),
        ]
        .iter()
        .filter(|(cond, bad, _)| changed_to(&e.note, cond, bad))
        .collect();
        return !bad.is_empty()
            && bad.iter().all(|(cond, bad, good)| {
                later(
                    &|j| {
                        ctx.event(j).reason == "OperatorStatusChanged"
                            && ctx
                                .event(j)
                                .note
                                .contains(&format!("{cond} changed from {bad} to {good}"))
                    },
                    true,
                )
            });
    }
    for (failed, done) in [("CreateFailed", "Created"), ("UpdateFailed", "Updated")] {
        if let Some(kind) = reason.strip_suffix(failed).filter(|k| !k.is_empty()) {
            let success = format!("{kind}{done}");
            return later(&|j| ctx.event(j).reason == success, true);
        }
    }
    false
}

/// Whether one of the scheduling failures `pending` began after another pod of them had been
/// placed (its `Scheduled` after its own failure).
fn replaced(ctx: &Ctx<'_>, pending: &[usize]) -> bool {
    // The two earliest placements, of different pods.
    let mut first: Option<(jiff::Timestamp, &str)> = None;
    let mut second: Option<jiff::Timestamp> = None;
    for &i in pending {
        let pod = ctx.event(i).regarding.name.as_str();
        let Some(at) = ctx
            .same_object(i)
            .iter()
            .filter(|&&j| ctx.event(j).reason == "Scheduled" && ctx.end(j) >= ctx.end(i))
            .map(|&j| ctx.start(j))
            .min()
        else {
            continue;
        };
        match first {
            Some((t, p)) if p == pod => first = Some((t.min(at), p)),
            Some((t, _)) if at < t => {
                second = Some(second.map_or(t, |s| s.min(t)));
                first = Some((at, pod));
            }
            Some(_) => second = Some(second.map_or(at, |s| s.min(at))),
            None => first = Some((at, pod)),
        }
    }
    pending.iter().any(|&i| {
        let pod = ctx.event(i).regarding.name.as_str();
        let placed_before = match first {
            Some((t, p)) if p != pod => Some(t),
            _ => second,
        };
        placed_before.is_some_and(|t| t <= ctx.start(i))
    })
}

/// Whether the probes of the pod of probe failure `i` failed for less than [`TRANSIENT`] in
/// all, and its containers were never restarted for it (no liveness kill, no back-off).
fn short_probe_spell(ctx: &Ctx<'_>, i: usize) -> bool {
    let mut first = ctx.start(i);
    let mut last = ctx.end(i);
    for &j in ctx.same_object(i) {
        match ctx.signals[j] {
            Signal::LivenessKill | Signal::CrashBackOff => return false,
            Signal::ReadinessFailed | Signal::LivenessFailed => {
                first = first.min(ctx.start(j));
                last = last.max(ctx.end(j));
            }
            _ => {}
        }
    }
    last.duration_since(first) <= TRANSIENT
}

/// Whether an operator status message says `cond changed from X to value`.
fn changed_to(note: &str, cond: &str, value: &str) -> bool {
    let prefix = format!("{cond} changed from ");
    note.match_indices(&prefix).any(|(at, _)| {
        note[at + prefix.len()..]
            .split_once(" to ")
            .is_some_and(|(_, rest)| rest.starts_with(value))
    })
}

#[cfg(test)]
mod tests {
    use kubetrail_model::AnalysisOccurrences;

    use super::super::{Incident, IncidentConfig, incidents};
    use crate::Window;
    use crate::testing::{about, at, pod_normal, pod_warning};

    const POD: &str = "web-7d9f8b6c4-x2x9z";

    fn run(events: Vec<AnalysisOccurrences>, until: i64) -> Vec<Incident> {
        let window = Window::new(at(-24 * 60), at(until)).unwrap();
        incidents(&events, window, &IncidentConfig::default()).unwrap()
    }

    fn pending(last: i64) -> AnalysisOccurrences {
        pod_warning(
            "shop",
            POD,
            "FailedScheduling",
            "0/3 nodes are available: 1 node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn't tolerate, 2 node(s) didn't match pod anti-affinity rules.",
        )
        .span(0, last, last as u64 + 1)
        .build()
    }

    fn scheduled(m: i64) -> AnalysisOccurrences {
        pod_normal(
            "shop",
            POD,
            "Scheduled",
            "Successfully assigned shop/web-7d9f8b6c4-x2x9z to node-a",
        )
        .at(m)
        .build()
    }

    /// Issue 13, noise: a pod the scheduler placed two minutes after its first attempt (a node
    /// still becoming ready, an anti-affinity peer still terminating) was waiting, not
    /// failing; Pending for half an hour, or never scheduled, it is an incident.
    #[test]
    fn a_pod_scheduled_within_minutes_of_its_first_failed_attempt_opens_no_incident() {
        assert_eq!(
            run(vec![pending(2), scheduled(2)], 40),
            Vec::<Incident>::new()
        );
        assert_eq!(run(vec![pending(30), scheduled(30)], 40).len(), 1);
        assert_eq!(run(vec![pending(2)], 40).len(), 1);
    }

    /// Issue 13, noise: a DaemonSet that created a pod and deleted it a second later (a newer
    /// generation replaced it): the kubelet's failed mounts of its secrets, even one reported
    /// after the deletion, are about a pod nobody needed any more. Without the deletion, the
    /// pod is stuck.
    #[test]
    fn a_pod_its_controller_deleted_before_it_could_start_opens_no_incident() {
        let mount = |m: i64, note: &str| {
            pod_warning("shop", POD, "FailedMount", note)
                .by_kubelet("node-a")
                .at(m)
                .build()
        };
        let failed = || {
            vec![
                mount(
                    0,
                    r#"MountVolume.SetUp failed for volume "serving-cert" : secret "serving-cert" not found"#,
                ),
                mount(
                    2,
                    "Unable to attach or mount volumes: unmounted volumes=[serving-cert]: timed out waiting for the condition",
                ),
            ]
        };
        let deleted = about(
            "DaemonSet",
            "shop",
            "web",
            "Normal",
            "SuccessfulDelete",
            "Deleted pod: web-7d9f8b6c4-x2x9z",
        )
        .at(0)
        .build();
        let mut events = failed();
        events.push(deleted);
        assert_eq!(run(events, 40), Vec::<Incident>::new());
        assert_eq!(run(failed(), 40).len(), 1);
    }

    /// Issue 13, noise: pods of one workload failing to schedule and placed a minute later,
    /// one after another for a quarter of an hour (a descheduler evicting them as they land),
    /// are an incident even though each pod was scheduled in the end.
    #[test]
    fn pods_that_keep_failing_to_schedule_for_long_are_an_incident_though_each_lands() {
        let mut events = Vec::new();
        for (suffix, m) in [
            ("x2x9z", 0i64),
            ("b4k7q", 4),
            ("c5m8r", 8),
            ("d6n9s", 12),
            ("f7p2t", 16),
        ] {
            let pod = format!("web-7d9f8b6c4-{suffix}");
            events.push(
                pod_warning(
                    "shop",
                    &pod,
                    "FailedScheduling",
                    "0/2 nodes are available: 2 Insufficient cpu.",
                )
                .at(m)
                .build(),
            );
            events.push(
                pod_normal(
                    "shop",
                    &pod,
                    "Scheduled",
                    "Successfully assigned it to node-a",
                )
                .at(m + 1)
                .build(),
            );
        }
        assert_eq!(run(events, 40).len(), 1);
    }

    /// Pods replaced one after another within three minutes, each waiting a moment for a node
    /// (a descheduler evicting them as they land) are churn, an incident; three pods of a
    /// new Deployment waiting together for a minute are not.
    #[test]
    fn pods_replaced_one_after_another_each_failing_to_schedule_are_an_incident() {
        let pod = |suffix: &str, failed: i64, placed: i64| {
            let name = format!("web-7d9f8b6c4-{suffix}");
            vec![
                pod_warning(
                    "shop",
                    &name,
                    "FailedScheduling",
                    "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/master: }, 2 Insufficient cpu.",
                )
                .at(failed)
                .build(),
                pod_normal("shop", &name, "Scheduled", "Successfully assigned it to node-a")
                    .at(placed)
                    .build(),
            ]
        };
        let churn: Vec<AnalysisOccurrences> = [("x2x9z", 0, 1), ("b4k7q", 1, 2), ("c5m8r", 2, 3)]
            .iter()
            .flat_map(|&(s, f, p)| pod(s, f, p))
            .collect();
        assert_eq!(run(churn, 40).len(), 1);
        let together: Vec<AnalysisOccurrences> = ["x2x9z", "b4k7q", "c5m8r"]
            .iter()
            .flat_map(|s| pod(s, 0, 1))
            .collect();
        assert_eq!(run(together, 40), Vec::<Incident>::new());
    }

    /// Issue 13, noise: a pod whose readiness probe failed for a minute after it started and
    /// whose liveness probe failed once (below its failureThreshold: nothing was killed) was
    /// starting up; the same probes followed by the kubelet killing the container are a
    /// failure.
    #[test]
    fn probes_failing_briefly_without_a_restart_open_no_incident() {
        let probes = || {
            vec![
                pod_warning(
                    "shop",
                    POD,
                    "Unhealthy",
                    "Readiness probe failed: Get \"http://10.0.0.9:8080/healthz\": dial tcp 10.0.0.9:8080: connect: connection refused",
                )
                .container("app")
                .by_kubelet("node-a")
                .span(0, 1, 3)
                .build(),
                pod_warning(
                    "shop",
                    POD,
                    "Unhealthy",
                    "Liveness probe failed: Get \"http://10.0.0.9:8080/healthz\": dial tcp 10.0.0.9:8080: connect: connection refused",
                )
                .container("app")
                .by_kubelet("node-a")
                .at(1)
                .build(),
            ]
        };
        assert_eq!(run(probes(), 40), Vec::<Incident>::new());
        let mut killed = probes();
        killed.push(
            pod_normal(
                "shop",
                POD,
                "Killing",
                "Container app failed liveness probe, will be restarted",
            )
            .container("app")
            .by_kubelet("node-a")
            .at(2)
            .build(),
        );
        assert_eq!(run(killed, 40).len(), 1);
    }

    /// Issue 13, noise: a kubelet that reports its node NotReady at start and Ready in the
    /// same second evicted nothing; a node NotReady for two minutes is an incident.
    #[test]
    fn a_node_ready_again_within_minutes_opens_no_incident() {
        let node = |reason: &str, m: i64| {
            crate::testing::node_event(
                "worker-1",
                "Normal",
                reason,
                &format!("Node worker-1 status is now: {reason}"),
            )
            .at(m)
            .build()
        };
        assert_eq!(
            run(vec![node("NodeNotReady", 0), node("NodeReady", 0)], 40),
            Vec::<Incident>::new()
        );
        assert_eq!(
            run(vec![node("NodeNotReady", 0), node("NodeReady", 2)], 40).len(),
            1
        );
    }

    /// Issue 13 (C1 of the real dumps): the API server's own probes fail for half a minute
    /// while the node restarts (no incident alone: a short spell without a restart), and two
    /// workloads in other namespaces crash-loop at the same time. The spell still counts as
    /// what the disruption did: with it, three workloads crash together and the API server's
    /// failing probe is the wave's root; without it there would be two unexplained crashes.
    #[test]
    fn a_healed_api_server_probe_spell_still_makes_and_roots_a_crash_wave() {
        let crash = |ns: &str, pod: &str, m: i64| {
            pod_warning(ns, pod, "BackOff", "Back-off restarting failed container")
                .container("app")
                .by_kubelet("node-a")
                .at(m)
                .build()
        };
        let events = vec![
            pod_warning(
                "kube-system",
                "kube-apiserver-node-a",
                "Unhealthy",
                "Liveness probe failed: HTTP probe failed with statuscode: 500",
            )
            .container("kube-apiserver")
            .by_kubelet("node-a")
            .at(0)
            .build(),
            crash("shop", POD, 0),
            crash("mon", "metrics-5c9b7d8f6d-4kqzv", 1),
        ];
        let found = run(events, 40);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].cluster_wide);
        assert_eq!(found[0].root_cause.rule, "control-plane-disruption");
        assert_eq!(
            found[0].root_cause.object,
            "kube-system/Pod/kube-apiserver-node-a"
        );
    }
}
