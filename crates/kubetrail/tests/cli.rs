//! End-to-end tests of the `kubetrail` binary: import real dumps, query, aggregate, retention,
//! and every bad-input case of the foundation issue. Each test uses its own data directory.

use std::path::{Path, PathBuf};

mod common;

use common::{Kt, real, stderr};

#[test]
fn importing_real_dumps_twice_stores_each_event_once() {
    let kt = Kt::new();
    let files = [
        real("troubleshoot__message-image-pull-fail.events.json"),
        real("support-bundle-kit__harvester-system__events-k8s-io__v1.events.yaml"),
        real("kspan__deployment-2-pods.mixed.yaml"),
        real("troubleshoot__support-bundle-2021-03-24__test.events.json"),
    ];
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let first = kt.import(&refs);
    assert_eq!(first["events_read"], 17 + 8 + 19 + 369);
    assert_eq!(first["new"], 17 + 8 + 19 + 369);
    assert_eq!(first["files_imported"].as_array().unwrap().len(), 4);
    assert_eq!(first["objects"], 7);
    let second = kt.import(&refs);
    assert_eq!(second["new"], 0);
    assert_eq!(second["updated"], 0);
    assert_eq!(second["unchanged"], 17 + 8 + 19 + 369);
    assert_eq!(kt.stored(), 17 + 8 + 19 + 369);
}

#[test]
fn query_json_follows_the_contract() {
    let kt = Kt::new();
    kt.import(&[&real("troubleshoot__message-image-pull-fail.events.json")]);
    let events = kt.json(&["query", "--limit", "0", "-o", "json"]);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 17);
    for e in events {
        for field in [
            "cluster",
            "uid",
            "namespace",
            "regarding",
            "reason",
            "note",
            "type",
            "action",
            "reporting_controller",
            "first_seen",
            "last_seen",
            "count",
            "category",
            "severity",
            "correlation_id",
            "owner",
            "node",
            "template",
        ] {
            assert!(e.get(field).is_some(), "missing {field} in {e}");
        }
        for field in ["api_version", "kind", "namespace", "name", "uid"] {
            assert!(
                e["regarding"].get(field).is_some(),
                "missing regarding.{field}"
            );
        }
        assert_eq!(e["cluster"], "test");
        assert!(
            ["critical", "error", "warning", "info"].contains(&e["severity"].as_str().unwrap())
        );
        for t in ["first_seen", "last_seen"] {
            let text = e[t].as_str().unwrap();
            assert!(
                text.parse::<jiff::Timestamp>().is_ok(),
                "{t} {text} is not RFC 3339"
            );
        }
    }
    // Newest first.
    let times: Vec<jiff::Timestamp> = events
        .iter()
        .map(|e| e["last_seen"].as_str().unwrap().parse().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    // The image pull failure is found, classified and correlated to its Deployment.
    let pull = events
        .iter()
        .find(|e| e["reason"] == "Failed" && e["note"].as_str().unwrap().contains("pull"))
        .expect("an image pull failure");
    assert_eq!(pull["category"], "image");
    assert_eq!(pull["severity"], "error");
    assert!(
        pull["correlation_id"]
            .as_str()
            .unwrap()
            .contains("/Deployment/"),
        "{pull}"
    );
}

#[test]
fn query_filters_narrow_the_result() {
    let kt = Kt::new();
    kt.import(&[&real(
        "troubleshoot__message-container-creating-failed-mount.events.json",
    )]);
    let all = kt.json(&["query", "--limit", "0", "-o", "json"]);
    let mounts = kt.json(&[
        "query",
        "--limit",
        "0",
        "--reason",
        "FailedMount",
        "-o",
        "json",
    ]);
    let n_all = all.as_array().unwrap().len();
    let n_mounts = mounts.as_array().unwrap().len();
    assert!(n_mounts > 0 && n_mounts < n_all);
    assert!(
        mounts
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["reason"] == "FailedMount")
    );
    let errors = kt.json(&[
        "query",
        "--limit",
        "0",
        "--severity",
        "error+",
        "-o",
        "json",
    ]);
    assert!(
        errors
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["severity"] == "error" || e["severity"] == "critical")
    );
    let searched = kt.json(&[
        "query",
        "--limit",
        "0",
        "--search",
        "MountVolume",
        "-o",
        "json",
    ]);
    assert!(!searched.as_array().unwrap().is_empty());
    assert!(
        searched
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["note"].as_str().unwrap().contains("MountVolume"))
    );
    let limited = kt.json(&["query", "--limit", "3", "-o", "json"]);
    assert_eq!(limited.as_array().unwrap().len(), 3);
    let ndjson = kt.run(&["query", "--limit", "3", "-o", "ndjson"]);
    assert_eq!(String::from_utf8_lossy(&ndjson.stdout).lines().count(), 3);
}

