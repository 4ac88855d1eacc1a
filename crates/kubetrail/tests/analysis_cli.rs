//! End-to-end tests of `patterns`, `anomalies`, `incidents` and `explain` on imported real
//! dumps: the JSON contract of the analysis issue, the default window for historical dumps, and
//! results worked out by reading the dumps. Each test uses its own data directory.

use serde_json::Value;

mod common;

use common::{Kt, stderr};

const MOUNT: &str = "troubleshoot__message-container-creating-failed-mount.events.json";
const MOUNT_NS: &str = "message-container-creating-failed-mount";
const C7: &str = "k8s-failure-reproduction__C7__2023-08-21T19-25-26.events.json";

fn has(v: &Value, fields: &[&str]) {
    for f in fields {
        assert!(v.get(f).is_some(), "missing {f} in {v}");
    }
}

/// The default window is the hour before the newest stored event (05:43:47 on 2023-07-10): it
/// holds the kubelet's repeats that the dump records at their last times (1463 BackOffs of
/// init-demo2 at 05:15:47, the three old image-pulling pods' 390 + 393 + 391 at 05:12–05:13 and
/// the new pods' 1 + 18, 1 + 19, 1 + 18, the hostPath FailedMount's 177 at 05:39:03, the
/// timed-out mount's 108 at 05:43:47).
#[test]
fn patterns_follow_the_json_contract_and_default_to_the_last_hour_of_the_data() {
    let kt = Kt::with(&[MOUNT]);
    let found = kt.json(&["patterns", "-o", "json"]);
    let found = found.as_array().unwrap();
    for p in found {
        has(
            p,
            &[
                "key",
                "count",
                "frequency_per_min",
                "first_seen",
                "last_seen",
                "objects",
                "samples",
            ],
        );
        has(
            &p["key"],
            &["cluster", "namespace", "kind", "reason", "template"],
        );
        assert!(p["samples"].as_array().unwrap().len() <= 3);
        assert!(p["count"].as_u64().unwrap() >= 3);
        assert!(p["frequency_per_min"].as_f64().unwrap() > 0.5);
    }
    let top: Vec<(&str, u64)> = found
        .iter()
        .take(4)
        .map(|p| {
            (
                p["key"]["reason"].as_str().unwrap(),
                p["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            ("BackOff", 1463),
            ("BackOff", 1174 + 58),
            ("FailedMount", 177),
            ("FailedMount", 108)
        ]
    );
    assert_eq!(found[0]["key"]["cluster"], "test");
    assert_eq!(found[0]["key"]["namespace"], MOUNT_NS);
    assert_eq!(found[1]["objects"].as_array().unwrap().len(), 6);
    assert_eq!(
        found[1]["samples"][0]["note"],
        r#"Back-off pulling image "noimage.com/no-such-image""#
    );

    // --since as a duration counts back from the end of the data: the last 30 minutes miss the
    // old pods' repeats at 05:12–05:13.
    let recent = kt.json(&["patterns", "--since", "30m", "-o", "json"]);
    let pulling = recent
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"]["template"] == r#"Back-off pulling image "<*>""#)
        .expect("the image pull pattern");
    assert_eq!(pulling["count"], 58);
    // Thresholds are flags.
    let strict = kt.json(&["patterns", "--min-count", "200", "-o", "json"]);
    assert_eq!(strict.as_array().unwrap().len(), 2);
    let table = kt.table(&["patterns", "-o", "table"]);
    assert!(table.starts_with("COUNT"), "{table}");
    assert!(table.contains("Back-off restarting failed container"));
}

/// Hourly buckets from 23:00 on July 9 to the window's hour (05:00 on July 10); see the
/// library's test of the same dump for the arithmetic.
#[test]
fn anomalies_follow_the_json_contract() {
    let kt = Kt::with(&[MOUNT]);
    let found = kt.json(&["anomalies", "-o", "json"]);
    let got: Vec<(&str, &str, u64)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            has(a, &["key", "kind", "score", "rate", "baseline", "at"]);
            has(&a["key"], &["cluster", "namespace", "reason"]);
            assert_eq!(a["at"], "2023-07-10T05:00:00Z");
            (
                a["key"]["reason"].as_str().unwrap(),
                a["kind"].as_str().unwrap(),
                a["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("BackOff", "spike", 2695),
            ("FailedMount", "spike", 285),
            ("Unhealthy", "new_reason", 69),
            ("Failed", "new_reason", 42),
            ("Killing", "new_reason", 7),
            ("FailedScheduling", "new_reason", 5),
            ("FailedKillPod", "new_reason", 1),
        ]
    );
    // Without history before the window nothing can be judged.
    let none = kt.json(&[
        "anomalies",
        "--history",
        "1h",
        "--since",
        "2023-07-09T23:00:00Z",
        "-o",
        "json",
    ]);
    assert_eq!(none, Value::Array(vec![]));
    assert!(
        kt.table(&["anomalies", "-o", "table"])
            .contains("new reason")
    );
    let bad = kt.run(&["anomalies", "--bucket", "0s"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--bucket"), "{}", stderr(&bad));
}

#[test]
fn incidents_follow_the_json_contract_with_their_root_causes() {
    let kt = Kt::with(&[MOUNT]);
    let found = kt.json(&["incidents", "-o", "json"]);
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 6);
    let mut rules: Vec<&str> = Vec::new();
    for i in found {
        has(
            i,
            &[
                "id",
                "severity",
                "status",
                "start",
                "end",
                "root_cause",
                "objects",
                "event_count",
            ],
        );
        has(&i["root_cause"], &["reason", "rule", "evidence"]);
        assert!(i["id"].as_str().unwrap().starts_with("inc-"));
        assert!(["ongoing", "resolved"].contains(&i["status"].as_str().unwrap()));
        rules.push(i["root_cause"]["rule"].as_str().unwrap());
    }
    rules.sort();
    assert_eq!(
        rules,
        [
            "crash-loop",
            "failed-mount",
            "first-failure",
            "image-pull",
            "insufficient-resources",
            "liveness-restart"
        ]
    );
    let mount = found
        .iter()
        .find(|i| i["root_cause"]["rule"] == "failed-mount")
        .unwrap();
    assert_eq!(mount["event_count"], 178 + 109);
    assert_eq!(
        mount["objects"],
        serde_json::json!([format!(
            "{MOUNT_NS}/Pod/troubleshoot-copyfromhost-4m79m-psdjm"
        )])
    );
    // The same incidents get the same ids in another run.
    let again = kt.json(&["incidents", "-o", "json"]);
    assert_eq!(again[0]["id"], found[0]["id"]);
    let table = kt.table(&["incidents", "-o", "table"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("liveness-restart"));
}

#[test]
fn incidents_keep_a_node_condition_apart_from_taint_evictions_and_filter_by_namespace() {
    let kt = Kt::with(&[C7, MOUNT]);
    // The newest stored event is C7's (2023-08-22), so the default window holds only C7.
    let found = kt.json(&["incidents", "-o", "json"]);
    let rules: Vec<(&str, &str)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["subject"].as_str().unwrap(),
                i["root_cause"]["rule"].as_str().unwrap(),
            )
        })
        .collect();
    // Both are over (the dump is from 2023), so none sorts first as ongoing.
    let mut rules = rules;
    rules.sort();
    assert_eq!(
        rules,
        [
            ("Node/kind-worker", "node-condition"),
            ("default/Deployment/php-apache", "taint-not-tolerated"),
        ]
    );
    // A namespace filter moves the window's end to that namespace's newest event.
    let mount = kt.json(&["incidents", "--namespace", MOUNT_NS, "-o", "json"]);
    assert_eq!(mount.as_array().unwrap().len(), 6);
}

#[test]
fn explain_tells_the_story_of_a_pod_with_its_root_cause_and_hints() {
    let kt = Kt::with(&[MOUNT]);
    let pod = format!("{MOUNT_NS}/Pod/troubleshoot-copyfromhost-4m79m-psdjm");
    let story = kt.json(&["explain", &pod, "-o", "json"]);
    has(
        &story,
        &["object", "timeline", "incidents", "root_cause", "hints"],
    );
    assert_eq!(story["object"], pod.as_str());
    assert_eq!(story["timeline"].as_array().unwrap().len(), 2);
    assert_eq!(story["root_cause"]["rule"], "failed-mount");
    assert_eq!(story["root_cause"]["reason"], "FailedMount");
    assert!(
        story["hints"][0]
            .as_str()
            .unwrap()
            .contains("/var/lib/collectd")
    );
    assert_eq!(story["incidents"].as_array().unwrap().len(), 1);

    let deployment = kt.json(&[
        "explain",
        &format!("{MOUNT_NS}/Deployment/no-image-deployment"),
        "-o",
        "json",
    ]);
    assert_eq!(deployment["root_cause"]["rule"], "image-pull");
    let owned = deployment["related"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relation"] == "owned" && r["object"].as_str().unwrap().contains("/Pod/"))
        .count();
    assert_eq!(owned, 6);
    assert!(
        deployment["hints"][0]
            .as_str()
            .unwrap()
            .contains("noimage.com/no-such-image")
    );

    let text = kt.table(&["explain", &pod, "-o", "table"]);
    assert!(text.contains("Likely root cause (failed-mount)"), "{text}");
    assert!(text.contains("What to check next"));
    assert!(text.contains("Timeline:"));
}

#[test]
fn explain_refuses_a_malformed_object_and_tells_when_there_is_nothing() {
    let kt = Kt::with(&[MOUNT]);
    let bad = kt.run(&["explain", "just-a-name"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("NAMESPACE/KIND/NAME"),
        "{}",
        stderr(&bad)
    );
    let nothing = kt.json(&["explain", "shop/Deployment/nothing", "-o", "json"]);
    assert_eq!(nothing["timeline"], Value::Array(vec![]));
    assert_eq!(nothing["root_cause"], Value::Null);
}

#[test]
fn an_empty_store_has_no_patterns_anomalies_or_incidents() {
    // An existing store with nothing in it (with no store at all, reading is an error:
    // kubectl_habits.rs).
    let kt = Kt::new();
    let empty = kt.file(
        "empty.json",
        r#"{"apiVersion": "v1", "kind": "List", "items": []}"#,
    );
    kt.import(&[&empty]);
    for cmd in ["patterns", "anomalies", "incidents"] {
        assert_eq!(kt.json(&[cmd, "-o", "json"]), Value::Array(vec![]), "{cmd}");
    }
    let out = kt.table(&["incidents", "-o", "table"]);
    assert_eq!(out, "No incidents in the window.\n");
}

/// Issue 11, item 3: one imported event dated 9999-12-30 became the newest stored event, so the
/// default windows of `incidents` and `patterns` (the hour before the newest event) held
/// nothing else and both came back empty. The import refuses it, says why and where, and the
/// dump's findings stay.
#[test]
fn one_far_future_event_in_an_import_is_refused_and_the_analysis_still_shows_the_dump() {
    let kt = Kt::new();
    let future = kt.file(
        "future.json",
        r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"x.1","namespace":"default","uid":"from-the-future"},
        "involvedObject":{"kind":"Pod","name":"x","namespace":"default"},
        "reason":"BackOff","message":"Back-off","type":"Warning","count":3,
        "firstTimestamp":"9999-12-30T00:00:00Z","lastTimestamp":"9999-12-30T00:00:00Z"}"#,
    );
    let summary = kt.import(&[&common::real(MOUNT), &future]);
    assert_eq!(
        summary["skipped"]["event dated more than 24h after it was received"], 1,
        "{summary}"
    );
    let listed = &summary["skipped_events"][0];
    assert_eq!(
        listed["location"],
        format!("{}:1", future.display()),
        "{summary}"
    );
    let status = kt.json(&["status", "-o", "json"]);
    assert!(
        status["newest"].as_str().unwrap().starts_with("2023-07-10"),
        "{status}"
    );
    let incidents = kt.json(&["incidents", "-o", "json"]);
    assert_eq!(incidents.as_array().unwrap().len(), 6, "{incidents}");
    let patterns = kt.json(&["patterns", "-o", "json"]);
    assert_eq!(patterns[0]["key"]["reason"], "BackOff", "{patterns}");
    assert_eq!(patterns[0]["count"], 1463, "{patterns}");
}

/// Issue 13, 3: a cluster-wide incident shows its cause and the workloads it hit, one line
/// each with counts. In C5 (min scale) the only node is not ready at creation: its static pods
/// (NodeNotReady) and coredns and local-path-provisioner (not-ready taint) wait together.
#[test]
fn incidents_list_the_workloads_a_cluster_wide_cause_hit() {
    let kt =
        Kt::with(&["k8s-failure-reproduction__C5__min_scale__2023-09-20T00-09-59.events.json"]);
    let out = kt.run(&["incidents", "--since", "all", "-o", "table"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Cluster/no-ready-node: no-ready-node (6 workloads)"),
        "{text}"
    );
    assert!(
        text.contains("  kube-system/Deployment/coredns  2 objects, 2 events"),
        "{text}"
    );
    let found = kt.json(&["incidents", "--since", "all", "-o", "json"]);
    let wide = found
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["cluster_wide"] == true)
        .expect("a cluster-wide incident");
    assert_eq!(wide["affected"].as_array().unwrap().len(), 6);
}
