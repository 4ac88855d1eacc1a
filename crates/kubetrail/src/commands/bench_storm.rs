//! `kubetrail bench live --storm RATE`: the Event path of a separate `kubetrail run` with and
//! without a storm of status-only Deployment updates (issue 15, Performance), and what the
//! storm costs each side.
//!
//! The simulator, its storm and the Event generator run in this process; `run` runs in its own,
//! so the CPU of each is read apart (`/proc/PID/stat`): `run`'s CPU per status update is
//! measured whatever the simulator spends making and serving the updates. Two `run`s are
//! measured in turn, each against a fresh simulator: without change tracking (the storm costs
//! `run` nothing; what slows its Event path is the simulator's work on the shared cores) and
//! tracking Deployments (what the tracker adds). Each is timed quiet, then during the storm.
//!
//! Two cores shared by `run` and the simulator measure the simulator as much as `run`:
//! `--run-cpus`/`--sim-cpus` pin each to its own ([`Cpus`]), and `--rate` creates Events at a
//! fixed, realistic rate (a real API server on this machine serves ~2,500 Events/s), so each
//! phase tells whether `run` keeps up: the lag from an Event's creation to the start of the
//! transaction that stored it (the store's `stored_at`), p50/p99/max.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kubetrail_model::{ChangeFilter, Timestamp};
use kubetrail_sim::{SimHandle, Simulator};
use kubetrail_store::{ChangeStore, EventSink, SqliteStore};
use serde_json::json;

use super::bench_cpus::Cpus;
use super::bench_live::{Child, Measured, cpu_seconds, generate, wait_cursor, wait_events};

/// Where the storm's Deployments live.
const STORM_NAMESPACE: &str = "storm";

/// Measures `run` without and with change tracking: `total` Events created at `rate` per
/// second (0: as fast as possible) quiet, then `total` more while the simulator makes
/// `storm_rate` status-only updates a second. One JSON line per phase. With `sim_cpus`, this
/// process runs on those CPUs only (`measured.run_cpus` pins `run`).
pub async fn storm(
    total: u64,
    rate: u64,
    storm_rate: u64,
    dir: &Path,
    measured: Measured<'_>,
    sim_cpus: Option<&Cpus>,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    if let Some(cpus) = sim_cpus {
        cpus.pin_this_process()?;
    }
    let cpus = json!({
        "run": measured.run_cpus.map(Cpus::to_string),
        "simulator": sim_cpus.map(Cpus::to_string),
    });
    for tracking in [false, true] {
        let sim = Simulator::start().await?;
        let kubeconfig = dir.join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig)?;
        create_storm_deployments(&sim)?;
        // The client's rate limit is the bench's, not a production one: lists and watches
        // must not wait on it.
        let config = dir.join(format!("tracking-{tracking}.yaml"));
        std::fs::write(
            &config,
            format!(
                "clusters:\n  - requests_per_second: 1000\n\
                 changes:\n  enabled: {tracking}\n  resources: [deployments]\n"
            ),
        )?;
        let data = dir.join(format!("data-{tracking}"));
        let mut child = Child::start(
            &data,
            &kubeconfig,
            Measured {
                config: Some(&config),
                ..measured
            },
        )?;
        let store = SqliteStore::open(data.join("kubetrail.db"))?;
        wait_cursor(&store, &mut child, Timestamp::UNIX_EPOCH).await?;
        let lags = Lags::open(&data.join("kubetrail.db"))?;
        if tracking {
            wait_changes_listed(&store, &mut child).await?;
        }
        let label = if tracking {
            "tracking Deployments"
        } else {
            "without change tracking"
        };
        let run = Run {
            sim: &sim,
            store: &store,
            lags: &lags,
        };
        let quiet = phase(&run, &mut child, 0, total, rate, None).await?;
        quiet.print(label, total, rate, None, &cpus);
        let stormy = phase(&run, &mut child, total, total, rate, Some(storm_rate)).await?;
        let recorded = store.changes(&ChangeFilter::default()).await?.len();
        let storm = (storm_rate, &quiet, recorded);
        stormy.print(label, total, rate, Some(storm), &cpus);
        child.stop().await;
        drop((store, lags));
        sim.shutdown().await;
        let _ = std::fs::remove_dir_all(&data);
    }
    Ok(())
}

/// What one phase took.
struct Phase {
    secs: f64,
    /// CPU seconds of `run`.
    run_cpu_s: f64,
    /// CPU seconds of this process: the simulator, the storm, the Event generator, the
    /// store polling.
    sim_cpu_s: f64,
    /// Status-only updates made during the phase.
    updates: u64,
    /// Creation → storage of each Event of the phase, ms, sorted.
    lags_ms: Vec<f64>,
}

