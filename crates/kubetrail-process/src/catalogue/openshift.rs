//! OpenShift: operators built on openshift/library-go (status conditions, resource apply,
//! config observers, revisions and static-pod installers, certificate rotation), the etcd
//! operator, other cluster operators, the Machine API and OLM.

use super::{C, Group, S, e, ef, f};

pub const LIBRARY_GO: Group = Group {
    component: "openshift/library-go operators (pkg/operator/status, configobserver, \
                revisioncontroller, staticpod, certrotation, csr, loglevel; \
                pkg/controller/factory)",
    entries: &[
        ef(
            "OperatorStatusChanged",
            C::Operator,
            S::Info,
            &[
                f(
                    r"\bDegraded changed from \w+ to True",
                    S::Error,
                    "the operator reports Degraded: a failure signal",
                ),
                f(
                    // From Unknown to False is the operator's first report while it
                    // installs: nothing was available yet, so nothing was lost.
                    r"\bAvailable changed from True to False",
                    S::Error,
                    "the operator is no longer Available",
                ),
            ],
        ),
        e("ConfigOperatorStatusChanged", C::Operator, S::Info),
        e("OperatorVersionChanged", C::Operator, S::Info),
        e("OperatorLogLevelChange", C::Operator, S::Info),
        e("OperatorLogLevelChangeFailed", C::Operator, S::Warning),
        e("OperatorLogLevelInvalid", C::Operator, S::Warning),
        e("ManagementStateUnknown", C::Operator, S::Warning),
        // The management-state and status controllers find no operator config CR yet (the
        // installer creates it) and return without error: a start-up ordering notice
        // (library-go pkg/operator/management, pkg/operator/status/status_controller.go).
        e("StatusNotFound", C::Operator, S::Info),
        e("MultipleVersions", C::Operator, S::Warning),
        // Start-up ordering notices: a controller waits for what another one writes and
        // retries; if it lasts, the operator's Degraded condition is the failure signal.
        e("MissingVersion", C::Operator, S::Info),
        e("VersionMappingFailure", C::Operator, S::Warning),
        // A start-up notice of the controller factory, sent as Warning: known harmless.
        e("FastControllerResync", C::Operator, S::Info),
        e("ObservedConfigChanged", C::Operator, S::Info),
        e("ObservedConfigWriteError", C::Operator, S::Warning),
        e("ObserverFailed", C::Operator, S::Warning),
        // One config observer's input is missing (e.g. etcd endpoints not published yet):
        // the config observer controller retries every resync and, while any observer
        // fails, sets ConfigObservationDegraded, which the status controller turns into
        // `Degraded ... to True` (pkg/operator/configobserver/config_observer_controller.go):
        // that is the failure signal, the observer's own report is a start-up notice.
        e("Observe*Failed", C::Operator, S::Info),
        e("Observe*", C::Operator, S::Info),
        // A start-up ordering notice, like MissingVersion.
        e("ConfigMissing", C::Operator, S::Info),
        e("RevisionTriggered", C::Operator, S::Info),
        e("RevisionCreate", C::Operator, S::Info),
        ef(
            "RevisionCreateFailed",
            C::Operator,
            S::Error,
            &[f(
                // pkg/operator/revisioncontroller/revision_controller.go: a revision copies
                // ConfigMaps and Secrets other controllers write; until they exist the
                // controller retries and sets RevisionControllerDegraded (the status
                // controller's `Degraded ... to True` is the failure signal if it lasts).
                r#"^Failed to create revision \d+: (?:configmaps|secrets|namespaces) "[^"]+" not found"#,
                S::Info,
                "an input another controller writes does not exist yet; retried",
            )],
        ),
        e("StartingNewRevision", C::Operator, S::Info),
        e("NodeTargetRevisionChanged", C::Operator, S::Info),
        e("NodeCurrentRevisionChanged", C::Operator, S::Info),
        // A start-up ordering notice, like MissingVersion (NodeInstallerDegraded if it lasts).
        e("RequiredInstallerResourcesMissing", C::Operator, S::Info),
        e("InstallerPodFailed", C::Operator, S::Error),
        // The installer pod was deleted before the installer controller saw it end: "retry
        // like if it had never existed" (pkg/operator/staticpod/controller/installer); failed
        // retries make NodeInstallerDegraded, the failure signal.
        e("InstallerPodDisappeared", C::Operator, S::Info),
        e("StaticPodInstallerCompleted", C::Operator, S::Info),
        e("StaticPodInstallerFailed", C::Operator, S::Error),
        e("MissingStaticPod", C::Operator, S::Warning),
        e("MalscheduledPod", C::Operator, S::Warning),
        e("MasterNodeObserved", C::Operator, S::Info),
        e("MasterNodeRemoved", C::Operator, S::Info),
        e("MasterNodesReadyChanged", C::Operator, S::Info),
        e("FileChangeWatchdogStarted", C::Operator, S::Info),
        e("FileChangeWatchdogFailed", C::Operator, S::Warning),
        e("FileChangeObserved", C::Operator, S::Info),
        e("FeatureGatesInitialized", C::Operator, S::Info),
        e("FeatureGatesModified", C::Operator, S::Info),
        e("ControlPlaneTopology", C::Operator, S::Info),
        e("OpenShiftAPICheckFailed", C::Operator, S::Warning),
        e("EncryptionKeyCreated", C::Operator, S::Info),
        e("EncryptionKeyCreateFailed", C::Operator, S::Error),
        e("EncryptionKeysPruned", C::Operator, S::Info),
        // Certificates: certrotation and csr controllers
        e("CABundleUpdateRequired", C::Certificate, S::Info),
        e("SignerUpdateRequired", C::Certificate, S::Info),
        e("TargetUpdateRequired", C::Certificate, S::Info),
        ef(
            "RotationError",
            C::Certificate,
            S::Warning,
            &[f(
                // pkg/operator/certrotation: two controllers create the same CA bundle or
                // signer at start-up; the loser's create fails with AlreadyExists and its next
                // sync reads the one that exists.
                r#"^(?:configmaps|secrets) "[^"]+" already exists$"#,
                S::Info,
                "another controller created it first; the next sync uses it",
            )],
        ),
        e("CertificateUpdated", C::Certificate, S::Info),
        e("CertificateUpdateFailed", C::Certificate, S::Error),
        e("CertificateRemoved", C::Certificate, S::Info),
        e("CertificateRotationStarted", C::Certificate, S::Info),
        e("ClientCertificateCreated", C::Certificate, S::Info),
        e("NoValidCertificateFound", C::Certificate, S::Info),
        e("CSRApproval", C::Certificate, S::Info),
        e("CSRCreated", C::Certificate, S::Info),
        e("CSRDenial", C::Certificate, S::Warning),
    ],
};

