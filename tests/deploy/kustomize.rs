//! The kustomize base: the CRDs, the namespace, RBAC, a Deployment with two replicas, probes and
//! every security setting, the metrics Service and the PodDisruptionBudget (checked on the files
//! it lists and, where `kubectl` is installed, on `kubectl kustomize deploy/`).

use super::*;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionSpec;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use videosdk_token_operator::api;

/// Kinds the kustomize namespace transformer leaves without a namespace.
const CLUSTER_SCOPED: [&str; 4] = [
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
];

/// The base assembled from the files `deploy/kustomization.yaml` lists, with its namespace
/// applied: what kustomize renders, less its labels. Needs no `kubectl`.
pub(crate) fn assembled_base() -> Vec<Value> {
    let kustomization = documents(
        &read("deploy/kustomization.yaml"),
        "deploy/kustomization.yaml",
    );
    let kustomization = &kustomization[0];
    assert_eq!(kustomization["namespace"], NAMESPACE);
    let mut docs = Vec::new();
    for resource in kustomization["resources"].as_array().expect("resources") {
        let file = Path::new("deploy").join(resource.as_str().unwrap());
        assert!(
            root().join(&file).is_file(),
            "{} (listed in deploy/kustomization.yaml) is not a file",
            file.display()
        );
        for mut doc in documents(&read(&file), &file.display().to_string()) {
            if !CLUSTER_SCOPED.contains(&kind(&doc)) {
                doc["metadata"]["namespace"] = json!(NAMESPACE);
            }
            docs.push(doc);
        }
    }
    docs
}

/// `kubectl kustomize deploy/`, or None (with a message) where kubectl is not installed, except
/// under `CI=true`, where that fails the test (as the Helm renderer does).
pub(crate) fn kubectl_kustomize() -> Option<Vec<Value>> {
    kustomize(&root().join("deploy"), "kubectl", ci())
}

