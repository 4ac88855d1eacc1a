//! The built-in rules on the real dumps. The expectations come from reading the events:
//!
//! - `message-pod-init-crashloop-backoff`: pod `init-demo` backs off 111 times in 25 minutes
//!   (a crash loop; `init-demo2` backs off once: not one), and the pod of
//!   `troubleshoot-copyfromhost` fails to mount its hostPath volume 814 times (two Events).
//! - `message-image-pull-fail`: `no-image-deployment` cannot pull `noimage.com/no-such-image`
//!   (ErrImagePull, ImagePullBackOff, Back-off pulling), and `pending-pod-resources` cannot be
//!   scheduled (insufficient nvidia.com/gpu, 3 times in 15 minutes; the "skip schedule
//!   deleting pod" event is not a failure).
//! - `message-container-creating-failed-mount`: the same mount failure, `init-demo2` backing
//!   off 1464 times, three then three more replicas of `no-image-deployment` failing to pull,
//!   and `pending-pod-resources` unschedulable.
//!
//! Each is one alert per workload, never one per event or per pod.

mod common;

use std::path::Path;

use kubetrail_alert::{DryRunAlert, NoAnalysis, builtin_rules, dry_run};
use kubetrail_model::Event;
use kubetrail_source::import::discover;

fn events(path: &Path) -> Vec<Event> {
    common::dump_events(path)
}

fn alerts_of(file: &str) -> Vec<DryRunAlert> {
    let path = common::real_events().join(file);
    dry_run(builtin_rules(), &events(&path), &[], &NoAnalysis)
}

fn shape(alerts: &[DryRunAlert]) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a.rule.as_str(), a.group_key.as_str()))
        .collect();
    v.sort();
    v
}

#[test]
fn the_crash_loop_dump_raises_one_crash_loop_and_one_failed_mount_alert() {
    let alerts = alerts_of("troubleshoot__message-pod-init-crashloop-backoff.events.json");
    let ns = "message-pod-init-crashloop-backoff";
    assert_eq!(
        shape(&alerts),
        [
            ("crash-loop", format!("default/{ns}/Pod/init-demo").as_str()),
            (
                "failed-mount",
                format!("default/{ns}/Workload/troubleshoot-copyfromhost-4m79m").as_str()
            ),
        ]
    );
    let crash = alerts.iter().find(|a| a.rule == "crash-loop").unwrap();
    assert_eq!(crash.event_count, 111);
    assert_eq!(crash.first_seen.to_string(), "2023-07-11T03:32:15Z");
    assert_eq!(crash.last_seen.to_string(), "2023-07-11T03:56:47Z");
    assert_eq!(crash.labels["alertname"], "crash-loop");
    assert_eq!(crash.labels["correlation"], format!("{ns}/Pod/init-demo"));
    assert_eq!(
        crash.annotations["summary"],
        format!("{ns}/Pod/init-demo is crash-looping")
    );
    let mount = alerts.iter().find(|a| a.rule == "failed-mount").unwrap();
    assert_eq!(
        mount.event_count,
        490 + 324,
        "both FailedMount Events of the pod, one alert"
    );
    assert_eq!(mount.events.len(), 2);
}

#[test]
fn the_image_pull_dump_raises_one_image_pull_and_one_scheduling_alert() {
    let alerts = alerts_of("troubleshoot__message-image-pull-fail.events.json");
    let ns = "message-image-pull-fail";
    assert_eq!(
        shape(&alerts),
        [
            (
                "failed-scheduling",
                format!("default/{ns}/Deployment/pending-pod-resources").as_str()
            ),
            (
                "image-pull-failure",
                format!("default/{ns}/Deployment/no-image-deployment").as_str()
            ),
        ]
    );
    let pull = alerts
        .iter()
        .find(|a| a.rule == "image-pull-failure")
        .unwrap();
    // ErrImagePull 4 + pull failed 4 + ImagePullBackOff 5 + Back-off pulling 5.
    assert_eq!(pull.event_count, 18);
    let sched = alerts
        .iter()
        .find(|a| a.rule == "failed-scheduling")
        .unwrap();
    assert_eq!(
        sched.event_count, 3,
        "the skip-deleting event is not counted"
    );
}

