//! One poison event wedges nothing (issue 11, item 2). An Event whose message held a NUL (which
//! the API server accepts) made every PostgreSQL write of its batch fail: the live pipeline took
//! that for "store unavailable" and spooled every later batch behind it forever, while
//! `/readyz` said ready; `import` failed the whole file. Now the NUL is stored as `␀`, and an
//! event the store refuses for any other reason (here a CHECK constraint the test adds, standing
//! for a limit no bound foresaw) is quarantined while the rest goes on. Runs `kubetrail` against
//! the simulator and the real PostgreSQL (`KUBETRAIL_TEST_POSTGRES_URL`), in a fresh schema.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::sim::backoff;
use kubetrail_model::EventFilter;
use kubetrail_sim::Simulator;
use kubetrail_store::conformance::{
    POISON, SchemaGuard, fresh_postgres_store, refuse_poison_on_postgres,
};
use kubetrail_store::{EventReader, Page, PostgresOptions, PostgresStore};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

/// A fresh PostgreSQL schema whose `events` refuse the reason [`POISON`].
async fn refusing_postgres() -> SchemaGuard {
    let (_, guard) = fresh_postgres_store().await;
    refuse_poison_on_postgres(&guard).await;
    guard
}

/// `kubetrail --config <dir>/kubetrail.yaml` on the PostgreSQL schema, plus `clusters`.
struct Kt {
    dir: PathBuf,
    config: PathBuf,
}

