//! Live watching end to end: the real `kubetrail run` binary against the in-process Kubernetes
//! API simulator, with faults injected. Each test checks that the store ends with exactly the
//! occurrences the simulator holds: same uids, same counts, nothing twice.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::sim::{create_with_repeats, now, simulated_counts};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubetrail_sim::{InjectedFailure, Pace, Scenario, SimHandle, Simulator, run_scenario};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(90);

/// A `kubetrail run` process watching the simulator.
struct Kubetrail {
    data: PathBuf,
    kubeconfig: PathBuf,
    child: Option<Child>,
    log: PathBuf,
    extra: Vec<String>,
}

impl Kubetrail {
    fn new(dir: &Path, sim: &SimHandle) -> Self {
        let kubeconfig = dir.join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Kubetrail {
            data: dir.join("data"),
            kubeconfig,
            child: None,
            log: dir.join("run.log"),
            extra: Vec::new(),
        }
    }

    /// A second replica on the same store, with its own log and extra `run` flags.
    fn replica(&self, log: &str, extra: &[&str]) -> Self {
        Kubetrail {
            data: self.data.clone(),
            kubeconfig: self.kubeconfig.clone(),
            child: None,
            log: self.log.with_file_name(log),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .args(["--data-dir"])
            .arg(&self.data)
            .arg("run")
            // The HTTP server on a free port: replicas and parallel tests never collide.
            .args(["--listen", "127.0.0.1:0"])
            .args(if self.extra.iter().any(|a| a == "--config") {
                Vec::new()
            } else {
                vec!["--kubeconfig".into(), self.kubeconfig.display().to_string()]
            })
            .args(&self.extra)
            .env("KUBETRAIL_LOG", "info")
            .env_remove("KUBETRAIL_CONFIG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("kubetrail run starts");
        self.child = Some(child);
    }

    /// Kills the process without letting it flush (a crash).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill");
            c.wait().expect("wait");
        }
    }

    /// Stops the process gracefully (SIGTERM) and waits for it.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .expect("kill -TERM");
            let status = c.wait().expect("wait");
            assert!(
                status.success(),
                "kubetrail run exited with {status}: {}",
                self.logs()
            );
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `/metrics` in the text format, from the address the process logged.
    fn metrics(&self) -> String {
        let deadline = Instant::now() + WAIT;
        let base = loop {
            if let Some(rest) = self.logs().split("web UI and API: http://").nth(1) {
                break rest.split('/').next().unwrap_or_default().to_string();
            }
            assert!(Instant::now() < deadline, "no server: {}", self.logs());
            std::thread::sleep(Duration::from_millis(100));
        };
        let out = Command::new("curl")
            .args(["-sf", "-H", "Accept: text/plain; version=0.0.4"])
            .arg(format!("http://{base}/metrics"))
            .output()
            .expect("curl is installed");
        assert!(out.status.success(), "GET /metrics: {}", self.logs());
        String::from_utf8(out.stdout).expect("UTF-8 metrics")
    }

