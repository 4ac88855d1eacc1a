use super::*;
use crate::testing::{about, at, node_event, pod_normal, pod_warning};

const WEB: &str = "web-7d9f8b6c4-x2x9z";

#[test]
fn targets_parse_as_namespace_kind_name_or_node_name() {
    let t: Target = "shop/Deployment/web".parse().unwrap();
    assert_eq!(
        (t.namespace.as_str(), t.kind.as_str(), t.name.as_str()),
        ("shop", "Deployment", "web")
    );
    assert_eq!(t.correlation_id(), "shop/Deployment/web");
    assert_eq!("shop/pods/web-1".parse::<Target>().unwrap().kind, "Pod");
    assert_eq!(
        "shop/deployment/web".parse::<Target>().unwrap().kind,
        "Deployment"
    );
    let n: Target = "Node/worker-1".parse().unwrap();
    assert_eq!(n.to_string(), "Node/worker-1");
    for bad in [
        "web",
        "shop/web",
        "/Pod/x",
        "a/b/c/d",
        "shop//x",
        "shop/Pod/",
    ] {
        assert!(
            matches!(bad.parse::<Target>(), Err(Error::InvalidTarget(_))),
            "{bad}"
        );
    }
}

fn story() -> Vec<AnalysisOccurrences> {
    vec![
        about(
            "Deployment",
            "shop",
            "web",
            "Normal",
            "ScalingReplicaSet",
            "Scaled up replica set web-7d9f8b6c4 to 1",
        )
        .at(-5)
        .build(),
        about(
            "ReplicaSet",
            "shop",
            "web-7d9f8b6c4",
            "Normal",
            "SuccessfulCreate",
            &format!("Created pod: {WEB}"),
        )
        .at(-5)
        .build(),
        pod_normal(
            "shop",
            WEB,
            "Scheduled",
            &format!("Successfully assigned shop/{WEB} to node-a"),
        )
        .at(-4)
        .build(),
        pod_warning(
            "shop",
            WEB,
            "FailedMount",
            r#"MountVolume.SetUp failed for volume "data" : configmap "web-config" not found"#,
        )
        .by_kubelet("node-a")
        .span(0, 30, 16)
        .build(),
        node_event(
            "node-a",
            "Normal",
            "NodeHasSufficientMemory",
            "Node node-a status is now: NodeHasSufficientMemory",
        )
        .at(-30)
        .build(),
        // Unrelated: another workload on the same node, another namespace.
        pod_warning(
            "db",
            "pg-0",
            "BackOff",
            "Back-off restarting failed container",
        )
        .by_kubelet("node-a")
        .span(0, 30, 9)
        .build(),
    ]
}

#[test]
fn a_pod_is_explained_with_its_owners_node_incident_and_hint() {
    let window = Window::new(at(-60), at(40)).unwrap();
    let target: Target = format!("shop/Pod/{WEB}").parse().unwrap();
    let x = explain(&target, &story(), window, &IncidentConfig::default()).unwrap();
    assert_eq!(x.object, format!("shop/Pod/{WEB}"));
    assert_eq!(x.correlation_id.as_deref(), Some("shop/Deployment/web"));
    let related: Vec<(Relation, &str)> = x
        .related
        .iter()
        .map(|r| (r.relation, r.object.as_str()))
        .collect();
    assert!(
        related.contains(&(Relation::Target, &*format!("shop/Pod/{WEB}"))),
        "{related:?}"
    );
    assert!(
        related.contains(&(Relation::Owner, "shop/Deployment/web")),
        "{related:?}"
    );
    assert!(
        related.contains(&(Relation::Owner, "shop/ReplicaSet/web-7d9f8b6c4")),
        "{related:?}"
    );
    assert!(
        related.contains(&(Relation::Node, "Node/node-a")),
        "{related:?}"
    );
    assert!(
        !related.iter().any(|(_, o)| o.contains("pg-0")),
        "{related:?}"
    );
    assert_eq!(x.timeline.len(), 5);
    assert_eq!(
        x.timeline[0].entry.reason, "NodeHasSufficientMemory",
        "oldest first"
    );
    assert_eq!(x.incidents.len(), 1);
    let root = x.root_cause.as_ref().unwrap();
    assert_eq!(root.rule, "failed-mount");
    assert_eq!(x.hints.len(), 1);
    assert!(
        x.hints[0].starts_with("ConfigMap web-config does not exist in namespace shop"),
        "{}",
        x.hints[0]
    );
}

#[test]
fn a_deployment_is_explained_through_its_pods() {
    let window = Window::new(at(-60), at(40)).unwrap();
    let target: Target = "shop/Deployment/web".parse().unwrap();
    let x = explain(&target, &story(), window, &IncidentConfig::default()).unwrap();
    assert!(x.related.contains(&Related {
        relation: Relation::Owned,
        object: format!("shop/Pod/{WEB}"),
    }));
    assert_eq!(x.root_cause.as_ref().unwrap().rule, "failed-mount");
}

#[test]
fn an_object_without_events_has_an_empty_story() {
    let window = Window::new(at(-60), at(40)).unwrap();
    let target: Target = "shop/Deployment/nothing".parse().unwrap();
    let x = explain(&target, &story(), window, &IncidentConfig::default()).unwrap();
    assert!(x.timeline.is_empty());
    assert!(x.incidents.is_empty());
    assert_eq!(x.root_cause, None);
}

proptest::proptest! {
    #[test]
    fn parsing_any_text_as_a_target_never_panics_and_valid_ones_round_trip(
        text in "[a-zA-Z0-9/._-]{0,40}",
        ns in "[a-z][a-z0-9-]{0,10}",
        kind in "(Pod|Deployment|StatefulSet|Job)",
        name in "[a-z][a-z0-9.-]{0,20}",
    ) {
        let _ = text.parse::<Target>();
        let t: Target = format!("{ns}/{kind}/{name}").parse().unwrap();
        proptest::prop_assert_eq!(t.to_string(), format!("{ns}/{kind}/{name}"));
        let again: Target = t.to_string().parse().unwrap();
        proptest::prop_assert_eq!(again, t);
    }
}
