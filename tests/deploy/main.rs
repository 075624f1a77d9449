//! The deployment artefacts of `deploy/` and the `Dockerfile`, checked without a cluster, one
//! module per subject:
//!
//! - [`kustomize`]: the kustomize base holds the CRDs, the namespace, RBAC, a Deployment with two
//!   replicas, probes and every security setting, the metrics Service and the
//!   PodDisruptionBudget (checked on the files it lists and, where `kubectl` is installed, on
//!   `kubectl kustomize deploy/`); every object of the base and of each component carries the
//!   base's labels, by which the book's move to Helm deletes them;
//! - [`chart`]: the Helm chart's `files/crds/` is a byte-for-byte copy of `crds/`, rendered by its
//!   CRD template behind `crds.enabled` with `crds.keep`; templates parse as YAML once their
//!   actions are stripped, every `.Values` path they use exists, the Deployment's probes and
//!   security settings equal the kustomize base's; the PodDisruptionBudget lets a drain proceed;
//! - [`helm`]: the chart through Helm v4's engine: linted, rendered and validated against the
//!   Kubernetes 1.28 schemas with each values file of its `ci/`, installed and uninstalled on the
//!   in-memory API server, and the book's moves between kustomize and Helm (with every
//!   component);
//! - [`values`]: `values.schema.json` accepts `values.yaml` and refuses misspelt values;
//!   the book's Helm page (`docs/src/install/helm.md`) documents every chart value;
//! - [`rbac`]: the RBAC rules live in one place (`deploy/helm/videosdk-token-operator/files/`),
//!   one file per group of rights, which the kustomize base applies and the chart's templates
//!   read; each install mode (the chart rendered with Helm v4's engine, `helm-python-sdk`, per
//!   configuration; the kustomize base with and without its rollout-restarts component) binds
//!   exactly the groups it uses; the aggregated ClusterRoles grant what the book's table says;
//! - [`examples`]: every example under `deploy/examples/` parses, each custom resource in them
//!   deserialises into the crate's types and passes its CRD's schema as the API server would
//!   admit it, with no field the schema does not know; each example token is a valid request
//!   within its example issuer's policy (and the cluster issuer's namespaceSelector admits what
//!   its comment says);
//! - [`alerts`]: the alerts are one file that the book shows and the chart's PrometheusRule
//!   reads;
//! - [`chart_features`], [`chart_readme`]: what users of cert-manager's chart expect (global
//!   values, NetworkPolicy, the `helm test` Pod, the dashboard ConfigMap, Artifact Hub metadata)
//!   and the chart's README, generated from `values.yaml`;
//! - [`krew`]: the krew manifest template of the `kubectl videosdk` plugin and the release steps;
//! - [`argocd`]: Argo CD's health checks under `deploy/argocd/` give each status the operator
//!   writes its health, run in a Lua 5.1 interpreter; the book's `argocd-cm` snippet is them;
//! - [`dockerfile`]: the `Dockerfile` builds what CI builds and runs as non-root.
//!
//! `cargo test --test deploy`.

// A test or benchmark binary exports nothing: its `pub` items are shared between its own
// modules, and are not the crate's public API that `missing_docs` is about.
#![allow(unreachable_pub, missing_docs)]

mod alerts;
mod argocd;
mod chart;
mod chart_features;
mod chart_readme;
mod dockerfile;
mod examples;
mod helm;
mod krew;
mod kustomize;
mod rbac;
mod values;

use e2e_support::rbac as rbac_files;

use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

const NAMESPACE: &str = "videosdk-system";
const NAME: &str = "videosdk-token-operator";
const CHART: &str = "deploy/helm/videosdk-token-operator";

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

/// The text of the book's page `page` (a path under `docs/src/`, the mdBook) between the first
/// `start` and the next `end`, if both are there.
fn page_between(page: &str, start: &str, end: &str) -> Option<String> {
    let text = read(format!("docs/src/{page}"));
    let (_, rest) = text.split_once(start)?;
    let (inside, _) = rest.split_once(end)?;
    Some(inside.to_owned())
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
