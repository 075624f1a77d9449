//! The deployment artefacts of `deploy/` and the `Dockerfile`, checked without a cluster:
//!
//! - the Helm chart's `files/crds/` is a byte-for-byte copy of `crds/`, rendered by its CRD template
//!   behind `crds.enabled` with `crds.keep`;
//! - the kustomize base holds the CRDs, the namespace, RBAC, a Deployment with two replicas,
//!   probes and every security setting, the metrics Service and the PodDisruptionBudget (checked
//!   on the files it lists and, where `kubectl` is installed, on `kubectl kustomize deploy/`);
//! - every example under `deploy/examples/` parses, each custom resource in them deserialises into
//!   the crate's types and passes its CRD's schema as the API server would admit it, with no field
//!   the schema does not know; each example token is a valid request within its example
//!   issuer's policy (and the cluster issuer's namespaceSelector admits what its comment says);
//! - the RBAC rules live in one place (`deploy/helm/videosdk-token-operator/files/`), which the
//!   kustomize base applies and the chart's templates read, and grant exactly the list below;
//! - the chart is consistent without Helm (not installed on these machines): templates parse as
//!   YAML once their actions are stripped, every `.Values` path they use exists, the Deployment's
//!   probes and security settings equal the kustomize base's;
//! - `values.schema.json` accepts `values.yaml` and refuses misspelt values; the alerts are one
//!   file that the README shows and the chart's PrometheusRule reads; the aggregated ClusterRoles
//!   grant what the README's table says;
//! - `README.md` documents every chart value.
//!
//! `cargo test --test deploy`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionSpec;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use videosdk_token_operator::api::{
    self, ClusterVideoSdkIssuer, IssuerKind, VideoSdkIssuer, VideoSdkToken,
};
use videosdk_token_operator::apiserver::schema::CompiledSchema;
use videosdk_token_operator::controller::policy;
use videosdk_token_operator::token::TokenRequest;

const NAMESPACE: &str = "videosdk-system";
const NAME: &str = "videosdk-token-operator";
const CHART: &str = "deploy/helm/videosdk-token-operator";
/// Where the RBAC objects are kept, relative to the chart (the chart's `.Files` can only read
/// files inside it).
const RBAC_FILES: [&str; 3] = [
    "files/clusterrole.yaml",
    "files/role-leader-election.yaml",
    "files/clusterrole-rollout.yaml",
];
/// The ClusterRoles for people, aggregated into the built-in `view`, `edit` and `admin`.
const AGGREGATE_FILES: [&str; 3] = [
    "files/clusterrole-aggregate-view.yaml",
    "files/clusterrole-aggregate-edit.yaml",
    "files/clusterrole-aggregate-admin.yaml",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every non-empty document of a YAML stream, as JSON values.
fn documents(text: &str, origin: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| {
            Value::deserialize(doc).unwrap_or_else(|e| panic!("{origin} is not valid YAML: {e}"))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or_default()
}

fn find<'a>(docs: &'a [Value], want_kind: &str, want_name: &str) -> &'a Value {
    docs.iter()
        .find(|d| kind(d) == want_kind && name(d) == want_name)
        .unwrap_or_else(|| panic!("no {want_kind} {want_name} in the rendered base"))
}

// --- (a) the chart's CRDs -------------------------------------------------------------------

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

// --- (b) the kustomize base -----------------------------------------------------------------

/// Kinds the kustomize namespace transformer leaves without a namespace.
const CLUSTER_SCOPED: [&str; 4] = [
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
];

