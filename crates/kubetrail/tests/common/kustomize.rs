//! The manifests of `deploy/` as `kubectl kustomize` renders them, every document parsed with
//! the k8s-openapi types (and written back unchanged, so no field is misspelled); shared by
//! `tests/deploy.rs` and `tests/deploy_monitoring.rs`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PersistentVolumeClaim, PodSpec, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Deserialize;
use serde_json::Value;

pub const OVERLAYS: [&str; 4] = ["single", "ha", "agent", "central"];

/// kubetrail's namespace: every namespaced object of every overlay is in it.
pub const NAMESPACE: &str = "kubetrail";

/// Kinds without a namespace.
pub const CLUSTER_SCOPED: [&str; 3] = ["Namespace", "ClusterRole", "ClusterRoleBinding"];

pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Every object of one overlay, as kubectl kustomize renders it.
#[derive(Default)]
pub struct Rendered {
    pub namespaces: Vec<Namespace>,
    pub service_accounts: Vec<ServiceAccount>,
    pub cluster_roles: Vec<ClusterRole>,
    pub bindings: Vec<ClusterRoleBinding>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    pub config_maps: Vec<ConfigMap>,
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
    pub network_policies: Vec<NetworkPolicy>,
    pub budgets: Vec<PodDisruptionBudget>,
    pub claims: Vec<PersistentVolumeClaim>,
    /// Prometheus Operator objects (no k8s-openapi type), as rendered.
    pub monitors: Vec<Value>,
    pub rules: Vec<Value>,
    /// Every document as rendered, with its kind.
    pub all: Vec<Value>,
}

/// Parses `value` as `T` and checks that writing it back gives the same document: a field
/// the type does not know (a typo, a wrong level) would be lost on the way.
pub fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(value: &Value, what: &str) -> T {
    let parsed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what} does not parse: {e}\n{value:#}"));
    let back = serde_json::to_value(&parsed).expect("serialize");
    assert_eq!(&back, value, "{what}: fields lost or changed when parsed");
    parsed
}

pub fn render(overlay: &str) -> Rendered {
    render_dir(&deploy_dir().join("overlays").join(overlay), overlay)
}

/// Renders the kustomization in `dir` (`overlay` names it in messages).
pub fn render_dir(dir: &Path, overlay: &str) -> Rendered {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
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
            "Role" => r.roles.push(typed(&value, &what)),
            "RoleBinding" => r.role_bindings.push(typed(&value, &what)),
            "ServiceMonitor" => r.monitors.push(value.clone()),
            "PrometheusRule" => r.rules.push(value.clone()),
            "ConfigMap" => r.config_maps.push(typed(&value, &what)),
            "Deployment" => r.deployments.push(typed(&value, &what)),
            "Service" => r.services.push(typed(&value, &what)),
            "NetworkPolicy" => r.network_policies.push(typed(&value, &what)),
            "PodDisruptionBudget" => r.budgets.push(typed(&value, &what)),
            "PersistentVolumeClaim" => r.claims.push(typed(&value, &what)),
            other => panic!("{overlay}: unexpected kind {other}"),
        }
        r.all.push(value);
    }
    r
}

pub fn one<'a, T>(items: &'a [T], what: &str) -> &'a T {
    assert_eq!(items.len(), 1, "exactly one {what}");
    &items[0]
}

impl Rendered {
    /// The one Deployment's pod and its one container.
    pub fn pod(&self) -> (&PodSpec, &Container) {
        let d = one(&self.deployments, "Deployment");
        let pod = d
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("a pod spec");
        (pod, one(&pod.containers, "container"))
    }

    /// The container's arguments.
    pub fn args(&self) -> Vec<String> {
        self.pod().1.args.clone().unwrap_or_default()
    }

    /// `kubetrail.yaml` of the one ConfigMap.
    pub fn config(&self) -> String {
        one(&self.config_maps, "ConfigMap")
            .data
            .as_ref()
            .and_then(|d| d.get("kubetrail.yaml"))
            .cloned()
            .expect("kubetrail.yaml")
    }
}

/// The value of `--name=value` or `--name value` in `args`.
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        if a == name {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(name).and_then(|v| v.strip_prefix('='))
        }
    })
}

/// Every namespaced object is in kubetrail's namespace, the cluster-scoped ones have none,
/// and the bindings name the ServiceAccount there.
pub fn assert_in_namespace(r: &Rendered, overlay: &str) {
    assert_eq!(
        one(&r.namespaces, "Namespace").metadata.name.as_deref(),
        Some(NAMESPACE)
    );
    for doc in &r.all {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let what = format!("{overlay}: {kind} {}", doc["metadata"]["name"]);
        let namespace = doc["metadata"]["namespace"].as_str();
        if CLUSTER_SCOPED.contains(&kind) {
            assert_eq!(namespace, None, "{what}");
        } else {
            assert_eq!(namespace, Some(NAMESPACE), "{what}");
        }
        for subject in doc["subjects"].as_array().into_iter().flatten() {
            assert_eq!(subject["namespace"].as_str(), Some(NAMESPACE), "{what}");
        }
    }
}
