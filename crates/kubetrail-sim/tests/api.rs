//! The HTTP API against the real server's behaviour: list, watch, resume, 410, continue,
//! selectors, conflicts; shapes compared with the real transcripts in shared/datasets.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::{Client, Next, summary};
use hyper::{Method, StatusCode};
use k8s_openapi::api::core::v1::{EventSource, ObjectReference, Pod};
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kubetrail_sim::{SimConfig, SimHandle, Simulator};
use serde_json::{Value, json};

const EVENTS_V1: &str = "/apis/events.k8s.io/v1";

fn pod_ref(namespace: &str, name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        uid: Some(format!("uid-{name}")),
        field_path: Some("spec.containers{app}".into()),
        ..Default::default()
    }
}

/// An Event as the kubelet's legacy recorder writes it.
fn kubelet_event(namespace: &str, name: &str, reason: &str, type_: &str) -> Event {
    let now = Time(jiff::Timestamp::now());
    Event {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        regarding: Some(pod_ref(namespace, "web-1")),
        reason: Some(reason.into()),
        note: Some(format!("{reason} happened")),
        type_: Some(type_.into()),
        reporting_controller: Some("kubelet".into()),
        reporting_instance: Some("node-a".into()),
        deprecated_source: Some(EventSource {
            component: Some("kubelet".into()),
            host: Some("node-a".into()),
        }),
        deprecated_first_timestamp: Some(now.clone()),
        deprecated_last_timestamp: Some(now),
        deprecated_count: Some(1),
        ..Default::default()
    }
}

/// An Event as the scheduler's events.k8s.io recorder writes it.
fn scheduler_event(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "eventTime": "2026-11-27T06:48:25.236926Z",
        "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-vm",
        "action": "Scheduling", "reason": "FailedScheduling", "type": "Warning",
        "regarding": {"kind": "Pod", "namespace": namespace, "name": "big", "apiVersion": "v1"},
        "note": "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    })
}

