//! An event the SQLite store refuses during `kubetrail import` into an empty store is
//! quarantined alone and the rest of its file stored (issue 11, item 2), now that a bulk import
//! writes its batches without a savepoint each (issue 14 §3): the refused batch rolls the
//! file's bulk transaction back, and the file is written again in a plain transaction, with
//! the processor's state as it was at the file's start.

use std::path::Path;
use std::process::Command;

use kubetrail_store::SqliteStore;
use kubetrail_store::conformance::{POISON, refuse_poison_on_sqlite};
use serde_json::Value;

fn kubetrail(data: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("KUBETRAIL_CONFIG")
        .env_remove("KUBETRAIL_POSTGRES_URL")
        .env_remove("KUBETRAIL_DATA_DIR")
        .output()
        .expect("kubetrail runs");
    assert!(
        out.status.success(),
        "kubetrail {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn item(uid: &str, pod: &str, reason: &str, message: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"{uid}","namespace":"shop","uid":"{uid}"}},
  "involvedObject":{{"kind":"Pod","namespace":"shop","name":"{pod}"}},"reason":"{reason}","message":"{message}",
  "type":"Warning","count":1,"lastTimestamp":"2024-05-01T00:00:00Z"}}"#
    )
}

fn list(items: &[String]) -> String {
    format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{}\n]}}\n",
        items.join(",\n")
    )
}

fn uids(events: &Value) -> Vec<String> {
    let mut uids: Vec<String> = events
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["uid"].as_str().map(str::to_owned))
        .collect();
    uids.sort();
    uids
}

#[test]
fn import_into_an_empty_sqlite_store_quarantines_the_refused_event_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let db = data.join("kubetrail.db");
    drop(SqliteStore::open(&db).expect("create the store"));
    refuse_poison_on_sqlite(&db);

    let first = dir.path().join("first.json");
    std::fs::write(
        &first,
        list(&[
            item("u-a", "web-1", "BackOff", "back-off restarting alpha"),
            item("u-poison", "web-1", POISON, "refused"),
            item("u-b", "web-2", "FailedMount", "volume attach timed out"),
        ]),
    )
    .expect("write the first dump");
    let second = dir.path().join("second.json");
    std::fs::write(
        &second,
        list(&[item("u-c", "web-3", "BackOff", "back-off restarting gamma")]),
    )
    .expect("write the second dump");
    let (first, second) = (first.display().to_string(), second.display().to_string());

    let summary = kubetrail(&data, &["import", &first, &second, "-o", "json"]);
    assert_eq!(summary["new"], 3, "{summary}");
    assert_eq!(summary["events_read"], 4, "{summary}");
    assert_eq!(
        summary["files_imported"].as_array().map(Vec::len),
        Some(2),
        "{summary}"
    );
    assert_eq!(
        summary["quarantined"].as_array().map(Vec::len),
        Some(1),
        "{summary}"
    );
    let q = &summary["quarantined"][0];
    assert_eq!(q["uid"], "u-poison", "{summary}");
    let location = q["location"].as_str().unwrap_or_default();
    assert!(location.starts_with(&first), "names the file: {location}");

    let status = kubetrail(&data, &["status", "-o", "json"]);
    assert_eq!(
        (&status["events"], &status["quarantined"]),
        (&3.into(), &1.into()),
        "{status}"
    );
    let all = kubetrail(&data, &["query", "--limit", "0", "-o", "json"]);
    assert_eq!(uids(&all), ["u-a", "u-b", "u-c"]);
    let found = kubetrail(&data, &["query", "--search", "attach", "-o", "json"]);
    assert_eq!(uids(&found), ["u-b"]);
}
