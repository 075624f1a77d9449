//! The Helm chart, checked on its files (tests/deploy/helm.rs runs it through Helm): its `files/crds/` is
//! a byte-for-byte copy of `crds/`, rendered by its CRD template behind `crds.enabled` with
//! `crds.keep`; its templates parse as YAML once their actions are stripped, every `.Values` path
//! they use exists, the Deployment's probes and security settings equal the kustomize base's.

use super::kustomize::{assembled_base, check_operator_container, disruptions_allowed};
use super::*;
use regex::Regex;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use videosdk_token_operator::api;

#[test]
fn chart_crds_are_exact_copies_of_the_repository_crds() {
    let fix = format!("copy them: cp crds/*.yaml {CHART}/files/crds/");
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}; {fix}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let (repo, chart) = (root().join("crds"), root().join(CHART).join("files/crds"));
    assert_eq!(
        names(&chart),
        names(&repo),
        "{CHART}/files/crds/ must hold the same files as crds/; {fix}"
    );
    for file in names(&repo) {
        let (a, b) = (
            std::fs::read(repo.join(&file)).unwrap(),
            std::fs::read(chart.join(&file)).unwrap(),
        );
        assert!(
            a == b,
            "{CHART}/files/crds/{file} differs from crds/{file}; {fix}"
        );
    }
}

/// Every file under the chart's `templates/` (with `templates/tests/`, the `helm test` hooks).
pub(crate) fn chart_templates() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(CHART).join("templates"), &mut out);
    out.sort();
    out
}