async fn start() -> Result<(SimHandle, Client)> {
    let sim = Simulator::start().await?;
    let client = Client::new(&sim.url());
    Ok((sim, client))
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn discovery_serves_legacy_and_aggregated_documents() -> Result<()> {
    let (_sim, client) = start().await?;
    let version = client.get("/version").await?;
    assert_eq!(version.body["minor"], "36");
    let api = client.get("/api").await?;
    assert_eq!(api.body["kind"], "APIVersions");
    let groups = client.get("/apis").await?;
    let group_names: Vec<&str> = groups.body["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str())
        .collect();
    for group in [
        "events.k8s.io",
        "apps",
        "batch",
        "coordination.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
    ] {
        assert!(
            group_names.contains(&group),
            "{group} missing from {group_names:?}"
        );
    }
    let events = client.get("/apis/events.k8s.io/v1").await?;
    assert_eq!(events.body["resources"][0]["name"], "events");
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let aggregated = client
        .send(Method::GET, "/apis", &[("accept", accept)], None)
        .await?;
    assert_eq!(
        aggregated.headers["content-type"],
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(aggregated.body["kind"], "APIGroupDiscoveryList");
    let missing = client.get("/apis/apps/v1beta1").await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn both_event_apis_list_the_same_objects_in_their_own_shape() -> Result<()> {
    let (sim, client) = start().await?;
    sim.create(&kubelet_event("demo", "web-1.a", "BackOff", "Warning"))?;
    let created = client
        .post(
            &format!("{EVENTS_V1}/namespaces/demo/events"),
            &scheduler_event("demo", "big.b"),
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED);

    let v1 = client.get(&format!("{EVENTS_V1}/events")).await?;
    assert_eq!(v1.body["kind"], "EventList");
    assert_eq!(v1.body["apiVersion"], "events.k8s.io/v1");
    assert_eq!(
        v1.body["metadata"]["resourceVersion"],
        sim.resource_version().to_string()
    );
    let items = v1.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    // Typed list items carry no kind/apiVersion, as on the real server.
    assert!(items.iter().all(|i| i.get("kind").is_none()));
    let legacy = &items[1];
    assert_eq!(
        legacy["deprecatedSource"],
        json!({"component": "kubelet", "host": "node-a"})
    );
    assert_eq!(legacy["eventTime"], Value::Null);
    let modern = &items[0];
    assert_eq!(modern["deprecatedSource"], json!({}));
    assert_eq!(modern["deprecatedFirstTimestamp"], Value::Null);

    let core = client.get("/api/v1/namespaces/demo/events").await?;
    assert_eq!(core.body["apiVersion"], "v1");
    let core_items = core.body["items"].as_array().cloned().unwrap_or_default();
    let uids = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|i| {
                i["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(uids(&items), uids(&core_items));
    let legacy = &core_items[1];
    assert_eq!(
        legacy["involvedObject"]["fieldPath"],
        "spec.containers{app}"
    );
    assert_eq!(legacy["message"], "BackOff happened");
    assert_eq!(legacy["count"], 1);
    assert_eq!(legacy["source"]["component"], "kubelet");
    assert_eq!(legacy["reportingComponent"], "kubelet");
    let modern = &core_items[0];
    assert_eq!(modern["source"], json!({}));
    assert_eq!(modern["firstTimestamp"], Value::Null);
    assert_eq!(modern["reportingComponent"], "default-scheduler");
    assert_eq!(modern["action"], "Scheduling");
    Ok(())
}

#[tokio::test]
async fn a_watch_from_a_version_replays_history_then_follows() -> Result<()> {
    let (sim, client) = start().await?;
    let start_rv = sim.resource_version();
    let created = sim.create(&kubelet_event("demo", "web-1.a", "BackOff", "Warning"))?;
    let mut repeated = created.clone();
    repeated.deprecated_count = Some(2);
    let repeated = sim.replace(&repeated)?;
    let mut watch = client
        .watch(&format!(
            "{EVENTS_V1}/events?watch=1&resourceVersion={start_rv}"
        ))
        .await?;
    assert_eq!(watch.status, StatusCode::OK);
    let added = watch.next().await?;
    let modified = watch.next().await?;
    assert_eq!(summary(&added).0, "ADDED");
    assert_eq!(summary(&modified).0, "MODIFIED");
    assert_eq!(
        added["object"]["metadata"]["uid"],
        modified["object"]["metadata"]["uid"]
    );
    assert_eq!(modified["object"]["deprecatedCount"], 2);
    assert_eq!(
        modified["object"]["metadata"]["resourceVersion"].as_str(),
        repeated.metadata.resource_version.as_deref()
    );
    // From the current version nothing comes until something changes.
    assert!(matches!(
        watch.next_within(Duration::from_millis(200)).await,
        Next::Silent
    ));
    sim.delete::<Event>(Some("demo"), "web-1.a")?;
    let deleted = watch.next().await?;
    assert_eq!(summary(&deleted).0, "DELETED");
    assert_eq!(
        deleted["object"]["metadata"]["resourceVersion"],
        sim.resource_version().to_string()
    );
    Ok(())
}

#[tokio::test]
async fn initial_events_end_with_the_annotated_bookmark() -> Result<()> {
    let (sim, client) = start().await?;
    // Created out of key order: the initial events come sorted by namespace/name, as from etcd.
    sim.create(&kubelet_event("demo", "web-1.b", "BackOff", "Warning"))?;
    sim.create(&kubelet_event(
        "demo-quota",
        "q.a",
        "FailedCreate",
        "Warning",
    ))?;
    sim.create(&kubelet_event("demo", "web-1.a", "Pulled", "Normal"))?;
    let current = sim.resource_version().to_string();
    for query in [
        "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        "watch=1&resourceVersion=0&allowWatchBookmarks=true",
    ] {
        let mut watch = client.watch(&format!("{EVENTS_V1}/events?{query}")).await?;
        let mut keys = Vec::new();
        for _ in 0..3 {
            let event = watch.next().await?;
            assert_eq!(event["type"], "ADDED");
            let meta = &event["object"]["metadata"];
            keys.push(format!(
                "{}/{}",
                meta["namespace"].as_str().unwrap_or_default(),
                meta["name"].as_str().unwrap_or_default()
            ));
        }
        assert_eq!(keys, ["demo-quota/q.a", "demo/web-1.a", "demo/web-1.b"]);
        let bookmark = watch.next().await?;
        // The same line the real server sends (watch-C-sendInitialEvents.jsonl), with our version.
        let expected = json!({"type":"BOOKMARK","object":{"kind":"Event","apiVersion":"events.k8s.io/v1","metadata":{"resourceVersion":current,"annotations":{"k8s.io/initial-events-end":"true"}},"eventTime":null,"regarding":{},"deprecatedSource":{},"deprecatedFirstTimestamp":null,"deprecatedLastTimestamp":null}});
        assert_eq!(bookmark, expected, "{query}");
        // Events get no periodic bookmarks.
        assert!(matches!(
            watch.next_within(Duration::from_millis(200)).await,
            Next::Silent
        ));
    }
    Ok(())
}

#[tokio::test]
async fn an_expired_watch_gets_an_in_stream_410_like_the_real_server() -> Result<()> {
    let (sim, client) = start().await?;
    sim.create(&kubelet_event("demo", "web-1.a", "BackOff", "Warning"))?;
    sim.create(&kubelet_event("demo", "web-1.b", "BackOff", "Warning"))?;
    sim.faults().compact();
    let mut watch = client
        .watch(&format!("{EVENTS_V1}/events?watch=1&resourceVersion=2"))
        .await?;
    assert_eq!(watch.status, StatusCode::OK);
    let error = watch.next().await?;
    let real = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/real-apiserver/watch-F-rv2-after-compaction.jsonl"
    ))
    .ok()
    .and_then(|line| serde_json::from_str::<Value>(&line).ok())
    .unwrap_or_else(|| json!({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"The resourceVersion for the provided watch is too old.","reason":"Expired","code":410}}));
    assert_eq!(error, real);
    assert!(matches!(
        watch.next_within(Duration::from_secs(5)).await,
        Next::End
    ));
    // The current version is still watchable.
    let current = sim.resource_version();
    let watch = client
        .watch(&format!(
            "{EVENTS_V1}/events?watch=1&resourceVersion={current}"
        ))
        .await?;
    assert_eq!(watch.status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn exact_lists_see_the_past_until_it_is_compacted() -> Result<()> {
    let (sim, client) = start().await?;
    sim.create(&kubelet_event("demo", "a", "BackOff", "Warning"))?;
    let then = sim.resource_version();
    sim.create(&kubelet_event("demo", "b", "BackOff", "Warning"))?;
    let past = client
        .get(&format!(
            "{EVENTS_V1}/events?resourceVersion={then}&resourceVersionMatch=Exact"
        ))
        .await?;
    assert_eq!(past.status, StatusCode::OK);
    assert_eq!(names(&past.body), ["a"]);
    assert_eq!(past.body["metadata"]["resourceVersion"], then.to_string());
    sim.compact();
    let gone = client
        .get(&format!(
            "{EVENTS_V1}/events?resourceVersion={then}&resourceVersionMatch=Exact"
        ))
        .await?;
    assert_eq!(gone.status, StatusCode::GONE);
    assert_eq!(gone.body["reason"], "Expired");
    assert_eq!(gone.body["code"], 410);
    let future = client
        .get(&format!(
            "{EVENTS_V1}/events?resourceVersion={}&resourceVersionMatch=NotOlderThan",
            then + 100
        ))
        .await?;
    assert_eq!(future.status, StatusCode::GATEWAY_TIMEOUT);
    Ok(())
}

#[tokio::test]
async fn continue_tokens_page_through_one_snapshot_and_expire() -> Result<()> {
    let (sim, client) = start().await?;
    for name in ["e1", "e2", "e3", "e4", "e5"] {
        sim.create(&kubelet_event("demo", name, "BackOff", "Warning"))?;
    }
    let snapshot_rv = sim.resource_version().to_string();
    let first = client.get("/api/v1/namespaces/demo/events?limit=2").await?;
    assert_eq!(names(&first.body), ["e1", "e2"]);
    assert_eq!(first.body["metadata"]["remainingItemCount"], 3);
    // A write after the first page does not show up in later pages.
    sim.create(&kubelet_event("demo", "e0", "BackOff", "Warning"))?;
    sim.delete::<Event>(Some("demo"), "e4")?;
    let mut token = first.body["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut rest = Vec::new();
    while !token.is_empty() {
        let page = client
            .get(&format!(
                "/api/v1/namespaces/demo/events?limit=2&continue={token}"
            ))
            .await?;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.body["metadata"]["resourceVersion"], snapshot_rv);
        rest.extend(names(&page.body));
        token = page.body["metadata"]["continue"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    }
    assert_eq!(rest, ["e3", "e4", "e5"]);

    let first = client.get("/api/v1/namespaces/demo/events?limit=2").await?;
    let token = first.body["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    sim.create(&kubelet_event("demo", "e9", "BackOff", "Warning"))?;
    sim.compact();
    let expired = client
        .get(&format!(
            "/api/v1/namespaces/demo/events?limit=2&continue={token}"
        ))
        .await?;
    assert_eq!(expired.status, StatusCode::GONE);
    assert_eq!(expired.body["reason"], "Expired");
    assert!(
        expired.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("too old to display a consistent list")
    );
    let inconsistent = expired.body["metadata"]["continue"]
        .as_str()
        .unwrap_or_default();
    let resumed = client
        .get(&format!(
            "/api/v1/namespaces/demo/events?limit=10&continue={inconsistent}"
        ))
        .await?;
    // The first page of this list was e0, e1: the rest, as of now, includes e9.
    assert_eq!(names(&resumed.body), ["e2", "e3", "e5", "e9"]);
    let bad = client
        .get("/api/v1/namespaces/demo/events?continue=garbage")
        .await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn field_and_label_selectors_filter_lists_and_watches() -> Result<()> {
    let (sim, client) = start().await?;
    sim.create(&kubelet_event("demo", "a", "BackOff", "Warning"))?;
    sim.create(&kubelet_event("demo", "b", "Pulled", "Normal"))?;
    let mut node_event = kubelet_event("default", "node-a.c", "NodeNotReady", "Normal");
    node_event.regarding = Some(ObjectReference {
        kind: Some("Node".into()),
        name: Some("node-a".into()),
        ..Default::default()
    });
    node_event.reporting_controller = Some("node-controller".into());
    node_event.deprecated_source = Some(EventSource {
        component: Some("node-controller".into()),
        host: None,
    });
    sim.create(&node_event)?;
    let cases = [
        ("/api/v1/events?fieldSelector=reason%3DBackOff", vec!["a"]),
        (
            "/api/v1/events?fieldSelector=type%3DNormal",
            vec!["node-a.c", "b"],
        ),
        (
            "/api/v1/events?fieldSelector=involvedObject.kind%3DNode",
            vec!["node-a.c"],
        ),
        (
            "/api/v1/events?fieldSelector=source%3Dnode-controller",
            vec!["node-a.c"],
        ),
        (
            "/apis/events.k8s.io/v1/events?fieldSelector=regarding.kind%3DPod,reason!%3DBackOff",
            vec!["b"],
        ),
        (
            "/apis/events.k8s.io/v1/events?fieldSelector=reportingController%3Dkubelet",
            vec!["a", "b"],
        ),
        (
            "/apis/events.k8s.io/v1/events?fieldSelector=metadata.namespace%3Ddemo,metadata.name%3Db",
            vec!["b"],
        ),
    ];
    for (path, expected) in cases {
        let reply = client.get(path).await?;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(names(&reply.body), expected, "{path}");
    }
    let unsupported = client
        .get("/apis/events.k8s.io/v1/events?fieldSelector=involvedObject.kind%3DPod")
        .await?;
    assert_eq!(unsupported.status, StatusCode::BAD_REQUEST);
    assert_eq!(unsupported.body["reason"], "BadRequest");

    let pod = |name: &str, node: &str, tier: &str| -> Result<Pod> {
        Ok(serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "demo", "labels": {"app": "web", "tier": tier}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx"}]}
        }))?)
    };
    sim.create(&pod("p1", "node-a", "front")?)?;
    sim.create(&pod("p2", "node-b", "back")?)?;
    let on_a = client
        .get("/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a")
        .await?;
    assert_eq!(names(&on_a.body), ["p1"]);
    let back = client
        .get("/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb,tier%20in%20(back,db)")
        .await?;
    assert_eq!(names(&back.body), ["p2"]);
    let none = client
        .get("/api/v1/namespaces/demo/pods?labelSelector=!app")
        .await?;
    assert_eq!(names(&none.body), Vec::<String>::new());

    // A pod that leaves the selection is DELETED for a selecting watch; one entering is ADDED.
    let rv = sim.resource_version();
    let mut watch = client
        .watch(&format!(
            "/api/v1/pods?watch=true&resourceVersion={rv}&labelSelector=tier%3Dfront"
        ))
        .await?;
    let mut p1 = sim.get::<Pod>(Some("demo"), "p1")?.unwrap_or_default();
    p1.metadata
        .labels
        .get_or_insert_default()
        .insert("tier".into(), "back".into());
    sim.replace(&p1)?;
    let left = watch.next().await?;
    assert_eq!(
        (
            left["type"].as_str(),
            left["object"]["metadata"]["name"].as_str()
        ),
        (Some("DELETED"), Some("p1"))
    );
    let mut p2 = sim.get::<Pod>(Some("demo"), "p2")?.unwrap_or_default();
    p2.metadata
        .labels
        .get_or_insert_default()
        .insert("tier".into(), "front".into());
    sim.replace(&p2)?;
    let entered = watch.next().await?;
    assert_eq!(
        (
            entered["type"].as_str(),
            entered["object"]["metadata"]["name"].as_str()
        ),
        (Some("ADDED"), Some("p2"))
    );
    Ok(())
}

#[tokio::test]
async fn writes_follow_optimistic_concurrency() -> Result<()> {
    let (_sim, client) = start().await?;
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "kubetrail-leader", "namespace": "kube-system"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}
    });
    let path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
    let created = client.post(path, &lease).await?;
    assert_eq!(created.status, StatusCode::CREATED);
    let uid = created.body["metadata"]["uid"].clone();
    assert!(created.body["metadata"]["creationTimestamp"].is_string());
    let again = client.post(path, &lease).await?;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["reason"], "AlreadyExists");

    let mut update = created.body.clone();
    update["spec"]["holderIdentity"] = json!("b");
    let updated = client
        .put(&format!("{path}/kubetrail-leader"), &update)
        .await?;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["metadata"]["uid"], uid);
    assert_ne!(
        updated.body["metadata"]["resourceVersion"],
        created.body["metadata"]["resourceVersion"]
    );

    update["spec"]["holderIdentity"] = json!("c");
    let stale = client
        .put(&format!("{path}/kubetrail-leader"), &update)
        .await?;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(
        stale.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "Operation cannot be fulfilled on leases.coordination.k8s.io \"kubetrail-leader\": the object has been modified; please apply your changes to the latest version and try again",
               "reason": "Conflict", "details": {"name": "kubetrail-leader", "group": "coordination.k8s.io", "kind": "leases"}, "code": 409})
    );

    let patched = client
        .send(
            Method::PATCH,
            &format!("{path}/kubetrail-leader"),
            &[("content-type", "application/merge-patch+json")],
            Some(&json!({"spec": {"holderIdentity": "d"}})),
        )
        .await?;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["spec"]["holderIdentity"], "d");
    assert_eq!(patched.body["spec"]["leaseDurationSeconds"], 15);
    let stale_patch = client
        .send(
            Method::PATCH,
            &format!("{path}/kubetrail-leader"),
            &[("content-type", "application/merge-patch+json")],
            Some(&json!({"metadata": {"resourceVersion": "1"}, "spec": {"holderIdentity": "e"}})),
        )
        .await?;
    assert_eq!(stale_patch.status, StatusCode::CONFLICT);
    let json_patch = client
        .send(
            Method::PATCH,
            &format!("{path}/kubetrail-leader"),
            &[("content-type", "application/json-patch+json")],
            Some(&json!([])),
        )
        .await?;
    assert_eq!(json_patch.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let missing = client.get(&format!("{path}/nope")).await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body["message"],
        "leases.coordination.k8s.io \"nope\" not found"
    );
    let deleted = client
        .send(
            Method::DELETE,
            &format!("{path}/kubetrail-leader"),
            &[],
            None,
        )
        .await?;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body["status"], "Success");
    Ok(())
}

