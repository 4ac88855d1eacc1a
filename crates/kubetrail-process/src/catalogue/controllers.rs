//! The scheduler's, kube-controller-manager's, cloud-controller-manager's and the API
//! server's reasons.

use super::{C, Group, S, e, ef, f};

pub const SCHEDULER: Group = Group {
    component: "kube-scheduler (pkg/scheduler/schedule_one.go; preemption: \
                pkg/scheduler/framework/preemption)",
    entries: &[
        e("Scheduled", C::Scheduling, S::Info),
        ef(
            "FailedScheduling",
            C::Scheduling,
            S::Error,
            &[f(
                r"^skip schedule deleting pod",
                S::Info,
                "the pod is being deleted; nothing to schedule",
            )],
        ),
        e("Preempted", C::Scheduling, S::Warning),
    ],
};

/// Machine controllers (OpenShift machine-api, cluster-api providers) report `FailedCreate` and
/// `FailedUpdate` with `reconciler failed to Create machine: requeue in: 20s` when the
/// actuator returns a `RequeueAfterError` (`requeue in: %s`): it asked to be called again
/// later (an instance still booting), not a failure.
const REQUEUE: super::Form = f(
    r"requeue in: \d",
    S::Info,
    "a machine actuator asked to be requeued (RequeueAfterError); not an error",
);

pub const WORKLOADS: Group = Group {
    component: "kube-controller-manager: pod control shared by the replicaset, \
                replicationcontroller, daemonset, job, cronjob and statefulset controllers \
                (pkg/controller/controller_utils.go, statefulset/stateful_pod_control.go)",
    entries: &[
        e("SuccessfulCreate", C::Rollout, S::Info),
        e("SuccessfulDelete", C::Rollout, S::Info),
        e("SuccessfulUpdate", C::Rollout, S::Info),
        ef(
            "FailedCreate",
            C::Rollout,
            S::Error,
            &[
                f(
                    r"object is being deleted|already exists",
                    S::Warning,
                    "a create that raced with a deletion or an earlier create; retried",
                ),
                REQUEUE,
            ],
        ),
        e("FailedDelete", C::Rollout, S::Warning),
        ef("FailedUpdate", C::Rollout, S::Warning, &[REQUEUE]),
        e("SelectingAll", C::Config, S::Warning),
    ],
};

pub const DEPLOYMENT: Group = Group {
    component: "kube-controller-manager: deployment controller (pkg/controller/deployment)",
    entries: &[
        e("ScalingReplicaSet", C::Rollout, S::Info),
        e("ProgressDeadlineExceeded", C::Rollout, S::Error),
        e("ReplicaSetCreateError", C::Rollout, S::Error),
        e("DeploymentRollback", C::Rollout, S::Info),
        e("RollbackDone", C::Rollout, S::Info),
        e("RollbackRevisionNotFound", C::Rollout, S::Warning),
        e("RollbackTemplateUnchanged", C::Rollout, S::Info),
        e("DeploymentPaused", C::Rollout, S::Info),
        e("DeploymentResumed", C::Rollout, S::Info),
        e("NewReplicaSetAvailable", C::Rollout, S::Info),
    ],
};

pub const DAEMONSET_STATEFULSET: Group = Group {
    component: "kube-controller-manager: daemonset and statefulset controllers \
                (pkg/controller/daemon, pkg/controller/statefulset)",
    entries: &[
        e("FailedDaemonPod", C::Rollout, S::Error),
        e("FailedPlacement", C::Scheduling, S::Error),
        e("RecreatingFailedPod", C::Rollout, S::Warning),
        e("RecreatingTerminatedPod", C::Rollout, S::Warning),
    ],
};

pub const JOB: Group = Group {
    component: "kube-controller-manager: job controller (pkg/controller/job)",
    entries: &[
        e("Completed", C::Job, S::Info),
        e("Suspended", C::Job, S::Info),
        e("Resumed", C::Job, S::Info),
        e("BackoffLimitExceeded", C::Job, S::Error),
        e("DeadlineExceeded", C::Job, S::Error),
        e("PodFailurePolicy", C::Job, S::Error),
        e("MaxFailedIndexesExceeded", C::Job, S::Error),
        e("FailedIndexes", C::Job, S::Error),
        e("TooManyActivePods", C::Job, S::Warning),
        e("TooManySucceededPods", C::Job, S::Warning),
    ],
};

