//! Monitoring kubetrail with the tools people run (issue 16): the Prometheus Operator
//! component (`deploy/components/prometheus-operator`) rendered with every overlay, its
//! alert rules checked and unit-tested by the real `promtool`, and the Grafana dashboard
//! (`deploy/grafana/kubetrail.json`) and the rules queried against a real Prometheus scraping
//! a running `kubetrail demo` on its token-free metrics port. `scripts/test.sh` installs
//! Debian's `prometheus` (with `promtool`) when it is missing.

mod common;

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::kustomize::*;
use common::services::{Running, free_port, http_get, wait_for};
use serde_json::Value;

fn component_dir() -> PathBuf {
    deploy_dir().join("components/prometheus-operator")
}

/// `to` relative to `from` (kustomize refuses absolute paths).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (from, to) = (
        from.canonicalize().expect("exists"),
        to.canonicalize().expect("exists"),
    );
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out
}

/// `overlay` with the component, as a user's kustomization would add it.
fn render_with_component(overlay: &str) -> Rendered {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let overlay_dir = deploy_dir().join("overlays").join(overlay);
    let text = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {}\ncomponents:\n  - {}\n",
        relative(dir.path(), &overlay_dir).display(),
        relative(dir.path(), &component_dir()).display()
    );
    std::fs::write(dir.path().join("kustomization.yaml"), text).expect("write");
    render_dir(dir.path(), overlay)
}

fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!("{name} is needed (Debian's prometheus package; scripts/test.sh installs it)")
        })
}

fn succeeded(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rule groups of the rendered PrometheusRule, as a Prometheus rule file.
fn rule_file(r: &Rendered) -> String {
    let rule = one(&r.rules, "PrometheusRule");
    yaml_serde::to_string(&rule["spec"]).expect("yaml")
}

#[test]
fn the_prometheus_operator_component_fits_every_overlay() {
    for overlay in OVERLAYS {
        let r = render_with_component(overlay);
        assert_in_namespace(&r, overlay);
        // The ServiceMonitor selects the overlay's Service and scrapes its metrics port.
        let monitor = one(&r.monitors, "ServiceMonitor");
        let service = one(&r.services, "Service");
        let labels = service.metadata.labels.clone().unwrap_or_default();
        let selector = monitor["spec"]["selector"]["matchLabels"]
            .as_object()
            .expect("matchLabels");
        assert!(!selector.is_empty());
        for (k, v) in selector {
            assert_eq!(
                labels.get(k).map(String::as_str),
                v.as_str(),
                "{overlay}: {k}"
            );
        }
        let ports: BTreeSet<String> = service
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.name)
            .collect();
        for endpoint in monitor["spec"]["endpoints"].as_array().expect("endpoints") {
            let port = endpoint["port"].as_str().expect("a port name");
            assert!(ports.contains(port), "{overlay}: {port} not in {ports:?}");
            assert_eq!(endpoint["path"], "/metrics");
            assert!(
                endpoint.get("bearerTokenSecret").is_none()
                    && endpoint.get("authorization").is_none(),
                "the metrics port needs no token"
            );
        }
        // The job label a ServiceMonitor gives is the Service's name: the rules expect it.
        let job = service.metadata.name.clone().expect("a name");
        assert!(
            rule_file(&r).contains("up{job=~\"kubetrail(-agent|-central)?\"}"),
            "KubetrailDown's job matcher"
        );
        assert!(
            ["kubetrail", "kubetrail-agent", "kubetrail-central"].contains(&job.as_str()),
            "{overlay}: {job}"
        );
    }
}

#[test]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let promtool = tool("promtool");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("rules.yaml"),
        rule_file(&render_with_component("single")),
    )
    .expect("write");
    std::fs::copy(
        component_dir().join("rules.test.yaml"),
        dir.path().join("rules.test.yaml"),
    )
    .expect("copy");
    for args in [
        ["check", "rules", "rules.yaml"],
        ["test", "rules", "rules.test.yaml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("promtool runs");
        succeeded(&format!("promtool {}", args.join(" ")), &out);
    }
}

/// Every PromQL expression of the dashboard (its panels, and the queries of its variables),
/// with Grafana's variables given values, labelled by panel title.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = deploy_dir().join("grafana/kubetrail.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("the dashboard"))
        .expect("json");
    let fill = |e: &str| {
        e.replace("$__rate_interval", "1m")
            .replace("$cluster", ".*")
            .replace("$namespace", ".*")
    };
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            out.push((
                panel["title"].as_str().unwrap_or("").to_string(),
                fill(expr),
            ));
        }
    }
    for var in dash["templating"]["list"].as_array().expect("variables") {
        if var["type"] != "query" {
            continue;
        }
        // label_values(<selector>, <label>): the selector is PromQL.
        let q = var["definition"].as_str().expect("a definition");
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|r| r.rsplit_once(','))
            .map(|(sel, _)| sel)
            .unwrap_or_else(|| panic!("variable {}: {q}", var["name"]));
        out.push((format!("variable {}", var["name"]), fill(inner)));
    }
    out
}