pub const LIBRARY_GO_APPLY: Group = Group {
    component: "openshift/library-go resource apply (pkg/operator/resource/resourcehelper/\
                event_helpers.go: the reason is the object's kind + Created, Updated, Deleted, \
                CreateFailed, UpdateFailed or DeleteFailed)",
    entries: &[
        ef(
            "*CreateFailed",
            C::Operator,
            S::Error,
            &[f(
                // resourceapply's Apply<Kind> gets the object, finds none and creates it; an
                // AlreadyExists means another writer (a second operator, a certrotation
                // controller) created it in between, and the next sync takes the update path.
                r"already exists",
                S::Info,
                "another writer created it first; the next sync updates it",
            )],
        ),
        e("*UpdateFailed", C::Operator, S::Error),
        e("*DeleteFailed", C::Operator, S::Warning),
        e("*Created", C::Operator, S::Info),
        e("*Updated", C::Operator, S::Info),
        e("*Deleted", C::Operator, S::Info),
    ],
};

pub const ETCD_OPERATOR: Group = Group {
    component: "openshift/cluster-etcd-operator (pkg/etcdcli: membership; pkg/operator: \
                clustermember, quorumguard, bootstrapteardown, fsync controllers)",
    entries: &[
        e("MemberAdd", C::ControlPlane, S::Info),
        e("MemberPromote", C::ControlPlane, S::Info),
        e("MemberRemove", C::ControlPlane, S::Warning),
        e("UnhealthyEtcdMember", C::ControlPlane, S::Warning),
        e("UnstartedEtcdMember", C::ControlPlane, S::Warning),
        e("EtcdLeaderChangeMetrics", C::ControlPlane, S::Warning),
        e("FoundPodToScale", C::ControlPlane, S::Info),
        e("ModifiedQuorumGuardDeployment", C::Operator, S::Info),
        e("ModifiedQuorumGuardPDB", C::Operator, S::Info),
        e("DelayingBootstrapTeardown", C::ControlPlane, S::Info),
        e("RemoveBootstrapEtcd", C::ControlPlane, S::Info),
        ef(
            "*UpdatingStatus",
            C::Operator,
            S::Warning,
            &[f(
                // A controller's status write (library-go v1helpers.UpdateStatus) reads the
                // operator's own config object from its informer's cache; right after the
                // operator starts the cache is not synced yet and the read says NotFound
                // (`etcds.operator.openshift.io "cluster" not found`). The controller
                // returns the error and its queue retries (EtcdMembersController,
                // pkg/operator/etcdmemberscontroller): a start-up notice.
                r#"^[a-z0-9.-]+ "[^"]+" not found$"#,
                S::Info,
                "the operator's own config read before its cache synced at start-up; retried",
            )],
        ),
    ],
};

