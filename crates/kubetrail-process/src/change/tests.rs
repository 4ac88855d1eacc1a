use proptest::prelude::*;
use serde_json::{Value, json};

use super::limits::{MAX_FIELDS, MAX_STATE_ENTRIES, MAX_VALUE_CHARS, MORE};
use super::*;

fn deployment(image: &str, generation: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "shop", "uid": "u1",
            "resourceVersion": format!("{generation}0"), "generation": generation,
            "creationTimestamp": "2026-12-01T10:00:00Z",
            "managedFields": [
                {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
                 "time": "2026-12-05T10:09:00Z"},
                {"manager": "kubectl-client-side-apply", "operation": "Update",
                 "time": "2026-12-05T10:05:00Z"}
            ]
        },
        "spec": {
            "replicas": 3,
            "strategy": {"type": "RollingUpdate"},
            "template": {"spec": {
                "serviceAccountName": "web",
                "containers": [{
                    "name": "web", "image": image,
                    "env": [
                        {"name": "LOG_LEVEL", "value": "info"},
                        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
                    ],
                    "envFrom": [{"configMapRef": {"name": "web-env"}}],
                    "resources": {"limits": {"memory": "256Mi"}}
                }],
                "volumes": [{"name": "conf", "configMap": {"name": "web-config"}}]
            }}
        },
        "status": {"replicas": 3, "readyReplicas": 3}
    })
}

fn now() -> Timestamp {
    "2026-12-05T10:10:00Z".parse().unwrap()
}

fn lines(fields: &[FieldChange]) -> Vec<String> {
    fields.iter().map(ToString::to_string).collect()
}

#[test]
fn an_image_change_reads_as_one_line_with_its_manager_and_time() {
    let before = snapshot(&deployment("nginx:1.27", 1)).unwrap();
    let after = snapshot(&deployment("nginx:1.28", 2)).unwrap();
    let prev = Previous {
        state: &before.state,
        generation: before.generation,
    };
    let change = observe("prod", Some(prev), &after, Seen::Watched, now()).unwrap();
    assert_eq!(
        lines(&change.fields),
        ["containers[web].image: nginx:1.27 → nginx:1.28"]
    );
    assert_eq!(change.op, ChangeOp::Updated);
    assert_eq!(change.manager.as_deref(), Some("kubectl-client-side-apply"));
    assert_eq!(
        change.at,
        "2026-12-05T10:05:00Z".parse::<Timestamp>().unwrap()
    );
    assert_eq!(change.generation, Some(2));
    let refs: Vec<String> = change
        .references
        .iter()
        .map(|r| format!("{}/{}", r.kind, r.name))
        .collect();
    assert_eq!(
        refs,
        [
            "ServiceAccount/web",
            "Secret/db",
            "ConfigMap/web-env",
            "ConfigMap/web-config"
        ]
    );
}

#[test]
fn env_replicas_and_resources_changes_are_each_a_field() {
    let before = snapshot(&deployment("a:1", 1)).unwrap();
    let mut v = deployment("a:1", 2);
    v["spec"]["replicas"] = json!(5);
    v["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("debug");
    v["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] =
        json!("512Mi");
    let after = snapshot(&v).unwrap();
    assert_eq!(
        lines(&diff(&before.state, &after.state)),
        [
            "containers[web].resources: {\"limits\":{\"memory\":\"256Mi\"}} → {\"limits\":{\"memory\":\"512Mi\"}}",
            "env[web].LOG_LEVEL: info → debug",
            "replicas: 3 → 5",
        ]
    );
}

#[test]
fn a_status_only_update_records_nothing() {
    let before = snapshot(&deployment("a:1", 4)).unwrap();
    let mut v = deployment("a:1", 4);
    v["status"]["readyReplicas"] = json!(1);
    v["metadata"]["resourceVersion"] = json!("999");
    let after = snapshot(&v).unwrap();
    let prev = Previous {
        state: &before.state,
        generation: Some(4),
    };
    assert_eq!(
        observe("prod", Some(prev), &after, Seen::Watched, now()),
        None
    );
}

#[test]
fn a_listed_object_is_a_baseline_unless_created_after_the_cursor() {
    let snap = snapshot(&deployment("a:1", 1)).unwrap();
    let never = Seen::Listed { since: None };
    assert_eq!(observe("prod", None, &snap, never, now()), None);
    let before_creation = Seen::Listed {
        since: Some("2026-11-30T00:00:00Z".parse().unwrap()),
    };
    let created = observe("prod", None, &snap, before_creation, now()).unwrap();
    assert_eq!(created.op, ChangeOp::Created);
    assert_eq!(
        created.at,
        "2026-12-01T10:00:00Z".parse::<Timestamp>().unwrap()
    );
    let live = observe("prod", None, &snap, Seen::Watched, now()).unwrap();
    assert_eq!(live.op, ChangeOp::Created);
    let gone = observe("prod", None, &snap, Seen::Deleted, now()).unwrap();
    assert_eq!((gone.op, gone.at), (ChangeOp::Deleted, now()));
}

fn node(unschedulable: bool, ready: &str, heartbeat: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "worker-2", "uid": "n2", "resourceVersion": heartbeat,
            "managedFields": [{"manager": "kubectl-cordon", "operation": "Update", "time": "2026-12-05T10:01:00Z"}]},
        "spec": if unschedulable {
            json!({"unschedulable": true, "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]})
        } else { json!({}) },
        "status": {
            "conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": heartbeat}],
            "nodeInfo": {"kubeletVersion": "v1.31.2"}
        }
    })
}

