//! What kstatus (kubernetes-sigs/cli-utils, `pkg/kstatus/status`), which Flux's health checks,
//! `kpt live status` and Config Sync use, computes for a custom resource: a port of only the
//! rules the operator's kinds meet, in kstatus's order, to check the status the operator writes
//! against the tool that reads it.
//!
//! `status.go`, `Compute`: the generic rules first (`generic.go`, `checkGenericProperties`), then
//! the type-specific ones (`core.go`, `GetLegacyConditionsFn`: none for custom resources), then
//! the `Ready` condition (`status.go`, `checkReadyCondition`), else Current.

use serde_json::Value;

/// A kstatus status (`status.go`, `Status`), of those a custom resource can get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Failed,
    Current,
    Terminating,
}

/// kstatus's status of `object` (the whole object, as the API server answers it) and the
/// message it gives with it.
pub fn compute(object: &Value) -> (Status, String) {
    // generic.go, checkGenericProperties: a deletionTimestamp means Terminating.
    if object
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        return (
            Status::Terminating,
            "Resource scheduled for deletion".into(),
        );
    }
    // generic.go, checkGeneration: only when both fields are found.
    if let (Some(generation), Some(observed)) = (
        object
            .pointer("/metadata/generation")
            .and_then(Value::as_i64),
        object
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64),
    ) && generation != observed
    {
        return (
            Status::InProgress,
            format!("generation is {generation}, but latest observed generation is {observed}"),
        );
    }
    let conditions = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let field = |c: &Value, name: &str| c[name].as_str().unwrap_or_default().to_owned();
    // generic.go, checkGenericProperties: the first Reconciling=True or Stalled=True, in list
    // order.
    for c in conditions {
        match (c["type"].as_str(), c["status"].as_str()) {
            (Some("Reconciling"), Some("True")) => {
                return (Status::InProgress, field(c, "message"));
            }
            (Some("Stalled"), Some("True")) => return (Status::Failed, field(c, "message")),
            _ => {}
        }
    }
    // status.go, checkReadyCondition: True is Current, False and Unknown InProgress.
    for c in conditions.iter().filter(|c| c["type"] == "Ready") {
        match c["status"].as_str() {
            Some("True") => return (Status::Current, "Resource is Ready".into()),
            Some("False" | "Unknown") => return (Status::InProgress, field(c, "message")),
            _ => {}
        }
    }
    // status.go, Compute: no known condition means Current.
    (Status::Current, "Resource is current".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(generation: i64, status: Value) -> Value {
        json!({"metadata": {"generation": generation}, "status": status})
    }

    #[test]
    fn the_rules_apply_in_kstatus_order() {
        let ready = json!({"type": "Ready", "status": "True"});
        let stalled = json!({"type": "Stalled", "status": "True", "message": "m"});
        let reconciling = json!({"type": "Reconciling", "status": "True", "message": "r"});
        assert_eq!(
            compute(&json!({"metadata": {"generation": 1}})).0,
            Status::Current,
            "no status at all: the gap a schema default closes"
        );
        assert_eq!(
            compute(&object(1, json!({"observedGeneration": 0}))).0,
            Status::InProgress
        );
        assert_eq!(
            compute(&object(
                2,
                json!({"observedGeneration": 1, "conditions": [ready]})
            ))
            .0,
            Status::InProgress
        );
        assert_eq!(
            compute(&object(
                1,
                json!({"observedGeneration": 1, "conditions": [ready]})
            ))
            .0,
            Status::Current
        );
        assert_eq!(
            compute(&object(
                1,
                json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False"}, stalled]})
            )),
            (Status::Failed, "m".into())
        );
        assert_eq!(
            compute(&object(
                1,
                json!({"observedGeneration": 1, "conditions": [ready, reconciling]})
            )),
            (Status::InProgress, "r".into())
        );
        assert_eq!(
            compute(&object(
                1,
                json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False"}]})
            ))
            .0,
            Status::InProgress
        );
        let mut deleting = object(1, json!({"observedGeneration": 0}));
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(compute(&deleting).0, Status::Terminating);
    }
}