/// Whether this runs under CI (`CI=true`), which must have every tool the deploy tests use.
pub(crate) fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `<kubectl> kustomize <dir>`, or None (with a message) where `kubectl` is not runnable and `ci`
/// is false; under CI a missing kubectl fails, so that CI never passes on the listed files alone.
pub(crate) fn kustomize(dir: &Path, kubectl: &str, ci: bool) -> Option<Vec<Value>> {
    let out = match Command::new(kubectl).arg("kustomize").arg(dir).output() {
        Ok(out) => out,
        Err(e) => {
            assert!(
                !ci,
                "CI must run `{kubectl} kustomize {}`: {kubectl} is not runnable: {e}",
                dir.display()
            );
            eprintln!(
                "SKIPPED: `{kubectl} kustomize {}` ({kubectl} not runnable: {e}); only the files the kustomization lists were checked",
                dir.display()
            );
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{kubectl} kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(documents(
        &String::from_utf8(out.stdout).unwrap(),
        &format!("the output of {kubectl} kustomize {}", dir.display()),
    ))
}

#[test]
#[should_panic(expected = "CI must run `kubectl-not-installed kustomize")]
fn a_missing_kubectl_fails_under_ci() {
    kustomize(&root().join("deploy"), "kubectl-not-installed", true);
}

#[test]
fn a_missing_kubectl_skips_outside_ci() {
    assert!(kustomize(&root().join("deploy"), "kubectl-not-installed", false).is_none());
}

#[test]
fn kustomize_base_installs_a_secure_highly_available_operator() {
    let assembled = assembled_base();
    check_base(&assembled, "deploy/kustomization.yaml's files");
    if let Some(rendered) = kubectl_kustomize() {
        check_base(&rendered, "kubectl kustomize deploy/");
        let objects = |docs: &[Value]| -> BTreeSet<(String, String, String)> {
            docs.iter()
                .map(|d| {
                    (
                        kind(d).to_owned(),
                        d["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        name(d).to_owned(),
                    )
                })
                .collect()
        };
        assert_eq!(objects(&rendered), objects(&assembled));
    }
}

fn check_base(docs: &[Value], origin: &str) {
    // The CRDs, with the schema the code generates.
    for (file, crd) in api::crds() {
        let crd_name = crd.metadata.name.clone().unwrap();
        let doc = find(docs, "CustomResourceDefinition", &crd_name);
        // Typed, so that kustomize writing `99.0` as `99` is no difference.
        let spec: CustomResourceDefinitionSpec = serde_json::from_value(doc["spec"].clone())
            .unwrap_or_else(|e| panic!("{origin}: CRD {crd_name}: {e}"));
        assert!(
            spec == crd.spec,
            "{origin}: CRD {crd_name} differs from crds/{file}, generated from src/api/"
        );
    }
    find(docs, "Namespace", NAMESPACE);
    let sa = find(docs, "ServiceAccount", NAME);
    assert_eq!(sa["metadata"]["namespace"], NAMESPACE, "{origin}");

    // The Deployment.
    let deployment = find(docs, "Deployment", NAME);
    assert_eq!(deployment["metadata"]["namespace"], NAMESPACE, "{origin}");
    assert_eq!(
        deployment["spec"]["replicas"], 2,
        "{origin}: two replicas (leader election)"
    );
    let pod = &deployment["spec"]["template"]["spec"];
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(
        &deployment["spec"]["selector"]["matchLabels"], pod_labels,
        "{origin}"
    );
    assert_eq!(pod["serviceAccountName"], NAME, "{origin}");
    assert_eq!(pod["automountServiceAccountToken"], true, "{origin}");
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "{origin}");
    let c = &containers[0];
    assert_eq!(
        c["image"], "localhost/videosdk-token-operator:0.1.0",
        "{origin}: a local build's name as buildah, podman and containerd spell it"
    );
    assert_eq!(
        c["args"],
        json!(["run", "--leader-elect", "--log-format", "json"]),
        "{origin}"
    );
    check_operator_container(pod, c, origin);

    // Metrics Service: port 8080 named metrics, selecting the operator's pods.
    let service = find(docs, "Service", "videosdk-token-operator-metrics");
    assert_eq!(service["metadata"]["namespace"], NAMESPACE, "{origin}");
    assert!(
        selects(&service["spec"]["selector"], pod_labels),
        "{origin}"
    );
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]),
        "{origin}"
    );
    assert_eq!(
        service["metadata"]["annotations"]["prometheus.io/path"], "/metrics",
        "{origin}"
    );

    // PodDisruptionBudget: one replica may go at a time, also when an overlay runs one.
    let pdb = find(docs, "PodDisruptionBudget", NAME);
    assert_eq!(pdb["apiVersion"], "policy/v1", "{origin}");
    for replicas in [1, 2] {
        assert_eq!(
            disruptions_allowed(&pdb["spec"], replicas),
            1,
            "{origin}: a drain with {replicas} replicas evicts one at a time"
        );
    }
    assert!(
        selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels),
        "{origin}"
    );

    // RBAC: each role bound to the operator's ServiceAccount; the Lease Role only in its namespace;
    // the rollout-restart ClusterRole bound to nobody (the component components/rollout-restarts
    // binds it; tests/deploy/rbac.rs checks what each binds).
    assert!(
        !docs
            .iter()
            .any(|d| d["roleRef"]["name"] == "videosdk-token-operator-rollout"),
        "{origin}: the base must not bind the rollout-restart ClusterRole"
    );
    let subject = json!([{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]);
    for (binding_kind, role_kind, role) in [
        ("ClusterRoleBinding", "ClusterRole", NAME),
        (
            "ClusterRoleBinding",
            "ClusterRole",
            "videosdk-token-operator-cluster-scoped",
        ),
        (
            "RoleBinding",
            "Role",
            "videosdk-token-operator-leader-election",
        ),
    ] {
        let role_doc = find(docs, role_kind, role);
        let binding = docs
            .iter()
            .find(|d| kind(d) == binding_kind && d["roleRef"]["name"] == role)
            .unwrap_or_else(|| panic!("{origin}: no {binding_kind} for {role_kind} {role}"));
        assert_eq!(binding["roleRef"]["kind"], role_kind, "{origin}");
        assert_eq!(
            binding["subjects"], subject,
            "{origin}: {binding_kind} {role}"
        );
        if role_kind == "Role" {
            assert_eq!(role_doc["metadata"]["namespace"], NAMESPACE, "{origin}");
            assert_eq!(binding["metadata"]["namespace"], NAMESPACE, "{origin}");
        }
    }
}

/// What the kustomize base and the chart both require of the operator's pod and container.
pub(crate) fn check_operator_container(pod: &Value, c: &Value, origin: &str) {
    // Security: effective settings, whether on the pod or the container.
    let setting = |key: &str| -> Value {
        let v = &c["securityContext"][key];
        if v.is_null() {
            pod["securityContext"][key].clone()
        } else {
            v.clone()
        }
    };
    assert_eq!(setting("runAsNonRoot"), true, "{origin}");
    assert_eq!(
        setting("runAsUser"),
        65532,
        "{origin}: distroless nonroot uid"
    );
    assert_eq!(
        setting("seccompProfile"),
        json!({"type": "RuntimeDefault"}),
        "{origin}"
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{origin}");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{origin}");
    assert_eq!(sc["capabilities"], json!({"drop": ["ALL"]}), "{origin}");
    assert!(
        sc["privileged"].is_null() || sc["privileged"] == false,
        "{origin}"
    );

    // Downward API: the pod's identity for leader election and Events.
    let env = c["env"].as_array().expect("env");
    for (var, field) in [
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
    ] {
        assert!(
            env.iter()
                .any(|e| e["name"] == var && e["valueFrom"]["fieldRef"]["fieldPath"] == field),
            "{origin}: env {var} from the downward API {field}"
        );
    }

    // One port, 8080, named metrics; probes on it.
    assert_eq!(
        c["ports"],
        json!([{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}]),
        "{origin}"
    );
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(
            c[probe]["httpGet"],
            json!({"path": path, "port": "metrics"}),
            "{origin}: {probe}"
        );
    }

    // Resources: requests and a memory limit (no CPU limit: throttling only slows renewals).
    let expected_resources =
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}});
    if c["resources"].is_object() {
        assert_eq!(c["resources"], expected_resources, "{origin}");
    }
}

