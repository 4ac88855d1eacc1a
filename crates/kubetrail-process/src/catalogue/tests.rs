use std::collections::BTreeMap;

use super::*;

fn all_entries() -> impl Iterator<Item = (&'static str, &'static Entry)> {
    groups()
        .iter()
        .flat_map(|g| g.entries.iter().map(move |e| (g.component, e)))
}

#[test]
fn each_reason_is_catalogued_once_so_it_lands_in_one_category() {
    let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (component, entry) in all_entries() {
        seen.entry(entry.reason).or_default().push(component);
    }
    let twice: Vec<_> = seen.iter().filter(|(_, c)| c.len() > 1).collect();
    assert!(twice.is_empty(), "reasons catalogued twice: {twice:#?}");
}

#[test]
fn only_reasons_upstream_shares_between_constants_change_category_by_message() {
    for (_, entry) in all_entries() {
        for form in entry.forms {
            if form.category.is_some_and(|c| c != entry.category) {
                assert!(
                    SHARED.iter().any(|(r, _)| *r == entry.reason),
                    "{}: form {:?} changes the category but the reason is not in SHARED",
                    entry.reason,
                    form.note
                );
            }
        }
    }
    for (reason, _) in SHARED {
        assert!(
            lookup(reason).is_some(),
            "{reason} is shared but not catalogued"
        );
    }
}

#[test]
fn every_group_names_its_component_and_every_form_compiles() {
    for group in groups() {
        assert!(group.component.len() > 10, "{}", group.component);
        assert!(!group.entries.is_empty(), "{}", group.component);
    }
    for (_, entry) in all_entries() {
        assert!(
            entry.reason.matches('*').count() <= 1,
            "{}: one * at most",
            entry.reason
        );
        // Building the catalogue compiles every form (it panics on a bad one).
        assert!(lookup(entry.reason).is_some() || entry.reason.contains('*'));
    }
}

#[test]
fn families_match_a_kind_prefix_and_exact_reasons_win() {
    assert_eq!(lookup("ConfigMapCreated").unwrap().entry.reason, "*Created");
    assert_eq!(
        lookup("ConfigMapCreateFailed").unwrap().entry.reason,
        "*CreateFailed"
    );
    assert_eq!(lookup("Created").unwrap().entry.reason, "Created");
    assert_eq!(lookup("OrderCreated").unwrap().entry.reason, "OrderCreated");
    assert_eq!(
        lookup("ObservedConfigWriteError").unwrap().entry.reason,
        "ObservedConfigWriteError"
    );
    assert_eq!(
        lookup("ObserveStorageFailed").unwrap().entry.reason,
        "Observe*Failed"
    );
    assert_eq!(
        lookup("ObserveEncryptionConfigFailed")
            .unwrap()
            .entry
            .reason,
        "Observe*Failed"
    );
    assert_eq!(
        lookup("ObserveConsoleURL").unwrap().entry.reason,
        "Observe*"
    );
    assert!(lookup("SomethingOdd").is_none());
}

#[test]
fn an_operator_going_degraded_is_an_error_and_progressing_is_not() {
    let degraded = "Status for clusteroperator/etcd changed: Degraded changed from False to \
                    True (\"NodeControllerDegraded: node x not ready\")";
    assert_eq!(
        classify("OperatorStatusChanged", degraded),
        Some((C::Operator, S::Error))
    );
    let progressing = "Status for clusteroperator/etcd changed: Progressing changed from True \
                       to False (\"NodeInstallerProgressing: 3 nodes are at revision 3\")";
    assert_eq!(
        classify("OperatorStatusChanged", progressing),
        Some((C::Operator, S::Info))
    );
    let healed = "Status for clusteroperator/etcd changed: Degraded changed from True to False";
    assert_eq!(
        classify("OperatorStatusChanged", healed),
        Some((C::Operator, S::Info))
    );
}

#[test]
fn a_degraded_operator_quoting_a_conflict_stays_an_error() {
    let note = "Status for clusteroperator/authentication changed: Degraded changed from False \
                to True (\"X: Operation cannot be fulfilled on authentications \\\"cluster\\\": \
                the object has been modified; please apply your changes to the latest version \
                and try again\")";
    assert_eq!(
        classify("OperatorStatusChanged", note),
        Some((C::Operator, S::Error))
    );
}

/// Issue 13: an operator's first status report while it installs says Available from Unknown
/// to False: nothing was lost. Losing availability is from True to False.
#[test]
fn an_operator_first_reporting_unavailable_is_not_a_loss_of_availability() {
    let first = "Status for clusteroperator/etcd changed: Available changed from Unknown to False (\"StaticPodsAvailable: 0 nodes are active\")";
    assert_eq!(
        classify("OperatorStatusChanged", first),
        Some((C::Operator, S::Info))
    );
    let lost = "Status for clusteroperator/etcd changed: Available changed from True to False (\"StaticPodsAvailable: 0 nodes are active\")";
    assert_eq!(
        classify("OperatorStatusChanged", lost),
        Some((C::Operator, S::Error))
    );
}