impl Phase {
    fn print(
        &self,
        run: &str,
        total: u64,
        rate: u64,
        storm: Option<(u64, &Phase, usize)>,
        cpus: &serde_json::Value,
    ) {
        let storm = storm.map(|(target, quiet, recorded)| {
            // The same number of Events in both phases: what `run` spent beyond the quiet
            // phase went to the storm.
            let extra_cpu = self.run_cpu_s - quiet.run_cpu_s;
            json!({
                "storm_rate_target": target,
                "storm_updates": self.updates,
                "storm_updates_per_s": self.updates as f64 / self.secs,
                "run_cpu_ms_per_status_update": extra_cpu * 1e3 / self.updates.max(1) as f64,
                "events_per_s_vs_quiet": (total as f64 / self.secs) / (total as f64 / quiet.secs),
                "changes_recorded": recorded,
            })
        });
        println!(
            "{}",
            json!({
                "measure": "live_storm", "run": run, "events": total, "rate_target": rate,
                "phase": if storm.is_some() { "storm" } else { "quiet" },
                "seconds": self.secs, "events_per_s": total as f64 / self.secs,
                "lag_p50_ms": percentile(&self.lags_ms, 50.0),
                "lag_p99_ms": percentile(&self.lags_ms, 99.0),
                "lag_max_ms": percentile(&self.lags_ms, 100.0),
                "run_cpu_s": self.run_cpu_s,
                "run_cores_busy": self.run_cpu_s / self.secs,
                "run_cpu_ms_per_event": self.run_cpu_s * 1e3 / total as f64,
                "simulator_process_cpu_s": self.sim_cpu_s,
                "cpus": cpus,
                "storm": storm,
                "load": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
            })
        );
    }
}

/// The value at percentile `p` of `sorted` (0 when empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => sorted[((p / 100.0) * (n - 1) as f64).round() as usize],
    }
}

/// What a phase measures `run` through.
struct Run<'a> {
    sim: &'a SimHandle,
    store: &'a SqliteStore,
    lags: &'a Lags,
}

/// Reads, from `run`'s store, how long each Event took from its creation (its `eventTime`,
/// set by the generator) to the transaction that stored it (`stored_at`).
struct Lags {
    db: rusqlite::Connection,
}

impl Lags {
    fn open(path: &Path) -> Result<Lags> {
        let db = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        db.busy_timeout(Duration::from_secs(10))?;
        Ok(Lags { db })
    }

    /// The newest event's id: a phase's events are those after it.
    fn last_id(&self) -> Result<i64> {
        Ok(self
            .db
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?)
    }

    /// The lags (ms, sorted) of the events stored after `id`.
    fn since(&self, id: i64) -> Result<Vec<f64>> {
        let mut st = self
            .db
            .prepare("SELECT stored_at - first_seen FROM events WHERE id > ?1")?;
        let mut lags = st
            .query_map([id], |r| r.get::<_, i64>(0))?
            .map(|micros| Ok(micros? as f64 / 1e3))
            .collect::<Result<Vec<f64>>>()?;
        lags.sort_by(f64::total_cmp);
        Ok(lags)
    }
}

/// Creates `total` Events from number `from` (at `rate`), during a storm of `storm` updates a
/// second if given, and waits until `run` stored them.
async fn phase(
    run: &Run<'_>,
    child: &mut Child,
    from: u64,
    total: u64,
    rate: u64,
    storm: Option<u64>,
) -> Result<Phase> {
    let (sim, store) = (run.sim, run.store);
    let last_id = run.lags.last_id()?;
    let stop = Arc::new(AtomicBool::new(false));
    let storming = storm.map(|storm_rate| {
        let (sim, stop) = (sim.clone(), stop.clone());
        tokio::spawn(async move { sim.status_storm(STORM_NAMESPACE, storm_rate, &stop).await })
    });
    let (run_cpu, own_cpu) = (cpu_seconds(child.pid())?, cpu_seconds(std::process::id())?);
    let t0 = Instant::now();
    let generator = {
        let sim = sim.clone();
        tokio::spawn(async move { generate(&sim, from, total, rate).await })
    };
    wait_events(store, child, from + total).await?;
    let secs = t0.elapsed().as_secs_f64();
    let (run_cpu_after, own_cpu_after) =
        (cpu_seconds(child.pid())?, cpu_seconds(std::process::id())?);
    stop.store(true, Ordering::Relaxed);
    generator.await??;
    let updates = match storming {
        Some(task) => task.await??,
        None => 0,
    };
    Ok(Phase {
        secs,
        run_cpu_s: run_cpu_after - run_cpu,
        sim_cpu_s: own_cpu_after - own_cpu,
        updates,
        lags_ms: run.lags.since(last_id)?,
    })
}

/// The 100 Deployments the storm rewrites the status of.
fn create_storm_deployments(sim: &SimHandle) -> Result<()> {
    for i in 0..100 {
        let d: Deployment = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": format!("app-{i:03}"), "namespace": STORM_NAMESPACE},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [
                    {"name": "app", "image": format!("registry.example/app:{i}")}]}}}
        }))?;
        sim.create(&d)?;
    }
    Ok(())
}

/// Waits until `run` listed the Deployments (the change stream's cursor is stored).
async fn wait_changes_listed(store: &SqliteStore, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let stream = "changes/deployments";
    while store
        .cursor(kubetrail_sim::CONTEXT_NAME, stream)
        .await?
        .is_none()
    {
        child.alive()?;
        anyhow::ensure!(Instant::now() < deadline, "{stream} was never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
