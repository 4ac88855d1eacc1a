//! The kubelet's reasons (pkg/kubelet/events/event.go and the admission, eviction, volume and
//! probe code that emits them) and node-problem-detector's.

use super::{C, Form, Group, S, e, ef, f, fc};

const IMAGE_FAILED: Form = fc(
    r"^(Failed to pull image|Error: (ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull|ImageInspectError))",
    C::Image,
    S::Error,
    "FailedToPullImage: the image could not be pulled",
);

pub const KUBELET: Group = Group {
    component: "kubelet (pkg/kubelet/events/event.go; admission: pkg/kubelet/lifecycle; \
                eviction: pkg/kubelet/eviction; probes: pkg/kubelet/prober)",
    entries: &[
        // Containers
        e("Created", C::Lifecycle, S::Info),
        e("Started", C::Lifecycle, S::Info),
        ef(
            "Failed",
            C::Lifecycle,
            S::Error,
            &[
                IMAGE_FAILED,
                fc(
                    r"CreateContainerConfigError|(configmap|secret)s? .*not found|couldn't find key",
                    C::Config,
                    S::Error,
                    "FailedToCreateContainer for a missing ConfigMap, Secret or key",
                ),
            ],
        ),
        ef(
            "Killing",
            C::Lifecycle,
            S::Info,
            &[f(
                r"failed (liveness|startup) probe",
                S::Warning,
                "the kubelet restarts a container whose probe failed",
            )],
        ),
        e("Preempting", C::Scheduling, S::Warning),
        ef(
            "BackOff",
            C::Crash,
            S::Error,
            &[fc(
                r"pulling image",
                C::Image,
                S::Error,
                "BackOffPullImage: waiting before the next pull of an image that failed",
            )],
        ),
        e("ExceededGracePeriod", C::Lifecycle, S::Warning),
        ef(
            "FailedKillPod",
            C::Lifecycle,
            S::Warning,
            &[f(
                // The runtime no longer has the container (docker's "No such container",
                // CRI's NotFound) or its containerd shim has exited ("ttrpc: closed"): the
                // container is already gone, which is what the kill wanted
                // (pkg/kubelet/kuberuntime/kuberuntime_container.go, killContainer).
                r"No such container|ttrpc: closed|container [^ ]* not found",
                S::Info,
                "the container was already gone",
            )],
        ),
        e("FailedCreatePodContainer", C::Lifecycle, S::Error),
        e("NetworkNotReady", C::Network, S::Error),
        e("FailedCreatePodSandBox", C::Network, S::Error),
        e("FailedPodSandBoxStatus", C::Lifecycle, S::Warning),
        e("SandboxChanged", C::Lifecycle, S::Info),
        e("FailedSync", C::Lifecycle, S::Warning),
        e("FailedValidation", C::Config, S::Error),
        e("FailedPrepareDynamicResources", C::Lifecycle, S::Error),
        e("FailedToRetrieveImagePullSecret", C::Image, S::Warning),
        e("PossibleMemoryBackedVolumesOnDisk", C::Node, S::Warning),
        e("HostNetworkNotSupported", C::Config, S::Error),
        e("FailedPostStartHook", C::Lifecycle, S::Error),
        e("FailedPreStopHook", C::Lifecycle, S::Warning),
        e("UnfinishedPreStopHook", C::Lifecycle, S::Warning),
        // Container waiting reasons (pkg/kubelet/images, pkg/kubelet/kuberuntime), which
        // some tools and older kubelets write as event reasons.
        e("CreateContainerConfigError", C::Config, S::Error),
        e("CreateContainerError", C::Lifecycle, S::Error),
        e("RunContainerError", C::Lifecycle, S::Error),
        e("CrashLoopBackOff", C::Crash, S::Error),
        e("OOMKilled", C::Crash, S::Error),
        e("ErrImagePull", C::Image, S::Error),
        e("ImagePullBackOff", C::Image, S::Error),
        e("InvalidImageName", C::Image, S::Error),
        // Images
        e("Pulling", C::Image, S::Info),
        e("Pulled", C::Image, S::Info),
        e("InspectFailed", C::Image, S::Error),
        e("ErrImageNeverPull", C::Image, S::Error),
        e("InvalidDiskCapacity", C::Node, S::Warning),
        e("FreeDiskSpaceFailed", C::Node, S::Warning),
        e("ContainerGCFailed", C::Node, S::Warning),
        e("ImageGCFailed", C::Node, S::Warning),
        // Probes
        ef(
            "Unhealthy",
            C::Health,
            S::Warning,
            &[f(
                r"^(Liveness|Startup) probe",
                S::Error,
                "a liveness or startup probe failed: the kubelet will restart the container",
            )],
        ),
        ef(
            "ProbeError",
            C::Health,
            S::Warning,
            &[f(
                r"^(Liveness|Startup) probe",
                S::Error,
                "a liveness or startup probe failed: the kubelet will restart the container",
            )],
        ),
        e("ProbeWarning", C::Health, S::Info),
        // Volumes
        ef(
            "FailedMount",
            C::Storage,
            S::Error,
            &[f(
                r#"object "[^"]*"/"(kube-root-ca\.crt|openshift-service-ca\.crt)" not registered"#,
                S::Info,
                "known harmless: the kubelet's ConfigMap manager had not registered the pod yet \
                 (kubernetes/kubernetes#105204); the mount is retried and the pod starts",
            )],
        ),
        e("FailedMapVolume", C::Storage, S::Error),
        e("FailedUnMount", C::Storage, S::Warning),
        e("FailedUnmapDevice", C::Storage, S::Warning),
        e("FailedMountOnFilesystemMismatch", C::Storage, S::Error),
        e("SuccessfulMountVolume", C::Storage, S::Info),
        e("SuccessfulUnMountVolume", C::Storage, S::Info),
        e("AlreadyMountedVolume", C::Storage, S::Warning),
        // Admission (pkg/kubelet/lifecycle/predicate.go: "OutOf" + resource, predicate names)
        e("OutOfcpu", C::Scheduling, S::Error),
        e("OutOfmemory", C::Scheduling, S::Error),
        e("OutOfpods", C::Scheduling, S::Error),
        e("OutOfephemeral-storage", C::Scheduling, S::Error),
        e("UnexpectedAdmissionError", C::Scheduling, S::Error),
        e("TaintToleration", C::Scheduling, S::Warning),
        e("NodeAffinity", C::Scheduling, S::Warning),
        e("NodeSelectorMismatching", C::Scheduling, S::Error),
        e("HostPortConflict", C::Scheduling, S::Error),
        e("InsufficientFreeCPU", C::Scheduling, S::Error),
        e("InsufficientFreeMemory", C::Scheduling, S::Error),
        // Node status (pkg/kubelet/nodestatus) and the node as a whole
        e("Starting", C::Node, S::Info),
        e("NodeReady", C::Node, S::Info),
        e("NodeNotReady", C::Node, S::Critical),
        e("NodeSchedulable", C::Node, S::Info),
        e("NodeNotSchedulable", C::Node, S::Info),
        e("NodeHasSufficientMemory", C::Node, S::Info),
        e("NodeHasInsufficientMemory", C::Node, S::Critical),
        e("NodeHasNoDiskPressure", C::Node, S::Info),
        e("NodeHasDiskPressure", C::Node, S::Critical),
        e("NodeHasSufficientPID", C::Node, S::Info),
        e("NodeHasInsufficientPID", C::Node, S::Critical),
        e("NodeAllocatableEnforced", C::Node, S::Info),
        e("FailedNodeAllocatableEnforcement", C::Node, S::Critical),
        e("KubeletSetupFailed", C::Node, S::Critical),
        e("Rebooted", C::Node, S::Critical),
        e("OutOfDisk", C::Node, S::Critical),
        e("NilShaper", C::Network, S::Warning),
        e("DNSConfigForming", C::Network, S::Warning),
        e("MissingClusterDNS", C::Network, S::Warning),
        e("CgroupV1", C::Node, S::Warning),
        // Eviction manager
        e("Evicted", C::Node, S::Warning),
        e("EvictionThresholdMet", C::Node, S::Warning),
        e("SystemOOM", C::Crash, S::Critical),
    ],
};

pub const NODE_PROBLEM_DETECTOR: Group = Group {
    component: "node-problem-detector (config/kernel-monitor.json, docker-monitor.json)",
    entries: &[
        e("OOMKilling", C::Crash, S::Critical),
        e("TaskHung", C::Node, S::Error),
        e("KernelOops", C::Node, S::Critical),
        e("ContainerdStart", C::Node, S::Info),
        e("KubeletStart", C::Node, S::Info),
    ],
};