/// Metric names a PromQL expression reads (ours all start with `kubetrail_`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("kubetrail_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// The series names an exposition declares: a counter `x` is sampled as `x_total`, a
/// histogram as `x_bucket`, `x_sum`, `x_count`.
fn exported_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        match kind {
            "counter" => {
                out.insert(format!("{}_total", name.trim_end_matches("_total")));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    out.insert(format!("{name}{suffix}"));
                }
            }
            _ => {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// Panels whose every query has data once the demo has run a little (the others need a
/// failure: spooling, drops, failed deliveries).
const PANELS_WITH_DATA: &[&str] = &[
    "Events received / s, by cluster and source",
    "Occurrences / min, by severity (last 5 minutes)",
    "Top reasons (occurrences in the last 5 minutes)",
    "Alerts firing",
    "Watch synced",
    "Store write latency (p50, p99)",
    // The spool's bound and (empty) depth are set when the pipeline opens the spool.
    "Spool: bytes waiting for the store",
    "Spool full",
    "HTTP requests / s, by route and status",
    "variable \"cluster\"",
    "variable \"namespace\"",
];

/// `promtool query instant` against the Prometheus on `port`: its printed result.
fn query(promtool: &Path, port: u16, expr: &str) -> Result<String, String> {
    let out = Command::new(promtool)
        .args([
            "query",
            "instant",
            &format!("http://127.0.0.1:{port}"),
            expr,
        ])
        .output()
        .expect("promtool runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_dashboard_and_the_rules_query_what_kubetrail_exports() {
    let promtool = tool("promtool");
    let prometheus = tool("prometheus");
    let dir = tempfile::tempdir().expect("tempdir");

    // kubetrail demo, its metrics on their own port as in the cluster.
    let (api, metrics) = (free_port(), free_port());
    let config = dir.path().join("kubetrail.yaml");
    std::fs::write(
        &config,
        format!("serve:\n  listen: 127.0.0.1:{api}\n  metrics_listen: 127.0.0.1:{metrics}\n"),
    )
    .expect("write");
    let _demo = Running(
        Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["demo", "--pace", "100ms"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubetrail demo starts"),
    );
    let mut exposition = String::new();
    wait_for(
        "the demo's metrics",
        Duration::from_secs(90),
        || match http_get(metrics, "/metrics", None) {
            Some((200, text)) if text.contains("kubetrail_analyze_event_occurrences{") => {
                exposition = text;
                true
            }
            _ => false,
        },
    );
    let exported = exported_names(&exposition);

    // Prometheus scraping it (and itself, to see its rule evaluations), with the rules.
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, rule_file(&render_with_component("single"))).expect("write");
    let port = free_port();
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: ['{}']\n\
             scrape_configs:\n  - job_name: kubetrail\n    static_configs:\n      - targets: ['127.0.0.1:{metrics}']\n  \
             - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
            rules.display()
        ),
    )
    .expect("write");
    let log = dir.path().join("prometheus.log");
    let _prometheus = Running(
        Command::new(prometheus)
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("prometheus starts"),
    );
    let prometheus_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !query(&promtool, port, "up{job=\"kubetrail\"} == 1").is_ok_and(|r| !r.is_empty()) {
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped kubetrail: {}",
            prometheus_log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Every expression: metric names kubetrail exports, valid PromQL that evaluates.
    let queries = dashboard_queries();
    assert!(queries.len() > 20, "{} queries", queries.len());
    let rule_exprs: Vec<(String, String)> =
        yaml_serde::from_str::<yaml_serde::Value>(&std::fs::read_to_string(&rules).expect("read"))
            .expect("yaml")["groups"][0]["rules"]
            .as_sequence()
            .expect("rules")
            .iter()
            .map(|r| {
                (
                    format!("rule {}", r["alert"].as_str().unwrap_or("")),
                    r["expr"].as_str().expect("expr").to_string(),
                )
            })
            .collect();
    for (what, expr) in queries.iter().chain(&rule_exprs) {
        for name in metric_names(expr) {
            assert!(
                exported.contains(&name),
                "{what}: {name} is not in kubetrail's /metrics ({expr})"
            );
        }
        if let Err(e) = query(&promtool, port, expr) {
            panic!("{what}: Prometheus refuses {expr}: {e}");
        }
    }
    // The core panels show data; the rules were evaluated without failure.
    let mut missing: Vec<&(String, String)> = queries
        .iter()
        .filter(|(title, _)| PANELS_WITH_DATA.contains(&title.as_str()))
        .collect();
    assert!(missing.len() >= PANELS_WITH_DATA.len(), "{missing:?}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !missing.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no data for {missing:?}; Prometheus: {}",
            prometheus_log()
        );
        std::thread::sleep(Duration::from_millis(500));
        missing.retain(|(_, expr)| query(&promtool, port, expr).is_ok_and(|r| r.is_empty()));
    }
    let evaluated = "sum(prometheus_rule_group_iterations_total) > 3";
    let deadline = Instant::now() + Duration::from_secs(60);
    while !query(&promtool, port, evaluated).is_ok_and(|r| !r.is_empty()) {
        assert!(Instant::now() < deadline, "the rules were never evaluated");
        std::thread::sleep(Duration::from_millis(250));
    }
    let failures = query(
        &promtool,
        port,
        "sum(prometheus_rule_evaluation_failures_total) > 0",
    )
    .expect("a query");
    assert!(failures.is_empty(), "rule evaluations failed: {failures}");
}
