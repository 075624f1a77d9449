//! The chart through Helm itself (Helm v4's engine, the Python package `helm-python-sdk`):
//! `helm lint --strict` and `helm template` with each values file of the chart's `ci/` (as
//! chart-testing and cert-manager keep them), every rendered object validated against the
//! Kubernetes 1.28 OpenAPI schemas (`kubernetes-validate`, strict: an unknown field is an error)
//! and each custom resource against its CRD; `helm install` then `helm uninstall` against the
//! in-memory API server; the book's moves between kustomize and Helm, run as written, with the
//! kustomize base alone and with every component.
//!
//! The Python side is `tests/deploy/helm_sdk.py`. Where its packages are missing the tests print
//! SKIPPED, except under `CI=true`, where they fail (`.ci/run` installs them).

use super::kustomize::ci;
use super::values::leaf_paths;
use super::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube_apiserver_memory::{ApiServer, ApiServerOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

/// The oldest Kubernetes release the chart supports (`Chart.yaml` `kubeVersion`, the book's Install page).
const KUBE_VERSION: &str = "1.28.0";
/// Custom resources of other projects' CRDs, which are not installed here: rendered (and
/// linted), not validated. Every other kind must validate.
const OTHER_PROJECTS_KINDS: [(&str, &str); 3] = [
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("cert-manager.io/v1", "Certificate"),
];
/// The values files of the chart's `ci/`.
const CI_VALUES: [&str; 3] = [
    "default-values.yaml",
    "everything-values.yaml",
    "minimal-values.yaml",
];

/// Runs `helm_sdk.py args…` with `stdin`; its JSON answer, or None (SKIPPED) when its Python
/// packages are missing outside CI.
fn sdk(args: &[&str], stdin: Option<&str>) -> Option<Value> {
    use std::io::Write;
    let mut child = match Command::new("python3")
        .arg(root().join("tests/deploy/helm_sdk.py"))
        .args(args)
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            assert!(!ci(), "CI must run python3: {e}");
            eprintln!("SKIPPED: python3 is not runnable: {e}");
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        let missing = format!(
            "{} (pip install -r {})",
            stderr.trim(),
            rbac_files::HELM_REQUIREMENTS
        );
        assert!(
            !ci(),
            "CI must run Helm's engine and kubernetes-validate: {missing}"
        );
        eprintln!("SKIPPED: helm_sdk.py {}: {missing}", args[0]);
        return None;
    }
    assert!(out.status.success(), "helm_sdk.py {}: {stderr}", args[0]);
    Some(serde_json::from_slice(&out.stdout).expect("helm_sdk.py prints JSON"))
}

/// A values file of the chart's `ci/`, as JSON.
fn ci_values(file: &str) -> Value {
    let path = format!("{CHART}/ci/{file}");
    let doc = documents(&read(&path), &path).pop().unwrap_or(json!({}));
    assert!(doc.is_object(), "{path}: a map of values");
    doc
}

/// The errors of validating `objects` against the Kubernetes [`KUBE_VERSION`] schemas and the
/// CRDs (those among them and the repository's `crds/`).
fn validation_errors(objects: &[Value]) -> Option<Vec<String>> {
    let crds: Vec<String> = std::fs::read_dir(root().join("crds"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut args = vec!["validate", KUBE_VERSION];
    args.extend(crds.iter().map(String::as_str));
    let errors = sdk(&args, Some(&Value::from(objects.to_vec()).to_string()))?;
    Some(serde_json::from_value(errors).expect("validate prints a list of errors"))
}

#[test]
fn the_validation_refuses_unknown_fields_wrong_types_and_bad_custom_resources() {
    // So that the chart's clean validation below means something.
    let Some(errors) = validation_errors(&[
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"replica": 2, "selector": {}, "template": {}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"port": "eighty"}]}}),
        json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
               "metadata": {"name": "t"}, "spec": {"issuerRef": {"name": "i"}, "ttll": "1h"}}),
        json!({"apiVersion": "example.com/v1", "kind": "Unknown", "metadata": {"name": "u"}}),
    ]) else {
        return;
    };
    let all = errors.join("\n");
    for expected in [
        "Deployment d: Additional properties are not allowed ('replica' was unexpected)",
        "Service s: 'eighty' is not of type 'integer'",
        "VideoSdkToken t: Additional properties are not allowed ('ttll' was unexpected)",
        "Unknown u: no schema",
    ] {
        assert!(all.contains(expected), "{expected} not in:\n{all}");
    }
}

