//! Issue 15 §3 end to end: `kubetrail run` against the simulator's change scenarios (a bad
//! rollout, a ConfigMap edit that breaks the app at restart, a node cordon and drain, an HPA
//! maximum lowered under load); each scenario's incident is rooted in its change, with the
//! hint that fits it (the drain: the evicted pod's replacement, pinned to the cordoned node,
//! cannot be scheduled; the hint says to uncordon the node).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::live_run::start_run;
use kubetrail_sim::{Pace, Scenario, Simulator, run_scenario};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(90);

fn cli(dir: &Path, args: &[&str]) -> Option<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .env_remove("KUBETRAIL_CONFIG")
        .output()
        .expect("kubetrail runs");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("run.log")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_scenarios_incident_is_rooted_in_its_change() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let _run = start_run(dir.path(), &sim);
    // The change streams list first (a baseline): the scenarios' changes come after.
    let deadline = Instant::now() + WAIT;
    while ![
        "deployments",
        "nodes",
        "configmaps",
        "horizontalpodautoscalers",
    ]
    .iter()
    .all(|s| log(dir.path()).contains(&format!("stream=changes/{s}")))
    {
        assert!(
            Instant::now() < deadline,
            "never listed: {}",
            log(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    // (subject's workload, the changed object the root must be)
    let expected = [
        ("Deployment/cart", "store/Deployment/cart"),
        ("Deployment/invoicer", "ConfigMap/invoicer-config"),
        ("Deployment/query", "HorizontalPodAutoscaler/query"),
        ("Deployment/build-agent", "Node/worker-4"),
    ];
    let deadline = Instant::now() + WAIT;
    loop {
        let incidents =
            cli(dir.path(), &["incidents", "--since", "1h", "-o", "json"]).unwrap_or(Value::Null);
        let list = incidents.as_array().cloned().unwrap_or_default();
        let rooted = |workload: &str, root: &str| {
            list.iter().any(|i| {
                i["subject"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with(workload)
                    && i["root_cause"]["rule"] == "change"
                    && i["root_cause"]["object"]
                        .as_str()
                        .unwrap_or_default()
                        .ends_with(root)
            })
        };
        let drain_hint = list.iter().any(|i| {
            i["subject"]
                .as_str()
                .unwrap_or_default()
                .ends_with("Deployment/build-agent")
                && i["root_cause"]["hint"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("kubectl uncordon worker-4")
        });
        if expected.iter().all(|(w, r)| rooted(w, r)) && drain_hint {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every scenario's incident is rooted in its change: {incidents:#}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
