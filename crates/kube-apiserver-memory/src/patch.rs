//! Patch bodies: JSON Patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch
//! (applied as a merge patch: lists are replaced, not merged by key) and apply patches (parsed
//! here, applied by [`super::managed::apply`]).

use super::error::ApiError;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}

impl PatchKind {
    /// The patch kind of a request's `Content-Type` (parameters ignored).
    pub(crate) fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchKind::Apply)
            }
            _ => None,
        }
    }
}

/// Parses a patch body: JSON, or YAML for apply patches (JSON is YAML too).
pub(crate) fn parse_body(kind: PatchKind, body: &[u8]) -> Result<Value, ApiError> {
    let parsed = if kind == PatchKind::Apply {
        serde_yaml::from_slice::<Value>(body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

/// Applies a JSON, merge or strategic merge patch to a copy of `target`.
pub(crate) fn apply_patch(
    kind: PatchKind,
    target: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    let mut out = target.clone();
    match kind {
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            // `patch_unsafe`: no undo on failure, as `out` is a copy dropped on failure anyway.
            // `json_patch::patch`'s undo panics on some failing patches (a `move` onto the
            // parent, undone as an invalid move into the child), which poisoned the store lock.
            json_patch::patch_unsafe(&mut out, &ops).map_err(|e| ApiError {
                code: 422,
                reason: "Invalid",
                message: format!(
                    "the server rejected our request due to an error in our request: {e}"
                ),
                details: None,
                retry_after: None,
            })?;
        }
        PatchKind::Merge | PatchKind::StrategicMerge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "error decoding patch: a merge patch must be a JSON object",
                ));
            }
            json_patch::merge(&mut out, patch);
        }
        PatchKind::Apply => unreachable!("apply patches go through managed::apply"),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchKind::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchKind::Merge)
        );
        assert_eq!(PatchKind::from_content_type("text/plain"), None);
    }

    #[test]
    fn merge_and_json_patches() {
        let t = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        let m = apply_patch(
            PatchKind::StrategicMerge,
            &t,
            &json!({"a": {"c": null}, "l": [3]}),
        )
        .unwrap();
        assert_eq!(m, json!({"a": {"b": 1}, "l": [3]}));
        let j = apply_patch(
            PatchKind::Json,
            &t,
            &json!([{"op": "test", "path": "/a/b", "value": 1}, {"op": "remove", "path": "/l/0"}]),
        )
        .unwrap();
        assert_eq!(j["l"], json!([2]));
        let failed = apply_patch(
            PatchKind::Json,
            &t,
            &json!([{"op": "test", "path": "/a/b", "value": 9}]),
        );
        assert_eq!(failed.unwrap_err().code, 422);
    }

    #[test]
    fn apply_bodies_are_yaml() {
        let v = parse_body(PatchKind::Apply, b"apiVersion: v1\nkind: Secret\n").unwrap();
        assert_eq!(v["kind"], "Secret");
    }
}
