//! PATCH bodies. JSON merge patch (RFC 7386) is implemented exactly. Strategic merge patch and
//! server-side apply are approximated by a merge patch: lists are replaced, not merged by key,
//! and apply keeps no managedFields. That is enough for kubectl's annotate/label/scale and for
//! lease renewals; JSON patch (RFC 6902) is answered with 415.

use serde_json::Value;

use crate::status::ApiError;

/// How a PATCH body is to be applied, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchType {
    Merge,
    StrategicMerge,
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header value.
    pub(crate) fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchType::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }

    /// Parses a body of this type (apply bodies are YAML, which includes JSON).
    pub(crate) fn parse_body(self, body: &[u8]) -> Result<Value, ApiError> {
        let parsed = match self {
            PatchType::Apply => yaml_serde::from_slice::<Value>(body).map_err(|e| e.to_string()),
            PatchType::Merge | PatchType::StrategicMerge => {
                serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())
            }
        };
        parsed.map_err(|error| ApiError::bad_request(format!("error decoding patch: {error}")))
    }
}

/// Applies an RFC 7386 merge patch to `target`.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                target_map.remove(key);
            } else {
                merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}, "l": [3]}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "l": [3]}));
    }

    #[test]
    fn unknown_patch_types_are_unsupported() {
        let error = PatchType::from_content_type("application/json-patch+json").expect_err("415");
        assert_eq!(error.code, 415);
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Ok(PatchType::Merge)
        );
    }
}
