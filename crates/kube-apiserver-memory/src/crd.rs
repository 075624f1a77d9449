//! CustomResourceDefinitions: turning a CRD into served resources (with compiled schemas) and
//! the status kube-apiserver reports once it serves them.

use super::crd_schema;
use super::error::{ApiError, Cause, Subject};
use super::resources::{ResourceDef, Special};
use serde_json::{Value, json};
use std::sync::Arc;

/// Checks a CRD and builds the resources it serves, one per served version.
pub(crate) fn resources(s: Subject<'_>, crd: &Value) -> Result<Vec<ResourceDef>, ApiError> {
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    let mut causes = Vec::new();
    let mut require = |ok: bool, field: &str, message: String| {
        if !ok {
            causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message,
                field: field.into(),
            });
        }
    };
    require(!group.is_empty(), "spec.group", "Required value".into());
    require(
        !plural.is_empty(),
        "spec.names.plural",
        "Required value".into(),
    );
    require(!kind.is_empty(), "spec.names.kind", "Required value".into());
    require(
        name == format!("{plural}.{group}"),
        "metadata.name",
        format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
    );
    let scope = spec["scope"].as_str().unwrap_or_default();
    require(
        scope == "Namespaced" || scope == "Cluster",
        "spec.scope",
        format!("Unsupported value: \"{scope}\": supported values: \"Cluster\", \"Namespaced\""),
    );
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    require(
        !versions.is_empty(),
        "spec.versions",
        "Required value".into(),
    );
    let storage = versions
        .iter()
        .filter(|v| v["storage"] == json!(true))
        .count();
    require(
        storage == 1,
        "spec.versions",
        "Invalid value: must have exactly one version marked as storage version".into(),
    );
    let mut defs = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        if v["served"] != json!(true) {
            continue;
        }
        let schema = v
            .pointer("/schema/openAPIV3Schema")
            .cloned()
            .unwrap_or(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
        let compiled = match crd_schema::compile(&schema) {
            Ok(c) => c,
            Err(e) => {
                require(
                    false,
                    &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    format!("Invalid value: {e}"),
                );
                continue;
            }
        };
        let strings = |p: &str| -> Vec<String> {
            names[p]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        defs.push(ResourceDef {
            group: group.into(),
            version: v["name"].as_str().unwrap_or_default().into(),
            plural: plural.into(),
            singular: names["singular"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| kind.to_lowercase()),
            kind: kind.into(),
            namespaced: scope == "Namespaced",
            short_names: strings("shortNames"),
            categories: strings("categories"),
            status_subresource: v.pointer("/subresources/status").is_some(),
            generation: true,
            special: Special::None,
            schema: Some(compiled),
            printer_columns: v.get("additionalPrinterColumns").cloned(),
            openapi_schema: Some(Arc::new(schema)),
        });
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(s, name, &causes));
    }
    Ok(defs)
}

/// The status of a CRD whose names are accepted and whose resources are served.
pub(crate) fn established_status(crd: &Value, now: &str) -> Value {
    let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    let storage: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == json!(true))
        .map(|v| v["name"].clone())
        .collect();
    json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": crd["spec"]["names"],
        "storedVersions": storage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRD: Subject<'static> = Subject {
        plural: "customresourcedefinitions",
        group: "apiextensions.k8s.io",
        kind: "CustomResourceDefinition",
    };

    #[test]
    fn crds_of_this_operator_are_served() {
        for (_, crd) in e2e_support::operator_crds::crds() {
            let v = serde_json::to_value(&crd).unwrap();
            let defs = resources(CRD, &v).unwrap();
            assert_eq!(defs.len(), 1);
            assert!(defs[0].status_subresource);
            assert_eq!(defs[0].group, "videosdk.live");
        }
    }

    #[test]
    fn wrong_name_is_invalid() {
        let v = json!({"metadata": {"name": "x"}, "spec": {"group": "g.io", "scope": "Cluster",
            "names": {"plural": "ws", "kind": "W"}, "versions": [{"name": "v1", "served": true, "storage": true}]}});
        let err = resources(CRD, &v).err().expect("invalid");
        assert_eq!(err.code, 422);
        assert!(
            err.message.contains("must be spec.names.plural"),
            "{}",
            err.message
        );
    }
}
