//! The OpenAPI document matches the handlers: every documented operation is routed, every
//! documented parameter is accepted and undocumented ones are refused, and the documented
//! schemas have the fields the handlers serialize.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::*;
use kubetrail_server::Auth;
use serde_json::{Value, json};

fn sample(param: &str) -> &'static str {
    match param {
        "since" => "2024-05-01T00:00:00Z",
        "until" => "2024-05-02T00:00:00Z",
        "cluster" => "prod",
        "namespace" => "shop",
        "kind" => "Pod",
        "name" | "correlation" | "node" | "rule" => "x",
        "reason" => "BackOff",
        "category" => "crash",
        "severity" => "error+",
        "type" => "Warning",
        "search" => "restarting",
        "limit" | "min_count" | "max_events" | "threshold" => "5",
        "min_rate" => "0.1",
        "group_by" => "reason",
        "interval" | "bucket" => "1h",
        "history" => "1d",
        "quiet" => "30m",
        "link_window" => "10m",
        "status" => "firing",
        "all" => "true",
        "cursor" => "e30",
        other => panic!("no sample value for the documented parameter {other}"),
    }
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{namespace}", "shop")
        .replace("{kind}", "Pod")
        .replace("{name}", "web-7d9f8b6c5-x2k4p")
}

fn unknown_parameter(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::BAD_REQUEST
        && body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown parameter"))
}

fn routed(status: StatusCode, body: &Value) -> bool {
    status != StatusCode::METHOD_NOT_ALLOWED
        && !body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no route"))
}

#[tokio::test]
async fn every_documented_operation_and_parameter_is_served() {
    let (_d, store) = store_with(fixture()).await;
    let app = app(store, Auth::tokens(tenants(), false));
    let (s, doc) = get(&app, "/api/v1/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<String> = paths.keys().cloned().collect();
    for expected in [
        "/api/v1/events",
        "/api/v1/aggregate",
        "/api/v1/patterns",
        "/api/v1/anomalies",
        "/api/v1/incidents",
        "/api/v1/incidents/{id}",
        "/api/v1/timeline/{namespace}/{kind}/{name}",
        "/api/v1/alerts",
        "/api/v1/silences",
        "/api/v1/silences/{id}",
        "/api/v1/gaps",
        "/api/v1/me",
    ] {
        assert!(
            documented.contains(expected),
            "{expected} is not documented"
        );
    }
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let uri = concrete(path);
            let body = json!({});
            let request = |uri: &str| match method.as_str() {
                "get" => get_req(uri, Some(ADMIN)),
                m => json_req(&m.to_uppercase(), uri, Some(ADMIN), &body),
            };
            let (s, answer) = send(&app, request(&uri)).await;
            assert!(
                routed(s, &answer),
                "{method} {path}: {s} {}",
                short(&answer)
            );
            assert!(
                op["security"].is_array() && op["responses"]["401"].is_object(),
                "{method} {path} documents its bearer auth"
            );
            let params: Vec<&Value> = op["parameters"]
                .as_array()
                .map(|a| a.iter().filter(|p| p["in"] == "query").collect())
                .unwrap_or_default();
            for p in &params {
                let name = p["name"].as_str().unwrap();
                let with = format!("{uri}?{name}={}", sample(name));
                let (s, answer) = send(&app, request(&with)).await;
                assert!(
                    !unknown_parameter(s, &answer),
                    "{method} {path} refuses its documented {name}: {}",
                    short(&answer)
                );
            }
            if !params.is_empty() {
                let (s, answer) = send(&app, request(&format!("{uri}?bogus=1"))).await;
                assert!(
                    unknown_parameter(s, &answer),
                    "{method} {path} accepts an undocumented parameter: {s} {}",
                    short(&answer)
                );
            }
        }
    }
    assert!(operations >= 14, "{operations} operations");
}

fn schema_fields(doc: &Value, name: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][name]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {name}"))
        .keys()
        .cloned()
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn documented_schemas_have_the_served_fields() {
    let (_d, store) = store_with(fixture()).await;
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
    let app = app(store, Auth::tokens(tenants(), false));
    let (_, doc) = get(&app, "/api/v1/openapi.json", None).await;
    let (_, page) = get(&app, "/api/v1/events?limit=2", Some(ADMIN)).await;
    assert_eq!(keys(&page), schema_fields(&doc, "EventPage"));
    let mut event_fields = keys(&page["events"][0]);
    event_fields.insert("labels".into()); // only serialized when there are some
    assert_eq!(event_fields, schema_fields(&doc, "Event"));
    let mut regarding = keys(&page["events"][0]["regarding"]);
    regarding.insert("field_path".into()); // only serialized when set
    assert_eq!(regarding, schema_fields(&doc, "ObjectRef"));
    let (_, rows) = get(&app, "/api/v1/aggregate", Some(ADMIN)).await;
    assert_eq!(keys(&rows[0]), schema_fields(&doc, "AggregateRow"));
    let (_, gaps) = get(&app, "/api/v1/gaps", Some(ADMIN)).await;
    assert_eq!(keys(&gaps[0]), schema_fields(&doc, "Gap"));
    let (_, me) = get(&app, "/api/v1/me", Some(ADMIN)).await;
    assert_eq!(keys(&me), schema_fields(&doc, "Me"));
    let new = json!({"matchers": ["namespace=shop"], "duration": "1h"});
    let (_, silence) = send(
        &app,
        json_req("POST", "/api/v1/silences", Some(ADMIN), &new),
    )
    .await;
    assert_eq!(keys(&silence), schema_fields(&doc, "Silence"));
    assert_eq!(
        keys(&silence["matchers"][0]),
        schema_fields(&doc, "SilenceMatcher")
    );
    let (_, err) = get(&app, "/api/v1/events?limit=0", Some(ADMIN)).await;
    assert_eq!(keys(&err), schema_fields(&doc, "ErrorBody"));
    assert_eq!(keys(&err["error"]), schema_fields(&doc, "ErrorDetail"));
}
