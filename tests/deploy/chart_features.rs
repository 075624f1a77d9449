//! What users of cert-manager's chart expect of this one, rendered by Helm's engine: `global.*`
//! values, the NetworkPolicy, the `helm test` Pod (restricted Pod Security), the Grafana dashboard
//! ConfigMap, and the Artifact Hub annotations of `Chart.yaml`.

use super::*;
use serde_json::json;
use std::collections::BTreeSet;
use videosdk_token_operator::api;

/// The chart rendered with `values`, or None (SKIPPED) without Helm's engine outside CI.
fn render(values: &Value) -> Option<Vec<Value>> {
    rbac_files::helm_template(NAME, NAMESPACE, values)
}

fn everything() -> Value {
    let path = format!("{CHART}/ci/everything-values.yaml");
    documents(&read(&path), &path).remove(0)
}

/// What the `restricted` Pod Security Standard refuses in a pod spec
/// (kubernetes.io/docs/concepts/security/pod-security-standards/, "Restricted"; kubelet and
/// admission: `staging/src/k8s.io/pod-security-admission/policy/`).
fn restricted_violations(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[host] == true {
            out.push(host.to_owned());
        }
    }
    let allowed_volumes = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        let kinds: Vec<&String> = volume
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "name")
            .collect();
        if !kinds.iter().all(|k| allowed_volumes.contains(&k.as_str())) {
            out.push(format!("volume {volume}"));
        }
    }
    let containers = pod["containers"]
        .as_array()
        .into_iter()
        .chain(pod["initContainers"].as_array())
        .flatten();
    for c in containers {
        let sc = &c["securityContext"];
        let name = c["name"].as_str().unwrap_or_default();
        let effective = |key: &str| {
            if sc[key].is_null() {
                pod["securityContext"][key].clone()
            } else {
                sc[key].clone()
            }
        };
        if sc["privileged"] == true {
            out.push(format!("{name}: privileged"));
        }
        if sc["allowPrivilegeEscalation"] != false {
            out.push(format!("{name}: allowPrivilegeEscalation must be false"));
        }
        if !sc["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.contains(&json!("ALL")))
        {
            out.push(format!("{name}: capabilities must drop ALL"));
        }
        if sc["capabilities"]["add"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c != "NET_BIND_SERVICE"))
        {
            out.push(format!("{name}: only NET_BIND_SERVICE may be added"));
        }
        if effective("runAsNonRoot") != true {
            out.push(format!("{name}: runAsNonRoot must be true"));
        }
        if effective("runAsUser") == 0 {
            out.push(format!("{name}: runAsUser 0"));
        }
        let seccomp = effective("seccompProfile");
        if !(seccomp["type"] == "RuntimeDefault" || seccomp["type"] == "Localhost") {
            out.push(format!(
                "{name}: seccompProfile must be RuntimeDefault or Localhost"
            ));
        }
    }
    out
}

