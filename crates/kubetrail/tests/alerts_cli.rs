//! `kubetrail alerts`: the dry run on the real dumps (the JSON contract), rule
//! validation errors, silences, and listing.

mod common;

use common::{Kt, real};

#[test]
fn alerts_test_prints_the_json_contract_one_alert_per_group() {
    let kt = Kt::new();
    let dump = real("troubleshoot__message-pod-init-crashloop-backoff.events.json");
    let alerts = kt.json(&["alerts", "test", dump.to_str().unwrap(), "-o", "json"]);
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    for a in alerts {
        let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "annotations",
                "event_count",
                "first_seen",
                "group_key",
                "labels",
                "last_seen",
                "rule",
                "severity"
            ]
        );
    }
    let crash = alerts.iter().find(|a| a["rule"] == "crash-loop").unwrap();
    assert_eq!(
        crash["group_key"],
        "default/message-pod-init-crashloop-backoff/Pod/init-demo"
    );
    assert_eq!(crash["severity"], "error");
    assert_eq!(crash["event_count"], 111);
    assert_eq!(crash["first_seen"], "2023-07-11T03:32:15Z");
    assert_eq!(crash["labels"]["alertname"], "crash-loop");
    // The table shows the events that triggered each alert.
    let out = kt.run(&["alerts", "test", dump.to_str().unwrap(), "-o", "table"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 alert(s) from 17 event(s)"), "{text}");
    assert!(
        text.contains("- message-pod-init-crashloop-backoff/Pod/init-demo BackOff ×111"),
        "{text}"
    );
}

#[test]
fn alerts_test_uses_only_the_given_rules_file() {
    let kt = Kt::new();
    let rules = kt.file(
        "rules.yaml",
        "rules:\n  - name: liveness\n    match: {reason: Unhealthy, message: \"(?i)liveness\"}\n    condition: count >= 5 within 10m\n    group_by: [cluster, namespace, name]\n",
    );
    let dump = real("troubleshoot__message-container-creating-failed-mount.events.json");
    let alerts = kt.json(&[
        "alerts",
        "test",
        "--rules",
        rules.to_str().unwrap(),
        dump.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rule"], "liveness");
    assert_eq!(
        alerts[0]["group_key"],
        "default/message-container-creating-failed-mount/failing-liveness-pod"
    );
}

#[test]
fn bad_rules_are_errors_naming_the_rule_the_field_and_the_line() {
    let kt = Kt::new();
    let dump = real("troubleshoot__message-image-pull-fail.events.json");
    for (text, parts) in [
        (
            "rules:\n  - name: ok\n  - name: broken\n    condition: count >= 3 whenever\n",
            vec!["rule \"broken\"", "field condition", "line 4"],
        ),
        (
            "rules:\n  - name: typo\n    mach: {reason: BackOff}\n",
            vec!["rule \"typo\"", "mach", "line 3"],
        ),
    ] {
        let rules = kt.file("bad.yaml", text);
        let out = kt.run(&[
            "alerts",
            "test",
            "--rules",
            rules.to_str().unwrap(),
            dump.to_str().unwrap(),
        ]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.yaml"), "{err}");
        for p in parts {
            assert!(err.contains(p), "{err:?} should contain {p:?}");
        }
    }
    // In the config file too.
    let config = kt.file(
        "kubetrail.yaml",
        "alerting:\n  rules:\n    - name: mine\n      match: {severity: loud}\n",
    );
    let out = kt.run(&["--config", config.to_str().unwrap(), "alerts", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rule \"mine\"") && err.contains("match.severity") && err.contains("line 4"),
        "{err}"
    );
}

#[test]
fn silences_are_created_listed_and_expired() {
    let kt = Kt::new();
    let created = kt.json(&[
        "alerts",
        "silence",
        "create",
        "alertname=crash-loop",
        "namespace=~shop|cart",
        "--duration",
        "2h",
        "--comment",
        "deploy",
        "--author",
        "ops",
        "-o",
        "json",
    ]);
    let id = created[0]["id"].as_i64().unwrap();
    assert!(id > 0);
    let listed = kt.json(&["alerts", "silence", "list", "-o", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["matchers"][1]["op"], "=~");
    assert_eq!(listed[0]["created_by"], "ops");
    let out = kt.run(&["alerts", "silence", "expire", &id.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        kt.json(&["alerts", "silence", "list", "-o", "json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        kt.json(&["alerts", "silence", "list", "--all", "-o", "json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let bad = kt.run(&[
        "alerts",
        "silence",
        "create",
        "alertname",
        "--duration",
        "1h",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid silence matcher"));
    assert!(
        kt.json(&["alerts", "list", "-o", "json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// The live path: `kubetrail demo` watches the simulator's failure scenarios; every committed
/// batch is evaluated, and each built-in rule raises one alert per failing workload or node.
#[test]
fn the_demo_raises_each_built_in_alert_once_per_group() {
    let kt = Kt::new();
    let out = kt.run(&[
        "demo",
        "--duration",
        "15s",
        "--pace",
        "200ms",
        "--print",
        "critical",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = kt.json(&["alerts", "list", "--limit", "0", "-o", "json"]);
    let alerts = alerts.as_array().unwrap();
    let mut keys: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["group_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "one alert per group: {keys:?}");
    for rule in [
        "crash-loop",
        "oom-killed",
        "node-not-ready",
        "image-pull-failure",
        "failed-mount",
        "failed-scheduling",
    ] {
        assert!(keys.iter().any(|(r, _)| r == rule), "{rule} in {keys:?}");
    }
    for a in alerts {
        assert_eq!(a["status"], "firing");
        assert!(a["event_count"].as_u64().unwrap() >= 1);
        assert!(
            a["deliveries"].as_array().unwrap().is_empty(),
            "no notifier configured"
        );
    }
}
