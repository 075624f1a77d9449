//! The chart's values: `values.schema.json` accepts `values.yaml` and refuses misspelt or wrong
//! values, and the README documents every value.

use super::*;
use serde_json::{Value, json};

/// Values that are one Kubernetes object each (documented as one), not a tree of values.
pub(crate) const OBJECT_VALUES: [&str; 4] = [
    "resources",
    "securityContext",
    "containerSecurityContext",
    "strategy",
];

/// Leaf paths of a values tree (`image.repository`, `serviceMonitor.labels`).
pub(crate) fn leaf_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() && !OBJECT_VALUES.contains(&prefix) => {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_paths(child, &p, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn install_guide_documents_every_chart_value() {
    let values = documents(&read(format!("{CHART}/values.yaml")), "values.yaml").remove(0);
    let guide = read("README.md");
    let mut paths = Vec::new();
    leaf_paths(&values, "", &mut paths);
    for path in paths {
        assert!(
            guide.contains(&format!("`{path}`")),
            "README.md's values table lacks `{path}`"
        );
    }
}

fn values_schema() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&read(format!("{CHART}/values.schema.json")))
        .expect("values.schema.json is JSON");
    jsonschema::draft7::new(&schema).expect("values.schema.json is a valid draft-07 schema")
}

/// `values` with `path` (dot-separated) set to `value`, as `helm --set path=value` makes it.
fn with_value(values: &Value, path: &str, value: Value) -> Value {
    let mut out = values.clone();
    let mut at = &mut out;
    for key in path.split('.') {
        at = &mut at[key];
    }
    *at = value;
    out
}

#[test]
fn values_schema_accepts_the_defaults_and_rejects_misspelt_or_wrong_values() {
    let schema = values_schema();
    let values = documents(&read(format!("{CHART}/values.yaml")), "values.yaml").remove(0);
    let errors: Vec<String> = schema.iter_errors(&values).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "values.yaml fails values.schema.json: {errors:?}"
    );

    // What users set, accepted.
    for (path, value) in [
        (
            "image.digest",
            json!("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        ),
        ("securityContext.runAsUser", Value::Null),
        ("extraArgs", json!(["--lease-duration", "30"])),
        (
            "extraEnv",
            json!([{"name": "RUST_BACKTRACE", "value": "1"}]),
        ),
        (
            "topologySpreadConstraints",
            json!([{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}]),
        ),
        ("crds.enabled", json!(false)),
        ("prometheusRule.labels", json!({"release": "prometheus"})),
        ("global", json!({"imageRegistry": "x"})),
        ("rolloutRestarts.namespaces", json!(["team-a", "team-b"])),
        ("watchNamespace", json!("apps")),
        ("podDisruptionBudget.maxUnavailable", json!("50%")),
        ("podDisruptionBudget.minAvailable", json!(1)),
    ] {
        let v = with_value(&values, path, value);
        let errors: Vec<String> = schema.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{path}: {errors:?}");
    }
    // Misspelt names and wrong values, refused.
    for (path, value) in [
        ("replicaCout", json!(3)),
        ("image.tagg", json!("1.0")),
        ("serviceMonitor.enable", json!(true)),
        ("crds.keepp", json!(true)),
        ("rbac.aggregateClusterRole", json!(false)),
        ("podDisruptionBudget.maxUnavailable", json!("all")),
        ("podDisruptionBudget.minAvailable", json!(-1)),
        ("podDisruptionBudget.minAvailable", json!("150%")),
        ("logFormat", json!("xml")),
        ("concurrency", json!(0)),
        ("maxTtl", json!("30d")),
        ("image.digest", json!("latest")),
        ("extraArgs", json!("--lease-duration=30")),
        ("podLabels.team", json!(7)),
        ("serviceMonitor.interval", json!("30 seconds")),
        ("rolloutRestarts.namespace", json!(["team-a"])),
        ("rolloutRestarts.namespaces", json!("team-a")),
        ("rolloutRestarts.namespaces", json!(["Team_A"])),
        ("rolloutRestarts.namespaces", json!(["a", "a"])),
        ("watchNamespace", json!("Apps")),
        ("clusterResourceNamespace", json!("a/b")),
        ("global.commonLabels", json!({"team": 7})),
        ("global.imagePullSecrets", json!(["registry"])),
        ("networkPolicy.apiServerPorts", json!([0])),
        ("networkPolicy.apiServerPort", json!(443)),
        ("grafanaDashboard.label", json!("not a label!")),
        ("strategy.type", json!("BlueGreen")),
        ("serviceMonitor.honorLabel", json!(true)),
        ("test.enable", json!(false)),
    ] {
        let v = with_value(&values, path, value.clone());
        assert!(
            !schema.is_valid(&v),
            "values.schema.json accepts {path}={value}"
        );
    }

    // The schema names every value of values.yaml and nothing else.
    let schema_json: Value =
        serde_json::from_str(&read(format!("{CHART}/values.schema.json"))).unwrap();
    let mut declared = Vec::new();
    fn closed_paths(schema: &Value, prefix: &str, out: &mut Vec<String>) {
        // `resources` is closed (requests, limits, claims) but one value, as leaf_paths has it.
        if schema["additionalProperties"] != false || OBJECT_VALUES.contains(&prefix) {
            out.push(prefix.to_owned());
            return;
        }
        for (k, child) in schema["properties"].as_object().expect("properties") {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            closed_paths(child, &p, out);
        }
    }
    closed_paths(&schema_json, "", &mut declared);
    let mut in_values = Vec::new();
    leaf_paths(&values, "", &mut in_values);
    for path in &declared {
        assert!(
            values
                .pointer(&format!("/{}", path.replace('.', "/")))
                .is_some(),
            "values.schema.json declares {path}, which values.yaml does not have"
        );
    }
    for path in &in_values {
        assert!(
            declared
                .iter()
                .any(|d| path == d || path.starts_with(&format!("{d}."))),
            "values.yaml has {path}, which values.schema.json does not declare"
        );
    }
}