#[tokio::test]
async fn creates_fill_metadata_and_validate_like_the_real_server() -> Result<()> {
    let (_sim, client) = start().await?;
    let generated = client
        .post("/api/v1/namespaces/demo/pods", &json!({"metadata": {"generateName": "web-"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}))
        .await?;
    assert_eq!(generated.status, StatusCode::CREATED);
    let name = generated.body["metadata"]["name"]
        .as_str()
        .unwrap_or_default();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    assert_eq!(generated.body["metadata"]["namespace"], "demo");
    let wrong_namespace = client
        .post(
            "/api/v1/namespaces/demo/pods",
            &json!({"metadata": {"name": "x", "namespace": "other"}}),
        )
        .await?;
    assert_eq!(wrong_namespace.status, StatusCode::BAD_REQUEST);
    let mut incomplete = scheduler_event("demo", "x.1");
    incomplete
        .as_object_mut()
        .map(|o| o.remove("reportingController"));
    let invalid = client
        .post(&format!("{EVENTS_V1}/namespaces/demo/events"), &incomplete)
        .await?;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.body["reason"], "Invalid");
    // core/v1 accepts the legacy shape with no events.k8s.io fields.
    let legacy = client
        .post("/api/v1/namespaces/demo/events", &json!({"metadata": {"name": "legacy.1"}, "involvedObject": {"kind": "Pod", "name": "web"}, "reason": "Pulled", "message": "pulled", "count": 1}))
        .await?;
    assert_eq!(legacy.status, StatusCode::CREATED);
    assert_eq!(legacy.body["reportingComponent"], "");
    let node = client
        .post("/api/v1/nodes", &json!({"metadata": {"name": "node-a"}}))
        .await?;
    assert_eq!(node.status, StatusCode::CREATED);
    assert!(node.body["metadata"].get("namespace").is_none());
    Ok(())
}