#[test]
fn helm_lints_renders_and_validates_every_ci_values_file() {
    let dir: BTreeSet<String> = std::fs::read_dir(root().join(CHART).join("ci"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        dir,
        BTreeSet::from(CI_VALUES.map(str::to_owned)),
        "{CHART}/ci/"
    );
    let chart = root().join(CHART).display().to_string();
    for file in CI_VALUES {
        let values = ci_values(file);
        // helm lint --strict: warnings are errors; the info lines are printed.
        let Some(lint) = sdk(
            &[
                "lint",
                &chart,
                &values.to_string(),
                &format!("v{KUBE_VERSION}"),
            ],
            None,
        ) else {
            return;
        };
        let messages = lint["messages"].as_array().expect("lint messages");
        let failing: Vec<&Value> = messages.iter().filter(|m| m["severity"] != 1).collect();
        assert!(
            failing.is_empty() && lint["errors"] == json!([]),
            "helm lint --strict with ci/{file}: {lint}"
        );
        // helm template, then every object against the schemas.
        let Some(objects) = rbac_files::helm_template(NAME, NAMESPACE, &values) else {
            return;
        };
        assert!(!objects.is_empty(), "ci/{file} renders nothing");
        let Some(errors) = validation_errors(&objects) else {
            return;
        };
        let errors: Vec<&String> = errors
            .iter()
            .filter(|e| {
                !OTHER_PROJECTS_KINDS.iter().any(|(_, kind)| {
                    e.starts_with(&format!("{kind} ")) && e.contains(": no schema")
                })
            })
            .collect();
        assert!(errors.is_empty(), "ci/{file}: {errors:#?}");
        for o in &objects {
            let api_version = o["apiVersion"].as_str().unwrap_or_default();
            if OTHER_PROJECTS_KINDS.contains(&(api_version, kind(o))) {
                eprintln!(
                    "ci/{file}: {} {} rendered, not validated (its CRD is another project's)",
                    kind(o),
                    name(o)
                );
            }
        }
    }
}

#[test]
fn artifact_hub_examples_are_valid_custom_resources() {
    let examples = super::chart_features::crds_examples();
    let Some(errors) = validation_errors(&examples) else {
        return;
    };
    assert!(
        errors.is_empty(),
        "Chart.yaml artifacthub.io/crdsExamples: {errors:#?}"
    );
}

#[test]
fn everything_values_set_every_value_and_turn_every_feature_on() {
    let defaults = documents(&read(format!("{CHART}/values.yaml")), "values.yaml").remove(0);
    let everything = ci_values("everything-values.yaml");
    let mut paths = Vec::new();
    leaf_paths(&defaults, "", &mut paths);
    for path in paths {
        let set = everything.pointer(&format!("/{}", path.replace('.', "/")));
        assert!(
            set.is_some(),
            "ci/everything-values.yaml does not set {path}"
        );
        if path.ends_with(".enabled") {
            assert_eq!(set, Some(&json!(true)), "ci/everything-values.yaml: {path}");
        }
    }
}

/// A running in-memory API server and a kubeconfig file for it.
struct Cluster {
    runtime: tokio::runtime::Runtime,
    server: ApiServer,
    kubeconfig: PathBuf,
}

impl Cluster {
    fn start(test: &str) -> Cluster {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = runtime
            .block_on(ApiServer::start(ApiServerOptions::default()))
            .expect("the in-memory API server starts");
        let kubeconfig = std::env::temp_dir().join(format!(
            "videosdk-helm-{test}-{}.kubeconfig",
            std::process::id()
        ));
        server.write_kubeconfig(&kubeconfig).unwrap();
        Cluster {
            runtime,
            server,
            kubeconfig,
        }
    }

    fn kubeconfig(&self) -> &str {
        self.kubeconfig.to_str().unwrap()
    }

    /// `helm install NAME CHART -n NAMESPACE --create-namespace` with `values`: Helm's answer
    /// (`{"status": …}` or `{"error": …}`).
    fn helm_install(&self, values: &Value) -> Option<Value> {
        let chart = root().join(CHART).display().to_string();
        sdk(
            &[
                "install",
                self.kubeconfig(),
                &chart,
                NAME,
                NAMESPACE,
                &values.to_string(),
            ],
            None,
        )
    }

    fn helm_uninstall(&self) -> Option<Value> {
        sdk(&["uninstall", self.kubeconfig(), NAME, NAMESPACE], None)
    }

    fn deployment(&self) -> Option<Deployment> {
        let _in_runtime = self.runtime.enter();
        let api: Api<Deployment> = Api::namespaced(self.server.client(), NAMESPACE);
        self.runtime.block_on(api.get_opt(NAME)).unwrap()
    }

    fn crds(&self) -> Vec<CustomResourceDefinition> {
        let _in_runtime = self.runtime.enter();
        let api: Api<CustomResourceDefinition> = Api::all(self.server.client());
        let list = self
            .runtime
            .block_on(api.list(&Default::default()))
            .unwrap();
        list.items
            .into_iter()
            .filter(|c| c.spec.group == "videosdk.live")
            .collect()
    }

    /// Runs `script` with bash (`-euo pipefail`) in the repository, on this server.
    fn sh(&self, script: &str) -> bool {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(root())
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{script}\nfailed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        true
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

#[test]
fn helm_installs_and_uninstalls_on_the_in_memory_api_server() {
    let cluster = Cluster::start("install");
    let Some(installed) = cluster.helm_install(&ci_values("default-values.yaml")) else {
        return;
    };
    assert_eq!(installed, json!({"status": "deployed"}));
    let deployment = cluster
        .deployment()
        .expect("helm install created the Deployment");
    assert_eq!(
        deployment.metadata.labels.unwrap()["app.kubernetes.io/managed-by"],
        "Helm"
    );
    assert_eq!(cluster.crds().len(), 3, "the chart installs the three CRDs");

    assert_eq!(
        cluster.helm_uninstall().unwrap(),
        json!({"status": "uninstalled"})
    );
    assert!(
        cluster.deployment().is_none(),
        "helm uninstall removes the Deployment"
    );
    // crds.keep: the CRDs, and with them every token, stay.
    let crds = cluster.crds();
    assert_eq!(crds.len(), 3, "crds.keep leaves the CRDs");
    for crd in crds {
        assert_eq!(
            crd.metadata.annotations.unwrap()["helm.sh/resource-policy"],
            "keep"
        );
    }
}

/// The shell blocks of the book's "Move between kustomize and Helm" (docs/src/install/move.md).
fn move_blocks() -> Vec<String> {
    let section = read("docs/src/install/move.md");
    section
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().to_owned())
        .collect()
}

/// The book's uninstall of a kustomize install (docs/src/install/uninstall.md) deletes by label
/// with the move to Helm's own commands, which `the_readme_moves_from_kustomize_to_helm_and_back`
/// runs and shows to leave only the Namespace (with the cluster issuers' credentials Secret) and
/// the CRDs (with every token and its Secret); never `kubectl delete -k deploy/`, which deletes
/// both.
#[test]
fn the_uninstall_deletes_what_the_move_to_helm_deletes() {
    let to_helm = &move_blocks()[0];
    let deletes = to_helm
        .split("for crd")
        .next()
        .expect("the move deletes, then hands the CRDs over");
    assert!(deletes.starts_with("kubectl delete "), "{to_helm}");
    let uninstall = read("docs/src/install/uninstall.md");
    let block = uninstall
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("docs/src/install/uninstall.md has a sh block");
    assert!(
        block.contains(deletes),
        "the uninstall lacks the move's deletes:\n{deletes}\nin:\n{block}"
    );
    assert!(!block.contains("delete -k"), "{block}");
}

/// `block` without its `helm …` line, which must be `expected` (Helm runs through its engine's
/// Python API here, with the same release, chart and namespace).
fn without_helm(block: &str, expected: &str) -> String {
    let helm: Vec<&str> = block.lines().filter(|l| l.starts_with("helm ")).collect();
    assert_eq!(helm, [expected], "docs/src/install/move.md's move");
    block
        .lines()
        .filter(|l| !l.starts_with("helm "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `kind` `name` (in `namespace`, when namespaced) exists on the cluster of `kubeconfig`,
/// and its annotations when it does.
fn annotations_of(kubeconfig: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
    let mut get = Command::new("kubectl");
    get.args(["get", kind, name, "--ignore-not-found", "-o", "json"])
        .env("KUBECONFIG", kubeconfig);
    if !namespace.is_empty() {
        get.args(["-n", namespace]);
    }
    let out = get.output().expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl get {kind} {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let object: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(object["metadata"]["annotations"].clone())
}

#[test]
fn the_readme_moves_from_kustomize_to_helm_and_back() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        assert!(!ci(), "CI must run kubectl");
        eprintln!("SKIPPED: kubectl is not runnable");
        return;
    }
    let blocks = move_blocks();
    assert_eq!(blocks.len(), 2, "two moves: to Helm, back to kustomize");
    let to_helm = without_helm(
        &blocks[0],
        "helm install videosdk-token-operator deploy/helm/videosdk-token-operator -n videosdk-system",
    );
    let to_kustomize = without_helm(
        &blocks[1],
        "helm uninstall videosdk-token-operator -n videosdk-system",
    );
    assert!(
        to_kustomize.contains("-k deploy/"),
        "the move back applies deploy/"
    );

    // The base alone, and with every component, moved to Helm with the values the book names
    // for those components.
    let all = super::kustomize::components();
    let watched = "my-app";
    let features = json!({
        "rolloutRestarts": {"enabled": true},
        "tokenRequests": {"enabled": true,
                          "tls": {"secretName": "videosdk-token-operator-token-requests-tls"}},
        "watchNamespace": watched,
    });
    for (components, values) in [(vec![], json!({})), (all, features)] {
        let listed: Vec<&str> = components.iter().map(String::as_str).collect();
        let overlay = super::rbac::overlay(&listed);
        let what = format!("the base with {components:?}");
        let Some(installed) = super::kustomize::kustomize(&overlay, "kubectl", ci()) else {
            return;
        };
        let cluster = Cluster::start("move");
        cluster.sh(&format!(
            "kubectl create namespace {watched} > /dev/null
             kubectl apply --server-side -k {} > /dev/null",
            overlay.display()
        ));
        // What a user meets without the book's steps.
        let Some(refused) = cluster.helm_install(&values) else {
            return;
        };
        let refused = refused["error"].as_str().unwrap_or_default().to_owned();
        assert!(
            refused.contains(
                "exists and cannot be imported into the current release: invalid ownership metadata"
            ),
            "{what}: {refused}"
        );
        let before = cluster.crds();

        cluster.sh(&to_helm);
        // Nothing of the kustomize install is left but its Namespace and the CRDs (now Helm's):
        // no binding keeps rights Helm's values do not grant, no object blocks `helm install`.
        for object in &installed {
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            let left = annotations_of(cluster.kubeconfig(), kind(object), namespace, name(object));
            match kind(object) {
                "Namespace" => assert!(left.is_some(), "{what}: the namespace stays"),
                "CustomResourceDefinition" => assert_eq!(
                    left.unwrap()["meta.helm.sh/release-name"],
                    NAME,
                    "{what}: CRD {} handed to Helm",
                    name(object)
                ),
                other => assert!(
                    left.is_none(),
                    "{what}: {other} {namespace}/{} outlives the move to Helm",
                    name(object)
                ),
            }
        }
        assert_eq!(
            cluster.helm_install(&values).unwrap(),
            json!({"status": "deployed"}),
            "{what}: helm install with {values}"
        );
        let crds = cluster.crds();
        assert_eq!(
            crds.iter().map(|c| &c.metadata.uid).collect::<Vec<_>>(),
            before.iter().map(|c| &c.metadata.uid).collect::<Vec<_>>(),
            "{what}: the CRDs (and every token) stay through the move"
        );
        let selector = cluster.deployment().unwrap().spec.unwrap().selector;
        assert_eq!(
            selector.match_labels.unwrap()["app.kubernetes.io/instance"],
            NAME,
            "{what}: the chart's Deployment replaced the base's"
        );

        assert_eq!(
            cluster.helm_uninstall().unwrap(),
            json!({"status": "uninstalled"})
        );
        cluster.sh(&to_kustomize.replace("-k deploy/", &format!("-k {}", overlay.display())));
        for crd in cluster.crds() {
            let annotations = crd.metadata.annotations.unwrap_or_default();
            let labels = crd.metadata.labels.unwrap_or_default();
            assert!(
                !annotations.keys().any(|k| k.contains("helm.sh"))
                    && !labels.keys().any(|k| k.contains("helm.sh"))
                    && !labels.contains_key("app.kubernetes.io/managed-by"),
                "{what}: {:?}: Helm's marks stay: {annotations:?} {labels:?}",
                crd.metadata.name
            );
        }
        let selector = cluster.deployment().unwrap().spec.unwrap().selector;
        assert!(
            !selector
                .match_labels
                .unwrap()
                .contains_key("app.kubernetes.io/instance"),
            "{what}: the base's Deployment is back"
        );
        for object in &installed {
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            assert!(
                annotations_of(cluster.kubeconfig(), kind(object), namespace, name(object))
                    .is_some(),
                "{what}: {} {namespace}/{} is back",
                kind(object),
                name(object)
            );
        }
    }
}
