//! The Kubernetes manifests of `deploy/`: every overlay rendered with the installed
//! `kubectl kustomize`, every document parsed with the k8s-openapi types (and written back
//! unchanged, so no field is misspelled), the RBAC rules exactly what the watcher calls, the
//! pods hardened and probed, the config they mount accepted by kubetrail, and the arguments
//! they pass accepted by its command line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::Deserialize;
use serde_json::Value;

/// What the watcher calls, as (API group, resource, verb): the Event watch (events.k8s.io/v1,
/// or core/v1 where that is not served: `kubetrail-source/src/watch/events.rs`), the owner
/// and placement reflectors (`watch/owners.rs`: Pods; ReplicaSets and Jobs metadata-only;
/// Nodes), and leader election (`leader.rs`: get, create and replace the Lease).
const WATCHER_CALLS: &[(&str, &str, &[&str])] = &[
    ("events.k8s.io", "events", &["get", "list", "watch"]),
    ("", "events", &["get", "list", "watch"]),
    ("", "pods", &["get", "list", "watch"]),
    ("", "nodes", &["get", "list", "watch"]),
    ("apps", "replicasets", &["list", "watch"]),
    ("batch", "jobs", &["list", "watch"]),
    (
        "coordination.k8s.io",
        "leases",
        &["get", "create", "update"],
    ),
];

const OVERLAYS: [&str; 4] = ["single", "ha", "agent", "central"];

/// The overlays whose pods watch clusters (`central` only consumes NATS).
const WATCHING: [&str; 3] = ["single", "ha", "agent"];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Every object of one overlay, as kubectl kustomize renders it.
#[derive(Default)]
struct Rendered {
    namespaces: Vec<Namespace>,
    service_accounts: Vec<ServiceAccount>,
    cluster_roles: Vec<ClusterRole>,
    bindings: Vec<ClusterRoleBinding>,
    config_maps: Vec<ConfigMap>,
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    network_policies: Vec<NetworkPolicy>,
    budgets: Vec<PodDisruptionBudget>,
    claims: Vec<PersistentVolumeClaim>,
}

/// Parses `value` as `T` and checks that writing it back gives the same document: a field
/// the type does not know (a typo, a wrong level) would be lost on the way.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(value: &Value, what: &str) -> T {
    let parsed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what} does not parse: {e}\n{value:#}"));
    let back = serde_json::to_value(&parsed).expect("serialize");
    assert_eq!(&back, value, "{what}: fields lost or changed when parsed");
    parsed
}

fn render(overlay: &str) -> Rendered {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(deploy_dir().join("overlays").join(overlay))
        .output()
        .expect("kubectl is installed (scripts/test.sh checks)");
    assert!(
        out.status.success(),
        "kubectl kustomize {overlay}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut r = Rendered::default();
    for doc in yaml_serde::Deserializer::from_str(&text) {
        let value: Value = Value::deserialize(doc).expect("a YAML document");
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let what = format!("{overlay}: {kind} {}", value["metadata"]["name"]);
        match kind.as_str() {
            "Namespace" => r.namespaces.push(typed(&value, &what)),
            "ServiceAccount" => r.service_accounts.push(typed(&value, &what)),
            "ClusterRole" => r.cluster_roles.push(typed(&value, &what)),
            "ClusterRoleBinding" => r.bindings.push(typed(&value, &what)),
            "ConfigMap" => r.config_maps.push(typed(&value, &what)),
            "Deployment" => r.deployments.push(typed(&value, &what)),
            "Service" => r.services.push(typed(&value, &what)),
            "NetworkPolicy" => r.network_policies.push(typed(&value, &what)),
            "PodDisruptionBudget" => r.budgets.push(typed(&value, &what)),
            "PersistentVolumeClaim" => r.claims.push(typed(&value, &what)),
            other => panic!("{overlay}: unexpected kind {other}"),
        }
    }
    r
}

fn one<'a, T>(items: &'a [T], what: &str) -> &'a T {
    assert_eq!(items.len(), 1, "exactly one {what}");
    &items[0]
}