#[tokio::test]
async fn list_options_are_validated() -> Result<()> {
    let (_sim, client) = start().await?;
    let invalid = client
        .get(&format!(
            "{EVENTS_V1}/events?watch=1&sendInitialEvents=true"
        ))
        .await?;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.body["details"]["kind"], "ListOptions");
    Ok(())
}

#[tokio::test]
async fn timeout_seconds_ends_a_watch_cleanly() -> Result<()> {
    let (_sim, client) = start().await?;
    let mut watch = client
        .watch(&format!(
            "{EVENTS_V1}/events?watch=1&resourceVersion=1&timeoutSeconds=1"
        ))
        .await?;
    assert!(matches!(
        watch.next_within(Duration::from_secs(5)).await,
        Next::End
    ));
    Ok(())
}

#[tokio::test]
async fn bookmarks_come_on_a_timer_for_pods_when_configured() -> Result<()> {
    let sim = Simulator::start_with(SimConfig {
        bookmark_interval: Some(Duration::from_millis(100)),
        ..SimConfig::default()
    })
    .await?;
    let client = Client::new(&sim.url());
    let rv = sim.resource_version();
    let mut pods = client
        .watch(&format!(
            "/api/v1/pods?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"
        ))
        .await?;
    let bookmark = pods.next().await?;
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "Pod");
    assert_eq!(
        bookmark["object"]["metadata"]["resourceVersion"],
        rv.to_string()
    );
    let mut events = client
        .watch(&format!(
            "{EVENTS_V1}/events?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"
        ))
        .await?;
    assert!(matches!(
        events.next_within(Duration::from_millis(400)).await,
        Next::Silent
    ));
    Ok(())
}

