//! The Kubernetes manifests of `deploy/`: every overlay rendered with the installed
//! `kubectl kustomize`, every document parsed with the k8s-openapi types (and written back
//! unchanged, so no field is misspelled), the RBAC rules exactly what the watcher calls, the
//! pods hardened and probed, the config they mount accepted by kubetrail, and the arguments
//! they pass accepted by its command line; every namespaced object in kubetrail's namespace,
//! the Lease granted only where a leader is elected, and the first-run story of
//! `deploy/README.md` (an admin token from a Secret, `/metrics` on its own port) driven against
//! the real binary with the rendered config.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::kustomize::*;
use common::services::{Running, free_port, http_get, wait_for};
use k8s_openapi::api::rbac::v1::PolicyRule;

/// What the watcher calls cluster-wide, as (API group, resource, verb): the Event watch
/// (events.k8s.io/v1, or core/v1 where that is not served:
/// `kubetrail-source/src/watch/events.rs`) and the owner and placement reflectors
/// (`watch/owners.rs`: Pods; ReplicaSets and Jobs metadata-only; Nodes).
const WATCHER_CALLS: &[(&str, &str, &[&str])] = &[
    ("events.k8s.io", "events", &["get", "list", "watch"]),
    ("", "events", &["get", "list", "watch"]),
    ("", "pods", &["get", "list", "watch"]),
    ("", "nodes", &["get", "list", "watch"]),
    ("apps", "replicasets", &["list", "watch"]),
    ("batch", "jobs", &["list", "watch"]),
];

/// What `run`'s change watches call besides (`kubetrail-source/src/watch/changes.rs`, the
/// config's default `changes:`; Nodes are already in [`WATCHER_CALLS`]). Agents track none.
const CHANGE_CALLS: &[(&str, &str, &[&str])] = &[
    ("apps", "deployments", &["list", "watch"]),
    ("apps", "statefulsets", &["list", "watch"]),
    ("apps", "daemonsets", &["list", "watch"]),
    ("batch", "cronjobs", &["list", "watch"]),
    (
        "autoscaling",
        "horizontalpodautoscalers",
        &["list", "watch"],
    ),
    ("", "configmaps", &["list", "watch"]),
];

/// Leader election (`kubetrail-source/src/leader.rs`): get, create and replace the Lease, in
/// the `--lease-namespace` only.
const LEASE_CALLS: &[&str] = &["get", "create", "update"];

/// The overlays whose pods run `--leader-elect`.
const ELECTING: [&str; 2] = ["ha", "agent"];

/// The overlays whose pods watch clusters (`central` only consumes NATS).
const WATCHING: [&str; 3] = ["single", "ha", "agent"];