/// Whether a label selector (matchLabels) selects pods with these labels.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("a selector");
    !selector.is_empty() && selector.iter().all(|(k, v)| &labels[k] == v)
}

/// How many of `replicas` healthy pods the PodDisruptionBudget `spec` lets evictions take, as
/// Kubernetes' disruption controller computes `status.disruptionsAllowed`: `currentHealthy -
/// desiredHealthy`, where `desiredHealthy` is `replicas - maxUnavailable` or `minAvailable`, a
/// percentage of `replicas` rounded up (pkg/controller/disruption/disruption.go,
/// `getExpectedPodCount`).
pub(crate) fn disruptions_allowed(spec: &Value, replicas: i64) -> i64 {
    let scaled = |v: &Value| -> i64 {
        match v {
            Value::Number(n) => n.as_i64().expect("an integer"),
            Value::String(s) => {
                let percent: i64 = s
                    .strip_suffix('%')
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("{s} is not a percentage"));
                (percent * replicas + 99) / 100
            }
            _ => panic!("{v} is not an int-or-string"),
        }
    };
    let desired_healthy = if spec["maxUnavailable"].is_null() {
        scaled(&spec["minAvailable"])
    } else {
        (replicas - scaled(&spec["maxUnavailable"])).max(0)
    };
    (replicas - desired_healthy).max(0)
}

#[test]
fn disruptions_allowed_follows_the_disruption_controller() {
    let allowed = |spec: Value, replicas| disruptions_allowed(&spec, replicas);
    // The finding: minAvailable 1 with one replica allows no eviction.
    assert_eq!(allowed(json!({"minAvailable": 1}), 1), 0);
    assert_eq!(allowed(json!({"minAvailable": 1}), 2), 1);
    assert_eq!(allowed(json!({"maxUnavailable": 1}), 1), 1);
    assert_eq!(allowed(json!({"maxUnavailable": "50%"}), 3), 2);
    assert_eq!(allowed(json!({"minAvailable": "50%"}), 3), 1);
}

/// The labels `deploy/kustomization.yaml` gives every object of the base (its `labels` pairs).
pub(crate) fn base_labels() -> serde_json::Map<String, Value> {
    let kustomization = documents(
        &read("deploy/kustomization.yaml"),
        "deploy/kustomization.yaml",
    )
    .remove(0);
    let mut labels = serde_json::Map::new();
    for entry in kustomization["labels"].as_array().expect("labels") {
        labels.extend(entry["pairs"].as_object().expect("pairs").clone());
    }
    assert!(
        labels.contains_key("app.kubernetes.io/part-of"),
        "deploy/kustomization.yaml: {labels:?}"
    );
    labels
}

/// Every component of `deploy/components/`, in an order that builds together.
pub(crate) fn components() -> Vec<String> {
    let mut all: Vec<String> = std::fs::read_dir(root().join("deploy/components"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // rollout-restarts before watch-namespace (its kustomization.yaml says why).
    all.sort();
    assert!(all.len() >= 3, "deploy/components: {all:?}");
    all
}

/// The book's move to Helm deletes the kustomize install by its label
/// `app.kubernetes.io/part-of`, which kustomize puts on the base's own resources only: an object a
/// component adds must carry it itself, or it outlives the move (a ClusterRoleBinding keeping its
/// rights, a Service blocking `helm install`).
#[test]
fn every_object_of_the_base_and_of_each_component_carries_the_base_labels() {
    let labels = base_labels();
    let mut overlays: Vec<Vec<String>> = components().into_iter().map(|c| vec![c]).collect();
    overlays.push(components());
    let mut rendered = Vec::new();
    if let Some(docs) = kubectl_kustomize() {
        rendered.push(("kubectl kustomize deploy/".to_owned(), docs));
    }
    for components in overlays {
        let listed: Vec<&str> = components.iter().map(String::as_str).collect();
        let dir = super::rbac::overlay(&listed);
        if let Some(docs) = kustomize(&dir, "kubectl", ci()) {
            rendered.push((format!("the base with {components:?}"), docs));
        }
    }
    for (what, docs) in rendered {
        for doc in &docs {
            for (key, value) in &labels {
                assert_eq!(
                    &doc["metadata"]["labels"][key],
                    value,
                    "{what}: {} {} lacks the base's label {key}",
                    kind(doc),
                    name(doc)
                );
            }
        }
    }
}