#[tokio::test]
async fn reviews_answer_from_the_policy_table() -> Result<()> {
    let (sim, client) = start().await?;
    sim.policy().add_token("t-alice", "alice", &["tenant-a"]);
    sim.policy().allow(
        "group:tenant-a",
        kubetrail_sim::Rule::new("list", "events", Some("shop")),
    );
    let review = client
        .post("/apis/authentication.k8s.io/v1/tokenreviews", &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "t-alice"}}))
        .await?;
    assert_eq!(review.status, StatusCode::CREATED);
    assert_eq!(review.body["status"]["authenticated"], true);
    assert_eq!(review.body["status"]["user"]["username"], "alice");
    let unknown = client
        .post(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            &json!({"spec": {"token": "nope"}}),
        )
        .await?;
    assert_eq!(unknown.body["status"]["authenticated"], false);
    let sar = |namespace: &str| json!({"spec": {"user": "alice", "groups": ["tenant-a"], "resourceAttributes": {"namespace": namespace, "verb": "list", "resource": "events"}}});
    let allowed = client
        .post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            &sar("shop"),
        )
        .await?;
    assert_eq!(allowed.body["status"]["allowed"], true);
    let denied = client
        .post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            &sar("kube-system"),
        )
        .await?;
    assert_eq!(denied.body["status"]["allowed"], false);
    Ok(())
}

