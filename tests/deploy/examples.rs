//! Every example under `deploy/examples/` parses, each custom resource in them deserialises into
//! the crate's types and passes its CRD's schema as the API server would admit it, with no field
//! the schema does not know; each example token is a valid request within its example issuer's
//! policy (and the cluster issuer's namespaceSelector admits what its comment says).

use super::*;
use kube_apiserver_memory::schema::CompiledSchema;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use videosdk_token_operator::api::{
    self, ClusterVideoSdkIssuer, IssuerKind, VideoSdkIssuer, VideoSdkToken,
};
use videosdk_token_operator::rules::policy;
use videosdk_token_operator::token::{self, TokenRequest};

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
        // With the operator's default --max-ttl, as the examples are installed.
        if let Some(violation) =
            policy::violation(&request, &policy, issuer_name, token::DEFAULT_MAX_TTL)
        {
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
