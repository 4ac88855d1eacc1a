//! Add-ons many clusters run: cluster-autoscaler, the descheduler, cert-manager, CNI plugins
//! that record events, k3s' built-in controllers and Flux.

use super::{C, Group, S, e};

pub const CLUSTER_AUTOSCALER: Group = Group {
    component: "cluster-autoscaler (kubernetes/autoscaler, cluster-autoscaler/FAQ.md \"What \
                events are emitted by CA?\")",
    entries: &[
        e("TriggeredScaleUp", C::Autoscaling, S::Info),
        e("NotTriggerScaleUp", C::Autoscaling, S::Warning),
        e("ScaledUpGroup", C::Autoscaling, S::Info),
        e("FailedToScaleUpGroup", C::Autoscaling, S::Error),
        e("ScaleDown", C::Autoscaling, S::Info),
        e("ScaleDownEmpty", C::Autoscaling, S::Info),
        e("ScaleDownFailed", C::Autoscaling, S::Warning),
    ],
};

pub const DESCHEDULER: Group = Group {
    component: "descheduler (kubernetes-sigs/descheduler, pkg/descheduler/evictions: the \
                reason is the evicting plugin's name, action `Descheduled`)",
    entries: &[
        e("RemoveDuplicates", C::Scheduling, S::Info),
        e("LowNodeUtilization", C::Scheduling, S::Info),
        e("HighNodeUtilization", C::Scheduling, S::Info),
        e("PodLifeTime", C::Scheduling, S::Info),
        e("RemoveFailedPods", C::Scheduling, S::Info),
        e("RemovePodsHavingTooManyRestarts", C::Scheduling, S::Info),
        e(
            "RemovePodsViolatingInterPodAntiAffinity",
            C::Scheduling,
            S::Info,
        ),
        e("RemovePodsViolatingNodeAffinity", C::Scheduling, S::Info),
        e("RemovePodsViolatingNodeTaints", C::Scheduling, S::Info),
        e(
            "RemovePodsViolatingTopologySpreadConstraint",
            C::Scheduling,
            S::Info,
        ),
        e("EvictionFailed", C::Scheduling, S::Warning),
    ],
};

pub const CERT_MANAGER: Group = Group {
    component: "cert-manager (cert-manager/cert-manager, pkg/controller/certificates, \
                certificaterequests, acmeorders, issuers)",
    entries: &[
        e("Issuing", C::Certificate, S::Info),
        e("Issued", C::Certificate, S::Info),
        e("CertificateIssued", C::Certificate, S::Info),
        e("Generated", C::Certificate, S::Info),
        e("Requested", C::Certificate, S::Info),
        e("Reused", C::Certificate, S::Info),
        e("Expired", C::Certificate, S::Warning),
        e("SecretMismatch", C::Certificate, S::Info),
        e("IncorrectIssuer", C::Certificate, S::Info),
        e("WaitingForApproval", C::Certificate, S::Info),
        e("Denied", C::Certificate, S::Error),
        e("IssuerNotFound", C::Certificate, S::Error),
        e("IssuerNotReady", C::Certificate, S::Warning),
        e("BadConfig", C::Certificate, S::Error),
        e("ErrorSigning", C::Certificate, S::Error),
        e("OrderCreated", C::Certificate, S::Info),
        e("OrderFailed", C::Certificate, S::Error),
        e("Complete", C::Certificate, S::Info),
    ],
};

pub const CNI: Group = Group {
    component: "Multus CNI (k8snetworkplumbingwg/multus-cni, pkg/multus: one event per \
                attached interface)",
    entries: &[e("AddedInterface", C::Network, S::Info)],
};

pub const INGRESS_NGINX: Group = Group {
    component: "ingress-nginx (kubernetes/ingress-nginx, internal/ingress/controller: \
                `Scheduled for sync`, configuration reloads)",
    entries: &[
        e("Sync", C::Network, S::Info),
        e("RELOAD", C::Network, S::Info),
    ],
};

pub const K3S: Group = Group {
    component: "k3s (k3s-io/k3s: deploy controller, helm-controller, service-lb-controller, \
                supervisor)",
    entries: &[
        e("ApplyingManifest", C::Operator, S::Info),
        e("AppliedManifest", C::Operator, S::Info),
        e("ApplyManifestFailed", C::Operator, S::Error),
        e("ApplyJob", C::Operator, S::Info),
        e("AppliedDaemonSet", C::Network, S::Info),
        e("NodePasswordValidationComplete", C::Node, S::Info),
    ],
};

pub const FLUX: Group = Group {
    component: "Flux (fluxcd/pkg apis/meta condition reasons, helm-controller api; the \
                controllers record them as event reasons; `InstallSucceeded` is under OLM, `Suspended` under the job controller)",
    entries: &[
        e("ReconciliationSucceeded", C::Operator, S::Info),
        e("ReconciliationFailed", C::Operator, S::Error),
        e("Progressing", C::Operator, S::Info),
        e("DependencyNotReady", C::Operator, S::Warning),
        e("ArtifactFailed", C::Operator, S::Error),
        e("InstallFailed", C::Operator, S::Error),
        e("UpgradeSucceeded", C::Operator, S::Info),
        e("UpgradeFailed", C::Operator, S::Error),
        e("TestSucceeded", C::Operator, S::Info),
        e("TestFailed", C::Operator, S::Error),
        e("RollbackSucceeded", C::Operator, S::Info),
        e("UninstallSucceeded", C::Operator, S::Info),
    ],
};
