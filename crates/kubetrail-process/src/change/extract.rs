//! From an object's JSON to its [`Snapshot`]: which fields matter, per kind.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kubetrail_model::ObjectRef;
use serde_json::Value;

use super::limits::{content_hash, short_or_hash};
use super::{Snapshot, SnapshotError, State};

/// The kinds change tracking follows.
pub const TRACKED_KINDS: [&str; 9] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "HorizontalPodAutoscaler",
    "Node",
    "ConfigMap",
    "Secret",
    "ReplicaSet",
];

/// Whether change tracking follows `kind`.
pub fn is_tracked(kind: &str) -> bool {
    TRACKED_KINDS.contains(&kind)
}

/// Whether every spec change of `kind` bumps `metadata.generation` (the apps workloads and
/// CronJobs do); for the other kinds only the state's diff tells.
pub(super) fn has_spec_generation(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "CronJob"
    )
}

type Entries = BTreeMap<String, String>;

pub(super) fn snapshot(object: &Value) -> Result<Snapshot, SnapshotError> {
    let kind = text(object, &["kind"]).ok_or(SnapshotError::NotAnObject("no kind"))?;
    let meta = object
        .get("metadata")
        .filter(|m| m.is_object())
        .ok_or(SnapshotError::NotAnObject("no metadata"))?;
    let name = text(meta, &["name"]).ok_or(SnapshotError::NotAnObject("no metadata.name"))?;
    let uid = text(meta, &["uid"]).ok_or(SnapshotError::NotAnObject("no metadata.uid"))?;
    let namespace = text(meta, &["namespace"]).unwrap_or_default();
    let mut entries = Entries::new();
    let mut references = Vec::new();
    let spec = object.get("spec").unwrap_or(&Value::Null);
    match kind.as_str() {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
            workload(spec, &mut entries);
            let template = spec.pointer("/template/spec").unwrap_or(&Value::Null);
            pod_spec(template, &namespace, &mut entries, &mut references);
        }
        "CronJob" => {
            put(&mut entries, "schedule", spec.get("schedule"));
            put(&mut entries, "suspend", spec.get("suspend"));
            let template = spec
                .pointer("/jobTemplate/spec/template/spec")
                .unwrap_or(&Value::Null);
            pod_spec(template, &namespace, &mut entries, &mut references);
        }
        "HorizontalPodAutoscaler" => hpa(spec, &namespace, &mut entries, &mut references),
        "Node" => node(object, &mut entries),
        "ConfigMap" | "Secret" => {
            for field in ["data", "binaryData"] {
                keys(object.get(field), "data", &mut entries);
            }
        }
        other => return Err(SnapshotError::Untracked(other.to_owned())),
    }
    let api_version = text(object, &["apiVersion"]).unwrap_or_default();
    Ok(Snapshot {
        object: ObjectRef {
            api_version,
            kind,
            namespace,
            name,
            uid,
            field_path: String::new(),
        },
        resource_version: text(meta, &["resourceVersion"]).unwrap_or_default(),
        generation: meta.get("generation").and_then(Value::as_i64),
        created: text(meta, &["creationTimestamp"]).and_then(|t| t.parse().ok()),
        state: State::new(entries),
        references,
        manager: manager(meta),
    })
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::to_owned)
}

/// A scalar as text; objects and arrays as compact JSON (hashed when long).
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        Value::Bool(_) | Value::Number(_) => v.to_string(),
        _ => short_or_hash(&v.to_string()),
    }
}

fn put(entries: &mut Entries, path: &str, v: Option<&Value>) {
    if let Some(v) = v.filter(|v| !v.is_null()) {
        entries.insert(path.to_owned(), render(v));
    }
}

fn workload(spec: &Value, entries: &mut Entries) {
    put(entries, "replicas", spec.get("replicas"));
    put(entries, "strategy", spec.get("strategy"));
    put(entries, "updateStrategy", spec.get("updateStrategy"));
    put(
        entries,
        "paused",
        spec.get("paused").filter(|p| p != &&Value::Bool(false)),
    );
}

fn reference(kind: &str, namespace: &str, name: Option<&Value>) -> Option<ObjectRef> {
    let name = name?.as_str()?;
    Some(ObjectRef {
        api_version: "v1".to_owned(),
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        uid: String::new(),
        field_path: String::new(),
    })
}

fn add_ref(refs: &mut Vec<ObjectRef>, r: Option<ObjectRef>) {
    if let Some(r) = r
        && !refs.contains(&r)
    {
        refs.push(r);
    }
}

fn pod_spec(spec: &Value, namespace: &str, entries: &mut Entries, refs: &mut Vec<ObjectRef>) {
    let account = spec
        .get("serviceAccountName")
        .or_else(|| spec.get("serviceAccount"));
    put(entries, "serviceAccount", account);
    add_ref(refs, reference("ServiceAccount", namespace, account));
    put(entries, "nodeSelector", spec.get("nodeSelector"));
    put(entries, "tolerations", spec.get("tolerations"));
    put(entries, "affinity", spec.get("affinity"));
    for list in ["initContainers", "containers"] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            container(list, c, namespace, entries, refs);
        }
    }
    for v in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = v.get("name").and_then(Value::as_str).unwrap_or("?");
        let mut source = v.clone();
        if let Some(o) = source.as_object_mut() {
            o.remove("name");
        }
        entries.insert(format!("volumes[{name}]"), render(&source));
        add_ref(
            refs,
            reference("ConfigMap", namespace, v.pointer("/configMap/name")),
        );
        add_ref(
            refs,
            reference("Secret", namespace, v.pointer("/secret/secretName")),
        );
        for s in v
            .pointer("/projected/sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add_ref(
                refs,
                reference("ConfigMap", namespace, s.pointer("/configMap/name")),
            );
            add_ref(
                refs,
                reference("Secret", namespace, s.pointer("/secret/name")),
            );
        }
    }
}

