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
//! Only the kubelet's start is taken whenever it comes (a pod that started was not stuck); the
//! other signs must come within [`TRANSIENT`] of the failure's first report: a controller that
//! failed for an hour and then succeeded had an incident.
//!
//! And a pod whose only failures are readiness probes for less than [`TRANSIENT`], with no
//! restart, was starting or stopping (the kubelet's prober reports each failed probe,
//! `pkg/kubelet/prober/prober.go`): not a failure episode either.

use jiff::SignedDuration;

use super::context::Ctx;
use super::episodes::{Episode, Scope};
use super::signals::{Signal, container};

/// How soon a controller must get past a failure for it to be transient.
pub const TRANSIENT: SignedDuration = SignedDuration::from_mins(5);

/// Whether `ep` is not a failure episode: every failure of it was got past, or it is only a
/// short spell of failing readiness probes.
pub fn healed(ctx: &Ctx<'_>, ep: &Episode<'_>) -> bool {
    if matches!(ep.scope, Scope::Cluster(_)) {
        return false;
    }
    ep.events.iter().all(|&i| got_past(ctx, i))
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
    let reason = e.reason.as_str();
    if ctx.signals[i] == Signal::FailedMount
        || ctx.signals[i] == Signal::StartFailed
        || reason == "FailedCreatePodSandBox"
    {
        return later(&started, false);
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

/// Whether an operator status message says `cond changed from X to value`.
fn changed_to(note: &str, cond: &str, value: &str) -> bool {
    let prefix = format!("{cond} changed from ");
    note.match_indices(&prefix).any(|(at, _)| {
        note[at + prefix.len()..]
            .split_once(" to ")
            .is_some_and(|(_, rest)| rest.starts_with(value))
    })
}
