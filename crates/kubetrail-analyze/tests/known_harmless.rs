//! Known harmless messages (issue 13, 2.4) never open an incident on their own, and are still
//! there to count: the kubelet's `kube-root-ca.crt ... not registered` mount race on a pod
//! that then starts, library-go's `FastControllerResync` start-up notice, and optimistic-lock
//! conflicts a controller retries.

use jiff::Timestamp;
use kubetrail_analyze::{IncidentConfig, PatternConfig, Window, incidents, patterns};
use kubetrail_model::{
    AnalysisEvent, AnalysisOccurrences, Event, ObjectRef, Occurrence, Severity, SharedStrings,
};
use kubetrail_process::{Processor, Rules};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_714_521_600 + s).expect("a valid timestamp")
}

fn event(
    kind: &str,
    name: &str,
    type_: &str,
    reason: &str,
    note: &str,
    s: i64,
) -> AnalysisOccurrences {
    let ev = Event {
        cluster: "test".into(),
        uid: format!("{name}-{reason}-{s}"),
        namespace: "shop".into(),
        name: format!("{name}.{s}"),
        regarding: ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: "shop".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            field_path: String::new(),
        },
        related: None,
        reason: reason.into(),
        note: note.into(),
        type_: type_.into(),
        action: String::new(),
        reporting_controller: "kubelet".into(),
        reporting_instance: "node-1".into(),
        first_seen: at(s),
        last_seen: at(s),
        count: 1,
        resource_version: "1".into(),
        category: kubetrail_model::Category::Other,
        severity: Severity::Info,
        correlation_id: String::new(),
        owner: None,
        node: None,
        template: String::new(),
        labels: Default::default(),
    };
    let ev = Processor::new(Rules::builtin()).process(ev);
    AnalysisOccurrences {
        occurrences: vec![Occurrence {
            at: ev.first_seen,
            count: 1,
        }],
        event: AnalysisEvent::of(&ev, &mut SharedStrings::default()),
    }
}

fn harmless() -> Vec<AnalysisOccurrences> {
    let pod = "web-6d4cf56db6-x2x7k";
    vec![
        event(
            "Pod",
            pod,
            "Normal",
            "Scheduled",
            "Successfully assigned shop/web-6d4cf56db6-x2x7k to node-1",
            0,
        ),
        event(
            "Pod",
            pod,
            "Warning",
            "FailedMount",
            r#"MountVolume.SetUp failed for volume "kube-api-access-r24g5" : object "shop"/"kube-root-ca.crt" not registered"#,
            1,
        ),
        event(
            "Pod",
            pod,
            "Normal",
            "Pulled",
            r#"Container image "nginx:1.25" already present on machine"#,
            2,
        ),
        event("Pod", pod, "Normal", "Created", "Created container web", 2),
        event("Pod", pod, "Normal", "Started", "Started container web", 3),
        event(
            "Deployment",
            "shop-operator",
            "Warning",
            "FastControllerResync",
            r#"Controller "ConfigObserver" resync interval is set to 0s which might lead to client request throttling"#,
            4,
        ),
        event(
            "Endpoints",
            "web",
            "Warning",
            "FailedToUpdateEndpoint",
            r#"Failed to update endpoint shop/web: Operation cannot be fulfilled on endpoints "web": the object has been modified; please apply your changes to the latest version and try again"#,
            5,
        ),
    ]
}

fn window() -> Window {
    Window::new(at(0), at(60)).expect("a window")
}

#[test]
fn known_harmless_messages_alone_open_no_incident() {
    let events = harmless();
    for e in &events {
        assert_eq!(
            e.event.severity,
            Severity::Info,
            "{}: {}",
            e.event.reason,
            e.event.note
        );
    }
    let found = incidents(&events, window(), &IncidentConfig::default()).expect("incidents");
    assert!(
        found.is_empty(),
        "{:#?}",
        found.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
}

#[test]
fn known_harmless_messages_still_count_in_patterns() {
    let events = harmless();
    let every = PatternConfig {
        min_count: 1,
        min_per_minute: 0.0,
        ..PatternConfig::default()
    };
    let found = patterns(&events, &every);
    let count = |reason: &str| -> u64 {
        found
            .iter()
            .filter(|p| p.key.reason == reason)
            .map(|p| p.count)
            .sum()
    };
    assert_eq!(count("FailedMount"), 1);
    assert_eq!(count("FastControllerResync"), 1);
    assert_eq!(count("FailedToUpdateEndpoint"), 1);
}

#[test]
fn a_real_mount_failure_next_to_them_still_opens_one() {
    let mut events = harmless();
    events.push(event(
        "Pod",
        "api-7b9f-abcde",
        "Warning",
        "FailedMount",
        r#"MountVolume.SetUp failed for volume "cfg" : configmap "api-config" not found"#,
        10,
    ));
    let found = incidents(&events, window(), &IncidentConfig::default()).expect("incidents");
    assert_eq!(
        found.len(),
        1,
        "{:#?}",
        found.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
}
