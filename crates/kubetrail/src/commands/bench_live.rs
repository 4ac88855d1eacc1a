//! `kubetrail bench live`: the live path end to end, simulator → watch → process → store.
//! Sustained events/s, latency from an Event's creation in the API server to its commit in the
//! store (p50/p99), and the RSS and CPU of a separate `kubetrail run` process as the cluster
//! grows, through a relist and an initial list (the status-update storm: `bench_storm`).

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
use kubetrail_store::{EventReader, EventSink, SqliteStore, Store};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::bench_cpus::Cpus;
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
        changes: None,
        tracked: Vec::new(),
    };
    let tasks = start(vec![cluster], &options, &cancel).await?;
    let measured = measure(&sim, &mut rx, 0, total, rate).await?;
    print_rate(&measured, total, rate, json!(null));
    cancel.cancel();
    wait(tasks).await;
    sim.shutdown().await;
    Ok(())
}

/// Seconds taken and creation→commit latencies (ms, sorted) of one measured run.
struct Measurement {
    secs: f64,
    latencies: Vec<f64>,
}

/// Creates `total` events from number `from` at `rate` and waits for each to be stored.
async fn measure(
    sim: &SimHandle,
    rx: &mut mpsc::Receiver<Event>,
    from: u64,
    total: u64,
    rate: u64,
) -> Result<Measurement> {
    let generator = {
        let sim = sim.clone();
        tokio::spawn(async move { generate(&sim, from, total, rate).await })
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
    latencies.sort_by(f64::total_cmp);
    Ok(Measurement { secs, latencies })
}

fn print_rate(m: &Measurement, total: u64, rate: u64, extra: serde_json::Value) {
    let pct = |p: f64| m.latencies[((p / 100.0) * (m.latencies.len() - 1) as f64).round() as usize];
    println!(
        "{}",
        json!({
            "measure": "live_sim_to_store", "events": total, "rate_target": rate, "seconds": m.secs,
            "events_per_s": total as f64 / m.secs, "latency_p50_ms": pct(50.0),
            "latency_p99_ms": pct(99.0), "latency_max_ms": pct(100.0), "with": extra,
        })
    );
}

/// RSS and CPU of a separate `kubetrail run` (fresh store, its own port) watching a simulator:
/// idle; as the cluster grows to `total` events created at `rate` per second (0: as fast as
/// possible) in ten steps, and CPU per event over that growth; 5 s after; through a relist of
/// the `total` events (history compacted, watches dropped: resuming is `410 Gone`);
/// restarted on the same store (its incidents maintainer's pass over what was stored); and
/// started on an empty store against the cluster that holds them (the initial list).
pub async fn memory(total: u64, rate: u64, dir: &Path, measured: Measured<'_>) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let sim = Simulator::start().await?;
    let kubeconfig = dir.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    // One JSON line per phase, printed as it ends.
    let emit = |phase: &str, value: serde_json::Value| {
        println!(
            "{}",
            json!({"measure": "run_memory_and_cpu", "events": total, "rate_target": rate,
                   "phase": phase, "result": value})
        );
    };
    let mut child = Child::start(&dir.join("data"), &kubeconfig, measured)?;
    let store = SqliteStore::open(dir.join("data").join("kubetrail.db"))?;
    // Idle: the (empty) initial list stored.
    wait_cursor(&store, &mut child, Timestamp::UNIX_EPOCH).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    emit("idle", child.sample()?.json());

    let mut growth = BTreeMap::new();
    let step = (total / 10).max(1);
    let (mut made, mut cpu_growth) = (0, 0.0);
    while made < total {
        let n = step.min(total - made);
        let before = child.sample()?;
        generate(&sim, made, n, rate).await?;
        made += n;
        wait_events(&store, &mut child, made).await?;
        let after = child.sample()?;
        cpu_growth += after.cpu_s - before.cpu_s;
        growth.insert(made, (after.rss_mib, after.anon_mib));
    }
    emit(
        "growth",
        json!({"rss_and_anon_rss_mib_by_events_in_cluster": growth,
               "cpu_ms_per_event": cpu_growth * 1e3 / total as f64}),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    emit("after_growth_5s", child.sample()?.json());

    // Relist: the watch is held silent while one more Event is created and the history
    // compacted past it, then cut: resuming from its version is `410 Gone`, and it lists
    // every Event again (all but one already stored: the store's dedup absorbs them).
    let before = child.sample()?;
    sim.faults().stall_watches(Duration::from_secs(60));
    generate(&sim, made, 1, 0).await?;
    made += 1;
    sim.compact();
    let since = Timestamp::now();
    sim.faults().drop_watches();
    sim.faults().clear();
    wait_cursor(&store, &mut child, since).await?;
    wait_events(&store, &mut child, made).await?;
    let after = child.sample()?;
    emit("relist", phase_json(&before, &after));
    tokio::time::sleep(Duration::from_secs(5)).await;
    emit("after_relist_5s", child.sample()?.json());
    child.stop().await;

    // Restart on the same store: the incidents maintainer's pass at start (then every 5
    // minutes) reads what the last one stored since its own pass (at its start, on the empty
    // store): up to `MAX_READ` events of the cluster, analysed in memory.
    let mut child = Child::start(&dir.join("data"), &kubeconfig, measured)?;
    let start = child.sample()?;
    wait_maintained(&store, &mut child).await?;
    let after = child.sample()?;
    emit("restart_incidents_pass", phase_json(&start, &after));
    tokio::time::sleep(Duration::from_secs(5)).await;
    emit("after_restart_5s", child.sample()?.json());
    child.stop().await;
    drop(store);

    // Initial list: a new process on an empty store, the cluster holding `made` Events.
    let data = dir.join("data-list");
    let mut child = Child::start(&data, &kubeconfig, measured)?;
    let store = SqliteStore::open(data.join("kubetrail.db"))?;
    let start = child.sample()?;
    wait_events(&store, &mut child, made).await?;
    wait_cursor(&store, &mut child, Timestamp::UNIX_EPOCH).await?;
    let after = child.sample()?;
    emit("initial_list", phase_json(&start, &after));
    tokio::time::sleep(Duration::from_secs(5)).await;
    emit("after_initial_list_5s", child.sample()?.json());
    child.stop().await;
    sim.shutdown().await;
    Ok(())
}

/// A phase's CPU and the RSS at its end.
fn phase_json(before: &Sample, after: &Sample) -> serde_json::Value {
    json!({
        "cpu_s": after.cpu_s - before.cpu_s,
        "seconds": (after.at - before.at).as_secs_f64(),
        "rss_mib": after.rss_mib,
        "anon_rss_mib": after.anon_mib,
        "peak_rss_mib": after.peak_mib,
    })
}

/// Waits until the store holds `n` events.
pub(super) async fn wait_events(store: &SqliteStore, child: &mut Child, n: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while store.stats().await?.events < n {
        child.alive()?;
        anyhow::ensure!(Instant::now() < deadline, "kubetrail run did not keep up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Waits until the incidents maintainer has caught up with every event stored (no dirty
/// range left).
async fn wait_maintained(store: &SqliteStore, child: &mut Child) -> Result<()> {
    let incidents = store
        .incident_store()
        .context("the store keeps no incidents")?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while !incidents.dirty_ranges().await?.is_empty() {
        child.alive()?;
        anyhow::ensure!(
            Instant::now() < deadline,
            "kubetrail run did not bring the incidents up to date"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Waits until the Event watch's cursor was saved after `since` (a list's last page saves it).
pub(super) async fn wait_cursor(
    store: &SqliteStore,
    child: &mut Child,
    since: Timestamp,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let cursor = store.cursor(kubetrail_sim::CONTEXT_NAME, "events").await?;
        if cursor.is_some_and(|c| c.updated_at > since) {
            return Ok(());
        }
        child.alive()?;
        anyhow::ensure!(
            Instant::now() < deadline,
            "kubetrail run did not list the events"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How the measured `kubetrail run` is started.
#[derive(Clone, Copy)]
pub struct Measured<'a> {
    /// A command it runs under (e.g. `heaptrack -o FILE`); the RSS read is then still the
    /// wrapped process's.
    pub wrapper: Option<&'a str>,
    /// Its configuration file.
    pub config: Option<&'a Path>,
    /// Another kubetrail binary to measure (e.g. an earlier build), instead of this one.
    pub binary: Option<&'a Path>,
    /// The CPUs it runs on, if pinned.
    pub run_cpus: Option<&'a Cpus>,
}

/// The measured `kubetrail run` process.
pub(super) struct Child {
    process: std::process::Child,
}

/// What /proc says about a process at one moment.
pub(super) struct Sample {
    pub(super) at: Instant,
    pub(super) rss_mib: f64,
    /// Of which anonymous memory (heap, stacks): the rest is the binary's code and other
    /// mapped files.
    pub(super) anon_mib: f64,
    pub(super) peak_mib: f64,
    /// User + system CPU seconds so far.
    pub(super) cpu_s: f64,
}

impl Sample {
    fn json(&self) -> serde_json::Value {
        json!({
            "rss_mib": self.rss_mib, "anon_rss_mib": self.anon_mib,
            "peak_rss_mib": self.peak_mib, "cpu_s": self.cpu_s,
        })
    }
}

/// User + system CPU seconds process `pid` has used so far (`/proc/PID/stat`).
pub(super) fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): utime is the 12th, stime 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    let (user, system) = ticks(11)
        .zip(ticks(12))
        .with_context(|| format!("no CPU times in /proc/{pid}/stat"))?;
    // In clock ticks: USER_HZ, 100 on Linux.
    Ok((user + system) / 100.0)
}

impl Child {
    pub(super) fn start(data: &Path, kubeconfig: &Path, measured: Measured<'_>) -> Result<Self> {
        let exe = match measured.binary {
            Some(binary) => binary.to_path_buf(),
            None => std::env::current_exe()?,
        };
        let mut words = measured.wrapper.unwrap_or_default().split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        // Its own port: another `kubetrail run` on this machine may hold the default one.
        let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        if let Some(config) = measured.config {
            command.arg("--config").arg(config);
        }
        command
            .arg("--data-dir")
            .arg(data)
            .arg("run")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--listen")
            .arg(listen.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut spawn = || command.spawn().context("cannot start kubetrail run");
        let process = match measured.run_cpus {
            Some(cpus) => cpus.spawn_pinned(spawn)?,
            None => spawn()?,
        };
        Ok(Child { process })
    }

    pub(super) fn alive(&mut self) -> Result<()> {
        match self.process.try_wait()? {
            Some(status) => anyhow::bail!("kubetrail run exited: {status}"),
            None => Ok(()),
        }
    }

    /// The kubetrail process: the child, or under a wrapper the child's only descendant.
    pub(super) fn pid(&self) -> u32 {
        let mut pid = self.process.id();
        while let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        {
            let mut ids = children.split_whitespace();
            match (ids.next().and_then(|p| p.parse().ok()), ids.next()) {
                (Some(only), None) => pid = only,
                _ => break,
            }
        }
        pid
    }

    pub(super) fn sample(&self) -> Result<Sample> {
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .with_context(|| format!("no {key} in /proc/{pid}/status"))
        };
        Ok(Sample {
            at: Instant::now(),
            rss_mib: kib("VmRSS:")? / 1024.0,
            anon_mib: kib("RssAnon:")? / 1024.0,
            peak_mib: kib("VmHWM:")? / 1024.0,
            cpu_s: cpu_seconds(pid)?,
        })
    }

    /// Stops it as an operator would (SIGTERM), so a wrapper such as heaptrack writes its data.
    pub(super) async fn stop(mut self) {
        let pid = self.pid();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.process.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Creates kubelet-style BackOff events for 50 pods; `rate` 0 means as fast as possible.
pub(super) async fn generate(sim: &SimHandle, from: u64, n: u64, rate: u64) -> Result<()> {
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