#[test]
fn the_failed_mount_dump_raises_one_alert_per_failing_workload() {
    let alerts = alerts_of("troubleshoot__message-container-creating-failed-mount.events.json");
    let ns = "message-container-creating-failed-mount";
    assert_eq!(
        shape(&alerts),
        [
            (
                "crash-loop",
                format!("default/{ns}/Pod/init-demo2").as_str()
            ),
            (
                "failed-mount",
                format!("default/{ns}/Workload/troubleshoot-copyfromhost-4m79m").as_str()
            ),
            (
                "failed-scheduling",
                format!("default/{ns}/Deployment/pending-pod-resources").as_str()
            ),
            (
                "image-pull-failure",
                format!("default/{ns}/Deployment/no-image-deployment").as_str()
            ),
        ]
    );
    let pull = alerts
        .iter()
        .find(|a| a.rule == "image-pull-failure")
        .unwrap();
    assert!(
        pull.event_count > 1_000,
        "six pods, one alert: {}",
        pull.event_count
    );
}

#[test]
fn across_every_dump_alerts_are_per_group_not_per_event() {
    let found = discover(&[common::real_events()]).expect("the real dumps");
    assert!(found.files.len() >= 20);
    let (mut total_events, mut total_alerts) = (0, 0);
    for file in &found.files {
        let events = events(&file.path);
        let alerts = dry_run(builtin_rules(), &events, &[], &NoAnalysis);
        // A group has at most one alert open at a time: two alerts of one group never overlap.
        for (i, a) in alerts.iter().enumerate() {
            for b in &alerts[i + 1..] {
                if a.rule == b.rule && a.group_key == b.group_key {
                    assert!(
                        a.last_seen <= b.first_seen || b.last_seen <= a.first_seen,
                        "{}: overlapping alerts of {} {}",
                        file.path.display(),
                        a.rule,
                        a.group_key
                    );
                }
            }
        }
        total_events += events.len();
        total_alerts += alerts.len();
    }
    assert!(total_events > 18_000);
    assert!(
        total_alerts > 10 && total_alerts * 50 < total_events,
        "{total_alerts} alerts for {total_events} events"
    );
}

#[test]
fn windowed_conditions_use_analysis_incidents_with_their_root_cause_and_patterns() {
    let rules = kubetrail_alert::parse_rules(
        "rules:
  - name: incidents
    condition: incident >= error
  - name: recurring
    match: {type: Warning}
    condition: {pattern: {min_count: 5, window: 1h}}
    group_by: [cluster, namespace, reason]
",
    )
    .unwrap();
    let path = common::real_events()
        .join("troubleshoot__message-container-creating-failed-mount.events.json");
    let alerts = dry_run(rules, &events(&path), &[], &kubetrail_alert::Analysis);
    let ns = "message-container-creating-failed-mount";
    let mount = alerts
        .iter()
        .find(|a| {
            a.rule == "incidents"
                && a.group_key == format!("default/{ns}/Workload/troubleshoot-copyfromhost-4m79m")
        })
        .expect("the failed mount incident");
    // About an incident: the root cause is the description, with the hint beside it.
    let cause = &mount.annotations["root_cause"];
    assert_eq!(
        cause,
        &format!(
            "FailedMount on {ns}/Pod/troubleshoot-copyfromhost-4m79m-psdjm: MountVolume.SetUp \
             failed for volume \"host\" : hostPath type check failed: /var/lib/collectd is not a directory"
        )
    );
    assert_eq!(&mount.annotations["description"], cause);
    assert!(
        !mount.annotations["hint"].is_empty(),
        "{:?}",
        mount.annotations
    );
    let pull = alerts
        .iter()
        .find(|a| {
            a.rule == "incidents"
                && a.group_key == format!("default/{ns}/Deployment/no-image-deployment")
        })
        .expect("the image pull incident");
    assert!(pull.annotations["root_cause"].contains("noimage.com/no-such-image"));
    // One alert per incident subject, one per recurring (namespace, reason).
    assert_eq!(shape(&alerts).len(), alerts.len());
    assert!(
        alerts
            .iter()
            .any(|a| a.rule == "recurring" && a.group_key == format!("default/{ns}/BackOff"))
    );
}
