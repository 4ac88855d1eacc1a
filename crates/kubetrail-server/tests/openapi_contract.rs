//! The OpenAPI document against real tools: PyPI's `openapi-spec-validator` accepts it, and the
//! answers of every documented JSON operation validate (`jsonschema`, Draft 2020-12, the
//! dialect of OpenAPI 3.1) against their documented schemas, with no field the schemas leave
//! out. `scripts/test.sh` installs both in a virtualenv and names its Python in
//! `KUBETRAIL_TEST_PYTHON`.
//!
//! Bug pinned: the document failed validation (operationId `list` used four times) and typed the
//! analysis, alert and timeline answers as an empty object, so a generated client had no types.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use axum::http::StatusCode;
use common::*;
use kubetrail_model::Severity;
use kubetrail_server::Auth;
use kubetrail_store::{AlertEvent, AlertRecord, AlertStatus, NewDelivery};
use serde_json::json;

/// A Python that imports `openapi_spec_validator` and `jsonschema`.
fn python() -> PathBuf {
    let candidates = std::env::var_os("KUBETRAIL_TEST_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/kubetrail-test/venv/bin/python")),
        )
        .chain([PathBuf::from("python3")]);
    for p in candidates {
        let ok = Command::new(&p)
            .args(["-c", "import openapi_spec_validator, jsonschema"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return p;
        }
    }
    panic!(
        "a Python with openapi-spec-validator is needed: scripts/test.sh makes one \
         (python3 -m venv ~/.cache/kubetrail-test/venv && \
         ~/.cache/kubetrail-test/venv/bin/pip install openapi-spec-validator)"
    );
}

/// Validates the document, then each `{pointer, body}` answer against the schema at `pointer`
/// (strictly: an object may carry only the properties its schema names).
const CHECK: &str = r##"
import json, sys
from openapi_spec_validator import validate
from jsonschema import Draft202012Validator

doc = json.load(open(sys.argv[1]))
validate(doc)
answers = json.load(open(sys.argv[2]))

def resolve(schema):
    while "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema

def named(schema):
    """Every property name an object schema documents, through allOf/oneOf/anyOf."""
    schema = resolve(schema)
    names = set(schema.get("properties", {}))
    for key in ("allOf", "oneOf", "anyOf"):
        for s in schema.get(key, []):
            names |= named(s)
    return names

def undocumented(value, schema, where):
    schema = resolve(schema)
    found = []
    if isinstance(value, dict):
        if "additionalProperties" in schema:
            for k, v in value.items():
                if isinstance(schema["additionalProperties"], dict):
                    found += undocumented(v, schema["additionalProperties"], f"{where}.{k}")
            return found
        names = named(schema)
        for k, v in value.items():
            if k not in names:
                found.append(f"{where}.{k}")
                continue
            for s in subschemas(schema):
                s = resolve(s)
                if k in s.get("properties", {}):
                    found += undocumented(v, s["properties"][k], f"{where}.{k}")
    elif isinstance(value, list):
        for s in subschemas(schema):
            if "items" in resolve(s):
                for i, v in enumerate(value):
                    found += undocumented(v, resolve(s)["items"], f"{where}[{i}]")
    return found

def subschemas(schema):
    schema = resolve(schema)
    out = [schema]
    for key in ("allOf", "oneOf", "anyOf"):
        for s in schema.get(key, []):
            out += subschemas(s)
    return out

failures = []
for a in answers:
    schema = dict(doc)
    schema["$ref"] = a["pointer"]
    for error in Draft202012Validator(schema).iter_errors(a["body"]):
        failures.append(f"{a['name']}: {error.message} at {list(error.absolute_path)}")
    target = {"$ref": a["pointer"]}
    for field in undocumented(a["body"], target, a["name"]):
        failures.append(f"undocumented field {field}")
print("\n".join(failures))
sys.exit(1 if failures else 0)
"##;

fn alert() -> AlertRecord {
    AlertRecord {
        rule: "crash-loop".into(),
        group_key: "prod/shop/Deployment/web".into(),
        status: AlertStatus::Firing,
        severity: Severity::Error,
        labels: BTreeMap::from([("namespace".to_string(), "shop".to_string())]),
        annotations: BTreeMap::from([("summary".to_string(), "crash loop".to_string())]),
        starts_at: at(0),
        ends_at: None,
        first_seen: at(0),
        last_seen: at(60),
        event_count: 5,
        silenced_by: None,
        events: vec![AlertEvent {
            cluster: "prod".into(),
            uid: "shop-1".into(),
            object: "shop/Pod/web-7d9f8b6c5-x2k4p".into(),
            reason: "BackOff".into(),
            note: "restarting".into(),
            count: 5,
            last_seen: at(60),
        }],
    }
}

