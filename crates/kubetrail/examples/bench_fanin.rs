//! Benchmark (docs/BENCHMARKS.md, "PostgreSQL and NATS"): the fan-in path. A real
//! `nats-server -js` on a free port, `CONSUMERS` `kubetrail run --source nats` processes (the
//! binary at `KUBETRAIL_BIN`, default `target/release/kubetrail`) writing to the PostgreSQL at
//! `KUBETRAIL_TEST_POSTGRES_URL`; EVENTS processed events of three clusters published as agents
//! publish them (batches of 500, each acknowledged by JetStream) at full speed. Reports the
//! publish rate, the end-to-end rate (first publish → last event committed) and the lag after
//! the last publish.
//!
//! `cargo run --release -p kubetrail --example bench_fanin -- [EVENTS] [CONSUMERS]`

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use kubetrail_model::{Category, Event, ObjectRef, Severity, Timestamp};
use kubetrail_source::nats::{NatsSettings, Publisher};
use kubetrail_store::conformance::fresh_postgres_store;
use kubetrail_store::{EventReader, PostgresOptions, PostgresStore};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn event(i: usize, start: Timestamp) -> Event {
    let ns = format!("team-{}", i % 40);
    let pod = format!("svc-{}-7d9f8b6c4-{:05}", i % 200, i % 5000);
    let last_seen = start + SignedDuration::from_millis((i as i64) * 50);
    let count = 1 + (i % 3) as u64;
    Event {
        cluster: format!("cluster-{}", i % 3),
        uid: format!("{i:08x}-5a1e-4c2b-9d3f-fanin"),
        namespace: ns.clone(),
        name: format!("{pod}.{i:x}"),
        regarding: ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: ns.clone(),
            name: pod.clone(),
            uid: format!("pod-{}", i % 5000),
            field_path: "spec.containers{app}".into(),
        },
        related: None,
        reason: "BackOff".into(),
        note: format!("Back-off restarting failed container app in pod {pod}_{ns} ({i})"),
        type_: "Warning".into(),
        action: "Restarting".into(),
        reporting_controller: "kubelet".into(),
        reporting_instance: format!("node-{}", i % 30),
        first_seen: last_seen - SignedDuration::from_secs(60 * (count as i64 - 1)),
        last_seen,
        count,
        resource_version: i.to_string(),
        category: Category::Crash,
        severity: Severity::Error,
        correlation_id: format!("{ns}/Deployment/svc-{}", i % 200),
        owner: None,
        node: None,
        template: "Back-off restarting failed container <*> in pod <*> (<*>)".into(),
        labels: Default::default(),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(300_000);
    let consumers = args.get(1).copied().unwrap_or(2);
    let bin = std::env::var("KUBETRAIL_BIN").unwrap_or_else(|_| "target/release/kubetrail".into());

    let port = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let nats_dir = tempfile::tempdir().expect("tempdir");
    let _nats = Kill(
        Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(nats_dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("nats://127.0.0.1:{port}");

    let (_, guard) = fresh_postgres_store().await;
    let reader = PostgresStore::connect(&PostgresOptions {
        schema: Some(guard.schema().to_string()),
        pool_size: 1,
        ..PostgresOptions::new(guard.url())
    })
    .await
    .expect("reader");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("consumer.yaml");
    std::fs::write(
        &config,
        format!(
            "storage:\n  postgres:\n    url: {}\n    schema: {}\n",
            guard.url(),
            guard.schema()
        ),
    )
    .expect("config");
    let mut running = Vec::new();
    for c in 0..consumers {
        running.push(Kill(
            Command::new(&bin)
                .arg("--data-dir")
                .arg(dir.path().join(format!("c{c}")))
                .arg("--config")
                .arg(&config)
                .args([
                    "run",
                    "--source",
                    "nats",
                    "--listen",
                    "127.0.0.1:0",
                    "--nats-url",
                    &url,
                ])
                .env_remove("KUBETRAIL_POSTGRES_URL")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("kubetrail"),
        ));
    }

    let start = Timestamp::now() - SignedDuration::from_hours(6);
    let events: Vec<Event> = (0..n).map(|i| event(i, start)).collect();
    let publisher = Publisher::connect(NatsSettings::new(&url))
        .await
        .expect("publisher");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !publisher.is_connected() {
        assert!(Instant::now() < deadline, "not connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t0 = Instant::now();
    // Three agents, each publishing its cluster's batches and waiting for their acks.
    let mut agents = Vec::new();
    let publisher = std::sync::Arc::new(publisher);
    for cluster in 0..3 {
        let mine: Vec<Event> = events
            .iter()
            .filter(|e| e.cluster == format!("cluster-{cluster}"))
            .cloned()
            .collect();
        let p = publisher.clone();
        agents.push(tokio::spawn(async move {
            for chunk in mine.chunks(500) {
                p.publish(&format!("cluster-{cluster}"), chunk, &[])
                    .await
                    .expect("publish");
            }
        }));
    }
    for a in agents {
        a.await.expect("agent");
    }
    let published = t0.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let stored = reader.stats().await.expect("stats").events;
        if stored >= n as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {stored} of {n} stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = t0.elapsed().as_secs_f64();
    println!(
        "{{\"events\":{n},\"consumers\":{consumers},\"publish_seconds\":{published:.2},\"publish_events_per_s\":{:.0},\"end_to_end_seconds\":{total:.2},\"end_to_end_events_per_s\":{:.0},\"lag_after_last_publish_s\":{:.2}}}",
        n as f64 / published,
        n as f64 / total,
        total - published
    );
}