fn container(
    list: &str,
    c: &Value,
    namespace: &str,
    entries: &mut Entries,
    refs: &mut Vec<ObjectRef>,
) {
    let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
    let at = |field: &str| format!("{list}[{name}].{field}");
    put(entries, &at("image"), c.get("image"));
    put(entries, &at("command"), c.get("command"));
    put(entries, &at("args"), c.get("args"));
    put(
        entries,
        &at("resources"),
        c.get("resources")
            .filter(|r| r.as_object().is_some_and(|o| !o.is_empty())),
    );
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        put(entries, &at(probe), c.get(probe));
    }
    for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
        let Some(var) = e.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = match (e.get("value"), e.get("valueFrom")) {
            (_, Some(from)) => {
                add_ref(
                    refs,
                    reference(
                        "ConfigMap",
                        namespace,
                        from.pointer("/configMapKeyRef/name"),
                    ),
                );
                add_ref(
                    refs,
                    reference("Secret", namespace, from.pointer("/secretKeyRef/name")),
                );
                format!("from {}", render(from))
            }
            (Some(v), None) => render(v),
            (None, None) => String::new(),
        };
        entries.insert(format!("env[{name}].{var}"), value);
    }
    for (i, e) in c
        .get("envFrom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        add_ref(
            refs,
            reference("ConfigMap", namespace, e.pointer("/configMapRef/name")),
        );
        add_ref(
            refs,
            reference("Secret", namespace, e.pointer("/secretRef/name")),
        );
        entries.insert(format!("envFrom[{name}][{i}]"), render(e));
    }
}

fn hpa(spec: &Value, namespace: &str, entries: &mut Entries, refs: &mut Vec<ObjectRef>) {
    put(entries, "minReplicas", spec.get("minReplicas"));
    put(entries, "maxReplicas", spec.get("maxReplicas"));
    put(
        entries,
        "targetCPUUtilizationPercentage",
        spec.get("targetCPUUtilizationPercentage"),
    );
    if let Some(target) = spec.get("scaleTargetRef") {
        let kind = target.get("kind").and_then(Value::as_str).unwrap_or("?");
        let name = target.get("name").and_then(Value::as_str).unwrap_or("?");
        entries.insert("target".to_owned(), format!("{kind}/{name}"));
        refs.push(ObjectRef {
            api_version: text(target, &["apiVersion"]).unwrap_or_default(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: String::new(),
            field_path: String::new(),
        });
    }
    for (i, m) in spec
        .get("metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        entries.insert(format!("metrics[{i}]"), render(m));
    }
}

fn node(object: &Value, entries: &mut Entries) {
    let spec = object.get("spec").unwrap_or(&Value::Null);
    let cordoned = spec.get("unschedulable").and_then(Value::as_bool) == Some(true);
    let scheduling = if cordoned { "cordoned" } else { "schedulable" };
    entries.insert("scheduling".to_owned(), scheduling.to_owned());
    for t in spec
        .get("taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = t.get("key").and_then(Value::as_str).unwrap_or("?");
        let effect = t.get("effect").and_then(Value::as_str).unwrap_or("?");
        let value = t.get("value").and_then(Value::as_str).unwrap_or("");
        entries.insert(
            format!("taints[{key}:{effect}]"),
            format!("present {value}").trim_end().to_owned(),
        );
    }
    let status = object.get("status").unwrap_or(&Value::Null);
    for c in status
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(kind), Some(value)) = (
            c.get("type").and_then(Value::as_str),
            c.get("status").and_then(Value::as_str),
        ) else {
            continue;
        };
        entries.insert(format!("conditions[{kind}]"), value.to_owned());
    }
    put(
        entries,
        "kubeletVersion",
        status.pointer("/nodeInfo/kubeletVersion"),
    );
}

/// One entry per key of a ConfigMap's or Secret's data: a content hash, never the value.
fn keys(data: Option<&Value>, prefix: &str, entries: &mut Entries) {
    for (key, value) in data.and_then(Value::as_object).into_iter().flatten() {
        let bytes = match value {
            Value::String(s) => s.as_bytes().to_vec(),
            other => other.to_string().into_bytes(),
        };
        entries.insert(format!("{prefix}.{key}"), content_hash(&bytes));
    }
}

/// The manager of the latest write to the object itself (status writes left out), with its time.
fn manager(meta: &Value) -> Option<(String, Option<Timestamp>)> {
    let entries = meta.get("managedFields")?.as_array()?;
    entries
        .iter()
        .filter(|e| e.get("subresource").and_then(Value::as_str) != Some("status"))
        .filter_map(|e| {
            let name = e.get("manager")?.as_str()?.to_owned();
            let at: Option<Timestamp> = e
                .get("time")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok());
            Some((name, at))
        })
        .max_by_key(|(_, at)| *at)
}