#[test]
fn cancelling_a_taint_eviction_is_a_recovery() {
    assert_eq!(
        classify(
            "TaintManagerEviction",
            "Marking for deletion Pod default/web-1"
        ),
        Some((C::Node, S::Warning))
    );
    assert_eq!(
        classify(
            "TaintManagerEviction",
            "Cancelling deletion of Pod default/web-1"
        ),
        Some((C::Node, S::Info))
    );
}

#[test]
fn known_harmless_messages_are_info_in_their_reasons_category() {
    let race = r#"MountVolume.SetUp failed for volume "kube-api-access-r24g5" : object "shop"/"kube-root-ca.crt" not registered"#;
    assert_eq!(classify("FailedMount", race), Some((C::Storage, S::Info)));
    let missing = r#"MountVolume.SetUp failed for volume "cfg" : configmap "app" not found"#;
    assert_eq!(
        classify("FailedMount", missing),
        Some((C::Storage, S::Error))
    );
    let resync = r#"Controller "ConfigObserver" resync interval is set to 0s which might lead to client request throttling"#;
    assert_eq!(
        classify("FastControllerResync", resync),
        Some((C::Operator, S::Info))
    );
    let conflict = r#"Failed to update endpoint shop/web: Operation cannot be fulfilled on endpoints "web": the object has been modified; please apply your changes to the latest version and try again"#;
    assert_eq!(
        classify("FailedToUpdateEndpoint", conflict),
        Some((C::Network, S::Info))
    );
    assert_eq!(
        classify(
            "FailedToUpdateEndpoint",
            "Failed to update endpoint shop/web: timeout"
        ),
        Some((C::Network, S::Warning))
    );
    let bound = r#"binding rejected: running Bind plugin "DefaultBinder": Operation cannot be fulfilled on pods/binding "web-1": pod web-1 is already assigned to node "node-a""#;
    assert_eq!(
        classify("FailedScheduling", bound).map(|(_, s)| s),
        Some(S::Info)
    );
}