#[test]
fn restricted_violations_finds_what_the_standard_refuses() {
    let pod = json!({"hostNetwork": true, "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
        "containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]});
    let found = restricted_violations(&pod).join("\n");
    for expected in [
        "hostNetwork",
        "hostPath",
        "allowPrivilegeEscalation",
        "drop ALL",
        "NET_BIND_SERVICE",
        "runAsNonRoot",
        "seccompProfile",
    ] {
        assert!(found.contains(expected), "{expected} not in {found}");
    }
}

#[test]
fn the_operator_and_the_test_pod_meet_the_restricted_pod_security_standard() {
    for values in [json!({}), everything()] {
        let Some(docs) = render(&values) else { return };
        let deployment = docs
            .iter()
            .find(|d| kind(d) == "Deployment")
            .expect("a Deployment");
        let test = docs
            .iter()
            .find(|d| kind(d) == "Pod" && d["metadata"]["annotations"]["helm.sh/hook"] == "test")
            .expect("the helm test Pod");
        for (what, pod) in [
            ("Deployment", &deployment["spec"]["template"]["spec"]),
            ("test Pod", &test["spec"]),
        ] {
            let violations = restricted_violations(pod);
            assert!(
                violations.is_empty(),
                "{what} with {values}: {violations:?}"
            );
        }
        // The test Pod asks the metrics Service's /readyz with the operator's image and `probe`,
        // holds no ServiceAccount token, and is selected by none of the chart's selectors.
        let c = &test["spec"]["containers"][0];
        assert_eq!(
            c["image"],
            deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        );
        let service = docs
            .iter()
            .find(|d| kind(d) == "Service" && name(d).ends_with("-metrics"))
            .expect("the metrics Service");
        assert_eq!(
            c["args"],
            json!([
                "probe",
                format!("http://{}.{NAMESPACE}.svc:8080/readyz", name(service))
            ])
        );
        assert_eq!(test["spec"]["automountServiceAccountToken"], false);
        for d in &docs {
            let selector = if kind(d) == "Service" {
                &d["spec"]["selector"]
            } else {
                &d["spec"]["selector"]["matchLabels"]
            };
            if let Some(selector) = selector.as_object() {
                assert!(
                    !selector
                        .iter()
                        .all(|(k, v)| &test["metadata"]["labels"][k] == v),
                    "{} {} selects the test Pod",
                    kind(d),
                    name(d)
                );
            }
        }
    }
}

#[test]
fn global_values_reach_every_object() {
    let values = everything();
    let Some(docs) = render(&values) else { return };
    for d in &docs {
        assert_eq!(
            d["metadata"]["labels"]["example.com/cost-center"],
            "video",
            "global.commonLabels on {} {}",
            kind(d),
            name(d)
        );
    }
    let pod = &docs.iter().find(|d| kind(d) == "Deployment").unwrap()["spec"]["template"]["spec"];
    assert_eq!(
        pod["imagePullSecrets"],
        json!([{"name": "global-registry-credentials"}, {"name": "registry-credentials"}])
    );
    assert_eq!(
        pod["priorityClassName"], "system-cluster-critical",
        "the chart's own value wins"
    );
    let Some(docs) = render(&json!({"global": {"priorityClassName": "global-priority"}})) else {
        return;
    };
    let pod = &docs.iter().find(|d| kind(d) == "Deployment").unwrap()["spec"]["template"]["spec"];
    assert_eq!(pod["priorityClassName"], "global-priority");
    assert!(pod["imagePullSecrets"].is_null());
    // The defaults render no NetworkPolicy, dashboard or ServiceMonitor.
    let Some(docs) = render(&json!({})) else {
        return;
    };
    let kinds: BTreeSet<&str> = docs.iter().map(kind).collect();
    for off in ["NetworkPolicy", "ConfigMap", "ServiceMonitor"] {
        assert!(!kinds.contains(off), "{off} is off by default");
    }
}

#[test]
fn the_network_policy_opens_the_operators_ports_and_its_way_to_the_api_server() {
    for (values, token_requests) in [
        (everything(), true),
        (json!({"networkPolicy": {"enabled": true}}), false),
    ] {
        let Some(docs) = render(&values) else { return };
        let policy = docs
            .iter()
            .find(|d| kind(d) == "NetworkPolicy")
            .expect("a NetworkPolicy");
        let pod = &docs.iter().find(|d| kind(d) == "Deployment").unwrap()["spec"]["template"];
        for (k, v) in policy["spec"]["podSelector"]["matchLabels"]
            .as_object()
            .unwrap()
        {
            assert_eq!(
                &pod["metadata"]["labels"][k], v,
                "it selects the operator's pods"
            );
        }
        let ports: BTreeSet<&str> = pod["spec"]["containers"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let ingress: BTreeSet<&str> = policy["spec"]["ingress"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|rule| rule["ports"].as_array().unwrap())
            .map(|p| p["port"].as_str().unwrap())
            .collect();
        assert_eq!(ingress, ports, "ingress to exactly the container's ports");
        assert_eq!(ingress.contains("token-requests"), token_requests);
        let egress: Vec<&Value> = policy["spec"]["egress"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|rule| rule["ports"].as_array().unwrap())
            .collect();
        for port in [json!(443), json!(6443), json!(53)] {
            assert!(egress.iter().any(|p| p["port"] == port), "egress to {port}");
        }
        assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    }
}

/// Whether a NetworkPolicyPeer (a podSelector's matchLabels, in the policy's namespace) selects a
/// pod with these labels.
fn peer_selects(peer: &Value, labels: &Value) -> bool {
    peer["namespaceSelector"].is_null()
        && peer["podSelector"]["matchLabels"]
            .as_object()
            .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| &labels[k] == v))
}

/// With `metricsFrom` set, the `helm test` Pod may still reach /readyz: the chart adds it as a
/// peer (and only when it renders that Pod); and what an empty `from` or `apiServerTo` opens is
/// said where a user reads it (NOTES.txt).
#[test]
fn the_network_policy_lets_the_test_pod_reach_readyz_and_notes_say_what_stays_open() {
    let prometheus = json!([{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]);
    for test in [true, false] {
        let values = json!({"networkPolicy": {"enabled": true, "metricsFrom": prometheus},
                            "test": {"enabled": test}});
        let Some(docs) = render(&values) else { return };
        let policy = docs.iter().find(|d| kind(d) == "NetworkPolicy").unwrap();
        let from = policy["spec"]["ingress"][0]["from"].as_array().unwrap();
        assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], "metrics");
        assert_eq!(from[0], prometheus[0], "metricsFrom comes first");
        let test_pod = docs
            .iter()
            .find(|d| kind(d) == "Pod" && name(d).ends_with("-test-readyz"));
        assert_eq!(test_pod.is_some(), test, "{values}");
        match test_pod {
            Some(pod) => assert!(
                from.iter()
                    .any(|peer| peer_selects(peer, &pod["metadata"]["labels"])),
                "{values}: no peer selects the test Pod: {from:?}"
            ),
            None => assert_eq!(from.len(), 1, "{values}: {from:?}"),
        }
        // The operator's own pods are not made peers by it.
        let operator = &find(&docs, "Deployment", NAME)["spec"]["template"]["metadata"]["labels"];
        assert!(
            !from.iter().any(|peer| peer_selects(peer, operator)),
            "{values}"
        );
    }

    let notes = |values: Value| -> Option<String> {
        let files = rbac_files::helm_rendered_files(NAME, NAMESPACE, &values)?.unwrap();
        Some(
            files
                .into_iter()
                .find(|(path, _)| path.ends_with("/NOTES.txt"))
                .expect("NOTES.txt")
                .1,
        )
    };
    let Some(open) = notes(json!({"networkPolicy": {"enabled": true}})) else {
        return;
    };
    assert!(
        open.contains("WARNING: networkPolicy.apiServerTo is empty")
            && open.contains("ports 443, 6443 to any address, in the cluster or outside it")
            && open.contains("networkPolicy.metricsFrom is empty: any source"),
        "{open}"
    );
    let held = notes(json!({"networkPolicy": {"enabled": true,
        "apiServerTo": [{"ipBlock": {"cidr": "10.0.0.1/32"}}], "metricsFrom": prometheus}}))
    .unwrap();
    assert!(
        !held.contains("apiServerTo is empty") && !held.contains("metricsFrom is empty"),
        "{held}"
    );
    let off = notes(json!({})).unwrap();
    assert!(!off.contains("networkPolicy"), "{off}");
}

