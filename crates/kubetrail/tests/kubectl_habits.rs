//! kubectl habits and a CLI that tells the truth (issue 16, §4).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Kt, stderr};
use serde_json::Value;

const C1: &str = "k8s-failure-reproduction__C1__2024-01-13T15-36-48.events.json";
const MOUNT: &str = "troubleshoot__message-container-creating-failed-mount.events.json";
const C7: &str = "k8s-failure-reproduction__C7__2023-08-21T19-25-26.events.json";

fn kt_cmd(kt: &Kt) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubetrail"));
    c.env("KUBETRAIL_DATA_DIR", kt.data.path().join("data"))
        .env_remove("KUBETRAIL_CONFIG");
    c
}

#[test]
fn all_namespaces_is_accepted_and_conflicts_with_a_namespace() {
    let kt = Kt::with(&[C1]);
    let all = kt.json(&["query", "--limit", "0", "-o", "json"]);
    assert_eq!(kt.json(&["query", "-A", "--limit", "0", "-o", "json"]), all);
    assert_eq!(
        kt.json(&["query", "--all-namespaces", "--limit", "0", "-o", "json"]),
        all
    );
    let out = kt.run(&["query", "-A", "-n", "default"]);
    assert!(!out.status.success());
}

#[test]
fn yaml_wide_and_no_headers_outputs() {
    let kt = Kt::with(&[C1]);
    let json = kt.json(&["incidents", "--since", "all", "-o", "json"]);
    let yaml = kt.table(&["incidents", "--since", "all", "-o", "yaml"]);
    let from_yaml: Value = yaml_serde::from_str(&yaml).unwrap();
    assert_eq!(from_yaml, json);
    let wide = kt.table(&["query", "--limit", "3", "-o", "wide"]);
    let header = wide.lines().next().unwrap();
    for column in ["CLUSTER", "NODE", "CORRELATION", "FIRST SEEN", "MESSAGE"] {
        assert!(header.contains(column), "{header}");
    }
    let plain = kt.table(&["query", "--limit", "3", "-o", "table"]);
    let bare = kt.table(&["query", "--limit", "3", "-o", "table", "--no-headers"]);
    assert_eq!(plain.lines().count(), 4);
    assert_eq!(
        bare.lines().collect::<Vec<_>>(),
        plain.lines().skip(1).collect::<Vec<_>>()
    );
}

#[test]
fn explain_takes_kubectl_forms_and_short_names() {
    let kt = Kt::with(&[C1]);
    let pod = "h1-app-77f798d99c-dm27k";
    let full = kt.json(&["explain", &format!("default/Pod/{pod}"), "-o", "json"]);
    assert_eq!(full["object"], format!("default/Pod/{pod}"));
    for form in [
        vec!["-n", "default", "po/h1-app-77f798d99c-dm27k"],
        vec!["pods/h1-app-77f798d99c-dm27k"],
        vec!["pod", "h1-app-77f798d99c-dm27k"],
    ] {
        let mut args = vec!["explain"];
        args.extend(&form);
        args.extend(["-o", "json"]);
        assert_eq!(kt.json(&args), full, "{form:?}");
    }
    let deploy = kt.json(&["explain", "-n", "default", "deploy/h1-app", "-o", "json"]);
    assert_eq!(deploy["object"], "default/Deployment/h1-app");
    let node = kt.json(&["explain", "node/kind-worker", "-o", "json"]);
    assert_eq!(
        node,
        kt.json(&["explain", "Node/kind-worker", "-o", "json"])
    );
    assert!(!node["timeline"].as_array().unwrap().is_empty());
}

#[test]
fn nothing_matching_tells_what_the_store_holds_and_how_to_reach_it() {
    let kt = Kt::with(&[C1]);
    let out = kt.run(&["query", "--reason", "Nope", "-o", "json"]);
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("the store holds 147 events from 2024-01-13 20:46:13 to 2024-01-13 21:34:57")
            && err.contains("try --since all"),
        "{err}"
    );
}

/// Bug: `--since 2h` meant "before now" in `query`/`aggregate` and "before the end of the data"
/// in the analyses; on last year's dump `query --since 2h` showed nothing.
#[test]
fn since_means_the_same_in_every_command_and_all_reaches_everything() {
    let kt = Kt::with(&[C7, C1]);
    let listed = kt.json(&["query", "--since", "2h", "--limit", "0", "-o", "json"]);
    assert!(
        !listed.as_array().unwrap().is_empty(),
        "query --since 2h found nothing"
    );
    let counted = kt.json(&["aggregate", "--since", "2h", "-o", "json"]);
    assert!(!counted.as_array().unwrap().is_empty());
    // C1 is the newest dump: `--since 2d` (from its end) leaves out C7 (2023); `all` does not.
    let recent = kt.json(&["incidents", "--since", "2d", "-o", "json"]);
    let all = kt.json(&["incidents", "--since", "all", "-o", "json"]);
    let subjects = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["subject"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!subjects(&recent).iter().any(|s| s.contains("php-apache")));
    assert!(
        subjects(&all).iter().any(|s| s.contains("php-apache")),
        "{:?}",
        subjects(&all)
    );
    // Last year's incidents are over, whatever the window.
    for i in all.as_array().unwrap() {
        assert_eq!(i["status"], "resolved", "{}", i["subject"]);
    }
}

