//! Evidence must hold against later events (issue 13, 2.3): a failure the object got past is
//! not a failure episode. The kubelet reports `FailedMount` (`events.FailedMountVolume`,
//! kubernetes `pkg/kubelet/events/event.go`) while a volume's source is missing, e.g. a Secret
//! a controller creates a few seconds later or the `kube-root-ca.crt` ConfigMap its informer
//! has not seen yet; once it mounts, the kubelet starts the container and reports `Started`
//! (`events.StartedContainer`). A pod whose every mount failure is followed by a start was
//! never stuck.

use super::context::Ctx;
use super::episodes::Episode;
use super::signals::Signal;

/// Whether every failure of `ep` is a failed mount its pod got past: a container of the same
/// pod started at or after the last report of that failure.
pub fn healed(ctx: &Ctx<'_>, ep: &Episode<'_>) -> bool {
    ep.events
        .iter()
        .all(|&i| ctx.signals[i] == Signal::FailedMount && started_after(ctx, i))
}

fn started_after(ctx: &Ctx<'_>, i: usize) -> bool {
    ctx.same_object(i)
        .iter()
        .any(|&j| ctx.event(j).reason == "Started" && ctx.end(j) >= ctx.end(i))
}
