//! Patterns, templates and anomalies on the real dumps. The expected groups, counts, spans and
//! templates were worked out by reading the dumps' events (counts, first and last times,
//! messages) by hand.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{hourly, load, ts, whole};
use kubetrail_analyze::{AnomalyConfig, AnomalyKind, PatternConfig, anomalies, patterns};

const MOUNT: &str = "troubleshoot__message-container-creating-failed-mount.events.json";

/// Over the whole dump, these groups recur at least 3 times and more than once every two
/// minutes (count over the span from their first to their last occurrence, at least a minute).
/// Not patterns: "Unable to attach or mount volumes" (109 in 346 min), Pulled "Successfully
/// pulled" (6 in 17.5 min), Created/Started (7 in 17.7 min), Scheduled (8 in 17.8 min),
/// SuccessfulCreate (7 in 14.5 min), ScalingReplicaSet (3 in 12.2 min) and the singletons.
#[test]
fn the_failed_mount_dump_has_twelve_patterns() {
    let events = load(MOUNT);
    let found = patterns(&events, &PatternConfig::default());
    let got: Vec<(&str, &str, u64, usize)> = found
        .iter()
        .map(|p| {
            (
                p.key.reason.as_str(),
                p.key.template.as_str(),
                p.count,
                p.object_count,
            )
        })
        .collect();
    let want: Vec<(&str, &str, u64, usize)> = vec![
        ("BackOff", "Back-off restarting failed container", 1464, 1),
        (
            "BackOff",
            r#"Back-off pulling image "<*>""#,
            391 + 394 + 392 + 19 + 20 + 19,
            6,
        ),
        (
            "FailedMount",
            r#"MountVolume.SetUp failed for volume "<*>" : hostPath type check failed: <*> is not a directory"#,
            178,
            1,
        ),
        ("Unhealthy", "Liveness probe failed:", 60 + 9, 1),
        (
            "Pulling",
            r#"Pulling image "<*>""#,
            1 + 4 + 4 + 4 + 4 + 1 + 1,
            6,
        ),
        ("Failed", "Error: ImagePullBackOff", 18, 3),
        ("Failed", "Error: ErrImagePull", 12, 3),
        (
            "Failed",
            r#"Failed to pull image "<*>": rpc error: code = Unknown desc = Error response from daemon: Get "<*>": <*>: certificate is not valid for any names, but wanted to match <*>"#,
            2 + 3 + 1,
            3,
        ),
        (
            "Failed",
            r#"Failed to pull image "<*>": rpc error: code = Unknown desc = Error response from daemon: Head "<*>": <*>: certificate is not valid for any names, but wanted to match <*>"#,
            2 + 1 + 2,
            3,
        ),
        ("Killing", "Stopping container <*>", 4, 3),
        (
            "FailedScheduling",
            "<*> nodes are available: <*> Insufficient <*>. preemption: <*> nodes are available: <*> No preemption victims found for incoming pod.",
            3,
            2,
        ),
        (
            "Killing",
            "Container <*> failed liveness probe, will be restarted",
            3,
            1,
        ),
    ];
    assert_eq!(got, want);

    let pulling = &found[1];
    assert_eq!(
        pulling.key.namespace,
        "message-container-creating-failed-mount"
    );
    assert_eq!(pulling.key.kind, "Pod");
    assert_eq!(pulling.first_seen, ts("2023-07-10T03:42:53Z"));
    assert_eq!(pulling.last_seen, ts("2023-07-10T05:32:56Z"));
    // 1235 over 110 minutes and 3 seconds.
    assert!((pulling.frequency_per_min - 1235.0 / (110.0 + 3.0 / 60.0)).abs() < 1e-6);
    assert_eq!(pulling.samples.len(), 1, "one distinct message");
    assert_eq!(
        pulling.samples[0].note,
        r#"Back-off pulling image "noimage.com/no-such-image""#
    );
    // The hostPath failure is only just a pattern: 178 in 345 min 54 s is 0.515/min.
    let mount = &found[2];
    assert!(mount.frequency_per_min > 0.5 && mount.frequency_per_min < 0.52);
    // The three x509 "Get" failures come from three pods with two distinct messages.
    assert_eq!(found[7].samples.len(), 1);
}

#[test]
fn thresholds_are_configurable() {
    let events = load(MOUNT);
    let strict = PatternConfig {
        min_count: 100,
        ..PatternConfig::default()
    };
    let reasons: Vec<String> = patterns(&events, &strict)
        .into_iter()
        .map(|p| p.key.reason)
        .collect();
    assert_eq!(reasons, ["BackOff", "BackOff", "FailedMount"]);
    let loose = PatternConfig {
        min_per_minute: 0.0,
        ..PatternConfig::default()
    };
    // Now also Unable-to-attach, Pulled, Created, Started, Scheduled, SuccessfulCreate,
    // ScalingReplicaSet and FailedScheduling "skip schedule deleting pod" (2 only: still out).
    assert_eq!(patterns(&events, &loose).len(), 12 + 7);
}

