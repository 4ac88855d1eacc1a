//! Answer quality on the hand-labelled real dumps (eval/labels, issue 13): the incident engine
//! must not get worse than the thresholds below. They are what the engine reaches today, not
//! the targets (≥ 90 % recall with the right root cause, ≤ 10 % noise, 0 merges, splits only
//! for separate episodes); docs/BENCHMARKS.md ("Answer quality") states the gap. Raise them as
//! the engine improves; never lower them to let a change through, and never edit a label to
//! pass.

mod common;

use std::path::PathBuf;

use common::{Kt, real_events};

fn labels() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../eval/labels");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_labelled_set_holds_at_least_sixty_failures_over_every_dump() {
    let kt = Kt::new();
    let mut args = vec![
        "eval".to_string(),
        "-o".into(),
        "json".into(),
        "--dumps".into(),
    ];
    args.push(real_events().display().to_string());
    args.extend(labels());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = kt.json(&args);
    let total = &report["total"];
    let n = |k: &str| total[k].as_u64().unwrap();
    assert!(n("failures") >= 60, "{total}");
    // Every dump of the shared directory is labelled.
    let dumps = std::fs::read_dir(real_events())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.ends_with(".json") || name.ends_with(".yaml")
        })
        .count();
    assert_eq!(report["dumps"].as_array().unwrap().len(), dumps);

    let recall = 100.0 * n("right_root") as f64 / n("failures") as f64;
    let noise = 100.0 * n("noise") as f64 / n("incidents") as f64;
    let details = &total["details"];
    assert!(
        recall >= RECALL_AT_LEAST,
        "recall {recall:.1}%: {details:#}"
    );
    assert!(noise <= NOISE_AT_MOST, "noise {noise:.1}%: {details:#}");
    assert!(
        n("noise") <= NOISE_INCIDENTS_AT_MOST,
        "noise {}: {details:#}",
        n("noise")
    );
    // The target, reached: no incident over unrelated failures.
    assert_eq!(n("merges"), 0, "merges: {details:#}");
    // Reached too: no failure split over several incidents.
    assert_eq!(n("splits"), 0, "splits: {details:#}");

    // Issue 15 §3: the failures labelled as caused by a change (a rollout the events show) are
    // found rooted in that change.
    let rooted_in_changes = change_rooted_failures();
    assert!(rooted_in_changes.len() >= 3, "{rooted_in_changes:?}");
    for id in &rooted_in_changes {
        for list in ["missed", "wrong_root"] {
            let hit = details[list]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l.as_str().unwrap_or_default().contains(&format!(": {id}")));
            assert!(!hit, "{id} is {list}: {details:#}");
        }
    }
}

/// The ids of the labelled failures whose root is a change (`root: {change: [...]}`).
fn change_rooted_failures() -> Vec<String> {
    let mut ids = Vec::new();
    for file in labels() {
        let text = std::fs::read_to_string(&file).unwrap();
        let labels: serde_json::Value = yaml_serde::from_str(&text).unwrap();
        for f in labels["failures"].as_array().unwrap() {
            if f["root"].get("change").is_some() {
                ids.push(f["id"].as_str().unwrap().to_string());
            }
        }
    }
    ids
}

// What the engine reaches on the labelled set (docs/BENCHMARKS.md, Answer quality): every
// failure with its root cause (60/60), 6 noise incidents of 65, no merge of unrelated
// failures (the target), no split. The noise share rose from 7.9 % (6 of 76) only
// because splits were joined into fewer incidents, so the count is pinned too: it must not
// rise.
const RECALL_AT_LEAST: f64 = 100.0;
const NOISE_AT_MOST: f64 = 9.3;
const NOISE_INCIDENTS_AT_MOST: u64 = 6;