#[test]
fn every_overlay_grants_exactly_what_the_watcher_calls() {
    let calls = |list: &[(&str, &str, &[&str])]| -> BTreeSet<(String, String, String)> {
        list.iter()
            .flat_map(|(group, resource, verbs)| {
                verbs
                    .iter()
                    .map(|v| (group.to_string(), resource.to_string(), v.to_string()))
            })
            .collect()
    };
    for overlay in WATCHING {
        let mut want = calls(WATCHER_CALLS);
        if overlay != "agent" {
            want.extend(calls(CHANGE_CALLS));
        }
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
    // Two agents, one leader: the other takes over without a gap in watching.
    assert_eq!(d.replicas, Some(2));
    assert!(args.iter().any(|a| a == "--leader-elect"), "{args:?}");
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

/// The config each overlay mounts is accepted by kubetrail (unknown fields are errors), read
/// from the directory the pod sees: the admin token file it names is the Secret item
/// projected next to it (kubetrail fails to start when the file is missing).
#[test]
fn the_mounted_configs_are_valid_kubetrail_configs() {
    for overlay in OVERLAYS {
        let r = render(overlay);
        let dir = tempfile::tempdir().expect("tempdir");
        let (file, secrets) = config_dir(&r, dir.path(), "test-admin-token-0123456789");
        // The agent stores nothing and serves no API: it needs no admin Secret.
        let want: &[&str] = if overlay == "agent" {
            &[]
        } else {
            &["kubetrail-admin"]
        };
        assert_eq!(secrets, want, "{overlay}");
        // A store to read (read-only commands never create one): an empty import makes it,
        // with the same config, then `status` reads it.
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, r#"{"kind":"EventList","items":[]}"#).expect("write");
        for args in [
            vec!["import", empty.to_str().expect("utf-8 path")],
            vec!["status", "-o", "json"],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
                .arg("--config")
                .arg(&file)
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .args(&args)
                .env_remove("KUBETRAIL_POSTGRES_URL")
                .output()
                .expect("kubetrail runs");
            assert!(
                out.status.success(),
                "{overlay}: kubetrail {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Writes the directory the pod reads its config from into `dir`, as the pod sees it: the
/// ConfigMap's `kubetrail.yaml` and, for each Secret projected next to it, its items holding
/// `secret`. Returns the config file and the Secrets the pod needs.
fn config_dir(r: &Rendered, dir: &Path, secret: &str) -> (PathBuf, Vec<String>) {
    let (pod, container) = r.pod();
    let args = r.args();
    let config = Path::new(flag(&args, "--config").expect("--config"));
    let mount = container
        .volume_mounts
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|m| config.starts_with(&m.mount_path))
        .expect("the config file is on a mounted volume");
    let volume = pod
        .volumes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|v| v.name == mount.name)
        .expect("the mounted volume");
    let config_map = one(&r.config_maps, "ConfigMap").metadata.name.clone();
    let mut secrets = Vec::new();
    if let Some(projected) = &volume.projected {
        for source in projected.sources.as_deref().unwrap_or_default() {
            if let Some(cm) = &source.config_map {
                assert_eq!(Some(&cm.name), config_map.as_ref());
            }
            if let Some(s) = &source.secret {
                secrets.push(s.name.clone());
                for item in s.items.as_deref().unwrap_or_default() {
                    std::fs::write(dir.join(&item.path), secret).expect("write");
                }
            }
        }
    } else {
        let cm = volume.config_map.as_ref().expect("a ConfigMap volume");
        assert_eq!(Some(&cm.name), config_map.as_ref());
    }
    let file = dir.join(
        config
            .strip_prefix(&mount.mount_path)
            .expect("under the mount"),
    );
    std::fs::write(&file, r.config()).expect("write");
    (file, secrets)
}

/// Issue 16: the `single` overlay's PVC rendered without a namespace, so it landed in the
/// current namespace and the pod stayed Pending. Every namespaced object of every overlay is
/// in kubetrail's namespace, the cluster-scoped ones have none, and the bindings name the
/// ServiceAccount there.
#[test]
fn every_namespaced_object_is_in_kubetrails_namespace() {
    for overlay in OVERLAYS {
        assert_in_namespace(&render(overlay), overlay);
    }
}

/// Issue 16: the Lease permission was in the ClusterRole, cluster-wide, for `single` too,
/// which never elects a leader. Now only the overlays running `--leader-elect` get it: a Role
/// in the Lease's namespace, for the Lease they name (create cannot be narrowed to a name),
/// bound to the pods' ServiceAccount.
#[test]
fn the_lease_is_granted_only_where_a_leader_is_elected_in_its_namespace() {
    for overlay in OVERLAYS {
        let r = render(overlay);
        let args = r.args();
        let elects = args.iter().any(|a| a == "--leader-elect");
        assert_eq!(elects, ELECTING.contains(&overlay), "{overlay}: {args:?}");
        for role in &r.cluster_roles {
            for rule in role.rules.as_deref().unwrap_or_default() {
                let resources = rule.resources.as_deref().unwrap_or_default();
                assert!(
                    !resources.iter().any(|r| r == "leases"),
                    "{overlay}: no Lease cluster-wide"
                );
            }
        }
        if !elects {
            assert!(r.roles.is_empty(), "{overlay}: no Role");
            assert!(r.role_bindings.is_empty(), "{overlay}: no RoleBinding");
            continue;
        }
        let namespace = flag(&args, "--lease-namespace").expect("--lease-namespace");
        assert_eq!(namespace, NAMESPACE, "{overlay}");
        let name = flag(&args, "--lease-name").unwrap_or("kubetrail");
        let role = one(&r.roles, "Role");
        assert_eq!(role.metadata.namespace.as_deref(), Some(namespace));
        let granted = grants(role.rules.as_deref().unwrap_or_default());
        let want: BTreeSet<_> = LEASE_CALLS
            .iter()
            .map(|verb| {
                let names = (*verb != "create").then(|| vec![name.to_string()]);
                (
                    "coordination.k8s.io".to_string(),
                    "leases".to_string(),
                    verb.to_string(),
                    names,
                )
            })
            .collect();
        assert_eq!(granted, want, "{overlay}: the Role");
        let binding = one(&r.role_bindings, "RoleBinding");
        assert_eq!(binding.metadata.namespace.as_deref(), Some(namespace));
        assert_eq!(binding.role_ref.kind, "Role");
        assert_eq!(Some(&binding.role_ref.name), role.metadata.name.as_ref());
        let sa = one(&r.service_accounts, "ServiceAccount");
        assert_eq!(
            r.pod().0.service_account_name,
            sa.metadata.name,
            "{overlay}"
        );
        let subjects = binding.subjects.as_deref().unwrap_or_default();
        assert_eq!(subjects.len(), 1, "{overlay}");
        assert_eq!(subjects[0].kind, "ServiceAccount");
        assert_eq!(
            Some(&subjects[0].name),
            sa.metadata.name.as_ref(),
            "{overlay}"
        );
    }
}

/// (group, resource, verb, resource names) of every rule.
fn grants(rules: &[PolicyRule]) -> BTreeSet<(String, String, String, Option<Vec<String>>)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for group in rule.api_groups.as_deref().unwrap_or_default() {
            for resource in rule.resources.as_deref().unwrap_or_default() {
                for verb in &rule.verbs {
                    out.insert((
                        group.clone(),
                        resource.clone(),
                        verb.clone(),
                        rule.resource_names.clone(),
                    ));
                }
            }
        }
    }
    out
}

/// `serve.metrics_listen` of each overlay's config is the port the pod declares as `metrics`,
/// annotates for Prometheus, the Service exposes and the NetworkPolicy lets in.
#[test]
fn metrics_have_their_own_port_in_every_overlay() {
    for overlay in OVERLAYS {
        let r = render(overlay);
        let config: yaml_serde::Value = yaml_serde::from_str(&r.config()).expect("yaml");
        let listen = config["serve"]["metrics_listen"]
            .as_str()
            .unwrap_or_else(|| panic!("{overlay}: serve.metrics_listen"));
        let port: i32 = listen
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .expect("a port");
        assert_metrics_port(&r, overlay, port);
    }
}

fn assert_metrics_port(r: &Rendered, overlay: &str, port: i32) {
    let (_, container) = r.pod();
    let declared = container
        .ports
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|p| p.name.as_deref() == Some("metrics"))
        .unwrap_or_else(|| panic!("{overlay}: a container port named metrics"));
    assert_eq!(declared.container_port, port, "{overlay}");
    let annotations: BTreeMap<String, String> = one(&r.deployments, "Deployment")
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    let annotation = |k: &str| annotations.get(k).map(String::as_str);
    assert_eq!(
        annotation("prometheus.io/scrape"),
        Some("true"),
        "{overlay}"
    );
    assert_eq!(
        annotation("prometheus.io/port"),
        Some(port.to_string().as_str())
    );
    assert_eq!(
        annotation("prometheus.io/path"),
        Some("/metrics"),
        "{overlay}"
    );
    let service = one(&r.services, "Service");
    let exposed = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.name.as_deref() == Some("metrics"))
        .unwrap_or_else(|| panic!("{overlay}: a Service port named metrics"));
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    assert_eq!(
        exposed.target_port,
        Some(IntOrString::String("metrics".into())),
        "{overlay}"
    );
    let policy = one(&r.network_policies, "NetworkPolicy");
    let allowed: Vec<IntOrString> = policy
        .spec
        .as_ref()
        .and_then(|s| s.ingress.clone())
        .unwrap_or_default()
        .into_iter()
        .flat_map(|rule| rule.ports.unwrap_or_default())
        .filter_map(|p| p.port)
        .collect();
    assert!(
        allowed.contains(&IntOrString::Int(port)),
        "{overlay}: the NetworkPolicy lets Prometheus in: {allowed:?}"
    );
}