#[test]
fn coverage_ranks_reasons_by_events_and_lists_the_fallbacks() {
    let reasons = [
        "Pulled",
        "Pulled",
        "Pulled",
        "SomethingOdd",
        "SomethingOdd",
        "ConfigMapCreated",
        "",
    ];
    let c = catalogue_coverage(reasons.iter().copied(), 3);
    assert_eq!(
        c.top,
        vec![
            ("Pulled".to_string(), 3),
            ("SomethingOdd".to_string(), 2),
            ("".to_string(), 1),
        ]
    );
    assert_eq!(c.matched, 1);
    assert_eq!(
        c.fallback,
        vec![("SomethingOdd".to_string(), 2), ("".to_string(), 1)]
    );
    assert!((c.ratio() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(catalogue_coverage([], 200).ratio(), 1.0);
}

#[test]
fn reasons_doc_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/REASONS.md");
    let generated = markdown();
    if std::env::var_os("UPDATE_REASONS").is_some() {
        std::fs::write(path, &generated).expect("write docs/REASONS.md");
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/REASONS.md is out of date: run UPDATE_REASONS=1 cargo test -p kubetrail-process \
         --lib reasons_doc"
    );
}

/// Bug (issue 13): the etcd operator's status write failing because its own config was not in
/// its cache yet at start-up (`etcds.operator.openshift.io "cluster" not found`) was a
/// warning, and as the earliest failure it rooted the operator's incident about unhealthy
/// etcd members. It is a start-up notice; a status write failing otherwise stays a warning.
/// This test failed before the fix.
#[test]
fn an_operator_status_write_before_its_cache_synced_is_info() {
    assert_eq!(
        classify(
            "ReportEtcdMembersErrorUpdatingStatus",
            r#"etcds.operator.openshift.io "cluster" not found"#
        ),
        Some((C::Operator, S::Info))
    );
    assert_eq!(
        classify(
            "ReportEtcdMembersErrorUpdatingStatus",
            r#"Put "https://172.30.0.1:443/apis/operator.openshift.io/v1/etcds/cluster/status": unexpected EOF"#
        )
        .map(|(_, s)| s),
        Some(S::Info)
    );
    assert_eq!(
        classify(
            "ReportEtcdMembersErrorUpdatingStatus",
            "etcdserver: mvcc: database space exceeded"
        )
        .map(|(_, s)| s),
        Some(S::Warning)
    );
}

#[test]
fn api_server_transport_errors_and_start_up_notices_are_info_but_webhooks_are_not() {
    // The endpoints controller could not reach the API server while it restarted: retried.
    let closed = r#"Failed to update endpoint shop/web: Put "https://api-int.example:6443/api/v1/namespaces/shop/endpoints/web": http2: client connection force closed via ClientConn.Close"#;
    assert_eq!(
        classify("FailedToUpdateEndpoint", closed),
        Some((C::Network, S::Info))
    );
    let refused = r#"Error updating Endpoint Slices for Service shop/web: failed to update web-x EndpointSlice for Service shop/web: Put "https://10.0.0.1:6443/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/web-x": dial tcp 10.0.0.1:6443: connect: connection refused"#;
    assert_eq!(
        classify("FailedToUpdateEndpointSlices", refused).map(|(_, s)| s),
        Some(S::Info)
    );
    let etcd = r#"Failed to create installer pod for revision 4 on node 'm-0': etcdserver: request timed out"#;
    assert_eq!(
        classify("InstallerPodFailed", etcd).map(|(_, s)| s),
        Some(S::Info)
    );
    // A webhook that refuses connections is a failure of its own.
    let webhook = r#"Error creating: Internal error occurred: failed calling webhook "v.example.com": Post "https://hook.shop.svc:443/validate?timeout=10s": dial tcp 10.96.0.9:443: connect: connection refused"#;
    assert_eq!(
        classify("FailedCreate", webhook).map(|(_, s)| s),
        Some(S::Error)
    );
    // Start-up ordering notices of library-go operators.
    assert_eq!(
        classify(
            "StatusNotFound",
            "Unable to determine current operator status for cluster-network-operator"
        )
        .map(|(_, s)| s),
        Some(S::Info)
    );
    assert_eq!(
        classify(
            "ObserveStorageFailed",
            "configmaps openshift-etcd/etcd-endpoints: no etcd endpoint addresses found"
        )
        .map(|(_, s)| s),
        Some(S::Info)
    );
    assert_eq!(
        classify(
            "RevisionCreateFailed",
            r#"Failed to create revision 1: configmaps "etcd-pod" not found"#
        )
        .map(|(_, s)| s),
        Some(S::Info)
    );
    assert_eq!(
        classify(
            "RevisionCreateFailed",
            "Failed to create revision 3: the server rejected the request"
        )
        .map(|(_, s)| s),
        Some(S::Error)
    );
    // A machine actuator's requeue request is no error; its real create error is.
    assert_eq!(
        classify(
            "FailedCreate",
            "m-1: reconciler failed to Create machine: requeue in: 20s"
        )
        .map(|(_, s)| s),
        Some(S::Info)
    );
    assert_eq!(
        classify(
            "FailedUpdate",
            "m-1: reconciler failed to Update machine: requeue in: 20s"
        )
        .map(|(_, s)| s),
        Some(S::Info)
    );
    assert_eq!(
        classify(
            "FailedCreate",
            r#"CreateError: failed to reconcile machine "m-1": failed to create vm m-1"#
        )
        .map(|(_, s)| s),
        Some(S::Error)
    );
}

#[test]
fn kills_of_containers_already_gone_and_retried_operator_races_are_info() {
    let gone = r#"error killing pod: failed to "KillContainer" for "app" with KillContainerError: "rpc error: code = Unknown desc = Error response from daemon: No such container: cff6df8c""#;
    assert_eq!(
        classify("FailedKillPod", gone),
        Some((C::Lifecycle, S::Info))
    );
    let shim = r#"error killing pod: failed to "KillContainer" for "app" with KillContainerError: "rpc error: code = Unknown desc = failed to kill container \"7578\": ttrpc: closed: unknown""#;
    assert_eq!(
        classify("FailedKillPod", shim).map(|(_, s)| s),
        Some(S::Info)
    );
    let stuck = r#"error killing pod: failed to "KillPodSandbox" for "uid" with KillPodSandboxError: "rpc error: code = DeadlineExceeded""#;
    assert_eq!(
        classify("FailedKillPod", stuck).map(|(_, s)| s),
        Some(S::Warning)
    );
    assert_eq!(
        classify(
            "RotationError",
            r#"configmaps "kube-control-plane-signer-ca" already exists"#
        )
        .map(|(_, s)| s),
        Some(S::Info)
    );
    assert_eq!(
        classify(
            "RotationError",
            "x509: certificate signed by unknown authority"
        )
        .map(|(_, s)| s),
        Some(S::Warning)
    );
    assert_eq!(
        classify(
            "CustomResourceDefinitionCreateFailed",
            r#"Failed to create CustomResourceDefinition.apiextensions.k8s.io/checks.example.io: customresourcedefinitions.apiextensions.k8s.io "checks.example.io" already exists"#
        )
        .map(|(_, s)| s),
        Some(S::Info)
    );
    assert_eq!(
        classify(
            "ConfigMapCreateFailed",
            r#"Failed to create ConfigMap/config -n shop: namespaces "shop" is forbidden"#
        )
        .map(|(_, s)| s),
        Some(S::Error)
    );
    assert_eq!(
        classify(
            "InstallerPodDisappeared",
            r#"pods "installer-4-master-0" not found"#
        )
        .map(|(_, s)| s),
        Some(S::Info)
    );
}
