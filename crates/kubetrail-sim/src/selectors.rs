//! `labelSelector` and `fieldSelector` query parameters.
//!
//! Label selectors follow `k8s.io/apimachinery/pkg/labels` (equality, `!=`, `in`, `notin`,
//! exists, `!key`, `>`/`<`). Field selectors follow `pkg/fields` (`=`, `==`, `!=`, comma = AND)
//! over the fields each resource makes selectable (`ToSelectableFields` in its registry); a
//! field a resource does not offer is a 400, as on the real server.

use serde_json::Value;

use crate::resources::Resource;

/// A parsed `labelSelector`: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

#[derive(Clone, Debug, PartialEq)]
struct Requirement {
    key: String,
    op: LabelOp,
}

#[derive(Clone, Debug, PartialEq)]
enum LabelOp {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    GreaterThan(i64),
    LessThan(i64),
}

impl LabelSelector {
    /// Parses `app=web,tier in (a,b),!legacy`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in split_top_level(input) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(term)?);
        }
        Ok(Self(requirements))
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        self.0.iter().all(|requirement| {
            let value = labels
                .and_then(|l| l.get(&requirement.key))
                .and_then(Value::as_str);
            match (&requirement.op, value) {
                (LabelOp::Equals(want), Some(have)) => want == have,
                (LabelOp::Equals(_), None) => false,
                (LabelOp::NotEquals(want), have) => have != Some(want.as_str()),
                (LabelOp::In(set), Some(have)) => set.iter().any(|v| v == have),
                (LabelOp::In(_), None) => false,
                (LabelOp::NotIn(set), have) => !have.is_some_and(|h| set.iter().any(|v| v == h)),
                (LabelOp::Exists, have) => have.is_some(),
                (LabelOp::DoesNotExist, have) => have.is_none(),
                (LabelOp::GreaterThan(n), Some(have)) => have.parse::<i64>().is_ok_and(|h| h > *n),
                (LabelOp::LessThan(n), Some(have)) => have.parse::<i64>().is_ok_and(|h| h < *n),
                (LabelOp::GreaterThan(_) | LabelOp::LessThan(_), None) => false,
            }
        })
    }
}

/// Splits on commas outside parentheses (`a in (x,y),b` is two terms).
fn split_top_level(input: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&input[start..]);
    terms
}

fn parse_requirement(term: &str) -> Result<Requirement, String> {
    let invalid = || format!("unable to parse requirement: invalid label selector term {term:?}");
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement {
            key: checked_key(key.trim())?,
            op: LabelOp::DoesNotExist,
        });
    }
    for (token, set_op) in [(" notin ", false), (" in ", true)] {
        if let Some(pos) = term.find(token) {
            let key = checked_key(term[..pos].trim())?;
            let rest = term[pos + token.len()..].trim();
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(invalid)?;
            let values: Vec<String> = inner
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            let op = if set_op {
                LabelOp::In(values)
            } else {
                LabelOp::NotIn(values)
            };
            return Ok(Requirement { key, op });
        }
    }
    for (token, kind) in [("!=", 0), ("==", 1), ("=", 1), (">", 2), ("<", 3)] {
        if let Some(pos) = term.find(token) {
            let key = checked_key(term[..pos].trim())?;
            let value = term[pos + token.len()..].trim().to_string();
            let op = match kind {
                0 => LabelOp::NotEquals(value),
                1 => LabelOp::Equals(value),
                2 => LabelOp::GreaterThan(value.parse().map_err(|_| invalid())?),
                _ => LabelOp::LessThan(value.parse().map_err(|_| invalid())?),
            };
            return Ok(Requirement { key, op });
        }
    }
    Ok(Requirement {
        key: checked_key(term)?,
        op: LabelOp::Exists,
    })
}

fn checked_key(key: &str) -> Result<String, String> {
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid {
        Ok(key.to_string())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label key {key:?}"
        ))
    }
}

/// A parsed `fieldSelector`: every term must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector(Vec<FieldTerm>);

#[derive(Clone, Debug, PartialEq)]
struct FieldTerm {
    field: String,
    value: String,
    negated: bool,
}

impl FieldSelector {
    /// Parses `reason=BackOff,type!=Normal` and checks each field is selectable on `resource`.
    pub fn parse(input: &str, resource: Resource) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in split_unescaped(input, ',') {
            if term.trim().is_empty() {
                continue;
            }
            let (field, value, negated) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, false)
            } else {
                return Err(format!(
                    "invalid selector: '{input}'; can't understand '{term}'"
                ));
            };
            let field = field.trim().to_string();
            if !selectable_fields(resource).contains(&field.as_str()) {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push(FieldTerm {
                field,
                value: unescape(value),
                negated,
            });
        }
        Ok(Self(terms))
    }

    /// Whether `object` (in the stored shape) is selected.
    pub fn matches(&self, resource: Resource, object: &Value) -> bool {
        self.0.iter().all(|term| {
            let actual = field_value(resource, object, &term.field);
            (actual == term.value) != term.negated
        })
    }
}

