//! `events.k8s.io/v1` Events are core `v1` Events under other field names, and kube-apiserver
//! keeps one set of them: what kube's event recorder writes through `events.k8s.io` is what
//! `kubectl get events` and `kubectl describe` read through `v1`. Objects are stored in the core
//! form and renamed at the HTTP boundary.

use super::error::{ApiError, Cause, Subject};
use super::patch::PatchKind;
use super::schema::gofmt;
use super::value_equality::values_equal;
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// `events.k8s.io/v1` field, core `v1` field.
const RENAMES: [(&str, &str); 7] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename_keys(v: &mut Value, to_core: bool) {
    let Value::Object(m) = v else { return };
    let old = std::mem::take(m);
    let mut out = Map::with_capacity(old.len());
    for (k, val) in old {
        let renamed = RENAMES
            .iter()
            .find(|(ext, core)| if to_core { *ext == k } else { *core == k })
            .map(|(ext, core)| if to_core { *core } else { *ext });
        out.insert(renamed.map(str::to_owned).unwrap_or(k), val);
    }
    *m = out;
}

/// An `events.k8s.io/v1` Event in its core `v1` form.
pub(crate) fn to_core(mut v: Value) -> Value {
    rename_keys(&mut v, true);
    if v.is_object() {
        v["apiVersion"] = json!("v1");
        v["kind"] = json!("Event");
    }
    v
}

/// A stored core `v1` Event as `events.k8s.io/v1` serves it.
pub(crate) fn from_core_bytes(json: &[u8]) -> Bytes {
    let mut v: Value = serde_json::from_slice(json).expect("stored objects are valid JSON");
    rename_keys(&mut v, false);
    v["apiVersion"] = json!("events.k8s.io/v1");
    Bytes::from(serde_json::to_vec(&v).expect("JSON values serialise"))
}

/// A patch against the `events.k8s.io/v1` form, rewritten against the core form.
pub(crate) fn patch_to_core(kind: PatchKind, mut patch: Value) -> Value {
    match kind {
        PatchKind::Json => {
            for op in patch.as_array_mut().into_iter().flatten() {
                for key in ["path", "from"] {
                    if let Some(path) = op.get(key).and_then(Value::as_str) {
                        let mut segments: Vec<String> =
                            path.split('/').map(str::to_owned).collect();
                        if let Some(first) = segments.get_mut(1) {
                            if let Some((_, core)) = RENAMES.iter().find(|(ext, _)| ext == first) {
                                *first = (*core).to_owned();
                            }
                        }
                        op[key] = json!(segments.join("/"));
                    }
                }
            }
            patch
        }
        PatchKind::Apply => to_core(patch),
        PatchKind::Merge | PatchKind::StrategicMerge => {
            rename_keys(&mut patch, true);
            patch
        }
    }
}

/// Core fields an update through `events.k8s.io/v1` may not change, with the path
/// kube-apiserver names in its error (`ValidateEventUpdate` in `pkg/apis/core/validation/
/// events.go`, which lists `reason` twice, so a changed reason is reported twice).
const IMMUTABLE: [(&str, &str); 14] = [
    ("involvedObject", "involvedObject"),
    ("reason", "reason"),
    ("message", "message"),
    ("source", "source"),
    ("firstTimestamp", "firstTimestamp"),
    ("lastTimestamp", "lastTimestamp"),
    ("count", "count"),
    ("reason", "reason"),
    ("type", "type"),
    ("eventTime", "eventTime"),
    ("action", "action"),
    ("related", "related"),
    ("reportingComponent", "reportingController"),
    ("reportingInstance", "reportingInstance"),
];

/// kube-apiserver's validation of an update made through `events.k8s.io/v1` (core `v1`
/// updates are not checked): 422 Invalid `message: Invalid value: "…": field is immutable`
/// for each immutable field that changed, in the core form's field names, plus the `series`
/// rules when `series` changed. `new` and `old` are in the core form.
///
/// The bad value is printed as Go prints strings and numbers; objects (a changed
/// `involvedObject`, timestamps) are printed as JSON, where Go prints its struct syntax.
pub(crate) fn validate_update(s: Subject<'_>, new: &Value, old: &Value) -> Result<(), ApiError> {
    let missing = Value::Null;
    let mut causes = Vec::new();
    for (key, path) in IMMUTABLE {
        let (now, before) = (
            new.get(key).unwrap_or(&missing),
            old.get(key).unwrap_or(&missing),
        );
        // kube-apiserver compares the decoded Go fields: `count: 2.0` does not change a 2.
        if !values_equal(now, before) {
            causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: format!(
                    "Invalid value: {}: field is immutable",
                    gofmt::bad_value(now)
                ),
                field: path.into(),
            });
        }
    }
    if !values_equal(
        new.get("series").unwrap_or(&missing),
        old.get("series").unwrap_or(&missing),
    ) {
        if let Some(series) = new.get("series").filter(|s| s.is_object()) {
            if series["count"].as_i64().unwrap_or(0) < 2 {
                causes.push(Cause {
                    reason: "FieldValueInvalid".into(),
                    message: "Invalid value: \"\": should be at least 2".into(),
                    field: "series.count".into(),
                });
            }
            if series.get("lastObservedTime").is_none_or(Value::is_null) {
                causes.push(Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value".into(),
                    field: "series.lastObservedTime".into(),
                });
            }
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError::invalid(s, name, &causes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ext = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"name": "t"}, "note": "hello", "reportingController": "op", "reason": "R"});
        let core = to_core(ext.clone());
        assert_eq!(core["involvedObject"]["name"], "t");
        assert_eq!(core["message"], "hello");
        assert_eq!(core["reportingComponent"], "op");
        assert_eq!(core["apiVersion"], "v1");
        let back: Value =
            serde_json::from_slice(&from_core_bytes(&serde_json::to_vec(&core).unwrap())).unwrap();
        assert_eq!(back, ext);
    }

    #[test]
    fn patches_are_renamed() {
        let merge = patch_to_core(
            PatchKind::Merge,
            json!({"note": "x", "series": {"count": 2}}),
        );
        assert_eq!(merge, json!({"message": "x", "series": {"count": 2}}));
        let jp = patch_to_core(
            PatchKind::Json,
            json!([{"op": "replace", "path": "/deprecatedCount", "value": 3}]),
        );
        assert_eq!(jp[0]["path"], "/count");
    }
}