/// A template's text with its actions stripped: comments and lines that are only actions go,
/// an action inside a line becomes `X`. What is left of a manifest template must be YAML.
fn strip_actions(text: &str) -> String {
    let comments = Regex::new(r"(?s)\{\{-?\s*/\*.*?\*/\s*-?\}\}\n?").unwrap();
    let action = Regex::new(r"\{\{.*?\}\}").unwrap();
    comments
        .replace_all(text, "")
        .lines()
        .filter(|l| {
            let t = l.trim();
            !(t.starts_with("{{") && t.ends_with("}}") && action.replace_all(t, "").is_empty())
        })
        .map(|l| action.replace_all(l, "X").into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `.Values.a.b` path the templates use.
fn values_paths(text: &str) -> BTreeSet<String> {
    Regex::new(r"\.Values\.([A-Za-z0-9_.]+)")
        .unwrap()
        .captures_iter(text)
        .map(|c| c[1].trim_end_matches('.').to_owned())
        .collect()
}

#[test]
fn helm_chart_is_consistent_without_helm() {
    let chart = documents(&read(format!("{CHART}/Chart.yaml")), "Chart.yaml").remove(0);
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], NAME);
    assert_eq!(
        chart["appVersion"],
        env!("CARGO_PKG_VERSION"),
        "Chart.yaml appVersion is the crate's version"
    );
    assert!(chart["version"].is_string());
    let values = documents(&read(format!("{CHART}/values.yaml")), "values.yaml").remove(0);

    let opener = Regex::new(r"\{\{-?\s*(if|with|range|define)\b").unwrap();
    let end = Regex::new(r"\{\{-?\s*end\s*-?\}\}").unwrap();
    let mut deployment_template = None;
    for template in chart_templates() {
        let file = template.file_name().unwrap().to_string_lossy().into_owned();
        let text = read(&template);
        // Balanced actions.
        let opens = opener.find_iter(&text).count();
        let ends = end.find_iter(&text).count();
        assert_eq!(
            opens, ends,
            "{file}: unbalanced if/with/range/define and end"
        );
        // Every value exists.
        for path in values_paths(&text) {
            let pointer = format!("/{}", path.replace('.', "/"));
            assert!(
                values.pointer(&pointer).is_some(),
                "{file} uses .Values.{path}, which values.yaml does not define"
            );
        }
        // Manifests parse once the actions are stripped.
        if file.ends_with(".yaml") {
            let stripped = strip_actions(&text);
            let docs = documents(&stripped, &format!("{file} (actions stripped)"));
            assert!(!docs.is_empty(), "{file}");
            if file == "deployment.yaml" {
                deployment_template = Some(docs[0].clone());
            }
        }
    }

    // The chart's defaults and Deployment say what the kustomize base says.
    let base = assembled_base();
    let base_deployment = find(&base, "Deployment", NAME);
    let base_pod = &base_deployment["spec"]["template"]["spec"];
    let base_container = &base_pod["containers"][0];
    assert_eq!(values["replicaCount"], base_deployment["spec"]["replicas"]);
    assert_eq!(values["resources"], base_container["resources"]);
    assert_eq!(
        format!(
            "{}:{}",
            values["image"]["repository"].as_str().unwrap(),
            chart["appVersion"].as_str().unwrap()
        ),
        base_container["image"].as_str().unwrap(),
        "the chart's default image (tag: appVersion) is the base's"
    );
    assert_eq!(values["logFormat"], "json");
    assert_eq!(
        values["rolloutRestarts"],
        json!({"enabled": false, "namespaces": []}),
        "no right on workloads by default"
    );

    let d = deployment_template.expect("templates/deployment.yaml");
    // The security settings are values (OpenShift assigns its own uid): the pod and container
    // with the default values are what the kustomize base runs.
    let template = read(format!("{CHART}/templates/deployment.yaml"));
    for (value, indent) in [("securityContext", 8), ("containerSecurityContext", 12)] {
        assert!(
            template.contains(&format!(
                "{{{{- with .Values.{value} }}}}\n{pad}securityContext:\n{pad}  {{{{- toYaml . | nindent {indent} }}}}",
                pad = " ".repeat(indent - 2)
            )),
            "templates/deployment.yaml renders .Values.{value} as a securityContext"
        );
    }
    let mut pod = d["spec"]["template"]["spec"].clone();
    pod["securityContext"] = values["securityContext"].clone();
    let mut c = pod["containers"][0].clone();
    c["securityContext"] = values["containerSecurityContext"].clone();
    // The token request port is under `if .Values.tokenRequests.enabled` (off by default), which
    // stripping the actions cannot evaluate.
    if let Some(ports) = c["ports"].as_array_mut() {
        ports.retain(|p| p["name"] != "token-requests");
    }
    check_operator_container(
        &pod,
        &c,
        "the chart's templates/deployment.yaml with its default values",
    );
    for key in [
        "ports",
        "livenessProbe",
        "readinessProbe",
        "env",
        "securityContext",
    ] {
        assert_eq!(
            c[key], base_container[key],
            "chart and kustomize base differ in the container's {key}"
        );
    }
    // A value (automountServiceAccountToken), whose default is the base's.
    assert_eq!(
        values["automountServiceAccountToken"],
        base_pod["automountServiceAccountToken"]
    );
    for key in ["securityContext", "terminationGracePeriodSeconds"] {
        assert_eq!(
            pod[key], base_pod[key],
            "chart and kustomize base differ in the pod's {key}"
        );
    }
    assert_eq!(
        d["spec"]["strategy"], base_deployment["spec"]["strategy"],
        "rollout strategy"
    );
    // The flags the chart passes are flags of `run`.
    let help = Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
        .args(["run", "--help"])
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in Regex::new(r"- (--[a-z-]+)")
        .unwrap()
        .captures_iter(&template)
    {
        assert!(
            help.contains(&flag[1]),
            "the chart passes {} but `run` has no such flag",
            &flag[1]
        );
    }
}