pub const CRONJOB: Group = Group {
    component: "kube-controller-manager: cronjob controller (pkg/controller/cronjob)",
    entries: &[
        e("SawCompletedJob", C::Job, S::Info),
        e("SuccessfulJob", C::Job, S::Info),
        e("JobAlreadyActive", C::Job, S::Info),
        e("MissSchedule", C::Job, S::Warning),
        e("TooManyMissedTimes", C::Job, S::Error),
        e("UnexpectedJob", C::Job, S::Warning),
        e("FailedNeedsStart", C::Job, S::Error),
        e("FailedGet", C::Job, S::Warning),
        e("InvalidSchedule", C::Config, S::Error),
        e("UnknownTimeZone", C::Config, S::Error),
    ],
};

pub const NODE_LIFECYCLE: Group = Group {
    component: "kube-controller-manager: node lifecycle controller and taint eviction \
                (pkg/controller/nodelifecycle, pkg/controller/tainteviction)",
    entries: &[
        e("RegisteredNode", C::Node, S::Info),
        e("RemovingNode", C::Node, S::Info),
        e("DeletingNode", C::Node, S::Info),
        e("DeletingAllPods", C::Node, S::Warning),
        e("NodeControllerEviction", C::Node, S::Warning),
        ef(
            "TaintManagerEviction",
            C::Node,
            S::Warning,
            &[f(
                r"^Cancelling deletion",
                S::Info,
                "recovery: the taint went away (or is tolerated) before the pod was deleted",
            )],
        ),
        e("CIDRNotAvailable", C::Network, S::Error),
        e("CIDRAssignmentFailed", C::Network, S::Error),
    ],
};

pub const ENDPOINTS: Group = Group {
    component: "kube-controller-manager: endpoints and endpointslice controllers \
                (pkg/controller/endpoint, pkg/controller/endpointslice)",
    entries: &[
        e("FailedToUpdateEndpoint", C::Network, S::Warning),
        e("FailedToCreateEndpoint", C::Network, S::Warning),
        e("FailedToUpdateEndpointSlices", C::Network, S::Warning),
    ],
};

pub const HPA: Group = Group {
    component: "kube-controller-manager: horizontal pod autoscaler (pkg/controller/podautoscaler)",
    entries: &[
        e("SuccessfulRescale", C::Autoscaling, S::Info),
        e("FailedRescale", C::Autoscaling, S::Error),
        e("FailedGetScale", C::Autoscaling, S::Warning),
        e("FailedGetResourceMetric", C::Autoscaling, S::Warning),
        e(
            "FailedGetContainerResourceMetric",
            C::Autoscaling,
            S::Warning,
        ),
        e("FailedGetObjectMetric", C::Autoscaling, S::Warning),
        e("FailedGetPodsMetric", C::Autoscaling, S::Warning),
        e("FailedGetExternalMetric", C::Autoscaling, S::Warning),
        e("FailedComputeMetricsReplicas", C::Autoscaling, S::Warning),
        e("FailedConvertHPA", C::Autoscaling, S::Error),
        e("FailedUpdateStatus", C::Autoscaling, S::Warning),
        e("InvalidSelector", C::Autoscaling, S::Error),
        e("SelectorRequired", C::Autoscaling, S::Error),
        e("InvalidMetricSourceType", C::Autoscaling, S::Error),
    ],
};

pub const DISRUPTION: Group = Group {
    component: "kube-controller-manager: disruption controller (pkg/controller/disruption)",
    entries: &[
        e("NoPods", C::Policy, S::Info),
        e("NoControllers", C::Policy, S::Warning),
        e("CalculateExpectedPodCountFailed", C::Policy, S::Warning),
    ],
};