/// The JSON pointer of an operation's 200 answer schema.
fn answer_pointer(path: &str, method: &str) -> String {
    let escaped = path.replace('~', "~0").replace('/', "~1");
    format!("#/paths/{escaped}/{method}/responses/200/content/application~1json/schema")
}

const WINDOW: &str = "since=2024-05-01T11:30:00Z&until=2024-05-01T13:00:00Z";

#[tokio::test]
async fn a_real_validator_accepts_the_document_and_the_answers_match_their_schemas() {
    // An event hours before the window: the namespace has history, so BackOff is new in it.
    let mut events = fixture();
    let mut old = raw("prod", "shop", "Pod", "web-0", "Pulled", "pulled");
    old.first_seen = at(-6 * 3600);
    old.last_seen = at(-6 * 3600);
    events.push(old);
    let (dir, store) = store_with(events).await;
    store
        .save_alert(
            &alert(),
            &[NewDelivery {
                notifier: "webhook".into(),
                due_at: at(60),
            }],
            at(60),
        )
        .await
        .unwrap();
    let mut txn = store.begin().await.unwrap();
    txn.save_gap(kubetrail_store::Gap {
        cluster: "prod".into(),
        stream: "events".into(),
        from: at(0),
        to: at(1),
        cause: "410".into(),
    })
    .await
    .unwrap();
    txn.commit().await.unwrap();
    // A rollout just before shop's crash loop: incidents and the story carry the change.
    let rollout = kubetrail_model::Change {
        cluster: "prod".into(),
        object: kubetrail_model::ObjectRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: "shop".into(),
            name: "web".into(),
            uid: "uid-web".into(),
            field_path: String::new(),
        },
        at: at(-60),
        op: kubetrail_model::ChangeOp::Updated,
        generation: Some(4),
        resource_version: "77".into(),
        manager: Some("kubectl-edit".into()),
        source: kubetrail_model::ChangeSource::Watch,
        fields: vec![kubetrail_model::FieldChange {
            path: "containers[app].image".into(),
            before: Some("web:1.1".into()),
            after: Some("web:1.2".into()),
        }],
        references: Vec::new(),
    };
    let batch = kubetrail_store::ChangeBatch {
        changes: vec![rollout],
        ..kubetrail_store::ChangeBatch::default()
    };
    store
        .change_store()
        .unwrap()
        .save_changes(batch)
        .await
        .unwrap();
    let app = app(store, Auth::tokens(tenants(), false));
    let (s, doc) = get(&app, "/api/v1/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);

    let incidents = format!("/api/v1/incidents?{WINDOW}");
    let (_, list) = get(&app, &incidents, Some(ADMIN)).await;
    let id = list[0]["id"].as_str().expect("an incident").to_string();
    let (_, alerts) = get(&app, "/api/v1/alerts", Some(ADMIN)).await;
    let alert = alerts[0]["id"].as_i64().expect("an alert");
    let requests = [
        ("/api/v1/events", "/api/v1/events?limit=3".to_string()),
        ("/api/v1/aggregate", "/api/v1/aggregate".to_string()),
        ("/api/v1/patterns", format!("/api/v1/patterns?{WINDOW}")),
        (
            "/api/v1/anomalies",
            format!("/api/v1/anomalies?{WINDOW}&history=1d&min_count=1"),
        ),
        ("/api/v1/incidents", incidents.clone()),
        (
            "/api/v1/incidents/{id}",
            format!("/api/v1/incidents/{id}?{WINDOW}"),
        ),
        (
            "/api/v1/timeline/{namespace}/{kind}/{name}",
            "/api/v1/timeline/shop/Deployment/web?since=2h".to_string(),
        ),
        ("/api/v1/alerts", "/api/v1/alerts".to_string()),
        ("/api/v1/alerts/{id}", format!("/api/v1/alerts/{alert}")),
        ("/api/v1/fleet", format!("/api/v1/fleet?{WINDOW}")),
        ("/api/v1/gaps", "/api/v1/gaps".to_string()),
        ("/api/v1/me", "/api/v1/me".to_string()),
        ("/api/v1/changes", "/api/v1/changes".to_string()),
    ];
    let mut answers = Vec::new();
    for (path, uri) in requests {
        let (s, body) = get(&app, &uri, Some(ADMIN)).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {}", short(&body));
        let empty = body.as_array().is_some_and(|a| a.is_empty())
            || body.get("timeline").is_some_and(|t| t == &json!([]));
        assert!(!empty, "{uri} answered nothing to check: {}", short(&body));
        answers.push(json!({"name": uri, "pointer": answer_pointer(path, "get"), "body": body}));
    }

    let doc_file = dir.path().join("openapi.json");
    let answers_file = dir.path().join("answers.json");
    let script = dir.path().join("check.py");
    std::fs::write(&doc_file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    std::fs::write(&answers_file, serde_json::to_vec(&answers).unwrap()).unwrap();
    std::fs::write(&script, CHECK).unwrap();
    let out = Command::new(python())
        .arg(&script)
        .arg(&doc_file)
        .arg(&answers_file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the OpenAPI document or an answer is invalid:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every typed answer names a component schema, not a bare `{}`: a generated client gets a
/// type for it.
#[tokio::test]
async fn analysis_alert_and_timeline_answers_have_named_types() {
    let (_d, store) = store_with(fixture()).await;
    let app = app(store, Auth::tokens(tenants(), false));
    let (_, doc) = get(&app, "/api/v1/openapi.json", None).await;
    for (path, expected) in [
        ("/api/v1/patterns", "Pattern"),
        ("/api/v1/anomalies", "Anomaly"),
        ("/api/v1/incidents", "Incident"),
        ("/api/v1/incidents/{id}", "Incident"),
        ("/api/v1/timeline/{namespace}/{kind}/{name}", "Explanation"),
        ("/api/v1/alerts", "StoredAlert"),
        ("/api/v1/alerts/{id}", "AlertPage"),
        ("/api/v1/fleet", "Fleet"),
        ("/api/v1/changes", "Change"),
    ] {
        let schema =
            &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        let reference = schema["$ref"]
            .as_str()
            .or_else(|| schema["items"]["$ref"].as_str())
            .unwrap_or_else(|| panic!("{path}: an untyped answer {schema}"));
        assert_eq!(
            reference,
            format!("#/components/schemas/{expected}"),
            "{path}"
        );
        let component = &doc["components"]["schemas"][expected];
        assert!(
            component["properties"].is_object() || component["allOf"].is_array(),
            "{expected} has no fields: {component}"
        );
    }
    // Times are RFC 3339 strings, typed as such (utoipa alone made them a `$ref` to a `String`
    // component).
    assert!(doc["components"]["schemas"].get("String").is_none());
    for (schema, field) in [
        ("Incident", "start"),
        ("Window", "since"),
        ("AlertRecord", "ends_at"),
    ] {
        let property = &doc["components"]["schemas"][schema]["properties"][field];
        assert_eq!(
            property["format"], "date-time",
            "{schema}.{field}: {property}"
        );
    }
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().expect("an operationId"))
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "operationIds are unique: {ids:?}");
}

/// The document is found from the API root (its `Link: rel="service-desc"`, RFC 8631, and its
/// body) and at the conventional `/openapi.json`.
#[tokio::test]
async fn the_document_is_found_from_the_api_root_and_at_openapi_json() {
    use tower::ServiceExt;
    let (_d, store) = store_with(fixture()).await;
    let app = app(store, Auth::tokens(tenants(), false));
    let (_, doc) = get(&app, "/api/v1/openapi.json", None).await;
    let (s, conventional) = get(&app, "/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(conventional, doc);
    for root in ["/api/v1", "/api/v1/"] {
        let response = app.clone().oneshot(get_req(root, None)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{root}");
        let link = response.headers()["link"].to_str().unwrap().to_string();
        assert!(link.contains(r#"rel="service-desc""#), "{link}");
        let target = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_string();
        let (s, linked) = get(&app, &target, None).await;
        assert_eq!(
            (s, &linked),
            (StatusCode::OK, &doc),
            "{root} links {target}"
        );
        let (_, index) = get(&app, root, None).await;
        assert_eq!(index["openapi"], target.as_str());
        let listed: std::collections::BTreeSet<String> = index["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["operation_id"].as_str().unwrap().to_string())
            .collect();
        let documented: std::collections::BTreeSet<String> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, documented);
    }
}
