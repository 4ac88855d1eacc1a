//! Change tracking end to end (issue 15): the real `kubetrail run` against the simulator, whose
//! change scenarios make a change through the API (with a field manager) and then fail. Each
//! change is recorded once, with its diff and manager; values of ConfigMaps never show; a flood
//! of status updates records nothing.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::live_run::{bench_binaries, start_run, start_run_with};
use k8s_openapi::api::apps::v1::Deployment;
use kubetrail_model::{Change, ChangeFilter, ChangeOp};
use kubetrail_sim::{Pace, Scenario, Simulator, run_scenario};
use kubetrail_store::{ChangeStore, EventSink, SqliteStore};

const WAIT: Duration = Duration::from_secs(90);

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

/// The simulator's status storm (`SimHandle::status_storm`, what `kubetrail bench live --storm`
/// times) against the real `run`: thousands of status-only Deployment updates record no change,
/// and a spec change after them is recorded (the watch read past the storm).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_status_only_updates_records_no_change() {
    let sim = Simulator::start().await.expect("sim");
    for i in 0..20 {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": format!("app-{i:02}"), "namespace": "storm"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [
                    {"name": "app", "image": "registry.example/app:1"}]}}}
        }))
        .expect("deployment");
        sim.create(&d).expect("create");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let _run = start_run(dir.path(), &sim);
    wait_synced(dir.path()).await;

    let from = sim.resource_version();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm = {
        let (sim, stop) = (sim.clone(), stop.clone());
        tokio::spawn(async move { sim.status_storm("storm", 0, &stop).await })
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while sim.resource_version() < from + 3_000 {
        assert!(tokio::time::Instant::now() < deadline, "the storm stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let made = storm.await.expect("storm task").expect("storm");
    assert!(made >= 3_000, "{made} updates");
    // The watch skips status-only updates, but its cursor follows them (stored alone).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let cursor = match store(dir.path()) {
            Some(s) => s
                .cursor("kubetrail-sim", "changes/deployments")
                .await
                .ok()
                .flatten(),
            None => None,
        };
        let at: u64 = cursor.map_or(0, |c| c.resource_version.parse().unwrap_or(0));
        if at >= from + made {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cursor stayed at {at}, the storm ended at {}",
            from + made
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut d: Deployment = sim
        .get(Some("storm"), "app-07")
        .expect("get")
        .expect("app-07");
    d.spec.as_mut().expect("spec").replicas = Some(5);
    sim.replace_as(&d, "kubectl-scale").expect("scale");
    let changes = wait_changes(dir.path(), "Deployment", "app-07", 1).await;
    assert_eq!(lines(&changes[0]), ["replicas: 3 → 5"], "{changes:#?}");
    let filter = ChangeFilter {
        namespaces: vec!["storm".into()],
        ..ChangeFilter::default()
    };
    let all = store(dir.path())
        .expect("store")
        .changes(&filter)
        .await
        .expect("changes");
    assert_eq!(all.len(), 1, "the storm recorded changes: {all:#?}");
}

/// Regression (issue 15, Performance: `run` tracking 10,000 Deployments and 10,000 ConfigMaps
/// peaked 13–16 MB above the same run without tracking): mimalloc advises transparent huge
/// pages on its arena, so on a kernel that honours the advice every 2 MiB region the heap
/// touched became resident whole (16–18 MiB of `AnonHugePages` in `run`'s smaps at the peak).
/// `run` now turns transparent huge pages off for itself at start (docs/BENCHMARKS.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_keeps_its_heap_out_of_transparent_huge_pages() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let run = start_run(dir.path(), &sim);
    // Started: its Event watch has listed (the setting is made before the runtime starts).
    let deadline = tokio::time::Instant::now() + WAIT;
    while !std::fs::read_to_string(dir.path().join("run.log"))
        .unwrap_or_default()
        .contains("stream=events")
    {
        assert!(tokio::time::Instant::now() < deadline, "run never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", run.0.id())).expect("status");
    let Some(thp) = status.lines().find_map(|l| l.strip_prefix("THP_enabled:")) else {
        eprintln!("this kernel does not say whether a process may use transparent huge pages");
        return;
    };
    assert_eq!(
        thp.trim(),
        "0",
        "run may use transparent huge pages: {status}"
    );
}

/// A `/proc/PID/status` memory line (`VmHWM:`, `RssAnon:`…) in KiB; 0 once the process is gone.
fn rss_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
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
    // KUBETRAIL_BENCH_OBJECTS: Deployments and ConfigMaps each (default 10,000), to see how the
    // growth scales.
    let objects: usize = std::env::var("KUBETRAIL_BENCH_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    for i in 0..objects {
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
    let rounds: usize = std::env::var("KUBETRAIL_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let mut runs = Vec::new();
    for round in 1..=rounds {
        for binary in bench_binaries() {
            for (label, tracking) in [
                ("without change tracking", false),
                ("with change tracking", true),
            ] {
                runs.push((round, binary.clone(), label, tracking));
            }
        }
    }
    for (round, binary, label, tracking) in runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("kubetrail.yaml");
        std::fs::write(
            &config,
            format!("changes:\n  enabled: {tracking}\n  resources: [deployments, configmaps]\n"),
        )
        .expect("config");
        let run = start_run_with(dir.path(), &sim, Some(&config), &binary);
        let pid = run.0.id();
        let started = std::time::Instant::now();
        let mut peak_anon = 0;
        let streams: &[&str] = if tracking {
            &["changes/configmaps", "changes/deployments"]
        } else {
            &["events"]
        };
        for stream in streams {
            wait_listed(dir.path(), stream, pid, &mut peak_anon).await;
        }
        let synced = started.elapsed().as_secs_f64();
        // Settled: what the listing allocated is the peak (the tracker may still be storing
        // the last pages it was handed).
        let settle = tokio::time::Instant::now() + Duration::from_secs(3);
        while tokio::time::Instant::now() < settle {
            peak_anon = peak_anon.max(rss_kib(pid, "RssAnon:"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "round {round}, {}, {label}: peak RSS {} KiB, peak anonymous RSS (sampled every \
             100 ms) {peak_anon} KiB, synced in {synced:.1} s, load {}",
            binary.display(),
            rss_kib(pid, "VmHWM:"),
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim(),
        );
        drop(run);
    }
}

/// Waits until `run.log` says `stream` was listed (its last page handed over), sampling the
/// process's anonymous RSS meanwhile. The log, not the store, tells: another build's store may
/// have an older schema than this test reads.
async fn wait_listed(dir: &Path, stream: &str, pid: u32, peak_anon: &mut u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(900);
    let field = format!("stream={stream}");
    loop {
        *peak_anon = (*peak_anon).max(rss_kib(pid, "RssAnon:"));
        let log = std::fs::read_to_string(dir.join("run.log")).unwrap_or_default();
        if log.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.contains(&"listed") && words.contains(&field.as_str())
        }) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{stream} never listed: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
