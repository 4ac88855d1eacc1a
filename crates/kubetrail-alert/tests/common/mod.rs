//! Real components for the alerting tests: a local HTTP receiver (axum) that records requests
//! and can fail or hang, a real Alertmanager process, the SQLite store, and the real dumps.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use kubetrail_alert::{
    AlertFeed, AlertMetrics, Alerting, AlertingConfig, Analyzer, NoAnalysis, RawAlerting,
};
use kubetrail_model::Event;
use kubetrail_store::{SqliteStore, Store};
use tokio_util::sync::CancellationToken;

/// Waits until `check` holds, polling; panics with `what` after `timeout`.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status the receiver answered.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Default)]
struct ReceiverState {
    requests: Mutex<Vec<Received>>,
    /// Answer 503 to this many requests first.
    fail_first: AtomicUsize,
    /// Answer this status (instead of 503) to the failing requests.
    fail_status: AtomicUsize,
    /// Hang (never answer) on this many requests first.
    hang_first: AtomicUsize,
}

/// A local HTTP receiver for webhook and Slack notifications.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
    server: tokio::task::JoinHandle<()>,
}

async fn receive(
    State(s): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    if s.hang_first.load(Ordering::SeqCst) > 0 {
        s.hang_first.fetch_sub(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
    }
    let status = if s.fail_first.load(Ordering::SeqCst) > 0 {
        s.fail_first.fetch_sub(1, Ordering::SeqCst);
        StatusCode::from_u16(s.fail_status.load(Ordering::SeqCst) as u16)
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    } else {
        StatusCode::OK
    };
    s.requests.lock().unwrap().push(Received {
        headers,
        body,
        status: status.as_u16(),
        at,
    });
    status
}

impl Receiver {
    /// Listens on 127.0.0.1 (a free port); fails the first `fail_first` requests with 503.
    pub async fn start(fail_first: usize) -> Receiver {
        Self::start_on("127.0.0.1:0".parse().unwrap(), fail_first, 503).await
    }

    pub async fn start_on(addr: SocketAddr, fail_first: usize, fail_status: u16) -> Receiver {
        let state = Arc::new(ReceiverState::default());
        state.fail_first.store(fail_first, Ordering::SeqCst);
        state
            .fail_status
            .store(fail_status as usize, Ordering::SeqCst);
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Receiver {
            addr,
            state,
            server,
        }
    }

    pub fn hang_first(&self, n: usize) {
        self.state.hang_first.store(n, Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Every request answered so far (failed ones included).
    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.status < 300)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A real Alertmanager on 127.0.0.1 (random free port), with a minimal config in a temp dir;
/// killed on drop.
pub struct AlertmanagerProcess {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

/// `$KUBETRAIL_ALERTMANAGER`, else `alertmanager` or Debian's `prometheus-alertmanager` on PATH.
fn alertmanager_binary() -> String {
    if let Ok(b) = std::env::var("KUBETRAIL_ALERTMANAGER") {
        return b;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["alertmanager", "prometheus-alertmanager"] {
        if std::env::split_paths(&path).any(|d| d.join(name).is_file()) {
            return name.to_string();
        }
    }
    "alertmanager".to_string()
}

use kubetrail_testkit::free_port;

impl AlertmanagerProcess {
    pub async fn start() -> AlertmanagerProcess {
        let binary = alertmanager_binary();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n",
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {binary} (scripts/test.sh installs prometheus-alertmanager): {e}"
                )
            });
        let am = AlertmanagerProcess {
            url: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        let client = reqwest::Client::new();
        let ready = format!("{}/-/ready", am.url);
        wait_for(
            "alertmanager to be ready",
            Duration::from_secs(30),
            async || {
                let r = client.get(&ready).send().await.ok()?;
                r.status().is_success().then_some(())
            },
        )
        .await;
        am
    }

    /// `GET /api/v2/alerts`.
    pub async fn alerts(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/api/v2/alerts", self.url))
            .await
            .expect("GET /api/v2/alerts")
            .text()
            .await
            .map(|t| serde_json::from_str(&t).expect("a JSON list"))
            .expect("a body")
    }
}

impl Drop for AlertmanagerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SQLite store in `dir`.
pub fn store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir.join("kubetrail.db")).expect("open the store"))
}