fn split_unescaped(input: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in input.chars() {
        if escaped {
            current.push('\\');
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// The selectable fields of each resource, as the real server's registries declare them.
fn selectable_fields(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::CoreEvent => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        Resource::Event => &[
            "metadata.name",
            "metadata.namespace",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ],
        Resource::Pod => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        Resource::Node => &["metadata.name", "spec.unschedulable"],
        Resource::ReplicaSet => &["metadata.name", "metadata.namespace", "status.replicas"],
        Resource::Job => &["metadata.name", "metadata.namespace", "status.successful"],
        Resource::Secret => &["metadata.name", "metadata.namespace", "type"],
        Resource::Deployment
        | Resource::Lease
        | Resource::ConfigMap
        | Resource::StatefulSet
        | Resource::DaemonSet
        | Resource::CronJob
        | Resource::HorizontalPodAutoscaler => &["metadata.name", "metadata.namespace"],
    }
}

/// The value of a selectable field of a stored object; absent fields read as "".
fn field_value(resource: Resource, object: &Value, field: &str) -> String {
    let text = |pointer: &str| -> String {
        match object.pointer(pointer) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    };
    match (resource, field) {
        (_, "metadata.name") => text("/metadata/name"),
        (_, "metadata.namespace") => text("/metadata/namespace"),
        (Resource::CoreEvent, f) if f.starts_with("involvedObject.") => {
            text(&format!("/regarding/{}", &f["involvedObject.".len()..]))
        }
        (Resource::Event, f) if f.starts_with("regarding.") => {
            text(&format!("/regarding/{}", &f["regarding.".len()..]))
        }
        (Resource::CoreEvent | Resource::Event, "reportingComponent" | "reportingController") => {
            text("/reportingController")
        }
        // The registry falls back to reportingController when source.component is empty.
        (Resource::CoreEvent, "source") => {
            let source = text("/deprecatedSource/component");
            if source.is_empty() {
                text("/reportingController")
            } else {
                source
            }
        }
        (Resource::Node, "spec.unschedulable") => {
            let value = text("/spec/unschedulable");
            if value.is_empty() {
                "false".into()
            } else {
                value
            }
        }
        (Resource::Pod, "spec.hostNetwork") => {
            let value = text("/spec/hostNetwork");
            if value.is_empty() {
                "false".into()
            } else {
                value
            }
        }
        (Resource::ReplicaSet, "status.replicas") | (Resource::Job, "status.successful") => {
            let value = text(&format!("/{}", field.replace('.', "/")));
            if value.is_empty() { "0".into() } else { value }
        }
        (_, f) => text(&format!("/{}", f.replace('.', "/"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn label_selectors_support_every_operator() {
        let l = labels(json!({"app": "web", "tier": "front", "rev": "7"}));
        let yes = [
            "app=web",
            "app==web",
            "app!=db",
            "tier in (front, back)",
            "tier notin (back)",
            "app",
            "!legacy",
            "rev>5",
            "rev<9",
            "app=web,tier in (front),!legacy",
            "",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).expect(s).matches(Some(&l)), "{s}");
        }
        let no = [
            "app=db",
            "app!=web",
            "tier in (back)",
            "tier notin (front,x)",
            "legacy",
            "!app",
            "rev>7",
            "missing=x",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).expect(s).matches(Some(&l)), "{s}");
        }
        assert!(
            LabelSelector::parse("missing!=x")
                .expect("valid")
                .matches(None)
        );
    }

    #[test]
    fn malformed_label_selectors_are_refused() {
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("a b=c").is_err());
    }

    fn stored_event() -> Value {
        json!({
            "metadata": {"name": "web.1", "namespace": "demo"},
            "regarding": {"kind": "Pod", "name": "web-1", "namespace": "demo", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "type": "Warning", "reportingController": "kubelet",
            "deprecatedSource": {"component": "kubelet", "host": "node-a"}
        })
    }

    #[test]
    fn event_fields_are_selectable_under_each_api_names() {
        let e = stored_event();
        let core = |s: &str| {
            FieldSelector::parse(s, Resource::CoreEvent)
                .expect(s)
                .matches(Resource::CoreEvent, &e)
        };
        let v1 = |s: &str| {
            FieldSelector::parse(s, Resource::Event)
                .expect(s)
                .matches(Resource::Event, &e)
        };
        assert!(core("involvedObject.kind=Pod,reason=BackOff,type=Warning"));
        assert!(core("source=kubelet"));
        assert!(core("reportingComponent=kubelet"));
        assert!(core("involvedObject.fieldPath=spec.containers{app}"));
        assert!(!core("type!=Warning"));
        assert!(v1("regarding.kind=Pod,reportingController=kubelet"));
        assert!(v1("metadata.namespace=demo,metadata.name=web.1"));
        assert!(!v1("regarding.name=other"));
        assert!(core("involvedObject.uid="));
    }

    #[test]
    fn a_field_of_the_other_event_api_is_not_supported() {
        let error = FieldSelector::parse("involvedObject.kind=Pod", Resource::Event)
            .expect_err("unsupported");
        assert_eq!(error, "field label not supported: involvedObject.kind");
        assert!(FieldSelector::parse("spec.nodeName=n", Resource::Node).is_err());
        assert!(FieldSelector::parse("reason", Resource::Event).is_err());
    }

    #[test]
    fn pod_fields_include_the_node_name() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "node-a"}, "status": {"phase": "Running"}});
        let sel = FieldSelector::parse("spec.nodeName=node-a,status.phase=Running", Resource::Pod)
            .expect("valid");
        assert!(sel.matches(Resource::Pod, &pod));
        let sel = FieldSelector::parse("spec.hostNetwork=false", Resource::Pod).expect("valid");
        assert!(sel.matches(Resource::Pod, &pod));
    }

    #[test]
    fn escaped_commas_stay_in_the_value() {
        let e = json!({"metadata": {"name": "a,b"}});
        let sel = FieldSelector::parse(r"metadata.name=a\,b", Resource::Lease).expect("valid");
        assert!(sel.matches(Resource::Lease, &e));
    }
}

/// What a list or watch selects: a namespace (or all), a label and a field selector.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    pub resource: Resource,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    /// Whether `object` (in the stored shape) is selected.
    pub(crate) fn selects(&self, object: &Value) -> bool {
        let namespace_ok = self.namespace.as_deref().is_none_or(|namespace| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(namespace)
        });
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        namespace_ok && self.labels.matches(labels) && self.fields.matches(self.resource, object)
    }
}
