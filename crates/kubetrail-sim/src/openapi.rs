//! A minimal OpenAPI v3 document: just enough for kubectl's client-side checks.
//!
//! Before `kubectl create`/`apply`, kubectl asks whether the server validates fields itself
//! (the `fieldValidation` parameter of each kind's PATCH operation in `/openapi/v3`); when it
//! can't tell, it downloads the full schema to validate client-side and fails without one. So
//! each group-version document lists, per resource, a PATCH operation tagged with its
//! group-version-kind and the `fieldValidation` parameter, and no schemas. kubectl therefore
//! relies on the server, which decodes bodies through the `k8s-openapi` types (unknown fields
//! are dropped rather than refused: the simulator does not implement `fieldValidation=Strict`).

use serde_json::{Map, Value, json};

use crate::resources::{GROUPS, Resource};

/// A stable hash for the documents' URLs (they only change with the simulator's code).
const DOCUMENT_HASH: &str = "kubetrail-sim-1";

/// `/openapi/v3`: where each group-version document is.
pub(crate) fn root() -> Value {
    let mut paths = Map::new();
    let mut add = |path: String| {
        let url = format!("/openapi/v3/{path}?hash={DOCUMENT_HASH}");
        paths.insert(path, json!({"serverRelativeURL": url}));
    };
    add("api/v1".to_string());
    for group in GROUPS {
        add(format!("apis/{group}/v1"));
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`, if served.
pub(crate) fn group_version(group: &str, version: &str) -> Option<Value> {
    let served = (group.is_empty() || GROUPS.contains(&group))
        && version == crate::resources::group_version(group);
    if !served {
        return None;
    }
    let mut paths = Map::new();
    for resource in Resource::ALL.into_iter().filter(|r| r.group() == group) {
        let prefix = if group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{group}/{version}")
        };
        let path = if resource.namespaced() {
            format!(
                "{prefix}/namespaces/{{namespace}}/{}/{{name}}",
                resource.plural()
            )
        } else {
            format!("{prefix}/{}/{{name}}", resource.plural())
        };
        let operation = json!({
            "operationId": format!("patch{}", resource.kind()),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": resource.kind()},
            "parameters": [
                {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}}
            ],
            "responses": {"200": {"description": "OK"}}
        });
        paths.insert(path, json!({"patch": operation}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.36.2-kubetrail-sim"},
        "paths": paths,
        "components": {"schemas": {}}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_declares_server_side_field_validation() {
        let doc = group_version("", "v1").expect("core served");
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Pod");
        assert!(
            patch["parameters"]
                .as_array()
                .is_some_and(|params| params.iter().any(|p| p["name"] == "fieldValidation"))
        );
        assert!(doc["paths"].get("/api/v1/nodes/{name}").is_some());
        assert_eq!(
            root()["paths"]["apis/apps/v1"]["serverRelativeURL"],
            "/openapi/v3/apis/apps/v1?hash=kubetrail-sim-1"
        );
        assert!(group_version("nope", "v1").is_none());
    }
}