/// Bug: a read-only command on a directory with no store created an empty one and answered
/// nothing, as if the store were empty.
#[test]
fn a_read_only_command_never_creates_a_store_and_says_where_it_looked() {
    let kt = Kt::new();
    for cmd in ["query", "incidents", "status"] {
        let out = kt.run(&[cmd, "-o", "json"]);
        assert!(!out.status.success(), "{cmd} succeeded on no store");
        let err = stderr(&out);
        let data = kt.data.path().join("data");
        assert!(
            err.contains(&format!(
                "no store at {}",
                data.join("kubetrail.db").display()
            )),
            "{cmd}: {err}"
        );
        assert!(!data.exists(), "{cmd} created {}", data.display());
    }
}

#[test]
fn piping_into_head_ends_quietly() {
    let kt = Kt::with(&[C1, C7, MOUNT]);
    let mut child = kt_cmd(&kt)
        .args(["query", "--limit", "0", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader leaves, as `head -1` does.
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {err}");
    assert!(
        !err.contains("Broken pipe") && !err.contains("panicked"),
        "{err}"
    );
    let mut head = kt_cmd(&kt)
        .args(["completion", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(head.stdout.take());
    let out = head.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn version_and_completions_and_the_kubectl_plugin_name() {
    let kt = Kt::new();
    let v = kt.json(&["version", "-o", "json"]);
    let commit = v["commit"].as_str().unwrap();
    assert!(commit.len() >= 12 && commit != "unknown", "{v}");
    assert!(v["build_date"].as_str().unwrap().ends_with('Z'), "{v}");
    let long = kt.table(&["--version"]);
    assert!(long.contains(&format!("commit {commit}")), "{long}");
    for shell in ["bash", "zsh", "fish"] {
        let script = kt.table(&["completion", shell]);
        assert!(
            script.contains("kubetrail") && script.contains("explain"),
            "{shell}"
        );
    }
    // `kubectl kubetrail ...`: kubectl runs `kubectl-kubetrail` from the PATH.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_kubetrail"),
        bin.path().join("kubectl-kubetrail"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("kubectl")
        .args(["kubetrail", "version", "-o", "json"])
        .env("PATH", path)
        .output()
        .expect("kubectl runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let through: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(through, v);
}

#[test]
fn local_time_and_table_width_on_request() {
    let kt = Kt::with(&[C1]);
    let out = kt_cmd(&kt)
        .args(["incidents", "--since", "all", "-o", "table", "--local-time"])
        .env("TZ", "Asia/Kolkata")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("+05:30"), "{text}");
    let utc = kt.table(&["incidents", "--since", "all", "-o", "table"]);
    assert!(!utc.contains("+05:30"));
    let out = kt_cmd(&kt)
        .args(["query", "--limit", "0", "-o", "table"])
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() > 10);
    for line in text.lines() {
        assert!(line.chars().count() <= 120, "{line}");
    }
}

#[test]
fn query_watch_follows_the_store() {
    let kt = Kt::with(&[C1]);
    let mut child = kt_cmd(&kt)
        .args(["query", "-w", "--limit", "5", "-o", "ndjson"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no line for {what} within 30s"))
    };
    for _ in 0..5 {
        assert_eq!(next("the listing")["cluster"], "test");
    }
    // An event that happens now, as a live store gets them.
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let event = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [{
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "shop", "uid": "watched-1"},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1", "uid": "p1"},
        "reason": "BackOff", "message": "Back-off restarting failed container", "type": "Warning",
        "count": 1, "firstTimestamp": now, "lastTimestamp": now,
        "source": {"component": "kubelet"}
    }]});
    let file = kt.file("now.json", event.to_string());
    kt.import(&[&file]);
    let followed = next("the import");
    assert_eq!(followed["namespace"], "shop", "{followed}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_demo_tells_incidents_and_alerts_as_they_come_and_sums_up() {
    let kt = Kt::new();
    let out = kt.run(&[
        "demo",
        "--duration",
        "15s",
        "--pace",
        "200ms",
        "--print",
        "critical",
        "--scenarios",
        "crash-loop",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("incident opened: "), "{text}");
    assert!(text.contains("alert fired: crash-loop on "), "{text}");
    assert!(
        !text.contains("alert fired: oom-killed"),
        "only the crash loop was played: {text}"
    );
    let summary = text.split("\nsummary: ").nth(1).expect("a summary");
    assert!(
        summary.contains(" incidents, ") && summary.contains(" alerts fired"),
        "{summary}"
    );
    assert!(summary.contains("web UI: http://127.0.0.1:"), "{summary}");
    let incidents: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(incidents >= 1, "{summary}");
}

/// Severities in colour on a terminal (a pseudo-terminal from util-linux's `script`), none
/// with `NO_COLOR`, none into a pipe unless `--color always`.
#[test]
fn severities_are_coloured_on_a_terminal_unless_no_color() {
    let kt = Kt::with(&[C1]);
    let data = kt.data.path().join("data");
    let cmd = format!(
        "{} query --limit 5 --severity warning+",
        env!("CARGO_BIN_EXE_kubetrail")
    );
    let on_terminal = |no_color: bool| {
        let mut c = Command::new("script");
        c.args(["-qc", &cmd, "/dev/null"])
            .env("KUBETRAIL_DATA_DIR", &data)
            .env_remove("KUBETRAIL_CONFIG")
            .env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c.output().expect("script runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_terminal(false);
    assert!(
        coloured.contains("\u{1b}[33mwarning\u{1b}[0m"),
        "{coloured:?}"
    );
    let plain = on_terminal(true);
    assert!(
        plain.contains("warning") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
    let piped = kt.table(&[
        "query",
        "--limit",
        "5",
        "--severity",
        "warning+",
        "-o",
        "table",
    ]);
    assert!(!piped.contains('\u{1b}'));
    let forced = kt.table(&[
        "query",
        "--limit",
        "5",
        "--severity",
        "warning+",
        "-o",
        "table",
        "--color",
        "always",
    ]);
    assert!(forced.contains("\u{1b}[33m"));
}

/// `-l` selects by the events' labels: those posted through the API carry
/// `kubetrail.io/source=api` and their tenant.
#[test]
fn label_selectors_pick_events_by_their_labels() {
    use std::io::Write;
    let kt = Kt::with(&[C1]);
    let port = common::services::free_port();
    let config = kt.file(
        "serve.yaml",
        "tenants:\n  - name: ops\n    token_env: KT_TEST_TOKEN\n    admin: true\n",
    );
    let mut server = kt_cmd(&kt)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(&config)
        .env("KT_TEST_TOKEN", "habits-token-0123456789")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::services::wait_for("the server", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let body = serde_json::json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "deploy.1", "namespace": "shop"},
        "involvedObject": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "reason": "DeployStarted", "message": "pipeline 42 deploys web", "type": "Normal"
    })
    .to_string();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer habits-token-0123456789\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(answer.starts_with("HTTP/1.1 20"), "{answer}");
    let posted = kt.json(&["query", "-l", "kubetrail.io/source=api", "-o", "json"]);
    let posted = posted.as_array().unwrap();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0]["reason"], "DeployStarted");
    let others = kt.json(&[
        "query",
        "-l",
        "!kubetrail.io/source",
        "--limit",
        "0",
        "-o",
        "json",
    ]);
    assert_eq!(others.as_array().unwrap().len(), 147);
    let limited = kt.json(&[
        "query",
        "-l",
        "kubetrail.io/source!=api",
        "--limit",
        "3",
        "-o",
        "json",
    ]);
    assert_eq!(limited.as_array().unwrap().len(), 3);
    let out = kt.run(&["query", "-l", "env in (a,b)"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--selector: "), "{}", stderr(&out));
}

/// Bug: `kubetrail serve | head -1` (or a log shipper that went away) killed the server: its
/// status lines were `println!`, which panics when stdout's reader is gone. A long-running
/// command drops the line and goes on serving.
#[test]
fn a_server_whose_stdout_reader_left_goes_on_serving() {
    let kt = Kt::with(&[C1]);
    let port = kubetrail_testkit::free_port();
    let mut child = kt_cmd(&kt)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader leaves before the server says where it listens.
    drop(child.stdout.take());
    let healthy = || {
        use std::io::Write;
        let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        let mut answer = String::new();
        let _ = conn.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200")
    };
    let mut exited = None;
    kubetrail_testkit::wait_for(
        "the server to answer /healthz",
        Duration::from_secs(60),
        || {
            exited = child.try_wait().unwrap();
            exited.is_some() || healthy()
        },
    );
    let mut err = String::new();
    if let Some(status) = exited {
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!("the server exited ({status}): {err}");
    }
    assert!(child.try_wait().unwrap().is_none(), "still serving");
    child.kill().unwrap();
    child.wait().unwrap();
}