#[test]
fn every_overlay_grants_exactly_what_the_watcher_calls() {
    let want: BTreeSet<(String, String, String)> = WATCHER_CALLS
        .iter()
        .flat_map(|(group, resource, verbs)| {
            verbs
                .iter()
                .map(|v| (group.to_string(), resource.to_string(), v.to_string()))
        })
        .collect();
    for overlay in WATCHING {
        let r = render(overlay);
        let role = one(&r.cluster_roles, "ClusterRole");
        let mut granted = BTreeSet::new();
        for rule in role.rules.as_deref().unwrap_or_default() {
            assert!(
                rule.resource_names.is_none() && rule.non_resource_urls.is_none(),
                "{overlay}: {rule:?}"
            );
            for group in rule.api_groups.as_deref().unwrap_or_default() {
                for resource in rule.resources.as_deref().unwrap_or_default() {
                    for verb in &rule.verbs {
                        assert!(
                            !group.contains('*') && !resource.contains('*') && verb != "*",
                            "{overlay}: no wildcards"
                        );
                        granted.insert((group.clone(), resource.clone(), verb.clone()));
                    }
                }
            }
        }
        assert_eq!(granted, want, "{overlay}: RBAC rules");

        // Bound to the ServiceAccount the pods run as.
        let binding = one(&r.bindings, "ClusterRoleBinding");
        assert_eq!(binding.role_ref.kind, "ClusterRole");
        assert_eq!(
            binding.role_ref.name,
            role.metadata.name.clone().unwrap_or_default()
        );
        let sa = one(&r.service_accounts, "ServiceAccount");
        let deployment = one(&r.deployments, "Deployment");
        let pod = deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("a pod spec");
        assert_eq!(pod.service_account_name, sa.metadata.name, "{overlay}");
        let subjects = binding.subjects.as_deref().unwrap_or_default();
        assert_eq!(subjects.len(), 1, "{overlay}");
        assert_eq!(subjects[0].kind, "ServiceAccount");
        assert_eq!(Some(&subjects[0].name), sa.metadata.name.as_ref());
        assert_eq!(subjects[0].namespace, sa.metadata.namespace, "{overlay}");
    }
}

/// The NATS consumers never call the Kubernetes API: no role, no binding, no token mounted.
#[test]
fn the_central_consumers_get_no_kubernetes_api_access() {
    let r = render("central");
    assert!(r.cluster_roles.is_empty(), "no ClusterRole");
    assert!(r.bindings.is_empty(), "no ClusterRoleBinding");
    let pod = one(&r.deployments, "Deployment")
        .spec
        .clone()
        .and_then(|s| s.template.spec)
        .expect("a pod spec");
    assert_eq!(pod.automount_service_account_token, Some(false));
}

#[test]
fn pods_are_probed_limited_non_root_and_read_only() {
    for overlay in OVERLAYS {
        let r = render(overlay);
        let deployment = one(&r.deployments, "Deployment");
        let spec = deployment.spec.as_ref().expect("spec");
        let pod = spec.template.spec.as_ref().expect("pod spec");
        let pod_security = pod.security_context.as_ref().expect("pod securityContext");
        assert_eq!(pod_security.run_as_non_root, Some(true), "{overlay}");
        assert!(pod_security.run_as_user.is_some_and(|u| u > 0), "{overlay}");
        let c = one(&pod.containers, "container");
        let security = c.security_context.as_ref().expect("securityContext");
        assert_eq!(security.read_only_root_filesystem, Some(true), "{overlay}");
        assert_eq!(
            security.allow_privilege_escalation,
            Some(false),
            "{overlay}"
        );
        let dropped = security
            .capabilities
            .as_ref()
            .and_then(|c| c.drop.clone())
            .unwrap_or_default();
        assert_eq!(dropped, ["ALL"], "{overlay}");
        for (probe, path) in [
            (&c.liveness_probe, "/healthz"),
            (&c.readiness_probe, "/readyz"),
        ] {
            let get = probe
                .as_ref()
                .and_then(|p| p.http_get.as_ref())
                .unwrap_or_else(|| panic!("{overlay}: {path} probe"));
            assert_eq!(get.path.as_deref(), Some(path), "{overlay}");
        }
        let resources = c.resources.as_ref().expect("resources");
        for key in ["cpu", "memory"] {
            assert!(
                resources
                    .requests
                    .as_ref()
                    .is_some_and(|r| r.contains_key(key)),
                "{overlay}: {key} request"
            );
        }
        assert!(
            resources
                .limits
                .as_ref()
                .is_some_and(|l| l.contains_key("memory")),
            "{overlay}: memory limit"
        );
        // Writable paths are volumes: the data (spool, SQLite) and /tmp.
        let mounts: BTreeSet<&str> = c
            .volume_mounts
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|m| m.mount_path.as_str())
            .collect();
        assert!(mounts.contains("/var/lib/kubetrail") && mounts.contains("/tmp"));

        // The Service, the NetworkPolicy and the budget select these pods.
        let labels = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let selects = |selector: &std::collections::BTreeMap<String, String>| {
            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        };
        let service = one(&r.services, "Service");
        let selector = service
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        assert!(
            !selector.is_empty() && selects(&selector),
            "{overlay}: Service selector"
        );
        let policy = one(&r.network_policies, "NetworkPolicy");
        let spec_np = policy.spec.as_ref().expect("policy spec");
        assert!(
            selects(
                &spec_np
                    .pod_selector
                    .as_ref()
                    .and_then(|s| s.match_labels.clone())
                    .unwrap_or_default()
            ),
            "{overlay}: NetworkPolicy selector"
        );
        let budget = one(&r.budgets, "PodDisruptionBudget");
        let selector = budget
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_default();
        assert!(
            !selector.is_empty() && selects(&selector),
            "{overlay}: PDB selector"
        );
    }
}