    fn cli(&self, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .env_remove("KUBETRAIL_CONFIG")
            .output()
            .expect("kubetrail runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// uid → count of every stored event.
    fn stored(&self) -> BTreeMap<String, u64> {
        if !self.data.join("kubetrail.db").exists() {
            return BTreeMap::new();
        }
        let events = self.cli(&["query", "--limit", "0", "-o", "json"]);
        events
            .as_array()
            .expect("array")
            .iter()
            .map(|e| {
                (
                    e["uid"].as_str().unwrap().to_string(),
                    e["count"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// Total occurrences counted by the store (its aggregation, not the events' counts).
    fn occurrences(&self) -> u64 {
        let rows = self.cli(&["aggregate", "--group-by", "cluster", "-o", "json"]);
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["count"].as_u64().unwrap())
            .sum()
    }

    /// Waits until the store holds exactly what the simulator holds.
    fn converge(&self, sim: &SimHandle) -> BTreeMap<String, u64> {
        let deadline = Instant::now() + WAIT;
        loop {
            let want = simulated(sim);
            let got = self.stored();
            if got == want {
                assert_eq!(
                    self.occurrences(),
                    want.values().sum::<u64>(),
                    "occurrences"
                );
                return got;
            }
            if Instant::now() > deadline {
                let missing = want.keys().filter(|k| !got.contains_key(*k)).count();
                let extra = got.keys().filter(|k| !want.contains_key(*k)).count();
                let differ = want
                    .iter()
                    .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
                    .count();
                panic!(
                    "store never matched the simulator: {} wanted, {} stored, {missing} missing, {extra} extra, {differ} with other counts\n{}",
                    want.len(),
                    got.len(),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Kubetrail {
    fn drop(&mut self) {
        self.kill();
    }
}

/// uid → count of every Event the simulator holds.
fn simulated(sim: &SimHandle) -> BTreeMap<String, u64> {
    simulated_counts(sim)
        .into_iter()
        .map(|(uid, count)| (uid, count as u64))
        .collect()
}

/// A kubelet-style BackOff Event for pod `i % 50` of a Deployment.
fn backoff(i: usize) -> Event {
    common::sim::backoff("load", "web-7d9f8b6c4", 50, i)
}

/// Creates `n` events; every third is repeated twice more (MODIFIED with a growing series).
async fn generate(sim: &SimHandle, from: usize, n: usize, mut on_progress: impl FnMut(usize)) {
    for i in from..from + n {
        create_with_repeats(sim, i, &backoff(i));
        on_progress(i - from + 1);
        if i % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
}

/// Batches waiting in the spool of any cluster.
fn spooled_files(data: &Path) -> usize {
    let Ok(clusters) = std::fs::read_dir(data.join("spool")) else {
        return 0;
    };
    clusters
        .flatten()
        .flat_map(|c| std::fs::read_dir(c.path()).into_iter().flatten().flatten())
        .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
        .count()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// What `promtool check metrics` (Debian's `prometheus` package) says about `text`: nothing
/// when it passes.
fn promtool(text: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test.sh installs prometheus)");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).expect("write to promtool");
    drop(stdin);
    let out = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        said
    } else {
        format!("exit {}: {said}", out.status)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_matches_what_kubectl_shows_after_every_scenario() {
    let sim = Simulator::start().await.expect("sim");
    for scenario in Scenario::ALL {
        run_scenario(&sim, scenario, Pace::instant())
            .await
            .expect("scenario");
    }
    let dir = tempdir();
    let mut kt = Kubetrail::new(dir.path(), &sim);
    kt.start();
    let stored = tokio::task::block_in_place(|| kt.converge(&sim));
    // The real kubectl, reading the simulator as a user would, sees the same uids and counts.
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kt.kubeconfig)
        .args(["get", "events", "-A", "-o", "json"])
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown: BTreeMap<String, u64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let count = e["series"]["count"]
                .as_u64()
                .or(e["count"].as_u64())
                .unwrap_or(1);
            (e["metadata"]["uid"].as_str().unwrap().to_string(), count)
        })
        .collect();
    assert_eq!(stored, shown);
    // `/metrics` of the running process: promtool accepts it, and kubetrail_events_total
    // counts every occurrence kubectl shows, once (polled: the counter follows each commit).
    let expected = shown.values().sum::<u64>() as f64;
    let deadline = Instant::now() + WAIT;
    let metrics = loop {
        let metrics = tokio::task::block_in_place(|| kt.metrics());
        let counted: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("kubetrail_events_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        if counted == expected {
            break metrics;
        }
        assert!(
            Instant::now() < deadline && counted < expected,
            "kubetrail_events_total sums to {counted}, kubectl shows {expected}:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let said = promtool(&metrics);
    assert!(
        said.trim().is_empty(),
        "promtool check metrics: {said}\n{metrics}"
    );
    // Each committed watch batch observed how far behind the cluster it was.
    let lagged: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("kubetrail_watch_lag_seconds_count{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(lagged >= 1.0, "no watch lag observed:\n{metrics}");
    // Processing happened on the way: the crash loop is correlated to its Deployment.
    let crash = kt.cli(&[
        "query",
        "--limit",
        "0",
        "--namespace",
        "payments",
        "--reason",
        "BackOff",
        "-o",
        "json",
    ]);
    assert!(!crash.as_array().unwrap().is_empty());
    assert!(
        crash
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["correlation_id"] == "payments/Deployment/payments-api")
    );
    tokio::task::block_in_place(|| kt.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_the_middle_of_ten_thousand_events_loses_and_duplicates_nothing() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempdir();
    let mut kt = Kubetrail::new(dir.path(), &sim);
    kt.start();
    generate(&sim, 0, 4_000, |_| {}).await;
    // Crash once something is stored, mid-stream.
    tokio::task::block_in_place(|| {
        let deadline = Instant::now() + WAIT;
        while kt.stored().len() < 1_000 {
            assert!(Instant::now() < deadline, "nothing stored: {}", kt.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
        kt.kill();
    });
    generate(&sim, 4_000, 3_000, |_| {}).await;
    kt.start();
    generate(&sim, 7_000, 3_000, |_| {}).await;
    let stored = tokio::task::block_in_place(|| kt.converge(&sim));
    assert_eq!(stored.len(), 10_000);
    tokio::task::block_in_place(|| kt.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_watches_429s_and_compaction_still_give_exactly_once() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempdir();
    let mut kt = Kubetrail::new(dir.path(), &sim);
    sim.faults()
        .drop_watches_after(std::num::NonZeroU64::new(300));
    kt.start();
    generate(&sim, 0, 1_500, |_| {}).await;
    sim.faults().fail_next(
        4,
        InjectedFailure::TooManyRequests {
            retry_after_seconds: 1,
        },
    );
    sim.faults().drop_watches();
    generate(&sim, 1_500, 1_500, |_| {}).await;
    tokio::task::block_in_place(|| kt.converge(&sim));
    // Away while the history it would resume from is compacted: it must relist (410) and
    // record a gap, and still end with exactly the simulator's events.
    tokio::task::block_in_place(|| kt.stop());
    generate(&sim, 3_000, 500, |_| {}).await;
    sim.faults().compact();
    generate(&sim, 3_500, 500, |_| {}).await;
    kt.start();
    tokio::task::block_in_place(|| kt.converge(&sim));
    let status = kt.cli(&["status", "-o", "json"]);
    let gaps = status["gaps"].as_array().expect("gaps in status");
    // The Event stream's gap; the change streams (issue 15) relist and record their own.
    let events: Vec<_> = gaps.iter().filter(|g| g["stream"] == "events").collect();
    assert_eq!(events.len(), 1, "{status}");
    assert!(
        events[0]["cause"].as_str().unwrap().contains("410"),
        "{status}"
    );
    assert!(
        gaps.iter()
            .all(|g| g["stream"] == "events"
                || g["stream"].as_str().unwrap().starts_with("changes/")),
        "{status}"
    );
    tokio::task::block_in_place(|| kt.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_locked_for_a_while_loses_nothing() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempdir();
    let mut kt = Kubetrail::new(dir.path(), &sim);
    kt.start();
    generate(&sim, 0, 500, |_| {}).await;
    tokio::task::block_in_place(|| kt.converge(&sim));
    // Another process holds the database's write lock longer than kubetrail's busy timeout.
    let db = rusqlite::Connection::open(kt.data.join("kubetrail.db")).expect("open db");
    db.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    generate(&sim, 500, 1_000, |_| {}).await;
    tokio::task::block_in_place(|| {
        let deadline = Instant::now() + WAIT;
        // The failed write is logged just before its batch is spooled: wait for both.
        while !(kt.logs().contains("cannot store a batch; spooling") && spooled_files(&kt.data) > 0)
        {
            assert!(
                Instant::now() < deadline,
                "writes never failed, or nothing was spooled: {}",
                kt.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    tokio::task::block_in_place(|| kt.stop());
    assert!(
        spooled_files(&kt.data) > 0,
        "the spool was lost on stop: {}",
        kt.logs()
    );
    db.execute_batch("ROLLBACK").expect("unlock");
    drop(db);
    kt.start();
    generate(&sim, 1_500, 100, |_| {}).await;
    let stored = tokio::task::block_in_place(|| kt.converge(&sim));
    assert_eq!(stored.len(), 1_600);
    assert_eq!(spooled_files(&kt.data), 0);
    tokio::task::block_in_place(|| kt.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_events_from_the_api_server_do_not_stop_the_stream() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempdir();
    let mut kt = Kubetrail::new(dir.path(), &sim);
    kt.start();
    // No reason, no note, no regarding, an unknown type: kept as they are, classified "other".
    let odd = Event {
        metadata: ObjectMeta {
            name: Some("odd.1".into()),
            namespace: Some("load".into()),
            ..ObjectMeta::default()
        },
        event_time: Some(now()),
        type_: Some("Bizarre".into()),
        ..Event::default()
    };
    sim.create(&odd).expect("create odd");
    generate(&sim, 0, 200, |_| {}).await;
    tokio::task::block_in_place(|| kt.converge(&sim));
    // Malformed JSON lines in the watch stream: counted and logged, the stream goes on.
    sim.faults().garble_next_watch_lines(3);
    generate(&sim, 200, 200, |_| {}).await;
    tokio::task::block_in_place(|| kt.converge(&sim));
    assert!(
        kt.logs().contains("malformed watch event skipped"),
        "{}",
        kt.logs()
    );
    let e = kt.cli(&["query", "--limit", "0", "--type", "Bizarre", "-o", "json"]);
    assert_eq!(e.as_array().unwrap().len(), 1);
    assert_eq!(e[0]["category"], "other");
    tokio::task::block_in_place(|| kt.stop());
}

/// Issue 11, item 3: an Event dated 9999-12-30 was stored like any other and became the newest
/// event forever (analysis windows end there, so they showed nothing). The watch path refuses
/// it, logs how many it refused, and stores the rest of the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_dated_far_in_the_future_is_refused_and_the_stream_goes_on() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempdir();
    let mut kt = Kubetrail::new(dir.path(), &sim);
    kt.start();
    let mut far = backoff(1_000_000);
    far.reason = Some("FromTheFuture".into());
    far.event_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        "9999-12-30T00:00:00Z".parse().expect("time"),
    ));
    sim.create(&far).expect("create the far-future event");
    generate(&sim, 0, 50, |_| {}).await;
    let want = simulated(&sim).len() - 1;
    tokio::task::block_in_place(|| {
        wait_for(
            "every other event to be stored",
            || kt.logs(),
            || kt.stored().len() == want,
        )
    });
    let future = kt.cli(&[
        "query",
        "--limit",
        "0",
        "--reason",
        "FromTheFuture",
        "-o",
        "json",
    ]);
    assert_eq!(future.as_array().map(Vec::len), Some(0), "{future}");
    tokio::task::block_in_place(|| {
        wait_for(
            "the refusal to be logged",
            || kt.logs(),
            || {
                kt.logs()
                    .contains("refused events dated too far in the future")
            },
        )
    });
    tokio::task::block_in_place(|| kt.stop());
}

/// Waits until `cond` holds, or fails with `what` and the logs.
fn wait_for(what: &str, logs: impl Fn() -> String, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_replicas_only_the_leader_watches_and_the_other_takes_over_when_it_dies() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempdir();
    let base = Kubetrail::new(dir.path(), &sim);
    let flags = ["--leader-elect", "--lease-duration", "2s"];
    let mut a = base.replica("a.log", &flags);
    let mut b = base.replica("b.log", &flags);
    a.start();
    tokio::task::block_in_place(|| {
        wait_for(
            "a to lead",
            || a.logs(),
            || a.logs().contains("became leader"),
        )
    });
    b.start();
    generate(&sim, 0, 1_000, |_| {}).await;
    tokio::task::block_in_place(|| a.converge(&sim));
    assert!(
        !b.logs().contains("became leader"),
        "two leaders: {}",
        b.logs()
    );
    assert!(
        !b.logs().contains("watching events"),
        "the follower watched: {}",
        b.logs()
    );
    // The leader dies without releasing the lease; the follower takes over after it expires.
    tokio::task::block_in_place(|| a.kill());
    generate(&sim, 1_000, 1_000, |_| {}).await;
    tokio::task::block_in_place(|| {
        wait_for(
            "b to take over",
            || b.logs(),
            || b.logs().contains("became leader"),
        )
    });
    let stored = tokio::task::block_in_place(|| b.converge(&sim));
    assert_eq!(stored.len(), 2_000);
    let lease = sim
        .get::<k8s_openapi::api::coordination::v1::Lease>(Some("default"), "kubetrail")
        .expect("get lease")
        .expect("lease exists");
    assert_eq!(lease.spec.unwrap().lease_transitions, Some(1));
    // A graceful stop hands the lease back.
    tokio::task::block_in_place(|| b.stop());
    assert!(b.logs().contains("released the lease"), "{}", b.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_clusters_are_labelled_and_one_failing_does_not_stop_the_others() {
    let alpha = Simulator::start().await.expect("sim alpha");
    let beta = Simulator::start().await.expect("sim beta");
    let dir = tempdir();
    let base = Kubetrail::new(dir.path(), &alpha);
    beta.write_kubeconfig(dir.path().join("beta.kubeconfig"))
        .expect("kubeconfig");
    // A third cluster whose API server is not there at all.
    let gone = Simulator::start().await.expect("sim gone");
    gone.write_kubeconfig(dir.path().join("gone.kubeconfig"))
        .expect("kubeconfig");
    gone.shutdown().await;
    let config = dir.path().join("kubetrail.yaml");
    std::fs::write(
        &config,
        "clusters:\n  - name: alpha\n    kubeconfig: kubeconfig\n  - name: beta\n    kubeconfig: beta.kubeconfig\n  - name: gone\n    kubeconfig: gone.kubeconfig\n",
    )
    .expect("config");
    let mut kt = base.replica("multi.log", &["--config", config.to_str().unwrap()]);
    kt.start();
    generate(&alpha, 0, 300, |_| {}).await;
    generate(&beta, 1_000, 200, |_| {}).await;
    let want: BTreeMap<String, u64> = simulated(&alpha)
        .into_iter()
        .chain(simulated(&beta))
        .collect();
    tokio::task::block_in_place(|| {
        wait_for("both clusters stored", || kt.logs(), || kt.stored() == want)
    });
    let by_cluster = kt.cli(&["aggregate", "--group-by", "cluster", "-o", "json"]);
    let counts: BTreeMap<String, u64> = by_cluster
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"]["cluster"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts.get("alpha"),
        Some(&simulated(&alpha).values().sum::<u64>())
    );
    assert_eq!(
        counts.get("beta"),
        Some(&simulated(&beta).values().sum::<u64>())
    );
    assert!(
        kt.logs().contains("cannot reach the API server"),
        "{}",
        kt.logs()
    );
    tokio::task::block_in_place(|| kt.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_notes_and_large_events_are_kept_whole() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempdir();
    let mut kt = Kubetrail::new(dir.path(), &sim);
    kt.start();
    let mut big = backoff(0);
    let note: String = (0..64 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    big.note = Some(note.clone());
    // Some controllers attach large annotations too: an Event of ~80 KB in all.
    big.metadata.annotations =
        Some([("example.com/dump".to_string(), "x".repeat(16 * 1024))].into());
    sim.create(&big).expect("create");
    tokio::task::block_in_place(|| kt.converge(&sim));
    let e = kt.cli(&["query", "-o", "json"]);
    assert_eq!(e[0]["note"].as_str().unwrap(), note);
    tokio::task::block_in_place(|| kt.stop());
}

/// Every failure scenario of the simulator, watched live, ends as one incident of its workload
/// (or node) with the root-cause rule that fits it; a plain rollout is no incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scenario_becomes_an_incident_with_its_root_cause() {
    let sim = Simulator::start().await.expect("sim");
    for scenario in Scenario::ALL {
        run_scenario(&sim, scenario, Pace::instant())
            .await
            .expect("scenario");
    }
    let dir = tempdir();
    let mut kt = Kubetrail::new(dir.path(), &sim);
    kt.start();
    tokio::task::block_in_place(|| kt.converge(&sim));
    let incidents = kt.cli(&["incidents", "--since", "1h", "-o", "json"]);
    let rules: BTreeMap<String, String> = incidents
        .as_array()
        .expect("array")
        .iter()
        .map(|i| {
            (
                i["subject"].as_str().unwrap_or_default().to_string(),
                i["root_cause"]["rule"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    for (subject, rule) in [
        ("payments/Deployment/payments-api", "crash-loop"),
        ("shop/Deployment/checkout", "image-pull"),
        ("reports/Deployment/report-worker", "failed-mount"),
        ("Node/worker-2", "node-oom"),
        ("Node/worker-3", "node-condition-evictions"),
        ("ml/Deployment/trainer", "insufficient-resources"),
        ("mesh/Deployment/orders", "sidecar-not-ready"),
    ] {
        assert_eq!(
            rules.get(subject).map(String::as_str),
            Some(rule),
            "{subject}: {incidents:#}"
        );
    }
    assert!(
        !rules.contains_key("shop/Deployment/web"),
        "a rollout is no incident: {incidents:#}"
    );
    tokio::task::block_in_place(|| kt.stop());
}

/// Issue 15: a rollout watched live (the change tracker records the image change with its field
/// manager), then the new pods crash-loop: the incident is rooted in the rollout, with the
/// rollback as its hint, and `kubetrail changes` lists it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_after_a_live_rollout_is_rooted_in_the_rollout() {
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    let sim = Simulator::start().await.expect("sim");
    let dir = tempdir();
    let mut kt = Kubetrail::new(dir.path(), &sim);
    kt.start();
    let image = |tag: &str| Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("shop".into()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector::default(),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "app".into(),
                        image: Some(format!("registry.local/web:{tag}")),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    let created = sim.create(&image("1.0")).expect("deployment");
    // The tracker's first listing is a baseline: wait until it watches, then roll out.
    let deadline = Instant::now() + WAIT;
    let mut rolled = false;
    let changes = loop {
        if kt.logs().contains("stream=changes/deployments") {
            if !rolled {
                let mut next = image("1.1");
                next.metadata = created.metadata.clone();
                sim.replace_as(&next, "kubectl-set").expect("rollout");
                rolled = true;
            }
            let found = kt.cli(&["changes", "-n", "shop", "-o", "json"]);
            if found.as_array().is_some_and(|a| {
                a.iter()
                    .any(|c| c["fields"].to_string().contains("registry.local/web:1.1"))
            }) {
                break found;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no rollout recorded: {}",
            kt.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(changes[0]["manager"], "kubectl-set", "{changes:#}");
    for i in 0..6 {
        // A pod of the new ReplicaSet, named as Kubernetes names them (`web-<hash>-<suffix>`).
        let mut e = common::sim::backoff("shop", "web", 1, i);
        let pod = "web-7d9f8b6c4-x2x9z";
        e.metadata.name = Some(format!("{pod}.{i:08x}"));
        if let Some(r) = e.regarding.as_mut() {
            r.name = Some(pod.into());
        }
        create_with_repeats(&sim, i, &e);
    }
    tokio::task::block_in_place(|| kt.converge(&sim));
    let incidents = kt.cli(&["incidents", "--since", "1h", "-o", "json"]);
    let web = incidents
        .as_array()
        .expect("array")
        .iter()
        .find(|i| i["subject"] == "shop/Deployment/web")
        .unwrap_or_else(|| panic!("no incident of web: {incidents:#}"));
    assert_eq!(web["root_cause"]["rule"], "change", "{web:#}");
    assert!(
        web["root_cause"]["message"]
            .as_str()
            .unwrap()
            .contains("registry.local/web:1.0 → registry.local/web:1.1"),
        "{web:#}"
    );
    assert!(
        web["root_cause"]["hint"]
            .as_str()
            .unwrap()
            .contains("kubectl rollout undo deployment/web -n shop")
    );
    tokio::task::block_in_place(|| kt.stop());
}
