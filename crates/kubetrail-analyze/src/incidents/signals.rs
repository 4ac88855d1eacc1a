//! What role an event can play in a causal chain, read from its reason and message.
//!
//! Kubernetes' own components write these reasons and messages (kubelet, scheduler, node
//! lifecycle and taint managers); the prefixes matched are theirs, stable across releases.

use kubetrail_model::AnalysisEvent;

/// The role of one event in the causal rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// A volume could not be attached or mounted (`FailedMount`, `FailedAttachVolume`).
    FailedMount,
    /// An image could not be pulled; `detail` when the message says why (`Failed to pull
    /// image "x": …`) rather than only that it failed (`ErrImagePull`, `Back-off pulling`).
    ImagePull { detail: bool },
    /// A liveness or startup probe failed: the kubelet will restart the container.
    LivenessFailed,
    /// A readiness probe failed: the container is kept out of Services.
    ReadinessFailed,
    /// The kubelet killed a container because its liveness or startup probe failed.
    LivenessKill,
    /// A container keeps exiting and is restarted with back-off.
    CrashBackOff,
    /// A container could not be created or started (`Error: failed to start container`, a
    /// missing ConfigMap key, a bad command).
    StartFailed,
    /// A container was killed for exceeding its memory limit.
    OomKilled,
    /// The kernel OOM killer ran on a node (`OOMKilling`, `SystemOOM`).
    NodeOom,
    /// A node condition that makes pods leave it: not ready, memory, disk or PID pressure;
    /// also the node lifecycle controller's `NodeNotReady` about each pod on such a node.
    NodeDown,
    /// A node condition cleared (`NodeReady`, `NodeHasSufficientMemory`, …).
    NodeUp,
    /// A pod was evicted or marked for deletion by the taint manager.
    Eviction,
    /// The kubelet refused a pod whose tolerations do not match the node's taints.
    TaintNotTolerated,
    /// The scheduler (or the kubelet's admission) found no node with enough resources.
    Insufficient,
    /// The scheduler found no node for other reasons (taints, affinity, ports, volumes).
    Unschedulable,
    /// Anything else.
    Other,
}

impl Signal {
    pub fn of(e: &AnalysisEvent) -> Signal {
        let note = e.note.as_str();
        match e.reason.as_str() {
            "FailedMount" | "FailedAttachVolume" | "FailedMapVolume" => Signal::FailedMount,
            "ErrImagePull" | "ImagePullBackOff" | "ErrImageNeverPull" | "InvalidImageName" => {
                Signal::ImagePull { detail: false }
            }
            "Failed" if note.starts_with("Failed to pull image") => {
                Signal::ImagePull { detail: true }
            }
            "Failed"
                if note.starts_with("Error: ErrImagePull")
                    || note.starts_with("Error: ImagePullBackOff")
                    || note.starts_with("Error: InvalidImageName")
                    || note.starts_with("Error: ErrImageNeverPull") =>
            {
                Signal::ImagePull { detail: false }
            }
            "BackOff" if contains_ci(note, "pulling image") => Signal::ImagePull { detail: false },
            "BackOff" | "CrashLoopBackOff" => Signal::CrashBackOff,
            "Failed"
            | "CreateContainerError"
            | "CreateContainerConfigError"
            | "RunContainerError"
                if !contains_ci(note, "pull") =>
            {
                Signal::StartFailed
            }
            "OOMKilled" => Signal::OomKilled,
            "OOMKilling" | "SystemOOM" => Signal::NodeOom,
            "Unhealthy" | "ProbeError"
                if note.starts_with("Liveness probe") || note.starts_with("Startup probe") =>
            {
                Signal::LivenessFailed
            }
            "Unhealthy" | "ProbeError" if note.starts_with("Readiness probe") => {
                Signal::ReadinessFailed
            }
            "Killing"
                if contains_ci(note, "failed liveness probe")
                    || contains_ci(note, "failed startup probe") =>
            {
                Signal::LivenessKill
            }
            "NodeNotReady"
            | "NodeHasDiskPressure"
            | "NodeHasInsufficientMemory"
            | "NodeHasInsufficientPID"
            | "EvictionThresholdMet" => Signal::NodeDown,
            "NodeReady"
            | "NodeHasNoDiskPressure"
            | "NodeHasSufficientMemory"
            | "NodeHasSufficientPID" => Signal::NodeUp,
            "Evicted" | "NodeControllerEviction" => Signal::Eviction,
            "TaintManagerEviction" if note.starts_with("Marking for deletion") => Signal::Eviction,
            "TaintToleration" => Signal::TaintNotTolerated,
            "FailedScheduling"
                if note.contains("Insufficient ") || note.contains("Too many pods") =>
            {
                Signal::Insufficient
            }
            r if r.starts_with("OutOf") => Signal::Insufficient,
            "FailedScheduling" if !note.starts_with("skip schedule deleting pod") => {
                Signal::Unschedulable
            }
            _ => Signal::Other,
        }
    }

