//! The linking rule with hand-built events and changes: each relation that roots an incident
//! in a change, and the cases that must not.

use jiff::SignedDuration;
use kubetrail_model::{
    AnalysisOccurrences, Change, ChangeOp, ChangeSource, FieldChange, ObjectRef,
};

use super::super::{Incident, IncidentConfig, incidents};
use super::link_changes;
use crate::Window;
use crate::testing::{at, pod_normal, pod_warning};

const WEB: &str = "web-7d9f8b6c4-x2x9z";

fn obj(kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: String::new(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        field_path: String::new(),
    }
}

fn change(object: ObjectRef, m: i64, fields: &[(&str, &str, &str)]) -> Change {
    Change {
        cluster: "test".into(),
        object,
        at: at(m),
        op: ChangeOp::Updated,
        generation: Some(2),
        resource_version: format!("rv-{m}"),
        manager: Some("kubectl-edit".into()),
        source: ChangeSource::Watch,
        fields: fields
            .iter()
            .map(|(path, before, after)| FieldChange {
                path: (*path).into(),
                before: Some((*before).into()),
                after: Some((*after).into()),
            })
            .collect(),
        references: Vec::new(),
    }
}

fn rollout(m: i64) -> Change {
    change(
        obj("Deployment", "shop", "web"),
        m,
        &[("containers[app].image", "web:1.0", "web:1.1")],
    )
}

fn crash_loop(pod: &str, from: i64) -> Vec<AnalysisOccurrences> {
    vec![
        pod_normal("shop", pod, "Started", "Started container app")
            .container("app")
            .by_kubelet("node-a")
            .at(from)
            .build(),
        pod_warning(
            "shop",
            pod,
            "BackOff",
            "Back-off restarting failed container app in pod",
        )
        .container("app")
        .by_kubelet("node-a")
        .span(from, from + 10, 12)
        .build(),
    ]
}

fn linked(events: &[AnalysisOccurrences], changes: &[Change]) -> Vec<Incident> {
    let window = Window::new(at(-24 * 60), at(20)).unwrap();
    let cfg = IncidentConfig::default();
    let mut found = incidents(events, window, &cfg).unwrap();
    link_changes(&mut found, changes, &cfg);
    found
}

fn only(found: &[Incident]) -> &Incident {
    assert_eq!(found.len(), 1, "{found:#?}");
    &found[0]
}

#[test]
fn a_crash_loop_right_after_a_rollout_is_rooted_in_the_rollout() {
    let found = linked(&crash_loop(WEB, 2), &[rollout(0)]);
    let i = only(&found);
    let root = &i.root_cause;
    assert_eq!(root.rule, "change");
    assert_eq!(root.object, "shop/Deployment/web");
    assert_eq!(root.message, "containers[app].image: web:1.0 → web:1.1");
    assert_eq!(root.at, at(0));
    assert_eq!(root.change.as_ref(), Some(&rollout(0)));
    assert!(
        root.hint
            .contains("kubectl rollout undo deployment/web -n shop"),
        "{}",
        root.hint
    );
    assert!(root.evidence[0].starts_with("Deployment shop/web updated at"));
    assert!(
        root.evidence.iter().any(|e| e.starts_with("BackOff ×12")),
        "the failing events stay the evidence: {:#?}",
        root.evidence
    );
    assert!(
        i.title.ends_with("after a change of Deployment shop/web"),
        "{}",
        i.title
    );
}

#[test]
fn a_change_followed_by_no_failure_is_no_incident() {
    let quiet = vec![
        pod_normal("shop", WEB, "Started", "Started container app")
            .container("app")
            .at(2)
            .build(),
    ];
    assert!(linked(&quiet, &[rollout(0)]).is_empty());
}

#[test]
fn a_change_too_long_before_or_after_the_first_failure_is_not_the_cause() {
    let window = IncidentConfig::default().change_window;
    assert_eq!(window, SignedDuration::from_mins(15));
    for change_at in [-16, 3] {
        let i = only(&linked(&crash_loop(WEB, 0), &[rollout(change_at)])).clone();
        assert_eq!(
            i.root_cause.rule, "crash-loop",
            "change at minute {change_at}"
        );
        assert!(i.root_cause.change.is_none());
    }
    let edge = only(&linked(&crash_loop(WEB, 0), &[rollout(-15)])).clone();
    assert_eq!(
        edge.root_cause.rule, "change",
        "15 minutes is still shortly"
    );
}