pub const VOLUMES: Group = Group {
    component: "kube-controller-manager: persistentvolume binder, attach-detach and expand \
                controllers (pkg/controller/volume); external-provisioner and external-resizer \
                (kubernetes-csi)",
    entries: &[
        e("ProvisioningSucceeded", C::Storage, S::Info),
        e("ProvisioningFailed", C::Storage, S::Error),
        e("ProvisioningCleanupFailed", C::Storage, S::Warning),
        e("Provisioning", C::Storage, S::Info),
        e("ExternalProvisioning", C::Storage, S::Info),
        e("WaitForFirstConsumer", C::Storage, S::Info),
        e("WaitForPodScheduled", C::Storage, S::Info),
        e("FailedBinding", C::Storage, S::Error),
        e("VolumeMismatch", C::Storage, S::Error),
        e("ClaimLost", C::Storage, S::Error),
        e("ClaimMisbound", C::Storage, S::Error),
        e("VolumeRecycled", C::Storage, S::Info),
        e("VolumeFailedRecycle", C::Storage, S::Error),
        e("RecyclerPod", C::Storage, S::Info),
        e("VolumeDelete", C::Storage, S::Info),
        e("VolumeFailedDelete", C::Storage, S::Error),
        e("SuccessfulAttachVolume", C::Storage, S::Info),
        e("FailedAttachVolume", C::Storage, S::Error),
        e("SuccessfulDetachVolume", C::Storage, S::Info),
        e("FailedDetachVolume", C::Storage, S::Warning),
        e("Resizing", C::Storage, S::Info),
        e("ExternalExpanding", C::Storage, S::Info),
        e("VolumeResizeFailed", C::Storage, S::Error),
        e("VolumeResizeSuccessful", C::Storage, S::Info),
        e("FileSystemResizeRequired", C::Storage, S::Info),
        e("FileSystemResizeFailed", C::Storage, S::Error),
        e("FileSystemResizeSuccessful", C::Storage, S::Info),
    ],
};

pub const CLOUD: Group = Group {
    component: "cloud-controller-manager: service (load balancer), node and route \
                controllers (k8s.io/cloud-provider/controllers)",
    entries: &[
        e("EnsuringLoadBalancer", C::Network, S::Info),
        e("EnsuredLoadBalancer", C::Network, S::Info),
        e("UpdatedLoadBalancer", C::Network, S::Info),
        e("DeletingLoadBalancer", C::Network, S::Info),
        e("DeletedLoadBalancer", C::Network, S::Info),
        e("SyncLoadBalancerFailed", C::Network, S::Error),
        e("UpdateLoadBalancerFailed", C::Network, S::Error),
        e("DeleteLoadBalancerFailed", C::Network, S::Warning),
        e("LoadBalancerUpdateFailed", C::Network, S::Error),
        e("FailedToCreateRoute", C::Network, S::Error),
        e("Synced", C::Node, S::Info),
    ],
};

pub const MISC: Group = Group {
    component: "kube-controller-manager: garbage collector \
                (pkg/controller/garbagecollector); client-go leader election (tools/leaderelection/resourcelock)",
    entries: &[
        e("OwnerRefInvalidNamespace", C::Config, S::Warning),
        e("LeaderElection", C::ControlPlane, S::Info),
    ],
};

pub const API_SERVER: Group = Group {
    component: "kube-apiserver graceful termination (k8s.io/apiserver/pkg/server, the \
                lifecycle events OpenShift's API servers record)",
    entries: &[
        e("TerminationStart", C::ControlPlane, S::Info),
        e(
            "TerminationPreShutdownHooksFinished",
            C::ControlPlane,
            S::Info,
        ),
        e(
            "TerminationMinimalShutdownDurationFinished",
            C::ControlPlane,
            S::Info,
        ),
        e("TerminationStoppedServing", C::ControlPlane, S::Info),
        e(
            "TerminationGracefulTerminationFinished",
            C::ControlPlane,
            S::Info,
        ),
        e("NonGracefulTermination", C::ControlPlane, S::Warning),
        e("LateConnections", C::ControlPlane, S::Warning),
        e("NonReadyRequests", C::ControlPlane, S::Info),
    ],
};