    /// Signals about a node as a whole, grouped by node rather than by owner.
    pub fn is_node_scoped(self) -> bool {
        matches!(self, Signal::NodeDown | Signal::NodeOom | Signal::NodeUp)
    }
}

/// The condition a `NodeUp` reason clears.
pub fn clears(up_reason: &str, down_reason: &str) -> bool {
    matches!(
        (up_reason, down_reason),
        ("NodeReady", "NodeNotReady")
            | ("NodeHasNoDiskPressure", "NodeHasDiskPressure")
            | ("NodeHasSufficientMemory", "NodeHasInsufficientMemory")
            | ("NodeHasSufficientPID", "NodeHasInsufficientPID")
            | (
                "NodeHasNoDiskPressure" | "NodeHasSufficientMemory",
                "EvictionThresholdMet"
            )
    )
}

/// The container an event is about, from its field path (`spec.containers{app}` → `app`).
pub fn container(e: &AnalysisEvent) -> Option<&str> {
    let (_, rest) = e.regarding.field_path.split_once('{')?;
    rest.split_once('}').map(|(c, _)| c)
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node_event, pod_normal, pod_warning};

    fn of(d: crate::testing::Draft) -> Signal {
        Signal::of(&d.at(0).build().event)
    }

    #[test]
    fn kubelet_messages_map_to_their_roles() {
        assert_eq!(
            of(pod_warning(
                "a",
                "p",
                "Failed",
                r#"Failed to pull image "x": rpc error"#
            )),
            Signal::ImagePull { detail: true }
        );
        assert_eq!(
            of(pod_warning("a", "p", "Failed", "Error: ImagePullBackOff")),
            Signal::ImagePull { detail: false }
        );
        assert_eq!(
            of(pod_normal(
                "a",
                "p",
                "BackOff",
                r#"Back-off pulling image "x""#
            )),
            Signal::ImagePull { detail: false }
        );
        assert_eq!(
            of(pod_warning(
                "a",
                "p",
                "BackOff",
                "Back-off restarting failed container"
            )),
            Signal::CrashBackOff
        );
        assert_eq!(
            of(pod_warning(
                "a",
                "p",
                "Failed",
                r#"Error: failed to start container "nginx": exec: "wge": executable file not found"#
            )),
            Signal::StartFailed
        );
        assert_eq!(
            of(pod_warning(
                "a",
                "p",
                "Unhealthy",
                "Liveness probe failed: "
            )),
            Signal::LivenessFailed
        );
        assert_eq!(
            of(pod_warning(
                "a",
                "p",
                "Unhealthy",
                "Readiness probe failed: 503"
            )),
            Signal::ReadinessFailed
        );
        assert_eq!(
            of(pod_normal(
                "a",
                "p",
                "Killing",
                "Container app failed liveness probe, will be restarted"
            )),
            Signal::LivenessKill
        );
        assert_eq!(
            of(pod_normal("a", "p", "Killing", "Stopping container app")),
            Signal::Other
        );
        assert_eq!(
            of(pod_warning(
                "a",
                "p",
                "FailedScheduling",
                "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
            )),
            Signal::Insufficient
        );
        assert_eq!(
            of(pod_warning(
                "a",
                "p",
                "FailedScheduling",
                "skip schedule deleting pod: a/p"
            )),
            Signal::Other
        );
        assert_eq!(
            of(pod_warning(
                "a",
                "p",
                "OutOfcpu",
                "Node didn't have enough resource: cpu"
            )),
            Signal::Insufficient
        );
        assert_eq!(
            of(node_event(
                "n",
                "Normal",
                "NodeNotReady",
                "Node n status is now: NodeNotReady"
            )),
            Signal::NodeDown
        );
        assert_eq!(
            of(node_event(
                "n",
                "Normal",
                "NodeReady",
                "Node n status is now: NodeReady"
            )),
            Signal::NodeUp
        );
        assert_eq!(
            of(pod_normal(
                "a",
                "p",
                "TaintManagerEviction",
                "Cancelling deletion of Pod a/p"
            )),
            Signal::Other
        );
        assert!(clears("NodeReady", "NodeNotReady"));
        assert!(!clears("NodeReady", "NodeHasDiskPressure"));
    }
}