/// One failure on different pods, volumes, images, durations and nodes is one template;
/// different failures are different templates. Counted by reading the dump's messages.
#[test]
fn templates_of_the_failed_mount_dump_collapse_by_failure() {
    let events = load(MOUNT);
    let mut by_reason: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in &events {
        by_reason
            .entry(e.event.reason.as_str())
            .or_default()
            .insert(e.event.template.as_str());
    }
    let counts: BTreeMap<&str, usize> = by_reason.iter().map(|(r, t)| (*r, t.len())).collect();
    let want: BTreeMap<&str, usize> = [
        ("BackOff", 2), // restarting failed container; pulling image
        ("Created", 1), // my-container, crashpod, testpod
        ("Failed", 5),  // x509 via Get, x509 via Head, TLS timeout, ErrImagePull, ImagePullBackOff
        ("FailedKillPod", 1),
        ("FailedMount", 2), // hostPath type check; timed out waiting for volumes
        ("FailedScheduling", 2), // Insufficient nvidia.com/gpu; skip deleting pod
        ("Killing", 2),     // failed liveness probe; Stopping container
        ("Pulled", 2),      // pulled in <duration>; already present
        ("Pulling", 1),     // busybox, noimage.com/…, bash
        ("ScalingReplicaSet", 1),
        ("Scheduled", 1), // 8 pods, one node
        ("Started", 1),
        ("SuccessfulCreate", 1),
        ("Unhealthy", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, want, "{by_reason:#?}");
    assert!(by_reason["Scheduled"].contains("Successfully assigned <*> to <*>"));
    assert!(by_reason["Pulled"].contains(r#"Successfully pulled image "<*>" in <*>"#));
}

#[test]
fn templates_collapse_across_pods_ips_sizes_and_counts_in_other_dumps() {
    let distinct = |file: &str, reason: &str| -> BTreeSet<String> {
        load(file)
            .into_iter()
            .filter(|e| e.event.reason == reason)
            .map(|e| e.event.template.to_string())
            .collect()
    };
    // 133 kubelet admissions of 2 Deployments' pods, with different usage numbers.
    let c5 = "k8s-failure-reproduction__C5__2023-08-29T23-48-45.events.json";
    assert_eq!(
        distinct(c5, "OutOfcpu"),
        BTreeSet::from([
            "Node didn't have enough resource: cpu, requested: <*>, used: <*>, capacity: <*>"
                .to_string()
        ])
    );
    // 187 taint evictions of different pods; 178 refusals.
    let c7 = "k8s-failure-reproduction__C7__2023-08-21T19-25-26.events.json";
    assert_eq!(
        distinct(c7, "TaintManagerEviction"),
        BTreeSet::from(["Marking for deletion Pod <*>".to_string()])
    );
    assert_eq!(
        distinct(c7, "TaintToleration"),
        BTreeSet::from(["Predicate TaintToleration failed".to_string()])
    );
    // Different volumes and the object a volume is missing: one template per failure.
    assert_eq!(
        distinct(c7, "FailedMount"),
        BTreeSet::from([
            r#"MountVolume.SetUp failed for volume "<*>" : object "<*>"<*>"<*>" not registered"#
                .to_string()
        ])
    );
    // 61 pods of the CronJob "hello" in the 2021 bundle, scheduled on one node.
    let bundle = "troubleshoot__support-bundle-2021-03-24__test.events.json";
    assert_eq!(
        distinct(bundle, "Scheduled"),
        BTreeSet::from(["Successfully assigned <*> to <*>".to_string()])
    );
    assert_eq!(distinct(bundle, "Created").len(), 1);
}

/// Hourly buckets: the namespace's history starts at 23:00 on July 9; the window is the hour
/// from 05:00 on July 10. The kubelet's repeats of the hostPath FailedMount (2 in the 23:00
/// hour, none after) and of BackOff (1 at 23:56, 3 at 03:42) land at their last times, inside
/// the window: spikes. Unhealthy, Failed, FailedScheduling and Killing occur only in the
/// window: new reasons (the Normal reasons new in it are not reported, nor FailedKillPod "No
/// such container", rated info: the container was already gone).
#[test]
fn anomalies_of_the_failed_mount_dump() {
    let events = load(MOUNT);
    let rows = hourly(&events);
    let found = anomalies(
        &rows,
        ts("2023-07-10T05:00:00Z"),
        ts("2023-07-10T06:00:00Z"),
        &AnomalyConfig::default(),
    )
    .expect("anomalies");
    let got: Vec<(&str, AnomalyKind, u64)> = found
        .iter()
        .map(|a| (a.key.reason.as_str(), a.kind, a.count))
        .collect();
    assert_eq!(
        got,
        [
            (
                "BackOff",
                AnomalyKind::Spike,
                1463 + 390 + 393 + 391 + 3 + 18 + 19 + 18
            ),
            ("FailedMount", AnomalyKind::Spike, 177 + 108),
            ("Unhealthy", AnomalyKind::NewReason, 69),
            ("Failed", AnomalyKind::NewReason, 42),
            ("Killing", AnomalyKind::NewReason, 7),
            ("FailedScheduling", AnomalyKind::NewReason, 5),
        ]
    );
    let mount = &found[1];
    assert_eq!(mount.at, ts("2023-07-10T05:00:00Z"));
    assert!((mount.rate - 285.0 / 60.0).abs() < 1e-9);
    // EWMA (alpha 0.3) of 2, 0, 0, 0, 0, 0 per hour is 0.1008; the deviation floor is 1.
    assert!(
        (mount.baseline * 60.0 - 0.10084).abs() < 1e-4,
        "{}",
        mount.baseline
    );
    assert!(
        (mount.score - (285.0 - 0.10084)).abs() < 1e-3,
        "{}",
        mount.score
    );
    let _ = whole(&events);
}