impl Kt {
    fn new(dir: &Path, guard: &SchemaGuard, clusters: &str) -> Kt {
        let config = dir.join("kubetrail.yaml");
        std::fs::write(
            &config,
            format!(
                "storage:\n  postgres:\n    url: {}\n    schema: {}\n{clusters}",
                guard.url(),
                guard.schema()
            ),
        )
        .expect("write the config");
        Kt {
            dir: dir.to_path_buf(),
            config,
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubetrail"));
        cmd.arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--config")
            .arg(&self.config)
            .env_remove("KUBETRAIL_CONFIG")
            .env_remove("KUBETRAIL_POSTGRES_URL");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("kubetrail runs")
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubetrail {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

/// The test's own connection to the schema.
async fn reader(guard: &SchemaGuard) -> PostgresStore {
    PostgresStore::connect(&PostgresOptions {
        schema: Some(guard.schema().to_string()),
        pool_size: 2,
        ..PostgresOptions::new(guard.url())
    })
    .await
    .expect("the test's own connection to PostgreSQL")
}

/// `kubetrail run`, killed when dropped.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `http://host:port` of its server, from the line it prints at start.
    fn base_url(&self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(rest) = self.logs().split("web UI and API: http://").nth(1) {
                let addr = rest.split('/').next().unwrap_or_default();
                return format!("http://{addr}");
            }
            assert!(Instant::now() < deadline, "no server: {}", self.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status and body of a GET, by curl.
fn get(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", url])
        .output()
        .expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_message_and_a_refused_event_do_not_stop_the_live_pipeline_on_postgres() {
    let sim = Simulator::start().await.expect("sim");
    let guard = refusing_postgres().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let kt = Kt::new(
        dir.path(),
        &guard,
        &format!(
            "clusters:\n  - name: sim\n    kubeconfig: {}\n",
            kubeconfig.display()
        ),
    );
    let log = dir.path().join("run.log");
    let file = std::fs::File::create(&log).expect("log");
    let run = Running {
        child: kt
            .command()
            .args(["run", "--listen", "127.0.0.1:0"])
            .env("KUBETRAIL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("kubetrail run starts"),
        log,
    };

    let event = |i: usize| backoff("shop", "web-7d9f8b6c4", 5, i);
    for i in 0..20 {
        sim.create(&event(i)).expect("create");
    }
    let mut nul = event(20);
    nul.note = Some("exit code 137\0 then nothing".into());
    sim.create(&nul)
        .expect("the API server accepts a NUL in a note");
    let mut poison = event(21);
    poison.reason = Some(POISON.into());
    sim.create(&poison).expect("create");
    for i in 22..60 {
        sim.create(&event(i)).expect("create");
    }

    // Every event but the refused one is stored, the ones after the poison too.
    let reader = reader(&guard).await;
    let deadline = Instant::now() + WAIT;
    let stored = loop {
        let stored = reader
            .query(&EventFilter::default(), &Page::default())
            .await
            .expect("query");
        if stored.len() == 59 {
            break stored;
        }
        assert!(
            Instant::now() < deadline,
            "{} of 59 events stored: the pipeline is stuck\n{}",
            stored.len(),
            run.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(stored.iter().all(|e| e.event.reason != POISON));
    let kept = stored
        .iter()
        .find(|e| e.event.note.starts_with("exit code 137"))
        .expect("the NUL event is stored");
    assert_eq!(kept.event.note, "exit code 137\u{2400} then nothing");

    // The refused event is kept aside, and shown.
    let status = tokio::task::block_in_place(|| kt.json(&["status", "-o", "json"]));
    assert_eq!(status["quarantined"], 1, "{status}");
    assert_eq!(status["quarantine"][0]["event"]["reason"], POISON);
    assert_eq!(status["quarantine"][0]["source"], "watch");
    let error = status["quarantine"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("refuse_poison"), "{error}");
    let table = tokio::task::block_in_place(|| kt.run(&["status", "-o", "table"]));
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("quarantined:  1 event(s)"), "{table}");

    // Ready all along (a refused event is no failing store), and counted.
    let base = tokio::task::block_in_place(|| run.base_url());
    let (code, body) = tokio::task::block_in_place(|| get(&format!("{base}/readyz")));
    assert_eq!(code, 200, "{body}");
    let (_, metrics) = tokio::task::block_in_place(|| get(&format!("{base}/metrics")));
    assert!(
        metrics.contains("kubetrail_pipeline_events_quarantined_total{cluster=\"sim\"} 1"),
        "{metrics}"
    );
    assert!(!run.logs().contains("spooling"), "{}", run.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_into_postgres_stores_the_rest_of_a_file_and_names_the_refused_event() {
    let guard = refusing_postgres().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kt = Kt::new(dir.path(), &guard, "");
    let item = |uid: &str, reason: &str, message: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"{uid}","namespace":"shop","uid":"{uid}"}},
  "involvedObject":{{"kind":"Pod","namespace":"shop","name":"web-1"}},"reason":"{reason}","message":"{message}",
  "type":"Warning","count":1,"lastTimestamp":"2024-05-01T00:00:00Z"}}"#
        )
    };
    let file = dir.path().join("events.json");
    std::fs::write(
        &file,
        format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{},\n{},\n{}\n]}}\n",
            item("u-nul", "BackOff", "exit\\u0000code"),
            item("u-poison", POISON, "refused"),
            item("u-ok", "BackOff", "fine")
        ),
    )
    .expect("write the dump");
    let path = file.display().to_string();
    let summary = tokio::task::block_in_place(|| kt.json(&["import", &path, "-o", "json"]));
    assert_eq!(summary["new"], 2, "{summary}");
    assert_eq!(summary["files_imported"].as_array().map(Vec::len), Some(1));
    let q = &summary["quarantined"][0];
    assert_eq!(q["uid"], "u-poison", "{summary}");
    let location = q["location"].as_str().unwrap_or_default();
    assert!(location.starts_with(&path), "names the file: {location}");
    let table = tokio::task::block_in_place(|| kt.run(&["import", &path]));
    assert!(table.status.success());
    let status = tokio::task::block_in_place(|| kt.json(&["status", "-o", "json"]));
    assert_eq!(
        (&status["events"], &status["quarantined"]),
        (&2.into(), &2.into()),
        "{status}"
    );
    let events = tokio::task::block_in_place(|| kt.json(&["query", "--limit", "0", "-o", "json"]));
    let notes: Vec<&str> = events
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["note"].as_str())
        .collect();
    assert!(notes.contains(&"exit\u{2400}code"), "{notes:?}");
}