#[test]
fn chart_renders_its_crds_as_templates_kept_on_uninstall() {
    let values = documents(&read(format!("{CHART}/values.yaml")), "values.yaml").remove(0);
    assert_eq!(values["crds"], json!({"enabled": true, "keep": true}));
    assert!(
        !root().join(CHART).join("crds").exists(),
        "{CHART}/crds/ would be installed by Helm besides the templates, and never upgraded"
    );
    let template = read(format!("{CHART}/templates/crds.yaml"));
    for needed in [
        "{{- if .Values.crds.enabled }}",
        r#"{{- range $path, $_ := .Files.Glob "files/crds/*.yaml" }}"#,
        "{{- $crd := $.Files.Get $path | fromYaml }}",
        "{{- if $.Values.crds.keep }}\n  annotations:\n    helm.sh/resource-policy: keep\n  {{- end }}",
        "spec:\n  {{- toYaml $crd.spec | nindent 2 }}",
        "name: {{ $crd.metadata.name }}",
    ] {
        assert!(
            template.contains(needed),
            "templates/crds.yaml lacks {needed}"
        );
    }
    // The template takes over only apiVersion, kind, name and spec: the files have nothing else.
    for (file, _) in api::crds() {
        let path = format!("{CHART}/files/crds/{file}");
        let doc = documents(&read(&path), &path).remove(0);
        let keys: BTreeSet<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["apiVersion", "kind", "metadata", "spec"]),
            "{path}"
        );
        let meta: Vec<&String> = doc["metadata"].as_object().unwrap().keys().collect();
        assert_eq!(
            meta,
            ["name"],
            "{path}: the template would drop other metadata"
        );
    }
    // The book's Helm page says how to upgrade both ways.
    let page = read("docs/src/install/helm.md");
    for needed in ["crds.enabled", "crds.keep", "helm.sh/resource-policy: keep"] {
        assert!(
            page.contains(needed),
            "docs/src/install/helm.md does not explain {needed}"
        );
    }
}

#[test]
fn the_pod_disruption_budget_lets_a_drain_proceed_with_any_replica_count() {
    for (values, replicas, allowed) in [
        (json!({}), 2, 1),
        (json!({"replicaCount": 1}), 1, 1),
        (json!({"replicaCount": 3}), 3, 1),
        // minAvailable instead, as cert-manager's chart offers it.
        (json!({"podDisruptionBudget": {"minAvailable": 1}}), 2, 1),
        (
            json!({"replicaCount": 4, "podDisruptionBudget": {"maxUnavailable": "50%"}}),
            4,
            2,
        ),
    ] {
        let Some(docs) = rbac_files::helm_template(NAME, NAMESPACE, &values) else {
            return;
        };
        let pdb = find(&docs, "PodDisruptionBudget", NAME);
        let spec = &pdb["spec"];
        assert!(
            spec["minAvailable"].is_null() || spec["maxUnavailable"].is_null(),
            "{values}: a PodDisruptionBudget has one of the two: {spec}"
        );
        assert_eq!(
            disruptions_allowed(spec, replicas),
            allowed,
            "{values}: {spec}"
        );
    }
    let Some(docs) = rbac_files::helm_template(
        NAME,
        NAMESPACE,
        &json!({"podDisruptionBudget": {"enabled": false}}),
    ) else {
        return;
    };
    assert!(!docs.iter().any(|d| kind(d) == "PodDisruptionBudget"));
}

#[test]
fn chart_says_what_the_readme_and_the_kustomize_base_say() {
    // kubeVersion: the oldest release the book's Install page supports.
    let chart = documents(&read(format!("{CHART}/Chart.yaml")), "Chart.yaml").remove(0);
    let install = read("docs/src/install/index.md");
    let minor = Regex::new(r"\*\*Kubernetes 1\.(\d+) or later\.\*\*")
        .unwrap()
        .captures(&install)
        .expect("docs/src/install/index.md says **Kubernetes 1.N or later.**")[1]
        .to_owned();
    assert_eq!(
        chart["kubeVersion"],
        format!(">=1.{minor}.0-0"),
        "Chart.yaml kubeVersion"
    );
    // The metrics Service carries the base's prometheus.io annotations.
    let Some(docs) = rbac_files::helm_template(NAME, NAMESPACE, &json!({})) else {
        return;
    };
    let name = "videosdk-token-operator-metrics";
    let base = assembled_base();
    let annotations = &find(&base, "Service", name)["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(
        find(&docs, "Service", name)["metadata"]["annotations"],
        *annotations
    );
}
