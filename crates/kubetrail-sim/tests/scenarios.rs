//! Every scenario produces the Events real components write, with growing counts and series.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result};
use common::Client;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kubetrail_sim::{Pace, Scenario, SimHandle, Simulator, run_scenario};

async fn run(scenario: Scenario) -> Result<(SimHandle, Vec<Event>)> {
    let sim = Simulator::start().await?;
    tokio::time::timeout(common::WAIT, run_scenario(&sim, scenario, Pace::instant()))
        .await
        .context("scenario timed out")??;
    let events = sim.list::<Event>(None)?;
    Ok((sim, events))
}

fn find<'a>(events: &'a [Event], reason: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

#[tokio::test]
async fn every_scenario_produces_its_expected_reasons() -> Result<()> {
    for scenario in Scenario::ALL {
        let (_sim, events) = run(scenario).await?;
        let reasons: BTreeSet<&str> = events.iter().filter_map(|e| e.reason.as_deref()).collect();
        for expected in scenario.expected_reasons() {
            assert!(
                reasons.contains(expected),
                "{scenario}: {expected} missing from {reasons:?}"
            );
        }
        for event in &events {
            assert!(
                event.reporting_controller.is_some(),
                "{scenario}: {event:?}"
            );
            assert!(matches!(event.type_.as_deref(), Some("Normal" | "Warning")));
        }
    }
    Ok(())
}

/// Issue 13's cluster-wide scenarios, each in a simulator of its own.
#[tokio::test]
async fn every_cluster_scenario_produces_its_expected_reasons() -> Result<()> {
    for scenario in Scenario::CLUSTER {
        let (sim, events) = run(scenario).await?;
        let reasons: BTreeSet<&str> = events.iter().filter_map(|e| e.reason.as_deref()).collect();
        for expected in scenario.expected_reasons() {
            assert!(
                reasons.contains(expected),
                "{scenario}: {expected} missing from {reasons:?}"
            );
        }
        for event in &events {
            assert!(
                event.reporting_controller.is_some(),
                "{scenario}: {event:?}"
            );
        }
        // A second round starts over where the first left the cluster.
        tokio::time::timeout(common::WAIT, run_scenario(&sim, scenario, Pace::instant()))
            .await
            .context("second round timed out")??;
        sim.shutdown().await;
    }
    Ok(())
}

/// The kubelet's mount race names the namespace's root CA as its informer manager words it.
#[tokio::test]
async fn the_root_ca_race_is_the_kubelets_not_registered_failed_mount() -> Result<()> {
    let (_sim, events) = run(Scenario::RootCaRace).await?;
    let mounts = find(&events, "FailedMount");
    assert_eq!(mounts.len(), 2);
    for m in mounts {
        let note = m.note.as_deref().unwrap_or_default();
        assert!(
            note.starts_with("MountVolume.SetUp failed for volume \"kube-api-access-"),
            "{note}"
        );
        assert!(
            note.ends_with(" : object \"jobs\"/\"kube-root-ca.crt\" not registered"),
            "{note}"
        );
        assert_eq!(m.reporting_controller.as_deref(), Some("kubelet"));
    }
    Ok(())
}

#[tokio::test]
async fn a_crash_loop_grows_one_back_off_event() -> Result<()> {
    let (sim, events) = run(Scenario::CrashLoop).await?;
    let back_off = find(&events, "BackOff");
    assert_eq!(back_off.len(), 1, "repeats update the same Event");
    let event = back_off[0];
    assert_eq!(event.deprecated_count, Some(4));
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.reporting_controller.as_deref(), Some("kubelet"));
    assert_eq!(event.reporting_instance.as_deref(), Some("worker-1"));
    let source = event.deprecated_source.clone().unwrap_or_default();
    assert_eq!(
        (source.component.as_deref(), source.host.as_deref()),
        (Some("kubelet"), Some("worker-1"))
    );
    let regarding = event.regarding.clone().unwrap_or_default();
    assert_eq!(
        regarding.field_path.as_deref(),
        Some("spec.containers{api}")
    );
    let pod_name = regarding.name.clone().unwrap_or_default();
    let pod = sim
        .get::<Pod>(Some("payments"), &pod_name)?
        .context("the pod exists")?;
    let note = event.note.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    assert_eq!(
        note,
        format!("Back-off restarting failed container api in pod {pod_name}_payments({uid})")
    );
    assert!(event.deprecated_last_timestamp >= event.deprecated_first_timestamp);
    assert!(event.event_time.is_none());
    let status = pod.status.unwrap_or_default();
    let container = status
        .container_statuses
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_default();
    assert_eq!(container.restart_count, 4);

    // Watching from the start shows the growth as MODIFIED updates of one uid.
    let client = Client::new(&sim.url());
    let mut watch = client
        .watch("/api/v1/namespaces/payments/events?watch=1&resourceVersion=1&fieldSelector=reason%3DBackOff")
        .await?;
    let mut counts = Vec::new();
    for _ in 0..4 {
        let line = watch.next().await?;
        counts.push((
            line["type"].as_str().unwrap_or_default().to_string(),
            line["object"]["count"].as_i64().unwrap_or(0),
        ));
        assert_eq!(
            line["object"]["metadata"]["uid"].as_str(),
            event.metadata.uid.as_deref()
        );
    }
    assert_eq!(
        counts,
        [
            ("ADDED".into(), 1),
            ("MODIFIED".into(), 2),
            ("MODIFIED".into(), 3),
            ("MODIFIED".into(), 4)
        ]
    );
    Ok(())
}