#[test]
fn overlays_differ_as_documented() {
    let single = render("single");
    let d = one(&single.deployments, "Deployment")
        .spec
        .clone()
        .expect("spec");
    assert_eq!(d.replicas, Some(1));
    assert_eq!(
        d.strategy.and_then(|s| s.type_).as_deref(),
        Some("Recreate")
    );
    let volumes = d.template.spec.and_then(|p| p.volumes).unwrap_or_default();
    let data = volumes
        .iter()
        .find(|v| v.name == "data")
        .expect("data volume");
    let claim = data.persistent_volume_claim.as_ref().expect("on a PVC");
    assert_eq!(
        Some(&claim.claim_name),
        one(&single.claims, "PVC").metadata.name.as_ref()
    );

    let ha = render("ha");
    let d = one(&ha.deployments, "Deployment")
        .spec
        .clone()
        .expect("spec");
    assert_eq!(d.replicas, Some(2));
    let c = d.template.spec.expect("pod").containers.remove(0);
    let args = c.args.unwrap_or_default();
    assert!(args.iter().any(|a| a == "--leader-elect"), "{args:?}");
    assert_postgres_url_from_a_secret(c.env.unwrap_or_default());
    let budget = one(&ha.budgets, "PDB").spec.clone().expect("spec");
    assert_eq!(
        budget.min_available,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
    );

    let agent = render("agent");
    let d = one(&agent.deployments, "Deployment")
        .spec
        .clone()
        .expect("spec");
    let args = d.template.spec.expect("pod").containers[0]
        .args
        .clone()
        .unwrap_or_default();
    assert_eq!(args.first().map(String::as_str), Some("agent"));
    assert!(
        args.iter().any(|a| a.starts_with("--nats-url=")),
        "{args:?}"
    );
    let central = render("central");
    let d = one(&central.deployments, "Deployment")
        .spec
        .clone()
        .expect("spec");
    assert_eq!(d.replicas, Some(2));
    let c = d.template.spec.expect("pod").containers.remove(0);
    let args = c.args.unwrap_or_default();
    assert_eq!(args.first().map(String::as_str), Some("run"));
    assert!(
        !args.iter().any(|a| a == "--leader-elect"),
        "consumers share a durable consumer, no leader: {args:?}"
    );
    assert_postgres_url_from_a_secret(c.env.unwrap_or_default());
    let config = one(&central.config_maps, "ConfigMap")
        .data
        .clone()
        .and_then(|d| d.get("kubetrail.yaml").cloned())
        .expect("kubetrail.yaml");
    assert!(config.contains("sources: [nats]"), "{config}");
}

/// `KUBETRAIL_POSTGRES_URL` is set from a Secret, never written in the manifest.
fn assert_postgres_url_from_a_secret(env: Vec<k8s_openapi::api::core::v1::EnvVar>) {
    let url = env
        .iter()
        .find(|e| e.name == "KUBETRAIL_POSTGRES_URL")
        .expect("the PostgreSQL URL");
    assert!(url.value.is_none(), "from a Secret, not in the manifest");
    assert!(
        url.value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
            .is_some()
    );
}

/// The config each overlay mounts is accepted by kubetrail (unknown fields are errors).
#[test]
fn the_mounted_configs_are_valid_kubetrail_configs() {
    for overlay in OVERLAYS {
        let r = render(overlay);
        let cm = one(&r.config_maps, "ConfigMap");
        let text = cm
            .data
            .as_ref()
            .and_then(|d| d.get("kubetrail.yaml"))
            .expect("kubetrail.yaml");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("kubetrail.yaml");
        std::fs::write(&file, text).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .arg("--config")
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["status", "-o", "json"])
            .env_remove("KUBETRAIL_POSTGRES_URL")
            .output()
            .expect("kubetrail runs");
        assert!(
            out.status.success(),
            "{overlay}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The arguments of the pods (`run`, and `agent`) are accepted by kubetrail's command line.
#[test]
fn the_pod_arguments_are_accepted() {
    for overlay in OVERLAYS {
        let r = render(overlay);
        let d = one(&r.deployments, "Deployment")
            .spec
            .clone()
            .expect("spec");
        let args = d.template.spec.expect("pod").containers[0]
            .args
            .clone()
            .unwrap_or_default();
        let out = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .args(&args)
            .arg("--help")
            .output()
            .expect("kubetrail runs");
        assert!(
            out.status.success(),
            "{overlay}: {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
