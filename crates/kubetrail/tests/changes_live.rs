//! Change tracking end to end (issue 15): the real `kubetrail run` against the simulator, whose
//! change scenarios make a change through the API (with a field manager) and then fail. Each
//! change is recorded once, with its diff and manager; values of ConfigMaps never show; a flood
//! of status updates records nothing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kubetrail_model::{Change, ChangeFilter, ChangeOp};
use kubetrail_sim::{Pace, Scenario, SimHandle, Simulator, run_scenario};
use kubetrail_store::{ChangeStore, EventSink, SqliteStore};

const WAIT: Duration = Duration::from_secs(90);

struct Run(Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_run(dir: &Path, sim: &SimHandle) -> Run {
    let kubeconfig = dir.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let log = std::fs::File::create(dir.join("run.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["run", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(&kubeconfig)
        .env("KUBETRAIL_LOG", "info")
        .env_remove("KUBETRAIL_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("kubetrail run starts");
    Run(child)
}

fn store(dir: &Path) -> Option<Arc<SqliteStore>> {
    SqliteStore::open_read_only(dir.join("data/kubetrail.db"))
        .ok()
        .map(Arc::new)
}

async fn changes_of(store: &SqliteStore, kind: &str, name: &str) -> Vec<Change> {
    let filter = ChangeFilter {
        kinds: vec![kind.into()],
        names: vec![name.into()],
        ..ChangeFilter::default()
    };
    let mut found = store.changes(&filter).await.expect("changes");
    found.reverse();
    found
}

fn lines(c: &Change) -> Vec<String> {
    c.fields.iter().map(ToString::to_string).collect()
}

/// Waits until `kind/name` has at least `n` changes, then returns them oldest first.
async fn wait_changes(dir: &Path, kind: &str, name: &str, n: usize) -> Vec<Change> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(s) = store(dir) {
            let found = changes_of(&s, kind, name).await;
            if found.len() >= n {
                return found;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} changes of {kind}/{name}: {}",
            std::fs::read_to_string(dir.join("run.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every default change stream has stored its first cursor (listed).
async fn wait_synced(dir: &Path) {
    let deadline = tokio::time::Instant::now() + WAIT;
    'streams: for stream in [
        "deployments",
        "nodes",
        "configmaps",
        "horizontalpodautoscalers",
    ] {
        loop {
            if let Some(s) = store(dir)
                && s.cursor("kubetrail-sim", &format!("changes/{stream}"))
                    .await
                    .ok()
                    .flatten()
                    .is_some()
            {
                continue 'streams;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "change stream {stream} never synced: {}",
                std::fs::read_to_string(dir.join("run.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_scenario_records_its_change_with_diff_and_manager() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let _run = start_run(dir.path(), &sim);
    wait_synced(dir.path()).await;
    for scenario in [
        Scenario::BadRollout,
        Scenario::ConfigChange,
        Scenario::NodeDrain,
        Scenario::HpaLimit,
    ] {
        run_scenario(&sim, scenario, Pace::instant())
            .await
            .expect("scenario");
    }

    // A bad rollout, then its rollback: two changes of the image, each by its manager.
    let cart = wait_changes(dir.path(), "Deployment", "cart", 3).await;
    let updates: Vec<&Change> = cart.iter().filter(|c| c.op == ChangeOp::Updated).collect();
    assert_eq!(cart[0].op, ChangeOp::Created, "{cart:#?}");
    assert_eq!(
        lines(updates[0]),
        ["containers[cart].image: ghcr.io/acme/cart:1.8.0 → ghcr.io/acme/cart:1.9.0"]
    );
    assert_eq!(
        updates[0].manager.as_deref(),
        Some("kubectl-client-side-apply")
    );
    assert_eq!(
        lines(updates[1]),
        ["containers[cart].image: ghcr.io/acme/cart:1.9.0 → ghcr.io/acme/cart:1.8.0"]
    );
    assert_eq!(updates[1].manager.as_deref(), Some("kubectl-rollout"));
    assert_eq!(updates[0].object.namespace, "store");

    // A ConfigMap edit: the key's hash changes, its value shows nowhere.
    let config = wait_changes(dir.path(), "ConfigMap", "invoicer-config", 2).await;
    let edit = config.last().expect("the edit");
    assert_eq!(edit.op, ChangeOp::Updated);
    assert_eq!(edit.manager.as_deref(), Some("kubectl-edit"));
    assert_eq!(edit.fields.len(), 1);
    assert_eq!(edit.fields[0].path, "data.invoicer.yaml");
    let json = serde_json::to_string(&config).expect("json");
    assert!(!json.contains("rate_limit"), "{json}");
    // The workload says which ConfigMap it uses.
    let invoicer = wait_changes(dir.path(), "Deployment", "invoicer", 1).await;
    assert!(
        invoicer[0]
            .references
            .iter()
            .any(|r| r.kind == "ConfigMap" && r.name == "invoicer-config"),
        "{invoicer:#?}"
    );

    // A cordon and drain (the node stays cordoned: the pinned replacement cannot be scheduled).
    let node = wait_changes(dir.path(), "Node", "worker-4", 2).await;
    let cordon = node
        .iter()
        .find(|c| lines(c).contains(&"scheduling: schedulable → cordoned".to_string()))
        .unwrap_or_else(|| panic!("no cordon in {node:#?}"));
    assert_eq!(cordon.manager.as_deref(), Some("kubectl-cordon"));

    // The HPA's maximum lowered, and the scale-down it caused.
    let hpa = wait_changes(dir.path(), "HorizontalPodAutoscaler", "query", 2).await;
    let lowered = hpa.last().expect("the edit");
    assert_eq!(lines(lowered), ["maxReplicas: 10 → 3"]);
    assert_eq!(lowered.manager.as_deref(), Some("kubectl-edit"));
    let query = wait_changes(dir.path(), "Deployment", "query", 2).await;
    let scaled = query.last().expect("the scale-down");
    assert_eq!(lines(scaled), ["replicas: 6 → 3"]);
    assert_eq!(scaled.manager.as_deref(), Some("horizontal-pod-autoscaler"));

    // A flood of status-only updates records nothing more.
    let before = changes_of(&store(dir.path()).expect("store"), "Deployment", "cart")
        .await
        .len();
    for i in 0..300 {
        let mut d: Deployment = sim.get(Some("store"), "cart").expect("get").expect("cart");
        let status = d.status.get_or_insert_with(Default::default);
        status.observed_generation = Some(i);
        status.ready_replicas = Some((i % 3) as i32);
        sim.replace_as(&d, "kube-controller-manager")
            .expect("status update");
    }
    // A later spec change is seen after the flood: the watch has read past it.
    let mut d: Deployment = sim.get(Some("store"), "cart").expect("get").expect("cart");
    d.spec.as_mut().expect("spec").replicas = Some(2);
    sim.replace_as(&d, "kubectl-scale").expect("scale");
    let after = wait_changes(dir.path(), "Deployment", "cart", before + 1).await;
    assert_eq!(after.len(), before + 1, "{after:#?}");
    assert_eq!(lines(after.last().expect("scale")), ["replicas: 1 → 2"]);
}

/// Peak RSS (VmHWM, KiB) of a process.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The memory benchmark of docs/BENCHMARKS.md (run by hand, `--ignored`): `run`'s peak RSS
/// once 10,000 Deployments and 10,000 ConfigMaps are listed and their states stored, with
/// change tracking and without (`changes: {enabled: false}`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: cargo test -p kubetrail --test changes_live -- --ignored --nocapture"]
async fn memory_with_ten_thousand_deployments_and_config_maps() {
    use k8s_openapi::api::core::v1::ConfigMap;
    let sim = Simulator::start().await.expect("sim");
    for i in 0..10_000 {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": format!("app-{i:05}"), "namespace": "bench"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [
                    {"name": "app", "image": format!("registry.example/app:{i}"),
                     "env": [{"name": "MODE", "value": "prod"}],
                     "resources": {"limits": {"memory": "256Mi"}}}]}}}
        }))
        .expect("deployment");
        sim.create(&d).expect("create");
        let c: ConfigMap = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("conf-{i:05}"), "namespace": "bench"},
            "data": {"app.conf": "x".repeat(512), "other": "y"}
        }))
        .expect("configmap");
        sim.create(&c).expect("create");
    }
    for (label, tracking) in [
        ("without change tracking", false),
        ("with change tracking", true),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("kubetrail.yaml");
        std::fs::write(
            &config,
            format!("changes:\n  enabled: {tracking}\n  resources: [deployments, configmaps]\n"),
        )
        .expect("config");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let log = std::fs::File::create(dir.path().join("run.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .args(["run", "--listen", "127.0.0.1:0", "--kubeconfig"])
            .arg(&kubeconfig)
            .env("KUBETRAIL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("run");
        let run = Run(child);
        let pid = run.0.id();
        let started = std::time::Instant::now();
        if tracking {
            wait_for_cursor(dir.path(), "changes/configmaps").await;
            wait_for_cursor(dir.path(), "changes/deployments").await;
        } else {
            wait_for_cursor(dir.path(), "events").await;
        }
        // Settled: what the listing allocated is the peak.
        tokio::time::sleep(Duration::from_secs(3)).await;
        println!(
            "{label}: peak RSS {} KiB, synced in {:.1} s",
            peak_rss_kib(pid),
            started.elapsed().as_secs_f64()
        );
        drop(run);
    }
}

async fn wait_for_cursor(dir: &Path, stream: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(s) = store(dir)
            && s.cursor("kubetrail-sim", stream)
                .await
                .ok()
                .flatten()
                .is_some()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{stream} never synced"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
