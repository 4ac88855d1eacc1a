//! The CLI and the HTTP API read their filters and windows through one query layer
//! (`kubetrail-query`): the same question gets the same answer from both (issue 12, §2).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::services::{free_port, wait_for};
use common::{Kt, stderr};
use serde_json::Value;

const MOUNT: &str = "troubleshoot__message-container-creating-failed-mount.events.json";
const C1: &str = "k8s-failure-reproduction__C1__2024-01-13T15-36-48.events.json";

/// Bug: the API refused `since >= until` while `kubetrail query` accepted it and answered
/// nothing, silently.
#[test]
fn query_refuses_a_since_not_before_until_as_the_api_does() {
    let kt = Kt::with(&[MOUNT]);
    let out = kt.run(&[
        "query",
        "--since",
        "2024-01-02T00:00:00Z",
        "--until",
        "2024-01-01T00:00:00Z",
        "-o",
        "json",
    ]);
    assert!(!out.status.success(), "accepted an empty range");
    assert!(
        stderr(&out).contains("--since: must be before until"),
        "{}",
        stderr(&out)
    );
}

/// Bug: the API trimmed list items (`reason=A, B`) and the CLI did not, so `--reason " X"`
/// matched nothing on the command line.
#[test]
fn list_items_are_trimmed_on_the_command_line_as_in_the_api() {
    let kt = Kt::with(&[MOUNT]);
    let plain = kt.json(&[
        "query",
        "--limit",
        "0",
        "--reason",
        "FailedMount",
        "-o",
        "json",
    ]);
    let spaced = kt.json(&[
        "query",
        "--limit",
        "0",
        "--reason",
        "Nothing, FailedMount ,",
        "-o",
        "json",
    ]);
    assert!(!plain.as_array().unwrap().is_empty());
    assert_eq!(plain, spaced);
}

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(kt: &Kt) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("KUBETRAIL_DATA_DIR", kt.data.path().join("data"))
        .env_remove("KUBETRAIL_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubetrail serve starts");
    let server = Server(child, port);
    wait_for("the server", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    server
}

/// A GET answered 200 with JSON.
fn get(server: &Server, path: &str) -> Value {
    let mut s = TcpStream::connect(("127.0.0.1", server.1)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}\n{body}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// The same questions asked of `kubetrail <command> -o json` and of the API: the same answers.
#[test]
fn the_cli_and_the_api_give_the_same_answer_to_the_same_question() {
    let kt = Kt::with(&[C1]);
    let server = serve(&kt);
    let pairs: [(&[&str], &str); 6] = [
        (
            &["incidents", "--since", "30d", "-o", "json"],
            "/api/v1/incidents?since=30d",
        ),
        (
            &[
                "patterns",
                "--since",
                "2h",
                "--severity",
                "warning+",
                "-o",
                "json",
            ],
            "/api/v1/patterns?since=2h&severity=warning%2B",
        ),
        (
            &["anomalies", "--since", "1d", "-o", "json"],
            "/api/v1/anomalies?since=1d",
        ),
        (
            &[
                "aggregate",
                "--group-by",
                "reason,kind",
                "--reason",
                "Killing, BackOff",
                "-o",
                "json",
            ],
            "/api/v1/aggregate?group_by=reason,kind&reason=Killing,%20BackOff",
        ),
        (
            &["query", "--since", "10m", "--limit", "50", "-o", "json"],
            "/api/v1/events?since=10m&limit=50",
        ),
        (
            &[
                "explain",
                "Node/kind-worker",
                "--since",
                "all",
                "-o",
                "json",
            ],
            "/api/v1/timeline/-/Node/kind-worker?since=all",
        ),
    ];
    for (args, path) in pairs {
        let cli = kt.json(args);
        let mut api = get(&server, path);
        if path.starts_with("/api/v1/events") {
            api = api["events"].take();
        }
        assert_eq!(cli, api, "kubetrail {args:?} and GET {path} disagree");
        if !path.contains("anomalies") {
            let empty = cli.as_array().is_some_and(Vec::is_empty);
            assert!(
                !empty,
                "kubetrail {args:?} found nothing: a weak comparison"
            );
        }
    }
}