#[tokio::test]
async fn the_scheduler_series_grows_on_the_same_uid() -> Result<()> {
    let (sim, client) = start().await?;
    let rv = sim.resource_version();
    let reply = client
        .post(
            &format!("{EVENTS_V1}/namespaces/demo/events"),
            &scheduler_event("demo", "big.1"),
        )
        .await?;
    let mut event: Event = serde_json::from_value(reply.body)?;
    event.series = Some(EventSeries {
        count: 2,
        last_observed_time: MicroTime(jiff::Timestamp::now()),
    });
    sim.replace(&event)?;
    let mut watch = client
        .watch(&format!("/api/v1/events?watch=1&resourceVersion={rv}"))
        .await?;
    let added = watch.next().await?;
    let modified = watch.next().await?;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(
        added["object"]["metadata"]["uid"],
        modified["object"]["metadata"]["uid"]
    );
    assert_eq!(modified["object"]["series"]["count"], 2);
    assert_eq!(modified["object"]["kind"], "Event");
    assert_eq!(modified["object"]["apiVersion"], "v1");
    Ok(())
}

#[tokio::test]
async fn events_expire_after_the_configured_ttl() -> Result<()> {
    let sim = Simulator::start_with(SimConfig {
        event_ttl: Some(Duration::from_millis(500)),
        ..SimConfig::default()
    })
    .await?;
    let client = Client::new(&sim.url());
    let rv = sim.resource_version();
    let mut watch = client
        .watch(&format!("{EVENTS_V1}/events?watch=1&resourceVersion={rv}"))
        .await?;
    sim.create(&kubelet_event("demo", "short-lived", "BackOff", "Warning"))?;
    assert_eq!(watch.next().await?["type"], "ADDED");
    let deleted = watch.next().await?;
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(deleted["object"]["metadata"]["name"], "short-lived");
    assert!(sim.get::<Event>(Some("demo"), "short-lived")?.is_none());
    Ok(())
}
