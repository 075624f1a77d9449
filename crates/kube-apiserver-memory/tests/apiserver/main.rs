//! Conformance tests of the in-memory API server: each asserts what kube-apiserver answers.
//!
//! They run against a fresh in-memory server, or, when `VIDEOSDK_E2E_KUBECONFIG` names a
//! kubeconfig, against that real cluster (except the tests that need fault injection or the
//! server's own knobs, which say so). `cargo test -p kube-apiserver-memory --test apiserver`.

mod apply;
mod builtins;
mod controller;
mod crds;
mod delete;
mod discovery;
mod faults;
mod harness;
mod kubectl;
mod metadata;
mod namespaces;
mod reviews;
mod verbs;
mod watch;

pub use e2e_support::cluster::{TestCluster, WAIT, wait_for};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::core::Status;
use serde_json::{Value, json};

pub const GROUP: &str = "conformance.videosdk.live";

/// A test CRD: `kind` in `plural.conformance.videosdk.live/v1`.
pub fn test_crd(
    plural: &str,
    kind: &str,
    namespaced: bool,
    status: bool,
) -> CustomResourceDefinition {
    let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    let mut version = json!({
        "name": "v1", "served": true, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": open, "status": open}}}
    });
    if status {
        version["subresources"] = json!({"status": {}});
    }
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{GROUP}")},
        "spec": {
            "group": GROUP,
            "scope": if namespaced { "Namespaced" } else { "Cluster" },
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "listKind": format!("{kind}List"), "shortNames": [format!("{}x", &plural[..2])]},
            "versions": [version]
        }
    }))
    .expect("a valid CRD")
}

pub fn resource(plural: &str, kind: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, "v1", kind), plural)
}

/// Namespaced `Widget`s with a status subresource.
pub async fn widgets(t: &TestCluster) -> Api<DynamicObject> {
    t.apply_crds(&[test_crd("widgets", "Widget", true, true)])
        .await;
    Api::namespaced_with(
        t.client.clone(),
        &t.namespace,
        &resource("widgets", "Widget"),
    )
}

/// Cluster-scoped `Gadget`s without a status subresource.
pub async fn gadgets(t: &TestCluster) -> Api<DynamicObject> {
    t.apply_crds(&[test_crd("gadgets", "Gadget", false, false)])
        .await;
    Api::all_with(t.client.clone(), &resource("gadgets", "Gadget"))
}

pub fn widget(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": format!("{GROUP}/v1"), "kind": "Widget",
        "metadata": {"name": name}, "spec": spec
    }))
    .expect("a widget")
}

/// The API error of a failed request, or a panic naming what happened instead.
pub fn api_error<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> Status {
    match r {
        Err(kube::Error::Api(e)) => *e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub fn rv(meta: &kube::api::ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .expect("stored objects have a resourceVersion")
        .parse()
        .expect("resourceVersions of this server are numbers")
}