#[test]
fn a_node_cordon_and_condition_change_are_recorded_but_heartbeats_are_not() {
    let a = snapshot(&node(false, "True", "2026-12-05T10:00:00Z")).unwrap();
    let heartbeat = snapshot(&node(false, "True", "2026-12-05T10:00:10Z")).unwrap();
    assert!(diff(&a.state, &heartbeat.state).is_empty());
    let cordoned = snapshot(&node(true, "True", "2026-12-05T10:00:20Z")).unwrap();
    assert_eq!(
        lines(&diff(&a.state, &cordoned.state)),
        [
            "scheduling: schedulable → cordoned",
            "taints[node.kubernetes.io/unschedulable:NoSchedule]: added present",
        ]
    );
    let not_ready = snapshot(&node(true, "False", "2026-12-05T10:00:30Z")).unwrap();
    assert_eq!(
        lines(&diff(&cordoned.state, &not_ready.state)),
        ["conditions[Ready]: True → False"]
    );
    let prev = Previous {
        state: &a.state,
        generation: None,
    };
    let change = observe("prod", Some(prev), &cordoned, Seen::Watched, now()).unwrap();
    assert_eq!(change.manager.as_deref(), Some("kubectl-cordon"));
}

fn config_map(kind: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": kind,
        "metadata": {"name": "web-config", "namespace": "shop", "uid": "c1", "resourceVersion": "5"},
        "data": data})
}

#[test]
fn config_map_and_secret_keys_are_hashed_and_their_values_never_kept() {
    let secret_value = "hunter2-very-secret";
    for kind in ["ConfigMap", "Secret"] {
        let a = snapshot(&config_map(
            kind,
            json!({"app.conf": "level=info", "pw": secret_value}),
        ))
        .unwrap();
        let b = snapshot(&config_map(
            kind,
            json!({"app.conf": "level=debug", "pw": secret_value, "new": "x"}),
        ))
        .unwrap();
        let fields = diff(&a.state, &b.state);
        let text = lines(&fields).join("\n");
        assert!(
            !text.contains("level=") && !text.contains(secret_value),
            "{text}"
        );
        assert!(!a.state.to_text().contains(secret_value));
        assert_eq!(fields.len(), 2, "{text}");
        assert_eq!(fields[0].path, "data.app.conf");
        assert!(fields[0].after.as_deref().unwrap().starts_with("sha256:"));
        assert!(fields[0].after.as_deref().unwrap().ends_with("(11 bytes)"));
        assert_eq!(fields[1].path, "data.new");
    }
}

#[test]
fn an_hpa_max_lowered_is_a_field_and_its_target_a_reference() {
    let hpa = |max: i64| {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "shop", "uid": "h1", "resourceVersion": "7", "generation": 1},
            "spec": {"minReplicas": 2, "maxReplicas": max,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}},
            "status": {"currentReplicas": 9}})
    };
    let (a, b) = (snapshot(&hpa(10)).unwrap(), snapshot(&hpa(3)).unwrap());
    assert_eq!(lines(&diff(&a.state, &b.state)), ["maxReplicas: 10 → 3"]);
    // An HPA's generation is not trusted to move: the same generation still diffs.
    let prev = Previous {
        state: &a.state,
        generation: Some(1),
    };
    let change = observe("prod", Some(prev), &b, Seen::Watched, now()).unwrap();
    assert_eq!(change.references[0].name, "web");
    assert_eq!(change.references[0].kind, "Deployment");
}