pub const OPENSHIFT_OPERATORS: Group = Group {
    component: "OpenShift cluster operators: cluster-version-operator (payload), \
                cluster-policy-controller (SCC ranges), kube-controller-manager-operator \
                (SA token signer), ingress-operator, check-endpoints, config-operator, \
                machine-config-operator",
    entries: &[
        e("RetrievePayload", C::Operator, S::Info),
        e("VerifyPayload", C::Operator, S::Info),
        e("PayloadLoaded", C::Operator, S::Info),
        e("CreatedSCCRanges", C::Policy, S::Info),
        e("SATokenSignerControllerOK", C::Certificate, S::Info),
        // Sent as Normal while the bootstrap API server's addresses are still listed.
        e("SATokenSignerControllerStuck", C::Certificate, S::Info),
        e("Admitted", C::Network, S::Info),
        e("PublishedRouterCA", C::Certificate, S::Info),
        e("PublishedRouterCertificates", C::Certificate, S::Info),
        e(
            "UpdatedPublishedRouterCertificates",
            C::Certificate,
            S::Info,
        ),
        e("CreatedDefaultCertificate", C::Certificate, S::Info),
        e("CreatedWildcardCACert", C::Certificate, S::Info),
        e("ConnectivityOutageDetected", C::Network, S::Warning),
        e("ConnectivityRestored", C::Network, S::Info),
        e("RoutingConfigSubdomainChanged", C::Operator, S::Info),
        e("KubeCloudConfigController", C::Operator, S::Info),
        e("RenderedConfigGenerated", C::Operator, S::Info),
        e("AnnotationChange", C::Node, S::Info),
        e("NodeDone", C::Node, S::Info),
        e("Status upgrade", C::Operator, S::Info),
    ],
};

pub const MACHINE_API: Group = Group {
    component: "OpenShift Machine API providers (machine-api-provider-aws, -azure, -vsphere: \
                machine actuators)",
    entries: &[
        e("Create", C::Node, S::Info),
        e("Update", C::Node, S::Info),
        e("Updated", C::Node, S::Info),
    ],
};

pub const OLM: Group = Group {
    component: "operator-lifecycle-manager (operator-framework/operator-lifecycle-manager, \
                ClusterServiceVersion phases and subscription resolution)",
    entries: &[
        e("RequirementsUnknown", C::Operator, S::Info),
        e("RequirementsNotMet", C::Operator, S::Warning),
        e("AllRequirementsMet", C::Operator, S::Info),
        e("InstallWaiting", C::Operator, S::Info),
        e("InstallSucceeded", C::Operator, S::Info),
        e("InstallComponentFailed", C::Operator, S::Error),
        e("InstallCheckFailed", C::Operator, S::Error),
        e("NeedsReinstall", C::Operator, S::Warning),
        e("ResolutionFailed", C::Operator, S::Error),
    ],
};