/// The alerting section from YAML (as under `alerting:`).
pub fn config(yaml: &str) -> AlertingConfig {
    let raw: RawAlerting = yaml_serde::from_str(yaml).expect("valid alerting YAML");
    raw.validate(yaml, Path::new("."))
        .expect("a valid alerting config")
}

/// Starts the live alerting stage (windowed conditions never fire).
pub async fn start(config: AlertingConfig, store: Arc<dyn Store>) -> (Alerting, CancellationToken) {
    start_with(config, store, Arc::new(NoAnalysis)).await
}

/// Starts the live alerting stage with an analyzer for windowed conditions.
pub async fn start_with(
    config: AlertingConfig,
    store: Arc<dyn Store>,
    analyzer: Arc<dyn Analyzer>,
) -> (Alerting, CancellationToken) {
    let cancel = CancellationToken::new();
    let alerting = kubetrail_alert::start(
        config,
        store.clone(),
        store,
        analyzer,
        AlertMetrics::default(),
        cancel.clone(),
    )
    .await
    .expect("start alerting");
    (alerting, cancel)
}

/// Writes a batch to the store as a pipeline does, then hands alerting what the write
/// committed.
pub async fn commit(store: &Arc<dyn Store>, feed: &AlertFeed, events: Vec<Event>) {
    let written = store.write_batch(events, None).await.expect("stored");
    feed.committed(written).await;
}

/// Stops it as `kubetrail run` does.
pub async fn stop(alerting: Alerting, cancel: CancellationToken) {
    cancel.cancel();
    drop(alerting.feed);
    alerting.evaluation.await.unwrap();
    alerting.delivery.await.unwrap();
}

/// A Warning crash BackOff of pod `shop/<pod>` of Deployment `shop/web`, processed, seen
/// `count` times until now.
pub fn backoff(pod: &str, count: u64) -> Event {
    let now = kubetrail_model::Timestamp::now();
    let mut e: Event = serde_json::from_value(serde_json::json!({
        "cluster": "prod", "uid": format!("uid-{pod}"), "namespace": "shop", "name": format!("{pod}.1"),
        "regarding": {"api_version": "v1", "kind": "Pod", "namespace": "shop", "name": pod, "uid": format!("pod-{pod}")},
        "related": null, "reason": "BackOff", "note": format!("Back-off restarting failed container app in pod {pod}"),
        "type": "Warning", "action": "", "reporting_controller": "kubelet", "reporting_instance": "",
        "first_seen": now, "last_seen": now, "count": count, "resource_version": "1",
        "category": "crash", "severity": "error", "correlation_id": "shop/Deployment/web",
        "owner": {"kind": "Deployment", "name": "web"}, "node": "node-1", "template": "Back-off restarting failed container <*> in pod <*>"
    }))
    .expect("an event");
    e.first_seen = now - jiff::SignedDuration::from_secs(30);
    e
}

/// A Warning probe failure (warning) of pod `shop/<pod>` of Deployment `shop/web` on
/// `node-2`, seen `count` times until now, a second after [`backoff`]'s.
pub fn probe_failure(pod: &str, count: u64) -> Event {
    let mut e = backoff(pod, count);
    e.uid = format!("uid-{pod}-unhealthy");
    e.reason = "Unhealthy".into();
    e.note = "Readiness probe failed: connection refused".into();
    e.template = "Readiness probe failed: connection refused".into();
    e.category = kubetrail_model::Category::Health;
    e.severity = kubetrail_model::Severity::Warning;
    e.node = Some("node-2".into());
    e.last_seen += jiff::SignedDuration::from_secs(1);
    e
}

#[allow(unused_imports)]
pub use kubetrail_testkit::real_events;

/// The events of a dump, processed as `kubetrail import` does (cluster `default`).
pub fn dump_events(path: &Path) -> Vec<Event> {
    use kubetrail_process::{Processor, Rules};
    use kubetrail_source::import::{Item, read_file};
    let mut processor = Processor::new(Rules::builtin());
    let mut out = Vec::new();
    for item in read_file(path, "default").expect("open") {
        match item.expect("read") {
            Item::Event { event, .. } => out.push(processor.process(event)),
            Item::Object(link) => processor.observe(link),
            Item::Revision(_) | Item::Skipped { .. } => {}
        }
    }
    out
}