#[test]
fn the_latest_change_before_the_failures_is_the_root_and_the_others_evidence() {
    let first = change(
        obj("Deployment", "shop", "web"),
        0,
        &[("replicas", "2", "3")],
    );
    let found = linked(&crash_loop(WEB, 5), &[rollout(3), first]);
    let root = &only(&found).root_cause;
    assert_eq!(root.at, at(3));
    assert!(
        root.evidence.iter().any(|e| e
            .starts_with("also changed before: Deployment shop/web updated")
            && e.contains("replicas: 2 → 3")),
        "{:#?}",
        root.evidence
    );
}

#[test]
fn creations_and_other_clusters_and_other_workloads_root_nothing() {
    let mut created = rollout(0);
    created.op = ChangeOp::Created;
    let mut elsewhere = rollout(0);
    elsewhere.cluster = "other".into();
    let api = change(
        obj("Deployment", "shop", "api"),
        0,
        &[("containers[api].image", "a:1", "a:2")],
    );
    let other_ns = change(
        obj("Deployment", "billing", "web"),
        0,
        &[("containers[web].image", "a:1", "a:2")],
    );
    let found = linked(&crash_loop(WEB, 2), &[created, elsewhere, api, other_ns]);
    assert_eq!(only(&found).root_cause.rule, "crash-loop");
}

fn config_edit(name: &str, m: i64) -> Change {
    change(
        obj("ConfigMap", "shop", name),
        m,
        &[("data.app.conf", "sha256:1111", "sha256:2222")],
    )
}

#[test]
fn an_edit_of_a_referenced_configmap_is_the_root_with_the_key_that_changed() {
    // The workload last changed long before the window: its record still says what it uses.
    let mut deployed = rollout(-600);
    deployed.references = vec![obj("ConfigMap", "", "app-config")];
    let found = linked(
        &crash_loop(WEB, 2),
        &[deployed.clone(), config_edit("app-config", 0)],
    );
    let root = &only(&found).root_cause;
    assert_eq!(root.rule, "change");
    assert_eq!(root.object, "shop/ConfigMap/app-config");
    assert!(
        root.hint
            .starts_with("key app.conf of ConfigMap app-config changed"),
        "{}",
        root.hint
    );
    assert!(
        root.hint
            .contains("kubectl rollout restart deployment/web -n shop")
    );
    // A ConfigMap the workload does not use is not its cause.
    let found = linked(&crash_loop(WEB, 2), &[deployed, config_edit("other", 0)]);
    assert_eq!(only(&found).root_cause.rule, "crash-loop");
}

/// Regression: a workload that never changed while watched has no change record, so what it
/// references was unknown and an edit of its ConfigMap rooted nothing unless an event named
/// the ConfigMap. The change tracker now names the users in the ConfigMap's change (from the
/// states of the first listing).
#[test]
fn an_edit_of_a_configmap_whose_change_names_the_workload_as_user_is_the_root() {
    let mut edit = config_edit("app-config", 0);
    edit.references = vec![obj("Deployment", "shop", "web")];
    let found = linked(&crash_loop(WEB, 2), std::slice::from_ref(&edit));
    let root = &only(&found).root_cause;
    assert_eq!(root.rule, "change");
    assert_eq!(root.object, "shop/ConfigMap/app-config");
    // Another workload's ConfigMap is not its cause.
    let mut other = edit.clone();
    other.references = vec![obj("Deployment", "shop", "api")];
    let found = linked(&crash_loop(WEB, 2), &[other]);
    assert_eq!(only(&found).root_cause.rule, "crash-loop");
}

#[test]
fn a_configmap_the_failing_events_name_is_related_without_a_workload_record() {
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "Failed",
            "Error: couldn't find key LOG_LEVEL in ConfigMap shop/settings",
        )
        .container("app")
        .by_kubelet("node-a")
        .span(1, 10, 8)
        .build(),
    ];
    let found = linked(&events, &[config_edit("settings", 0)]);
    assert_eq!(
        only(&found).root_cause.object,
        "shop/ConfigMap/settings",
        "{found:#?}"
    );
}

