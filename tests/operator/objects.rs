//! The objects the operator tests apply, as JSON manifests (untyped, so that a test can also
//! build what the API server must refuse): one set of builders for every test. [`Env`]'s
//! `credentials`, `issuer` and `token` apply them; the bad-input matrix describes its objects as
//! changes ([`merged`]) to the valid ones built here.
//!
//! [`Env`]: super::Env

use super::API_KEY;
use serde_json::{Value, json};

const API_VERSION: &str = "videosdk.live/v1alpha1";

/// The spec of a valid token: from VideoSdkIssuer `good`, permission `allow_join`.
pub fn valid_token_spec() -> Value {
    json!({"issuerRef": {"name": "good"}, "permissions": ["allow_join"]})
}

/// The spec of a valid issuer (VideoSdkIssuer or ClusterVideoSdkIssuer) reading its credentials
/// from Secret `credentials`, with no policy.
pub fn issuer_spec(credentials: &str) -> Value {
    json!({"credentialsSecretRef": {"name": credentials}})
}

/// A VideoSdkToken named `name` with `spec`.
pub fn token(name: &str, spec: Value) -> Value {
    custom_resource("VideoSdkToken", name, spec)
}

/// A VideoSdkIssuer named `name` with `spec`.
pub fn issuer(name: &str, spec: Value) -> Value {
    custom_resource("VideoSdkIssuer", name, spec)
}

/// A ClusterVideoSdkIssuer named `name` with `spec`.
pub fn cluster_issuer(name: &str, spec: Value) -> Value {
    custom_resource("ClusterVideoSdkIssuer", name, spec)
}

fn custom_resource(kind: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec})
}

/// A Secret named `name` with `content`: its `stringData` and/or `data` (base64 values), as
/// Kubernetes takes them; `{}` for a Secret with no data at all.
pub fn secret(name: &str, content: Value) -> Value {
    merged(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}),
        content,
    )
}

/// A credentials Secret named `name` with the tests' API key and `secret` under the default keys
/// (`apiKey`, `secret`).
pub fn credentials(name: &str, secret_value: &str) -> Value {
    secret(
        name,
        json!({"stringData": {"apiKey": API_KEY, "secret": secret_value}}),
    )
}

/// A Namespace named `name`.
pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// `object` in namespace `namespace` (rather than the test's).
pub fn in_namespace(mut object: Value, namespace: &str) -> Value {
    object["metadata"]["namespace"] = json!(namespace);
    object
}

/// `base` with the top-level fields of `changes`: a field of `changes` replaces `base`'s, a
/// `null` removes it.
pub fn merged(base: Value, changes: Value) -> Value {
    let mut out = base.as_object().cloned().unwrap_or_default();
    for (k, v) in changes.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            out.remove(&k);
        } else {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}