/// The base assembled from the files `deploy/kustomization.yaml` lists, with its namespace
/// applied: what kustomize renders, less its labels. Needs no `kubectl`.
fn assembled_base() -> Vec<Value> {
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

/// `kubectl kustomize deploy/`, or None (with a message) where kubectl is not installed.
fn kubectl_kustomize() -> Option<Vec<Value>> {
    let out = match Command::new("kubectl")
        .args(["kustomize", "deploy/"])
        .current_dir(root())
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!(
                "SKIPPED: `kubectl kustomize deploy/` (kubectl not runnable: {e}); only the files the kustomization lists were checked"
            );
            return None;
        }
    };
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/ failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(documents(
        &String::from_utf8(out.stdout).unwrap(),
        "the output of kubectl kustomize deploy/",
    ))
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
    assert_eq!(c["image"], "videosdk-token-operator:0.1.0", "{origin}");
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

    // PodDisruptionBudget: one replica may go at a time.
    let pdb = find(docs, "PodDisruptionBudget", NAME);
    assert_eq!(pdb["apiVersion"], "policy/v1", "{origin}");
    assert_eq!(pdb["spec"]["minAvailable"], 1, "{origin}");
    assert!(
        selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels),
        "{origin}"
    );

    // RBAC: each role bound to the operator's ServiceAccount; the Lease Role only in its namespace.
    let subject = json!([{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]);
    for (binding_kind, role_kind, role) in [
        ("ClusterRoleBinding", "ClusterRole", NAME),
        (
            "ClusterRoleBinding",
            "ClusterRole",
            "videosdk-token-operator-rollout",
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
fn check_operator_container(pod: &Value, c: &Value, origin: &str) {
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

// --- (c) the examples -----------------------------------------------------------------------

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// A field of `original` that `admitted` lacks or holds differently: the schema pruned it (an
/// unknown or misspelt field) or changed it. Defaults added by admission are not reported.
fn lost_field(original: &Value, admitted: &Value, path: &str) -> Option<String> {
    match (original, admitted) {
        (Value::Object(o), Value::Object(a)) => o.iter().find_map(|(k, v)| match a.get(k) {
            None => Some(format!("{path}.{k}")),
            Some(av) => lost_field(v, av, &format!("{path}.{k}")),
        }),
        (Value::Array(o), Value::Array(a)) if o.len() == a.len() => o
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (ov, av))| lost_field(ov, av, &format!("{path}[{i}]"))),
        _ => (original != admitted).then(|| path.to_owned()),
    }
}

#[test]
fn examples_parse_and_pass_the_crd_schemas() {
    let schemas: BTreeMap<String, CompiledSchema> = api::crds()
        .into_iter()
        .map(|(_, crd)| {
            let version = &crd.spec.versions[0];
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .expect("openAPIV3Schema");
            let compiled = CompiledSchema::compile(&serde_json::to_value(schema).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", crd.spec.names.kind));
            (crd.spec.names.kind.clone(), compiled)
        })
        .collect();

    let mut files = Vec::new();
    yaml_files(&root().join("deploy/examples"), &mut files);
    files.sort();
    assert!(
        files.iter().any(|f| f.ends_with("dev/20-tokens.yaml")),
        "dev/ examples are included"
    );

    let mut all = Vec::new();
    for file in &files {
        let shown = file.strip_prefix(root()).unwrap().display().to_string();
        let docs = documents(&std::fs::read_to_string(file).unwrap(), &shown);
        assert!(!docs.is_empty(), "{shown} holds no manifest");
        for doc in docs {
            let what = format!("{shown}: {} {}", kind(&doc), name(&doc));
            assert!(
                doc["apiVersion"].is_string() && doc["kind"].is_string() && !name(&doc).is_empty(),
                "{what}: every manifest has apiVersion, kind and metadata.name"
            );
            let typed = match kind(&doc) {
                "VideoSdkToken" => serde_json::from_value::<VideoSdkToken>(doc.clone())
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                "VideoSdkIssuer" => serde_json::from_value::<VideoSdkIssuer>(doc.clone())
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                "ClusterVideoSdkIssuer" => {
                    serde_json::from_value::<ClusterVideoSdkIssuer>(doc.clone())
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
                _ => {
                    all.push(doc);
                    continue;
                }
            };
            // Also through serde_yaml, as `sign -f` and the dev command read manifests.
            let yaml_typed = serde_yaml::to_string(&doc).unwrap();
            let via_yaml = match kind(&doc) {
                "VideoSdkToken" => serde_yaml::from_str::<VideoSdkToken>(&yaml_typed).map(|_| ()),
                "VideoSdkIssuer" => serde_yaml::from_str::<VideoSdkIssuer>(&yaml_typed).map(|_| ()),
                _ => serde_yaml::from_str::<ClusterVideoSdkIssuer>(&yaml_typed).map(|_| ()),
            };
            assert!(typed.is_ok(), "{what} does not deserialise: {typed:?}");
            assert!(
                via_yaml.is_ok(),
                "{what} does not deserialise from YAML: {via_yaml:?}"
            );
            assert_eq!(doc["apiVersion"], "videosdk.live/v1alpha1", "{what}");
            let mut admitted = doc.clone();
            let result = schemas[kind(&doc)].admit(&mut admitted, None);
            assert!(
                result.is_ok(),
                "{what} is refused by its CRD's schema: {}",
                result
                    .unwrap_err()
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            if let Some(field) = lost_field(&doc, &admitted, "") {
                panic!("{what}: the CRD schema prunes or changes {field} (misspelt or unknown?)");
            }
            all.push(doc);
        }
    }

    // What the examples must show, per issue 5.
    fn of_kind<'a>(all: &'a [Value], k: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        all.iter().filter(move |d| kind(d) == k)
    }
    assert!(
        of_kind(&all, "VideoSdkIssuer").count() >= 1,
        "a namespaced issuer"
    );
    assert!(
        of_kind(&all, "ClusterVideoSdkIssuer").any(|d| d["spec"]["namespaceSelector"].is_object()),
        "a cluster issuer with a namespaceSelector"
    );
    let tokens: Vec<&Value> = of_kind(&all, "VideoSdkToken").collect();
    assert!(
        tokens
            .iter()
            .any(|t| t["spec"]["roles"] == json!(["rtc"]) && t["spec"]["roomId"].is_string()),
        "a room-scoped participant token (rtc)"
    );
    assert!(
        tokens
            .iter()
            .any(|t| t["spec"]["roles"] == json!(["crawler"])),
        "a REST API token (crawler)"
    );
    // Every token's issuer is among the examples.
    for t in &tokens {
        let issuer_kind = t["spec"]["issuerRef"]["kind"]
            .as_str()
            .unwrap_or("VideoSdkIssuer");
        let issuer = t["spec"]["issuerRef"]["name"].as_str().unwrap();
        assert!(
            of_kind(&all, issuer_kind).any(|i| name(i) == issuer),
            "token {} names {issuer_kind} {issuer}, which no example defines",
            name(t)
        );
    }
    // A Deployment mounting a token's Secret read-only at /var/run/secrets/videosdk/token.
    let secret_names: BTreeSet<&str> = tokens
        .iter()
        .map(|t| t["spec"]["secretName"].as_str().unwrap_or_else(|| name(t)))
        .collect();
    let mounts = of_kind(&all, "Deployment").any(|d| {
        let pod = &d["spec"]["template"]["spec"];
        pod["volumes"].as_array().into_iter().flatten().any(|v| {
            let secret = v["secret"]["secretName"].as_str().unwrap_or_default();
            let file = v["secret"]["items"]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["key"] == "token"))
                .map(|i| i["path"].as_str().unwrap_or_default())
                .unwrap_or("token");
            secret_names.contains(secret)
                && pod["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|c| c["volumeMounts"].as_array().into_iter().flatten())
                    .any(|m| {
                        m["name"] == v["name"]
                            && m["readOnly"] == true
                            && m["subPath"].is_null()
                            && format!("{}/{file}", m["mountPath"].as_str().unwrap_or_default())
                                == "/var/run/secrets/videosdk/token"
                    })
        })
    });
    assert!(
        mounts,
        "a Deployment mounts a token's Secret read-only (no subPath: it would not be updated) at /var/run/secrets/videosdk/token"
    );
}

/// The custom resources of `deploy/examples/` (recursively), as the API server stores them
/// (schema defaults applied), with the file each comes from.
fn example_resources() -> Vec<(String, Value)> {
    let mut files = Vec::new();
    yaml_files(&root().join("deploy/examples"), &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let shown = file.strip_prefix(root()).unwrap().display().to_string();
        for mut doc in documents(&std::fs::read_to_string(&file).unwrap(), &shown) {
            if let Some((_, crd)) = api::crds()
                .into_iter()
                .find(|(_, crd)| crd.spec.names.kind == kind(&doc))
            {
                let schema = crd.spec.versions[0].schema.as_ref().unwrap();
                let schema = serde_json::to_value(schema.open_api_v3_schema.as_ref().unwrap());
                let compiled = CompiledSchema::compile(&schema.unwrap()).unwrap();
                // Refusals are reported by examples_parse_and_pass_the_crd_schemas.
                let _ = compiled.admit(&mut doc, None);
                out.push((shown.clone(), doc));
            }
        }
    }
    out
}

#[test]
fn example_tokens_are_within_their_issuers_policies() {
    let resources = example_resources();
    let namespace = |d: &Value| d["metadata"]["namespace"].as_str().map(str::to_owned);
    let mut checked = 0;
    for (file, doc) in resources.iter().filter(|(_, d)| kind(d) == "VideoSdkToken") {
        let token: VideoSdkToken = serde_json::from_value(doc.clone()).unwrap();
        let what = format!("{file}: VideoSdkToken {}", name(doc));
        let request = TokenRequest::from_spec(&token.spec)
            .unwrap_or_else(|e| panic!("{what} is not a valid request: {e}"));
        let issuer_kind = token.spec.issuer_ref.kind;
        let issuer_name = &token.spec.issuer_ref.name;
        let (policy, selector) = match issuer_kind {
            IssuerKind::VideoSdkIssuer => {
                // The issuer of the token's namespace (examples without one are applied together).
                let (_, issuer) = resources
                    .iter()
                    .find(|(_, d)| {
                        kind(d) == "VideoSdkIssuer"
                            && name(d) == issuer_name
                            && namespace(d) == namespace(doc)
                    })
                    .unwrap_or_else(|| panic!("{what}: no VideoSdkIssuer {issuer_name} in its namespace among the examples"));
                let issuer: VideoSdkIssuer = serde_json::from_value(issuer.clone()).unwrap();
                (issuer.spec.policy, None)
            }
            IssuerKind::ClusterVideoSdkIssuer => {
                let (_, issuer) = resources
                    .iter()
                    .find(|(_, d)| kind(d) == "ClusterVideoSdkIssuer" && name(d) == issuer_name)
                    .unwrap_or_else(|| {
                        panic!("{what}: no ClusterVideoSdkIssuer {issuer_name} among the examples")
                    });
                let issuer: ClusterVideoSdkIssuer = serde_json::from_value(issuer.clone()).unwrap();
                (issuer.spec.policy, issuer.spec.namespace_selector)
            }
        };
        policy::check_policy(&policy).unwrap_or_else(|e| panic!("{issuer_name}: {e}"));
        if let Some(violation) = policy::violation(&request, &policy, issuer_name) {
            panic!("{what} would be refused (PolicyViolation): {violation}");
        }
        if let Some(selector) = &selector {
            // The namespace the cluster issuer's instructions label.
            let labelled =
                BTreeMap::from([("videosdk.live/tokens".to_owned(), "enabled".to_owned())]);
            assert_eq!(
                policy::selector_matches(Some(selector), &labelled),
                Ok(true),
                "{what}: the cluster issuer must admit a namespace labelled as its comment says"
            );
            assert_eq!(
                policy::selector_matches(Some(selector), &BTreeMap::new()),
                Ok(false),
                "{what}: the cluster issuer's namespaceSelector admits unlabelled namespaces"
            );
        }
        checked += 1;
    }
    assert!(checked >= 4, "the example tokens were checked ({checked})");
}

// --- (d) RBAC in one place, least privilege --------------------------------------------------

/// Every (API group, resource, verb, scope) the operator is granted: what it uses, per the
/// code (and, once it exists, per the request-accounting test of issue 5).
const GRANTED: &[(&str, &str, &str, &str)] = &[
    // Token requests: the caller's bearer token and its grant on the issuer.
    ("authentication.k8s.io", "tokenreviews", "create", "cluster"),
    (
        "authorization.k8s.io",
        "subjectaccessreviews",
        "create",
        "cluster",
    ),
    ("videosdk.live", "videosdktokens", "list", "cluster"),
    ("videosdk.live", "videosdktokens", "watch", "cluster"),
    ("videosdk.live", "videosdkissuers", "list", "cluster"),
    ("videosdk.live", "videosdkissuers", "watch", "cluster"),
    ("videosdk.live", "clustervideosdkissuers", "list", "cluster"),
    (
        "videosdk.live",
        "clustervideosdkissuers",
        "watch",
        "cluster",
    ),
    ("videosdk.live", "videosdktokens/status", "patch", "cluster"),
    (
        "videosdk.live",
        "videosdkissuers/status",
        "patch",
        "cluster",
    ),
    (
        "videosdk.live",
        "clustervideosdkissuers/status",
        "patch",
        "cluster",
    ),
    ("", "secrets", "get", "cluster"),
    ("", "secrets", "list", "cluster"),
    ("", "secrets", "watch", "cluster"),
    ("", "secrets", "patch", "cluster"),
    ("", "secrets", "create", "cluster"),
    ("", "namespaces", "get", "cluster"),
    ("events.k8s.io", "events", "create", "cluster"),
    ("events.k8s.io", "events", "patch", "cluster"),
    ("coordination.k8s.io", "leases", "get", NAMESPACE),
    ("coordination.k8s.io", "leases", "create", NAMESPACE),
    ("coordination.k8s.io", "leases", "patch", NAMESPACE),
    ("apps", "deployments", "get", "cluster"),
    ("apps", "deployments", "patch", "cluster"),
    ("apps", "statefulsets", "get", "cluster"),
    ("apps", "statefulsets", "patch", "cluster"),
    ("apps", "daemonsets", "get", "cluster"),
    ("apps", "daemonsets", "patch", "cluster"),
];

/// Flattens RBAC rules into (group, resource, verb, scope), refusing wildcards and names.
fn flatten(rules: &Value, scope: &str, origin: &str) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules
        .as_array()
        .unwrap_or_else(|| panic!("{origin}: rules"))
    {
        assert!(
            rule["nonResourceURLs"].is_null() && rule["resourceNames"].is_null(),
            "{origin}: {rule}"
        );
        let list = |key: &str| -> Vec<String> {
            rule[key]
                .as_array()
                .unwrap_or_else(|| panic!("{origin}: {key} in {rule}"))
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        for group in list("apiGroups") {
            for resource in list("resources") {
                for verb in list("verbs") {
                    assert!(
                        !group.contains('*') && !resource.contains('*') && verb != "*",
                        "{origin}: wildcard in {rule}"
                    );
                    out.insert((group.clone(), resource.clone(), verb, scope.to_owned()));
                }
            }
        }
    }
    out
}

#[test]
fn rbac_rules_are_kept_in_one_place_and_grant_exactly_what_the_operator_uses() {
    // The files are complete RBAC objects, each rule preceded by the comment that says why.
    let mut files = BTreeMap::new();
    for file in RBAC_FILES {
        let path = format!("{CHART}/{file}");
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim_start().starts_with("- apiGroups") {
                assert!(
                    i > 0 && lines[i - 1].trim_start().starts_with('#'),
                    "{path}:{}: say why in a comment above each rule",
                    i + 1
                );
            }
        }
        let doc = documents(&text, &path).remove(0);
        files.insert(file, doc);
    }

    // The kustomize base applies them as they are...
    let kustomization = read("deploy/kustomization.yaml");
    for file in RBAC_FILES {
        let listed = format!("- helm/videosdk-token-operator/{file}");
        assert!(
            kustomization.lines().any(|l| l.trim() == listed),
            "deploy/kustomization.yaml must list {listed}"
        );
    }
    let base = assembled_base();
    let mut rendered = vec![assembled_base()];
    rendered.extend(kubectl_kustomize());
    for docs in &rendered {
        for doc in files.values() {
            let found = find(docs, kind(doc), name(doc));
            assert_eq!(found["rules"], doc["rules"], "{} {}", kind(doc), name(doc));
        }
        // ... and no other role grants anything.
        let roles = docs
            .iter()
            .filter(|d| kind(d) == "ClusterRole" || kind(d) == "Role")
            .count();
        assert_eq!(
            roles,
            RBAC_FILES.len() + AGGREGATE_FILES.len(),
            "RBAC roles outside {CHART}/files/"
        );
    }

    // The chart renders only the rules of the same files: rules are never written in a template.
    let rbac_template = read(format!("{CHART}/templates/rbac.yaml"));
    for file in RBAC_FILES {
        let include = format!(
            "{{{{- include \"videosdk-token-operator.rulesFrom\" (list \"{file}\" .) | nindent 2 }}}}"
        );
        assert!(
            rbac_template.contains(&include),
            "{CHART}/templates/rbac.yaml must take the rules of {file} with {include}"
        );
    }
    let guarded = rbac_template
        .split("{{- if .Values.rolloutRestarts.enabled }}")
        .nth(1)
        .expect("the rollout-restart RBAC is behind rolloutRestarts.enabled");
    assert!(guarded.contains("files/clusterrole-rollout.yaml"));
    assert!(
        !rbac_template
            .split("{{- if .Values.rolloutRestarts.enabled }}")
            .next()
            .unwrap()
            .contains("clusterrole-rollout")
    );
    for template in chart_templates() {
        let text = read(&template);
        assert!(
            !text.contains("apiGroups"),
            "{}: RBAC rules belong in {CHART}/files/, not in a template",
            template.display()
        );
    }

    // Least privilege: exactly this list.
    let mut granted = BTreeSet::new();
    for doc in files.values() {
        let scope = if kind(doc) == "Role" {
            find(&base, "Role", name(doc))["metadata"]["namespace"]
                .as_str()
                .unwrap()
                .to_owned()
        } else {
            "cluster".to_owned()
        };
        granted.extend(flatten(&doc["rules"], &scope, name(doc)));
    }
    let expected: BTreeSet<(String, String, String, String)> = GRANTED
        .iter()
        .map(|(g, r, v, s)| (g.to_string(), r.to_string(), v.to_string(), s.to_string()))
        .collect();
    assert_eq!(
        granted, expected,
        "the RBAC in {CHART}/files/ must grant exactly what the operator uses"
    );
}

/// The built-in ClusterRoles of kube-apiserver's bootstrap policy that aggregate others, with the
/// aggregation labels they carry themselves: `view` is aggregated into `edit`, `edit` into
/// `admin` (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`).
const BUILT_IN: [(&str, &[&str]); 3] = [("view", &["edit"]), ("edit", &["admin"]), ("admin", &[])];

/// A row of the README's table of aggregated roles: (ClusterRole, aggregated into, grants as
/// (resource, verb)).
type AggregateRow = (String, BTreeSet<String>, BTreeSet<(String, String)>);

/// The rows of the README's table of aggregated roles.
fn readme_aggregate_table() -> Vec<AggregateRow> {
    let readme = read("README.md");
    let table = readme
        .split("<!-- aggregated roles -->")
        .nth(1)
        .and_then(|t| t.split("<!-- end of aggregated roles -->").next())
        .expect("README.md has the table of aggregated roles between its markers");
    let words = |cell: &str| -> Vec<String> {
        cell.split(',')
            .map(|w| w.trim().trim_matches('`').to_owned())
            .filter(|w| !w.is_empty())
            .collect()
    };
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').collect();
            assert_eq!(cells.len(), 4, "README row {l}");
            let grants = words(cells[2])
                .into_iter()
                .flat_map(|r| words(cells[3]).into_iter().map(move |v| (r.clone(), v)))
                .collect();
            (
                words(cells[0]).remove(0),
                words(cells[1]).into_iter().collect(),
                grants,
            )
        })
        .collect()
}