#[test]
fn the_grafana_dashboard_configmap_holds_the_dashboard_for_the_sidecar() {
    let dashboard = "deploy/grafana/videosdk-token-operator.json";
    let copy = format!("{CHART}/files/grafana-dashboard.json");
    assert!(
        read(dashboard) == read(&copy),
        "{copy} differs from {dashboard}: cp {dashboard} {copy}"
    );
    let Some(docs) = render(&json!({"grafanaDashboard": {"enabled": true}})) else {
        return;
    };
    let map = docs
        .iter()
        .find(|d| kind(d) == "ConfigMap")
        .expect("the dashboard ConfigMap");
    assert_eq!(map["metadata"]["labels"]["grafana_dashboard"], "1");
    let json: Value = serde_json::from_str(
        map["data"]["videosdk-token-operator.json"]
            .as_str()
            .unwrap(),
    )
    .expect("the ConfigMap holds JSON");
    assert_eq!(
        json,
        serde_json::from_str::<Value>(&read(dashboard)).unwrap()
    );
}

#[test]
fn artifact_hub_annotations_say_what_the_chart_installs() {
    let chart = documents(&read(format!("{CHART}/Chart.yaml")), "Chart.yaml").remove(0);
    let annotation = |key: &str| -> Value {
        let text = chart["annotations"][key]
            .as_str()
            .unwrap_or_else(|| panic!("Chart.yaml lacks the annotation {key}"));
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{key} is not YAML: {e}"))
    };
    for key in ["home", "sources", "icon", "maintainers"] {
        assert!(!chart[key].is_null(), "Chart.yaml lacks {key}");
    }
    assert_eq!(chart["annotations"]["artifacthub.io/operator"], "true");
    assert_eq!(chart["annotations"]["artifacthub.io/license"], "Apache-2.0");
    // The CRDs: every one the chart installs, by name, kind and version.
    let listed: BTreeSet<(String, String, String)> = annotation("artifacthub.io/crds")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["kind"].as_str().unwrap().to_owned(),
                c["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let crds: BTreeSet<(String, String, String)> = api::crds()
        .into_iter()
        .map(|(_, crd)| {
            (
                crd.metadata.name.unwrap(),
                crd.spec.names.kind,
                crd.spec.versions[0].name.clone(),
            )
        })
        .collect();
    assert_eq!(listed, crds, "artifacthub.io/crds");
    // One example of each kind (tests/deploy/helm.rs validates them against the CRDs).
    let examples = annotation("artifacthub.io/crdsExamples");
    let kinds: BTreeSet<String> = examples
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, crds.iter().map(|(_, k, _)| k.clone()).collect());
    // The image: what the chart runs by default.
    let image = &annotation("artifacthub.io/images")[0]["image"];
    let values = documents(&read(format!("{CHART}/values.yaml")), "values.yaml").remove(0);
    assert_eq!(
        image.as_str().unwrap(),
        format!(
            "{}:{}",
            values["image"]["repository"].as_str().unwrap(),
            chart["appVersion"].as_str().unwrap()
        )
    );
    for key in ["artifacthub.io/links", "artifacthub.io/changes"] {
        assert!(
            annotation(key).as_array().is_some_and(|a| !a.is_empty()),
            "{key}"
        );
    }
    // Every breaking change of the CHANGELOG's unreleased section is one Artifact Hub shows.
    let changelog = read("CHANGELOG.md");
    let unreleased = changelog
        .split_once("## [Unreleased]")
        .and_then(|(_, rest)| rest.split("\n## [").next())
        .expect("CHANGELOG.md has an Unreleased section");
    let breaking = unreleased.matches("\n- **Breaking**").count();
    let shown = annotation("artifacthub.io/changes")
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            ["changed", "removed"].contains(&c["kind"].as_str().unwrap_or_default())
                && c["description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("Breaking: "))
        })
        .count();
    assert_eq!(
        shown, breaking,
        "artifacthub.io/changes has {shown} breaking changes, the CHANGELOG's Unreleased {breaking}"
    );
}

/// The examples of Artifact Hub's `crdsExamples`, for tests/deploy/helm.rs to validate.
pub(crate) fn crds_examples() -> Vec<Value> {
    let chart = documents(&read(format!("{CHART}/Chart.yaml")), "Chart.yaml").remove(0);
    serde_yaml::from_str(
        chart["annotations"]["artifacthub.io/crdsExamples"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}