#[test]
fn aggregate_json_is_sorted_by_count_and_counts_occurrences() {
    let kt = Kt::new();
    kt.import(&[&real(
        "k8s-failure-reproduction__C7__2023-08-21T19-25-26.events.json",
    )]);
    let rows = kt.json(&["aggregate", "--group-by", "reason,severity", "-o", "json"]);
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    let counts: Vec<u64> = rows.iter().map(|r| r["count"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    for r in rows {
        assert!(r["key"]["reason"].is_string());
        assert!(r["key"]["severity"].is_string());
        assert!(r["bucket"].is_null());
    }
    // Occurrences, not objects: the sum of counts equals the sum of the events' counts.
    let events = kt.json(&["query", "--limit", "0", "-o", "json"]);
    let total: u64 = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counts.iter().sum::<u64>(), total);
    let bucketed = kt.json(&[
        "aggregate",
        "--group-by",
        "reason",
        "--interval",
        "5m",
        "-o",
        "json",
    ]);
    assert!(
        bucketed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["bucket"].is_string())
    );
    let b: u64 = bucketed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(b, total);
}

fn event_json(uid: &str, count: u64, first: &str, last: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"web.{uid}","namespace":"shop","uid":"{uid}"}},"involvedObject":{{"kind":"Pod","namespace":"shop","name":"web-7d9f8b6c4-x2x9z","fieldPath":"spec.containers{{app}}"}},"reason":"BackOff","message":"Back-off restarting failed container app in pod web-7d9f8b6c4-x2x9z_shop(1)","type":"Warning","count":{count},"firstTimestamp":"{first}","lastTimestamp":"{last}","source":{{"component":"kubelet"}}}}"#
    )
}

#[test]
fn an_updated_copy_adds_only_its_new_occurrences_and_window_counts_are_exact() {
    let kt = Kt::new();
    let v1 = kt.file(
        "v1.ndjson",
        event_json("u1", 3, "2024-01-01T10:00:00Z", "2024-01-01T10:05:00Z").as_bytes(),
    );
    let v2 = kt.file(
        "v2.ndjson",
        event_json("u1", 5, "2024-01-01T10:00:00Z", "2024-01-01T11:30:00Z").as_bytes(),
    );
    let first = kt.import(&[&v1]);
    assert_eq!(
        (first["new"].as_u64(), first["occurrences"].as_u64()),
        (Some(1), Some(3))
    );
    let second = kt.import(&[&v2]);
    assert_eq!(
        (second["updated"].as_u64(), second["occurrences"].as_u64()),
        (Some(1), Some(2))
    );
    let again = kt.import(&[&v2, &v1]);
    assert_eq!(
        (again["unchanged"].as_u64(), again["occurrences"].as_u64()),
        (Some(2), Some(0))
    );
    let count = |since: &str, until: &str| -> u64 {
        let rows = kt.json(&[
            "aggregate",
            "--group-by",
            "reason",
            "--since",
            since,
            "--until",
            until,
            "-o",
            "json",
        ]);
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["count"].as_u64().unwrap())
            .sum()
    };
    // 1 at 10:00, 2 at 10:05, 2 at 11:30.
    assert_eq!(count("2024-01-01T09:00:00Z", "2024-01-01T10:01:00Z"), 1);
    assert_eq!(count("2024-01-01T10:01:00Z", "2024-01-01T11:00:00Z"), 2);
    assert_eq!(count("2024-01-01T11:00:00Z", "2024-01-01T12:00:00Z"), 2);
    assert_eq!(count("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"), 5);
    let events = kt.json(&["query", "-o", "json"]);
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["count"], 5);
    assert_eq!(events[0]["correlation_id"], "shop/Deployment/web");
    assert_eq!(
        events[0]["template"],
        "Back-off restarting failed container <*> in pod <*>"
    );
}

