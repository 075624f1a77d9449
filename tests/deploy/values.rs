//! The chart's values: `values.schema.json` accepts `values.yaml` and refuses misspelt or wrong
//! values, and the book (docs/src/install/helm.md) documents every value.

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
    let guide = read("docs/src/install/helm.md");
    let mut paths = Vec::new();
    leaf_paths(&values, "", &mut paths);
    for path in paths {
        assert!(
            guide.contains(&format!("`{path}`")),
            "docs/src/install/helm.md's values table lacks `{path}`"
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

/// A duration the operator refuses at start (`run --min-renew-before`, `--max-ttl`, in
/// src/cli/run.rs) fails `helm template` and `helm install` with the operator's reason, instead
/// of passing the schema's syntax check and then crash-looping the pod.
#[test]
fn durations_the_operator_refuses_fail_at_render_with_its_reason() {
    let flag = |docs: &[Value], name: &str| -> Value {
        let args =
            find(docs, "Deployment", NAME)["spec"]["template"]["spec"]["containers"][0]["args"]
                .as_array()
                .unwrap()
                .clone();
        let at = args.iter().position(|a| a == name).expect(name);
        args[at + 1].clone()
    };
    for (value, flag_name, set, refused) in [
        (
            "minRenewBefore",
            "--min-renew-before",
            "90s",
            Some("minRenewBefore: 90s is below 2m"),
        ),
        (
            "minRenewBefore",
            "--min-renew-before",
            "1m59s",
            Some("is below 2m"),
        ),
        (
            "minRenewBefore",
            "--min-renew-before",
            "119999ms",
            Some("is below 2m"),
        ),
        (
            "minRenewBefore",
            "--min-renew-before",
            "0.03h",
            Some("is below 2m"),
        ),
        (
            "minRenewBefore",
            "--min-renew-before",
            "8760h",
            Some("is not shorter than 8760h"),
        ),
        ("minRenewBefore", "--min-renew-before", "2m", None),
        ("minRenewBefore", "--min-renew-before", "120s", None),
        ("minRenewBefore", "--min-renew-before", "2m0.5s", None),
        ("minRenewBefore", "--min-renew-before", "8759h59m", None),
        (
            "maxTtl",
            "--max-ttl",
            "59s",
            Some("maxTtl: 59s is outside 1m to 8760h"),
        ),
        (
            "maxTtl",
            "--max-ttl",
            "8760h1s",
            Some("is outside 1m to 8760h"),
        ),
        ("maxTtl", "--max-ttl", "1m", None),
        ("maxTtl", "--max-ttl", "1h30m", None),
        ("maxTtl", "--max-ttl", "8760h", None),
    ] {
        let values = json!({ value: set });
        let Some(rendered) = rbac_files::helm_template_or_error(NAME, NAMESPACE, &values) else {
            return;
        };
        match (rendered, refused) {
            (Ok(docs), None) => assert_eq!(flag(&docs, flag_name), set, "{values}"),
            (Err(e), Some(reason)) => assert!(e.contains(reason), "{values}: {e}"),
            (Ok(_), Some(reason)) => panic!("{values} renders; expected: {reason}"),
            (Err(e), None) => panic!("{values} does not render: {e}"),
        }
    }
}