#[test]
fn a_megabyte_config_map_with_thousands_of_keys_fits_the_caps() {
    let mut data = serde_json::Map::new();
    for i in 0..4_000 {
        data.insert(format!("key-{i:05}"), json!("x".repeat(256)));
    }
    let mut big = config_map("ConfigMap", Value::Object(data.clone()));
    let a = snapshot(&big).unwrap();
    assert_eq!(a.state.entries().len(), MAX_STATE_ENTRIES + 1);
    assert!(
        a.state.to_text().len() < 64 * 1024,
        "{}",
        a.state.to_text().len()
    );
    // A change past the kept entries is still seen, through the folded entry.
    data.insert("key-03999".into(), json!("y"));
    big["data"] = Value::Object(data);
    let b = snapshot(&big).unwrap();
    let fields = diff(&a.state, &b.state);
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].path, MORE);
}

#[test]
fn hundreds_of_containers_changing_at_once_list_a_bounded_number_of_fields() {
    let pod = |tag: &str| {
        let containers: Vec<Value> = (0..300)
            .map(|i| json!({"name": format!("c{i:03}"), "image": format!("app:{tag}"), "args": ["x".repeat(1_000)]}))
            .collect();
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "big", "namespace": "shop", "uid": "s1", "resourceVersion": "1", "generation": 1},
            "spec": {"template": {"spec": {"containers": containers}}}})
    };
    let (a, b) = (snapshot(&pod("1")).unwrap(), snapshot(&pod("2")).unwrap());
    for value in a.state.entries().values() {
        assert!(value.chars().count() <= MAX_VALUE_CHARS + 40, "{value}");
    }
    let fields = diff(&a.state, &b.state);
    assert_eq!(fields.len(), MAX_FIELDS + 1);
    assert!(
        fields[MAX_FIELDS]
            .to_string()
            .ends_with("more fields changed")
    );
    assert!(!fields[MAX_FIELDS].to_string().contains(": changed"));
}

#[test]
fn objects_that_are_not_tracked_or_not_objects_are_refused() {
    assert_eq!(
        snapshot(&json!({"kind": "Pod", "metadata": {"name": "p", "uid": "1"}})),
        Err(SnapshotError::Untracked("Pod".into()))
    );
    assert!(snapshot(&json!([1, 2])).is_err());
    assert!(snapshot(&json!({"kind": "Node", "metadata": {"name": "n"}})).is_err());
}

#[test]
fn a_state_reads_back_from_its_text() {
    let s = snapshot(&deployment("a:1", 1)).unwrap().state;
    assert_eq!(State::from_text(&s.to_text()), Some(s));
    assert_eq!(State::from_text("not json"), None);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z:./0-9]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("image".to_string()),
                    Just("env".to_string()),
                    Just("containers".to_string()),
                    Just("value".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any object of a tracked kind (whatever its spec holds) snapshots without panicking,
    /// within the caps, and diffs to nothing against itself.
    #[test]
    fn any_spec_snapshots_within_the_caps(kind in prop::sample::select(TRACKED_KINDS.to_vec()), spec in arb_json(), data in arb_json()) {
        let v = json!({"kind": kind, "metadata": {"name": "x", "uid": "u"}, "spec": spec, "data": data, "status": spec});
        let snap = snapshot(&v).unwrap();
        prop_assert!(snap.state.entries().len() <= MAX_STATE_ENTRIES + 1);
        prop_assert!(diff(&snap.state, &snap.state).is_empty());
        prop_assert_eq!(State::from_text(&snap.state.to_text()), Some(snap.state.clone()));
    }

    /// The diff of two states lists exactly the paths whose values differ (up to the cap),
    /// and applying it to the first gives the second.
    #[test]
    fn a_diff_lists_exactly_the_differing_paths(
        a in prop::collection::btree_map("[a-c]{1,2}", "[x-z]{0,2}", 0..8),
        b in prop::collection::btree_map("[a-c]{1,2}", "[x-z]{0,2}", 0..8),
    ) {
        let (sa, sb) = (State::new(a.clone()), State::new(b.clone()));
        let mut rebuilt = a.clone();
        for f in diff(&sa, &sb) {
            match f.after {
                Some(v) => { rebuilt.insert(f.path, v); }
                None => { rebuilt.remove(&f.path); }
            }
        }
        prop_assert_eq!(rebuilt, b);
    }
}