#[test]
fn aggregated_cluster_roles_give_people_what_the_readme_says() {
    let table = readme_aggregate_table();
    assert_eq!(
        table.len(),
        AGGREGATE_FILES.len(),
        "one README row per role"
    );
    let mut roles = Vec::new();
    for file in AGGREGATE_FILES {
        let path = format!("{CHART}/{file}");
        let doc = documents(&read(&path), &path).remove(0);
        assert_eq!(kind(&doc), "ClusterRole", "{path}");
        let into: BTreeSet<String> = doc["metadata"]["labels"]
            .as_object()
            .expect("labels")
            .iter()
            .filter_map(|(k, v)| {
                let role = k.strip_prefix("rbac.authorization.k8s.io/aggregate-to-")?;
                assert_eq!(v, "true", "{path}: {k}");
                Some(role.to_owned())
            })
            .collect();
        let grants: BTreeSet<(String, String)> = flatten(&doc["rules"], "cluster", &path)
            .into_iter()
            .map(|(group, resource, verb, _)| {
                assert_eq!(group, "videosdk.live", "{path}: only the operator's kinds");
                (resource, verb)
            })
            .collect();
        let row = table
            .iter()
            .find(|(n, _, _)| n == name(&doc))
            .unwrap_or_else(|| panic!("README's table has no row for {}", name(&doc)));
        assert_eq!(&row.1, &into, "{path}: aggregated into");
        assert_eq!(&row.2, &grants, "{path}: rules");
        roles.push((into, grants));
    }

    // What each built-in role ends up with, following Kubernetes' aggregation (including view
    // into edit into admin).
    let effective = |built_in: &str| -> BTreeSet<(String, String)> {
        let mut members = BTreeSet::from([built_in.to_owned()]);
        loop {
            let more: BTreeSet<String> = BUILT_IN
                .iter()
                .filter(|(b, into)| {
                    into.iter().any(|i| members.contains(*i)) && !members.contains(*b)
                })
                .map(|(b, _)| b.to_string())
                .collect();
            if more.is_empty() {
                break;
            }
            members.extend(more);
        }
        roles
            .iter()
            .filter(|(into, _)| into.iter().any(|i| members.contains(i)))
            .flat_map(|(_, grants)| grants.iter().cloned())
            .collect()
    };
    let can = |role: &str, resource: &str, verb: &str| {
        effective(role).contains(&(resource.to_owned(), verb.to_owned()))
    };
    for role in ["view", "edit", "admin"] {
        assert!(can(role, "videosdktokens", "list"), "{role} lists tokens");
        assert!(can(role, "videosdkissuers", "get"), "{role} reads issuers");
        for verb in ["get", "list", "create", "patch"] {
            assert!(
                !can(role, "clustervideosdkissuers", verb),
                "{role} must not {verb} cluster issuers"
            );
        }
        assert!(
            effective(role).iter().all(|(r, _)| !r.contains("status")),
            "{role} must not write status (the operator's)"
        );
    }
    assert!(!can("view", "videosdktokens", "create"), "view only reads");
    assert!(
        can("edit", "videosdktokens", "create"),
        "edit creates tokens"
    );
    assert!(can("edit", "videosdktokens", "patch"), "edit renews tokens");
    assert!(
        !can("edit", "videosdkissuers", "create") && !can("edit", "videosdkissuers", "patch"),
        "edit must not write issuers (their policy)"
    );
    assert!(
        can("admin", "videosdkissuers", "create"),
        "admin writes issuers"
    );
    assert!(
        can("admin", "videosdktokens", "delete"),
        "admin includes edit"
    );

    // Both installs ship them; neither binds them to anyone.
    let kustomization = read("deploy/kustomization.yaml");
    let mut rendered = vec![assembled_base()];
    rendered.extend(kubectl_kustomize());
    for file in AGGREGATE_FILES {
        let listed = format!("- helm/videosdk-token-operator/{file}");
        assert!(
            kustomization.lines().any(|l| l.trim() == listed),
            "deploy/kustomization.yaml must list {listed}"
        );
        let doc = documents(&read(format!("{CHART}/{file}")), file).remove(0);
        for docs in &rendered {
            assert_eq!(find(docs, "ClusterRole", name(&doc))["rules"], doc["rules"]);
            assert!(
                !docs.iter().any(|d| d["roleRef"]["name"] == name(&doc)),
                "{} must not be bound: it is aggregated",
                name(&doc)
            );
        }
    }
    let template = read(format!("{CHART}/templates/rbac-aggregate.yaml"));
    assert!(
        template.contains("{{- if .Values.rbac.aggregateClusterRoles }}")
            && template.contains(r#"{{- range $role := list "view" "edit" "admin" }}"#)
            && template.contains(r#"printf "files/clusterrole-aggregate-%s.yaml" $role"#)
            && template.contains(r#"include "videosdk-token-operator.rulesFrom" (list $file $)"#),
        "the chart renders the aggregated roles from {CHART}/files/, behind rbac.aggregateClusterRoles"
    );
}

// --- the Helm chart, without Helm ------------------------------------------------------------

fn chart_templates() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join(CHART).join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
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
    assert_eq!(values["rolloutRestarts"]["enabled"], true);
    assert_eq!(values["podDisruptionBudget"]["minAvailable"], 1);

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
    for key in [
        "securityContext",
        "automountServiceAccountToken",
        "terminationGracePeriodSeconds",
    ] {
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

// --- documentation and the Dockerfile ------------------------------------------------------

/// Values that are one Kubernetes object each (documented as one), not a tree of values.
const OBJECT_VALUES: [&str; 3] = ["resources", "securityContext", "containerSecurityContext"];

/// Leaf paths of a values tree (`image.repository`, `serviceMonitor.labels`).
fn leaf_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
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

#[test]
fn dockerfile_builds_what_ci_builds_and_runs_as_nonroot() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("FROM rust:1-bookworm AS build"));
    assert!(dockerfile.contains("cargo build --release --locked --bin videosdk-token-operator"));
    assert!(dockerfile.contains("FROM gcr.io/distroless/cc-debian12:nonroot"));
    assert!(dockerfile.contains("USER 65532:65532"));
    // The dev command embeds deploy/examples/dev/ (include_str!): the build context needs it.
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    assert!(lines.contains(&"target/"));
    if lines.contains(&"deploy/") {
        assert!(
            lines.contains(&"!deploy/examples/dev/"),
            ".dockerignore must keep deploy/examples/dev/, which src/cli/dev.rs embeds"
        );
    }
}

// --- the chart's values schema, CRD templates and alerts ------------------------------------

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
        ("podDisruptionBudget.maxUnavailable", json!(1)),
        ("logFormat", json!("xml")),
        ("concurrency", json!(0)),
        ("image.digest", json!("latest")),
        ("extraArgs", json!("--lease-duration=30")),
        ("podLabels.team", json!(7)),
        ("serviceMonitor.interval", json!("30 seconds")),
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
    declared.retain(|p| p != "global");
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
    // The README says how to upgrade both ways.
    let readme = read("README.md");
    for needed in ["crds.enabled", "crds.keep", "helm.sh/resource-policy: keep"] {
        assert!(
            readme.contains(needed),
            "README.md does not explain {needed}"
        );
    }
}

#[test]
fn alerts_are_one_file_shown_in_the_readme_and_rendered_by_the_chart() {
    let file = read(format!("{CHART}/files/prometheus-alerts.yaml"));
    let rules = documents(&file, "prometheus-alerts.yaml").remove(0);
    let readme = read("README.md");
    let shown = readme
        .split("<!-- alerts: files/prometheus-alerts.yaml -->\n```yaml\n")
        .nth(1)
        .and_then(|t| t.split("```").next())
        .expect("README.md shows the alerts after <!-- alerts: files/prometheus-alerts.yaml -->");
    assert_eq!(
        documents(shown, "README.md's alerts"),
        vec![rules.clone()],
        "README.md's alerts differ from {CHART}/files/prometheus-alerts.yaml"
    );
    let names: Vec<&str> = rules["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["VideoSdkTokenExpiringSoon", "VideoSdkTokenNotReady"]
    );
    let template = read(format!("{CHART}/templates/prometheusrule.yaml"));
    assert!(template.contains("{{- if .Values.prometheusRule.enabled }}"));
    assert!(template.contains(
        r#"{{- toYaml (.Files.Get "files/prometheus-alerts.yaml" | fromYaml) | nindent 2 }}"#
    ));
}