#[test]
fn a_restart_after_a_config_edit_yields_the_root_to_the_edit() {
    let mut restart = change(
        obj("Deployment", "shop", "web"),
        -1,
        &[(
            "template.annotations[kubectl.kubernetes.io/restartedAt]",
            "",
            "2024-05-01T00:00:00Z",
        )],
    );
    restart.references = vec![obj("ConfigMap", "shop", "app-config")];
    // The edit is 11 minutes before the failures but 10 before the restart that loaded it.
    let found = linked(
        &crash_loop(WEB, 1),
        &[config_edit("app-config", -10), restart],
    );
    let root = &only(&found).root_cause;
    assert_eq!(root.object, "shop/ConfigMap/app-config");
    assert!(
        root.evidence
            .iter()
            .any(|e| e.starts_with("then shop/Deployment/web changed at")),
        "{:#?}",
        root.evidence
    );
}

#[test]
fn a_lowered_autoscaler_bound_roots_the_failures_of_its_target() {
    let mut hpa = change(
        obj("HorizontalPodAutoscaler", "shop", "web-hpa"),
        0,
        &[("maxReplicas", "10", "2")],
    );
    hpa.references = vec![obj("Deployment", "", "web")];
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
        )
        .container("app")
        .by_kubelet("node-a")
        .span(4, 12, 30)
        .build(),
    ];
    let found = linked(&events, &[hpa]);
    let root = &only(&found).root_cause;
    assert_eq!(root.object, "shop/HorizontalPodAutoscaler/web-hpa");
    assert!(root.hint.contains("describe hpa web-hpa"), "{}", root.hint);
    assert!(root.message.contains("maxReplicas: 10 → 2"));
}

#[test]
fn a_cordoned_node_roots_the_failures_to_schedule_after_it() {
    let cordon = change(
        obj("Node", "", "node-b"),
        0,
        &[("scheduling", "schedulable", "cordoned")],
    );
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "FailedScheduling",
            "0/2 nodes are available: 1 node(s) were unschedulable, 1 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
        )
        .span(1, 10, 6)
        .build(),
    ];
    let found = linked(&events, std::slice::from_ref(&cordon));
    let root = &only(&found).root_cause;
    assert_eq!(root.object, "Node/node-b");
    assert!(
        root.hint.contains("kubectl uncordon node-b"),
        "{}",
        root.hint
    );
    // A crash loop on another node has nothing to do with the cordon.
    let found = linked(&crash_loop(WEB, 2), &[cordon]);
    assert_eq!(only(&found).root_cause.rule, "crash-loop");
}

#[test]
fn a_node_condition_flipping_is_not_a_change_that_roots_an_incident() {
    let not_ready = change(
        obj("Node", "", "node-a"),
        0,
        &[("conditions[Ready]", "True", "False")],
    );
    let found = linked(&crash_loop(WEB, 2), &[not_ready]);
    assert_eq!(only(&found).root_cause.rule, "crash-loop");
}

#[test]
fn a_change_of_the_node_the_pods_run_on_is_related() {
    let upgrade = change(
        obj("Node", "", "node-a"),
        0,
        &[("kubeletVersion", "v1.30.1", "v1.31.0")],
    );
    let found = linked(&crash_loop(WEB, 2), &[upgrade]);
    let root = &only(&found).root_cause;
    assert_eq!(root.object, "Node/node-a");
    assert!(root.hint.contains("kubectl describe node node-a"));
}

/// Seen live (the simulator's hpa-limit scenario): the HPA's scale-down, a later change of the
/// workload, was the root instead of the lowered maximum that caused it.
#[test]
fn an_autoscalers_scaling_yields_the_root_to_the_bound_that_moved() {
    let mut hpa = change(
        obj("HorizontalPodAutoscaler", "shop", "web"),
        0,
        &[("maxReplicas", "10", "3")],
    );
    hpa.references = vec![obj("Deployment", "shop", "web")];
    let mut scaled = change(
        obj("Deployment", "shop", "web"),
        1,
        &[("replicas", "6", "3")],
    );
    scaled.manager = Some("horizontal-pod-autoscaler".into());
    let found = linked(&crash_loop(WEB, 2), &[hpa, scaled]);
    let root = &only(&found).root_cause;
    assert_eq!(root.object, "shop/HorizontalPodAutoscaler/web", "{root:#?}");
    assert!(
        root.evidence
            .iter()
            .any(|e| e.starts_with("then shop/Deployment/web changed at")
                && e.contains("replicas: 6 → 3")),
        "{:#?}",
        root.evidence
    );
}