/// Issue 16: the `single` overlay listened on 0.0.0.0 with no tenants, so the UI, the API and
/// `/metrics` all answered 401 and nothing said how to get in. The README's first run, with
/// the rendered config and the real binary: the admin token from the Secret opens the API,
/// `/metrics` answers without a token on the metrics port, and the API refuses a request
/// without a token or with another one.
#[test]
fn the_first_run_admin_token_opens_the_api_and_metrics_need_none() {
    const TOKEN: &str = "first-run-admin-token-0123456789";
    let r = render("single");
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, secrets) = config_dir(&r, dir.path(), TOKEN);
    assert_eq!(secrets, ["kubetrail-admin"]);
    // As in the pod, on loopback ports of this test.
    let mut config: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(&file).expect("read")).expect("yaml");
    let (api, metrics) = (free_port(), free_port());
    config["serve"]["listen"] = format!("127.0.0.1:{api}").into();
    config["serve"]["metrics_listen"] = format!("127.0.0.1:{metrics}").into();
    std::fs::write(&file, yaml_serde::to_string(&config).expect("yaml")).expect("write");
    let _server = Running(
        Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .arg("--config")
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubetrail serve starts"),
    );
    wait_for("kubetrail serve", Duration::from_secs(60), || {
        http_get(metrics, "/healthz", None).is_some() && http_get(api, "/healthz", None).is_some()
    });

    let (status, body) = http_get(metrics, "/metrics", None).expect("an answer");
    assert_eq!(status, 200, "no token on the metrics port: {body}");
    assert!(body.contains("kubetrail_http_requests"), "{body}");
    let (status, _) = http_get(metrics, "/api/v1/events", Some(TOKEN)).expect("an answer");
    assert_eq!(status, 404, "the API is not on the metrics port");

    let (status, _) = http_get(api, "/api/v1/events", None).expect("an answer");
    assert_eq!(status, 401, "the API wants a token");
    let (status, _) = http_get(api, "/metrics", None).expect("an answer");
    assert_eq!(status, 401, "so does /metrics on the API port");
    let (status, _) = http_get(
        api,
        "/api/v1/events",
        Some("someone-elses-token-0123456789"),
    )
    .expect("an answer");
    assert_eq!(status, 401, "another token");
    for path in ["/api/v1/events", "/api/v1/me", "/metrics"] {
        let (status, body) = http_get(api, path, Some(TOKEN)).expect("an answer");
        assert_eq!(status, 200, "{path} with the admin token: {body}");
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
