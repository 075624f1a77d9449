//! `VideoSdkIssuer` and `ClusterVideoSdkIssuer`: the VideoSDK API key and secret that sign
//! tokens, and the policy for using them, as cert-manager's Issuer and ClusterIssuer hold a CA.

use super::shared::{
    DURATION_MAX_LENGTH, DURATION_SYNTAX_MESSAGE, Permission, Role, go_duration_regex,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

fn default_api_key_key() -> String {
    "apiKey".to_owned()
}

fn default_secret_key() -> String {
    "secret".to_owned()
}

/// A Secret holding a VideoSDK API key and secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialsSecretRef {
    /// Name of the Secret. A VideoSdkIssuer reads it from its own namespace; a
    /// ClusterVideoSdkIssuer from the operator's cluster resource namespace.
    #[schemars(length(min = 1, max = 253))]
    pub(crate) name: String,
    /// Key of the Secret that holds the VideoSDK API key. Default `apiKey`.
    #[serde(default = "default_api_key_key")]
    #[schemars(length(min = 1, max = 253))]
    pub(crate) api_key_key: String,
    /// Key of the Secret that holds the VideoSDK API secret. Default `secret`.
    #[serde(default = "default_secret_key")]
    #[schemars(length(min = 1, max = 253))]
    pub(crate) secret_key: String,
}

/// What tokens signed by an issuer may ask for. Unset fields allow everything.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IssuerPolicy {
    /// Longest ttl a token may ask for (Go duration syntax, e.g. `168h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = DURATION_MAX_LENGTH))]
    #[x_kube(
        validation = Rule::new(concat!("self.matches('", go_duration_regex!(), "')")).message(DURATION_SYNTAX_MESSAGE),
        validation = Rule::new(concat!("!self.matches('", go_duration_regex!(), "') || duration(self) > duration('0s')"))
            .message("maxTtl must be longer than 0s"),
    )]
    pub(crate) max_ttl: Option<String>,
    /// Permissions tokens may carry; a token asking for another one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub(crate) allowed_permissions: Option<Vec<Permission>>,
    /// Roles tokens may carry; a token asking for another one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub(crate) allowed_roles: Option<Vec<Role>>,
}

/// Desired state of a namespaced issuer.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "videosdk.live",
    version = "v1alpha1",
    kind = "VideoSdkIssuer",
    namespaced,
    status = "IssuerStatus",
    shortname = "vsi",
    category = "videosdk",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    // Why an issuer is not Ready (a missing key, a bad value) in the default view, the message in
    // `-o wide` (priority 1), as `kubectl get videosdktokens` and cert-manager's Issuer show them.
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Message","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    doc = "Signs VideoSdkTokens of its own namespace with a VideoSDK API key and secret read from a Secret of that namespace."
)]
#[serde(rename_all = "camelCase")]
pub struct VideoSdkIssuerSpec {
    /// The Secret, in this issuer's namespace, with the VideoSDK API key and secret.
    pub(crate) credentials_secret_ref: CredentialsSecretRef,
    /// Limits on the tokens this issuer signs.
    #[serde(flatten)]
    pub policy: IssuerPolicy,
}

/// Desired state of a cluster-wide issuer.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "videosdk.live",
    version = "v1alpha1",
    kind = "ClusterVideoSdkIssuer",
    status = "IssuerStatus",
    shortname = "cvsi",
    category = "videosdk",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Message","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    doc = "Signs VideoSdkTokens of any namespace its namespaceSelector admits, with a VideoSDK API key and secret read from a Secret in the operator's cluster resource namespace."
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVideoSdkIssuerSpec {
    /// The Secret, in the operator's cluster resource namespace (flag
    /// `--cluster-resource-namespace`), with the VideoSDK API key and secret.
    pub(crate) credentials_secret_ref: CredentialsSecretRef,
    /// Limits on the tokens this issuer signs.
    #[serde(flatten)]
    pub policy: IssuerPolicy,
    /// Namespaces whose tokens may use this issuer. Unset admits every namespace; an empty
    /// selector (`{}`) does too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
}

/// Observed state of an issuer.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {}))]
pub struct IssuerStatus {
    /// The `metadata.generation` this status describes. The API server shows 0 until the
    /// operator first writes the status (a schema default), so that a new issuer reads as not
    /// yet reconciled (kstatus: InProgress) rather than done.
    #[serde(default)]
    #[schemars(extend("default" = 0))]
    pub(crate) observed_generation: i64,
    /// `Ready` is True when the credentials Secret exists and holds a well-formed API key and
    /// secret; otherwise its reason (`SecretNotFound`, `KeyMissing`, ...) says what is wrong.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// First 8 hex digits of the SHA-256 of the API key, to tell which key is in use without
    /// revealing it. The secret is never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api_key_fingerprint: Option<String>,
    /// ClusterVideoSdkIssuer only: the cluster resource namespace of the installation that
    /// wrote this status (where it read the credentials Secret). Another installation, with
    /// another cluster resource namespace, leaves such a status alone and reports
    /// `ConflictingInstallation` rather than rewriting it in turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_resource_namespace: Option<String>,
}
