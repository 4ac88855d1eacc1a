//! Discovery documents: what kubectl and kube-rs read before anything else.
//!
//! Both forms are served: the legacy one (`/api`, `/api/v1`, `/apis`, `/apis/<g>/<v>`) and the
//! aggregated one (`apidiscovery.k8s.io/v2`, asked for through the `Accept` header), which
//! kubectl 1.30+ prefers because it needs a single request. A client that does not ask for the
//! aggregated form gets the legacy one, as from a real server.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::resources::{GROUPS, REVIEWS, Resource, VERBS, group_version};

/// The Content-Type of an aggregated discovery answer.
pub(crate) const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The version the simulator reports: the API it follows, marked as simulated.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "36",
        "emulationMajor": "1",
        "emulationMinor": "36",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "35",
        "gitVersion": "v1.36.2-kubetrail-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// Whether the client asked for aggregated discovery (v2).
pub(crate) fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            let params: Vec<&str> = media.split(';').map(str::trim).collect();
            params.contains(&"g=apidiscovery.k8s.io")
                && params.contains(&"v=v2")
                && params.contains(&"as=APIGroupDiscoveryList")
        })
}

/// `/api`: the legacy versions, or the aggregated core group.
pub(crate) fn core(headers: &HeaderMap, server_address: &str) -> Response {
    if wants_aggregated(headers) {
        return aggregated(vec![json!({
            "metadata": {"creationTimestamp": null},
            "versions": [{"version": "v1", "resources": aggregated_resources(""), "freshness": "Current"}]
        })]);
    }
    axum::Json(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    }))
    .into_response()
}

/// `/apis`: the group list, or every group aggregated.
pub(crate) fn groups(headers: &HeaderMap) -> Response {
    if wants_aggregated(headers) {
        let items = GROUPS
            .iter()
            .map(|group| {
                json!({
                    "metadata": {"name": group, "creationTimestamp": null},
                    "versions": [{"version": group_version(group), "resources": aggregated_resources(group), "freshness": "Current"}]
                })
            })
            .collect();
        return aggregated(items);
    }
    let groups: Vec<Value> = GROUPS.iter().map(|g| group(g)).collect();
    axum::Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        .into_response()
}

/// `/apis/<group>`: one APIGroup.
pub(crate) fn group(name: &str) -> Value {
    let v = group_version(name);
    let version = json!({"groupVersion": format!("{name}/{v}"), "version": v});
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": [version.clone()],
        "preferredVersion": version
    })
}

/// Whether `/apis/<group>` is served.
pub(crate) fn is_group(name: &str) -> bool {
    GROUPS.contains(&name)
}

/// `/api/v1` or `/apis/<group>/<version>`: the APIResourceList, if served.
pub(crate) fn resource_list(group: &str, version: &str) -> Option<Value> {
    let served = group.is_empty() || is_group(group);
    if !served || version != group_version(group) {
        return None;
    }
    let mut resources: Vec<Value> = Resource::ALL
        .into_iter()
        .filter(|r| r.group() == group)
        .map(|r| {
            json!({
                "name": r.plural(),
                "singularName": r.singular(),
                "namespaced": r.namespaced(),
                "kind": r.kind(),
                "verbs": VERBS,
                "shortNames": r.short_names(),
                "categories": r.categories(),
            })
        })
        .collect();
    resources.extend(REVIEWS.iter().filter(|r| r.group == group).map(|r| {
        json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": false,
            "kind": r.kind,
            "verbs": ["create"],
        })
    }));
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources
    }))
}

fn aggregated_resources(group: &str) -> Vec<Value> {
    let mut resources: Vec<Value> = Resource::ALL
        .into_iter()
        .filter(|r| r.group() == group)
        .map(|r| {
            json!({
                "resource": r.plural(),
                "responseKind": {"group": group, "version": r.version(), "kind": r.kind()},
                "scope": if r.namespaced() { "Namespaced" } else { "Cluster" },
                "singularResource": r.singular(),
                "verbs": VERBS,
                "shortNames": r.short_names(),
                "categories": r.categories(),
            })
        })
        .collect();
    resources.extend(REVIEWS.iter().filter(|r| r.group == group).map(|r| {
        json!({
            "resource": r.plural,
            "responseKind": {"group": group, "version": "v1", "kind": r.kind},
            "scope": "Cluster",
            "singularResource": r.singular,
            "verbs": ["create"],
        })
    }));
    resources
}

fn aggregated(items: Vec<Value>) -> Response {
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items
    });
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(AGGREGATED_CONTENT_TYPE),
    );
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_header_selects_aggregated_discovery() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"),
        );
        assert!(wants_aggregated(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_aggregated(&headers));
    }

    #[test]
    fn each_group_lists_its_resources() {
        let core = resource_list("", "v1").expect("core served");
        let names: Vec<&str> = core["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert_eq!(names, ["events", "nodes", "pods", "configmaps", "secrets"]);
        let autoscaling = resource_list("autoscaling", "v2").expect("served as v2");
        assert_eq!(autoscaling["groupVersion"], "autoscaling/v2");
        assert_eq!(
            autoscaling["resources"][0]["name"],
            "horizontalpodautoscalers"
        );
        assert!(resource_list("autoscaling", "v1").is_none());
        let events = resource_list("events.k8s.io", "v1").expect("served");
        assert_eq!(events["groupVersion"], "events.k8s.io/v1");
        let auth = resource_list("authentication.k8s.io", "v1").expect("served");
        assert_eq!(auth["resources"][0]["name"], "tokenreviews");
        assert!(resource_list("apps", "v1beta1").is_none());
        assert!(resource_list("nope", "v1").is_none());
    }
}
