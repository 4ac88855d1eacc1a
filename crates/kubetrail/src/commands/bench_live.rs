//! `kubetrail bench live`: the live path end to end, simulator → watch → process → store.
//! Sustained events/s, latency from an Event's creation in the API server to its commit in the
//! store (p50/p99), and the RSS of a separate `kubetrail run` process as the cluster grows.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kubetrail_model::{Event, Timestamp};
use kubetrail_process::Rules;
use kubetrail_sim::{SimHandle, Simulator};
use kubetrail_store::{EventReader, SqliteStore, Store};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::run::{PipelineOptions, start, wait};
use crate::config::RawCluster;

/// Creates `total` events at `rate` per second (0: as fast as possible) while the pipeline
/// runs in this process, then reports throughput and creation→commit latency.
pub async fn live(total: u64, rate: u64, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let sim = Simulator::start().await?;
    let kubeconfig = dir.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    let db = dir.join("live.db");
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::open(&db)?);
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<Event>(65_536);
    let cluster = RawCluster {
        name: Some("bench".into()),
        kubeconfig: Some(kubeconfig),
        requests_per_second: Some(1000.0),
        ..RawCluster::default()
    };
    let options = PipelineOptions {
        default_name: "bench".into(),
        spool_dir: dir.join("spool"),
        spool_max_bytes: 1 << 30,
        max_future: kubetrail_process::FutureLimit::default(),
        rules: Rules::builtin(),
        store: store.clone(),
        live: Some(tx),
        alerts: None,
    };
    let tasks = start(vec![cluster], &options, &cancel).await?;
    let generator = {
        let sim = sim.clone();
        tokio::spawn(async move { generate(&sim, 0, total, rate).await })
    };
    let t0 = Instant::now();
    let mut latencies = Vec::with_capacity(total as usize);
    while (latencies.len() as u64) < total {
        let e = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .context("no event stored for 60 s")?
            .context("pipeline stopped")?;
        let ms = (Timestamp::now().as_microsecond() - e.first_seen.as_microsecond()) as f64 / 1e3;
        latencies.push(ms);
    }
    let secs = t0.elapsed().as_secs_f64();
    generator.await??;
    cancel.cancel();
    wait(tasks).await;
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((p / 100.0) * (latencies.len() - 1) as f64).round() as usize];
    println!(
        "{}",
        json!({
            "measure": "live_sim_to_store", "events": total, "rate_target": rate, "seconds": secs,
            "events_per_s": total as f64 / secs, "latency_p50_ms": pct(50.0),
            "latency_p99_ms": pct(99.0), "latency_max_ms": pct(100.0),
        })
    );
    sim.shutdown().await;
    Ok(())
}

/// RSS of a separate `kubetrail run` watching a simulator that grows to `total` events.
pub async fn memory(total: u64, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let sim = Simulator::start().await?;
    let kubeconfig = dir.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    let data = dir.join("data");
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("--data-dir")
        .arg(&data)
        .arg("run")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start kubetrail run")?;
    let store = SqliteStore::open(data.join("kubetrail.db"))?;
    let mut samples = BTreeMap::new();
    let step = (total / 5).max(1);
    let mut made = 0;
    while made < total {
        generate(&sim, made, step, 0).await?;
        made += step;
        let deadline = Instant::now() + Duration::from_secs(120);
        while store.stats().await?.events < made {
            anyhow::ensure!(Instant::now() < deadline, "kubetrail run did not keep up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        samples.insert(made, rss_kib(child.id())? as f64 / 1024.0);
    }
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "{}",
        json!({"measure": "run_rss_mib_by_events_in_cluster", "samples": samples})
    );
    sim.shutdown().await;
    Ok(())
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")
}

/// Creates kubelet-style BackOff events for 50 pods; `rate` 0 means as fast as possible.
async fn generate(sim: &SimHandle, from: u64, n: u64, rate: u64) -> Result<()> {
    let start = Instant::now();
    for i in from..from + n {
        if rate > 0 {
            let due = start + Duration::from_secs_f64((i - from) as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        } else if i % 200 == 0 {
            tokio::task::yield_now().await;
        }
        let pod = format!("web-7d9f8b6c4-{:05}", i % 50);
        let e = K8sEvent {
            metadata: ObjectMeta {
                name: Some(format!("{pod}.{i:08x}")),
                namespace: Some("load".into()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(Timestamp::now())),
            action: Some("Restarting".into()),
            reason: Some("BackOff".into()),
            note: Some(format!(
                "Back-off restarting failed container app in pod {pod}_load(u{i})"
            )),
            type_: Some("Warning".into()),
            reporting_controller: Some("kubelet".into()),
            reporting_instance: Some("node-1".into()),
            regarding: Some(ObjectReference {
                kind: Some("Pod".into()),
                namespace: Some("load".into()),
                name: Some(pod),
                ..ObjectReference::default()
            }),
            ..K8sEvent::default()
        };
        sim.create(&e)?;
    }
    Ok(())
}