#[tokio::test]
async fn failed_scheduling_is_a_scheduler_series() -> Result<()> {
    let (_sim, events) = run(Scenario::FailedScheduling).await?;
    let failed = find(&events, "FailedScheduling");
    assert_eq!(failed.len(), 1);
    let event = failed[0];
    assert_eq!(
        event.note.as_deref(),
        Some(
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        )
    );
    assert_eq!(
        event.reporting_controller.as_deref(),
        Some("default-scheduler")
    );
    assert_eq!(
        event.reporting_instance.as_deref(),
        Some("default-scheduler-control-plane")
    );
    assert_eq!(event.action.as_deref(), Some("Scheduling"));
    assert!(event.event_time.is_some());
    assert_eq!(event.series.as_ref().map(|s| s.count), Some(4));
    assert!(event.deprecated_count.is_none() && event.deprecated_first_timestamp.is_none());
    Ok(())
}

#[tokio::test]
async fn image_pull_failure_reports_err_image_pull_and_back_off() -> Result<()> {
    let (_sim, events) = run(Scenario::ImagePullFailure).await?;
    let notes: BTreeSet<&str> = find(&events, "Failed")
        .iter()
        .filter_map(|e| e.note.as_deref())
        .collect();
    assert!(notes.contains("Error: ErrImagePull"), "{notes:?}");
    assert!(notes.contains("Error: ImagePullBackOff"), "{notes:?}");
    let back_off = find(&events, "BackOff");
    assert_eq!(
        back_off[0].note.as_deref(),
        Some("Back-off pulling image \"registry.example.com/shop/checkout:v2.31\"")
    );
    assert_eq!(back_off[0].type_.as_deref(), Some("Normal"));
    assert_eq!(back_off[0].deprecated_count, Some(4));
    Ok(())
}

#[tokio::test]
async fn node_pressure_ends_with_evictions_and_a_not_ready_node() -> Result<()> {
    let (sim, events) = run(Scenario::NodePressure).await?;
    let node_events: Vec<&Event> = events
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("Node"))
        .collect();
    assert!(
        node_events
            .iter()
            .all(|e| e.metadata.namespace.as_deref() == Some("default"))
    );
    let not_ready = find(&events, "NodeNotReady");
    assert!(not_ready.iter().any(|e| e.note.as_deref()
        == Some("Node worker-3 status is now: NodeNotReady")
        && e.reporting_controller.as_deref() == Some("node-controller")));
    let eviction = find(&events, "TaintManagerEviction");
    assert_eq!(
        eviction[0].reporting_controller.as_deref(),
        Some("taint-eviction-controller")
    );
    let remaining = sim.list::<Pod>(Some("batch"))?;
    assert_eq!(
        remaining.len(),
        1,
        "the evicted pod stays as Failed, the other was deleted"
    );
    Ok(())
}

#[tokio::test]
async fn a_rollout_replaces_every_old_pod() -> Result<()> {
    let (sim, events) = run(Scenario::DeploymentRollout).await?;
    let scaling: Vec<&str> = find(&events, "ScalingReplicaSet")
        .iter()
        .filter_map(|e| e.note.as_deref())
        .collect();
    assert!(
        scaling
            .iter()
            .any(|n| n.starts_with("Scaled up replica set web-") && n.ends_with("from 0 to 3")),
        "{scaling:?}"
    );
    assert!(
        scaling
            .iter()
            .any(|n| n.starts_with("Scaled down replica set web-") && n.ends_with("from 1 to 0")),
        "{scaling:?}"
    );
    assert_eq!(find(&events, "Killing").len(), 3);
    let pods = sim.list::<Pod>(Some("shop"))?;
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| {
        p.spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.as_deref())
            == Some("nginx:1.27.3")
    }));
    let scheduled = find(&events, "Scheduled");
    assert!(
        scheduled
            .iter()
            .all(|e| e.action.as_deref() == Some("Binding"))
    );
    Ok(())
}

#[tokio::test]
async fn a_looping_scenario_runs_round_after_round() -> Result<()> {
    let sim = Simulator::start().await?;
    let client = Client::new(&sim.url());
    let mut watch = client
        .watch("/apis/events.k8s.io/v1/namespaces/ml/events?watch=1&resourceVersion=1&fieldSelector=reason%3DFailedScheduling")
        .await?;
    let runner = {
        let sim = sim.clone();
        tokio::spawn(async move {
            run_scenario(
                &sim,
                Scenario::FailedScheduling,
                Pace::looping(Duration::from_millis(10)),
            )
            .await
        })
    };
    let mut pods = BTreeSet::new();
    while pods.len() < 2 {
        let line = watch.next().await?;
        if line["type"] == "ADDED" {
            pods.insert(
                line["object"]["regarding"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    runner.abort();
    // Each round cleaned up the last: one trainer pod is left.
    let _ = runner.await;
    assert!(sim.list::<Pod>(Some("ml"))?.len() <= 2);
    Ok(())
}

/// `kubetrail demo` runs every scenario at once: they share the worker nodes and must not
/// trip over each other creating them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_scenarios_can_run_side_by_side() {
    let sim = Simulator::start().await.expect("sim");
    let runs = Scenario::ALL.map(|s| {
        let sim = sim.clone();
        tokio::spawn(async move { run_scenario(&sim, s, Pace::instant()).await })
    });
    for (scenario, run) in Scenario::ALL.iter().zip(runs) {
        run.await
            .expect("no panic")
            .unwrap_or_else(|e| panic!("{scenario} failed beside the others: {e}"));
    }
}