#[test]
fn a_malformed_file_is_named_with_its_line_and_leaves_earlier_files_committed() {
    let kt = Kt::new();
    let good = real("troubleshoot__message-image-pull-fail.events.json");
    let bad = kt.file(
        "broken.json",
        b"{\"kind\":\"EventList\",\"items\":[\n{\"metadata\":{\"uid\":\"a\"}},\n{oops}\n]}",
    );
    let out = kt.run(&[
        "import",
        "-o",
        "json",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("broken.json:3"), "{err}");
    assert!(
        err.contains("troubleshoot__message-image-pull-fail.events.json"),
        "{err}"
    );
    assert_eq!(kt.stored(), 17);
}

#[test]
fn a_file_broken_after_valid_batches_is_rolled_back_whole() {
    let kt = Kt::new();
    // 5,000 valid events (more than one write batch), then garbage.
    let mut text = String::new();
    for i in 0..5_000 {
        text.push_str(&event_json(
            &format!("u{i}"),
            1,
            "2024-01-01T10:00:00Z",
            "2024-01-01T10:00:00Z",
        ));
        text.push('\n');
    }
    text.push_str("{\"truncated\": \n");
    let bad = kt.file("big.ndjson", text.as_bytes());
    let out = kt.run(&["import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("big.ndjson"), "{}", stderr(&out));
    assert_eq!(kt.stored(), 0);
}

#[test]
fn a_truncated_gzip_is_an_error_naming_the_file() {
    let kt = Kt::new();
    let text = std::fs::read(real(
        "troubleshoot__support-bundle-2021-03-24__test.events.json",
    ))
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &text).unwrap();
    let bytes = gz.finish().unwrap();
    let whole = kt.file("whole.json.gz", &bytes);
    let cut = kt.file("cut.json.gz", &bytes[..bytes.len() / 2]);
    assert_eq!(kt.import(&[&whole])["new"], 369);
    let out = kt.run(&["import", cut.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cut.json.gz"), "{}", stderr(&out));
    assert_eq!(kt.stored(), 369);
}

#[test]
fn yaml_that_is_not_an_event_list_is_refused() {
    let kt = Kt::new();
    let p = kt.file(
        "deploy.yaml",
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n",
    );
    let out = kt.run(&["import", p.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("deploy.yaml") && err.contains("Deployment"),
        "{err}"
    );
    let broken = kt.file(
        "broken.yaml",
        b"apiVersion: v1\nitems:\n- kind: Event\n  metadata: [unclosed\n",
    );
    let out = kt.run(&["import", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("broken.yaml:"), "{}", stderr(&out));
}

#[test]
fn bad_flag_values_name_the_flag() {
    let kt = Kt::new();
    for (args, flag) in [
        (vec!["query", "--severity", "loud"], "--severity"),
        (vec!["query", "--since", "yesterday"], "--since"),
        (vec!["query", "--category", "weather"], "--category"),
        (
            vec!["aggregate", "--group-by", "reason,colour"],
            "--group-by",
        ),
        (vec!["aggregate", "--interval", "5x"], "--interval"),
        (vec!["query", "--output", "xml"], "--output"),
    ] {
        let out = kt.run(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr(&out).contains(flag), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn an_unknown_config_field_names_the_field_and_line() {
    let kt = Kt::new();
    let cfg = kt.file(
        "kubetrail.yaml",
        b"cluster: prod\nretention:\n  max_age: 7d\n  max_sise: 1GB\n",
    );
    let out = kt.run(&["--config", cfg.to_str().unwrap(), "status"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("max_sise") && err.contains("line 4") && err.contains("kubetrail.yaml"),
        "{err}"
    );
}

#[test]
fn rules_files_override_the_built_in_classification() {
    let kt = Kt::new();
    let rules = kt.file(
        "rules.yaml",
        b"rules:\n  - match: { reason: BackOff }\n    severity: critical\n    category: other\n",
    );
    let v = kt.file(
        "v.ndjson",
        event_json("u1", 1, "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z").as_bytes(),
    );
    kt.json(&[
        "import",
        "-o",
        "json",
        "--rules",
        rules.to_str().unwrap(),
        v.to_str().unwrap(),
    ]);
    let e = kt.json(&["query", "-o", "json"]);
    assert_eq!(
        (e[0]["severity"].as_str(), e[0]["category"].as_str()),
        (Some("critical"), Some("other"))
    );
}

/// Regression (issue 11, item 1): `kubetrail retention` (and `run`, which applies it at once)
/// deleted an imported dump whose events were older than `max_age` (30 days by default),
/// silently. An event's age counts from when kubetrail stored it, if that is later: a dump
/// imported now is kept for `max_age` from now.
#[test]
fn retention_keeps_an_old_dump_that_was_just_imported() {
    let kt = Kt::new();
    let now = jiff::Timestamp::now();
    let recent = (now - jiff::SignedDuration::from_hours(1)).to_string();
    let old = (now - jiff::SignedDuration::from_hours(24 * 400)).to_string();
    let mut text = event_json("old", 2, &old, &old);
    text.push('\n');
    text.push_str(&event_json("new", 1, &recent, &recent));
    let p = kt.file("mix.ndjson", text.as_bytes());
    kt.import(&[&p]);
    let report = kt.json(&["retention", "-o", "json"]);
    assert_eq!(report["events_deleted"], 0, "{report}");
    let left = kt.json(&["query", "-o", "json"]);
    assert_eq!(left.as_array().unwrap().len(), 2);
    let rows = kt.json(&["aggregate", "-o", "json"]);
    assert_eq!(rows[0]["count"], 3);
}

/// `kubetrail retention --dry-run` deletes nothing and says what would go; the real run then
/// deletes the oldest events to fit the size limit and says how many, per cluster.
#[test]
fn retention_dry_run_deletes_nothing_and_the_size_limit_is_reported() {
    let kt = Kt::new();
    let p = kt.file(
        "one.ndjson",
        event_json("a", 2, "2025-01-01T00:00:00Z", "2025-01-01T00:05:00Z").as_bytes(),
    );
    kt.import(&[&p]);
    let preview = kt.json(&["retention", "--dry-run", "--max-size", "1KB", "-o", "json"]);
    assert_eq!(preview["dry_run"], true, "{preview}");
    assert_eq!(preview["events_deleted"], 0, "{preview}");
    let table = kt.run(&["retention", "--dry-run", "--max-size", "1KB", "-o", "table"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("Dry run, nothing deleted."), "{text}");
    assert!(text.contains("above its limit of 1000"), "{text}");
    assert_eq!(kt.stored(), 1);

    let report = kt.run(&["retention", "--max-size", "1KB", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(json["events_deleted_for_size"], 1, "{json}");
    assert_eq!(json["clusters"]["test"]["events"], 1, "{json}");
    assert_eq!(json["clusters"]["test"]["occurrences"], 2, "{json}");
    let logs = String::from_utf8_lossy(&report.stderr);
    assert!(
        logs.contains("retention deleted events of a cluster") && logs.contains("test"),
        "retention logs what it deleted at info level by default: {logs}"
    );
    assert_eq!(kt.stored(), 0);
}

#[test]
fn a_directory_is_searched_for_event_files() {
    let kt = Kt::new();
    let dir = kt.data.path().join("bundle");
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    std::fs::copy(
        real("sbctl__velero.events.json"),
        dir.join("nested/events.json"),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not events").unwrap();
    std::fs::write(dir.join("pods.json"), r#"{"kind":"PodList","items":[]}"#).unwrap();
    let s = kt.import(&[&dir]);
    assert_eq!(s["new"], 67);
    assert!(!s["files_skipped"].as_array().unwrap().is_empty());
}

#[test]
fn table_output_is_aligned_and_readable() {
    let kt = Kt::new();
    kt.import(&[&real("sbctl__velero.events.json")]);
    let out = kt.run(&["query", "--limit", "5", "-o", "table"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("LAST SEEN") && header.contains("REASON"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 6);
    let out = kt.run(&[
        "import",
        "--cluster",
        "test",
        real("sbctl__velero.events.json").to_str().unwrap(),
        "-o",
        "table",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("67 read, 0 new, 0 updated, 67 unchanged"),
        "{text}"
    );
}
