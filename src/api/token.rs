//! `VideoSdkToken`: one VideoSDK access token, kept signed and fresh in a Secret.

use super::shared::{DURATION_MAX_LENGTH, ID_MAX_LENGTH, NAME_MAX_LENGTH, Permission, Role};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Annotation on a `VideoSdkToken` that forces a re-sign whenever its value changes, as
/// `kubectl annotate vst NAME videosdk.live/renew-now="$(date +%s)" --overwrite` does.
pub const RENEW_NOW_ANNOTATION: &str = "videosdk.live/renew-now";

/// CEL: the value has no Unicode control character (category Cc: U+0000–U+001F, U+007F–U+009F),
/// as `token::RequestError::ControlCharacter` says for specs that bypassed admission.
const CONTROL_CHARACTER_RULE: &str = r"!self.matches('\\p{Cc}')";
/// The message of [`CONTROL_CHARACTER_RULE`].
const CONTROL_CHARACTER_MESSAGE: &str =
    "must not contain control characters (U+0000-U+001F, U+007F-U+009F): use printable text";

fn default_ttl() -> String {
    "24h".to_owned()
}

/// Desired state of a VideoSDK access token: what it grants, how long it lives, where it is kept.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "videosdk.live",
    version = "v1alpha1",
    kind = "VideoSdkToken",
    namespaced,
    status = "VideoSdkTokenStatus",
    shortname = "vst",
    category = "videosdk",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    // Why a token is not Ready, in the default view; the issuer and the full message in
    // `-o wide` (priority 1), as cert-manager's Certificate shows Issuer and Status.
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Secret","type":"string","jsonPath":".status.secretName"}"#,
    printcolumn = r#"{"name":"Issuer","type":"string","jsonPath":".spec.issuerRef.name","priority":1}"#,
    // `string`, not `date`: a date column shows an age, and for a future time "<invalid>".
    printcolumn = r#"{"name":"Expires","type":"string","jsonPath":".status.notAfter"}"#,
    printcolumn = r#"{"name":"Renews","type":"string","jsonPath":".status.renewalTime"}"#,
    printcolumn = r#"{"name":"Message","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    doc = "A VideoSDK access token that the operator signs with an issuer's credentials, writes into a Secret (key `token`) and re-signs before it expires."
)]
#[serde(rename_all = "camelCase")]
// The lifetime fields' rules: one per field, with a messageExpression (see `lifetime_rules`).
#[schemars(extend("x-kubernetes-validations" = super::lifetime_rules::spec_rules()))]
pub struct VideoSdkTokenSpec {
    /// The issuer whose credentials sign this token. It must be a `VideoSdkIssuer` in this
    /// namespace or a `ClusterVideoSdkIssuer` whose namespaceSelector admits this namespace.
    pub issuer_ref: IssuerRef,

    /// What the holder may do: `allow_join` (joins directly), `ask_join` (must be admitted by a
    /// participant holding `allow_join`), `allow_mod` (may moderate others). At least one, no
    /// duplicates.
    #[schemars(length(min = 1), extend("x-kubernetes-list-type" = "set"))]
    pub permissions: Vec<Permission>,

    /// VideoSDK v2 roles: `rtc` (may only join meetings and rooms) and/or `crawler` (may only
    /// call the v2 REST API). Setting roles, roomId or participantId makes a v2 token
    /// (claim `version: 2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub roles: Option<Vec<Role>>,

    /// Restricts the token to one meeting/room (v2 claim `roomId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = ID_MAX_LENGTH))]
    #[x_kube(validation = Rule::new(CONTROL_CHARACTER_RULE).message(CONTROL_CHARACTER_MESSAGE))]
    pub room_id: Option<String>,

    /// Binds the token to one participant id (v2 claim `participantId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = ID_MAX_LENGTH))]
    #[x_kube(validation = Rule::new(CONTROL_CHARACTER_RULE).message(CONTROL_CHARACTER_MESSAGE))]
    pub participant_id: Option<String>,

    /// Lifetime of each signed token, in Go duration syntax (`24h`, `90m`, `1h30m`).
    /// At least `2m10s` (`6m` without renewBefore: the renew window must be at least `2m`), at
    /// most `8760h`; the operator's `--max-ttl` (default `720h`) and the
    /// issuer's `maxTtl` may cap it lower. Default `24h`.
    #[serde(default = "default_ttl")]
    #[schemars(length(max = DURATION_MAX_LENGTH))]
    pub ttl: String,

    /// Re-sign this long before expiry (Go duration syntax, at least `2m`, shorter than ttl by
    /// 10s or more). Mutually exclusive with renewBeforePercentage. When neither is set the token
    /// is re-signed when a third of its lifetime is left, as cert-manager does for certificates.
    /// The renew window, however set, must be at least `2m` (the operator's
    /// `--min-renew-before` may ask for more): pods that mount the Secret see a new token only
    /// when the kubelet next syncs them, up to 90s later, and the old one must last until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = DURATION_MAX_LENGTH))]
    pub renew_before: Option<String>,

    /// Re-sign when this percentage (1-99) of the lifetime is left; `ttl × percentage / 100`
    /// must be at least `2m`. Mutually exclusive with renewBefore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 99))]
    pub renew_before_percentage: Option<i32>,

    /// Name of the Secret (in this namespace) that receives the token under key `token`.
    /// Default: the name of this VideoSdkToken. A Secret of that name that this operator did not
    /// create is never overwritten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 253),
        pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub secret_name: Option<String>,

    /// Extra labels and annotations for the Secret. Changing them updates the Secret without
    /// re-signing the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_template: Option<SecretTemplate>,

    /// Workloads in this namespace whose pods read the token once, at start (from environment
    /// variables), and so must be restarted when it is re-signed. After a re-sign the operator
    /// restarts them as `kubectl rollout restart` does; re-signs within a short window restart
    /// once, and a workload is restarted for this token at most once every 5 minutes (its
    /// annotation `videosdk.live/min-restart-interval` sets another interval, 0s to 168h). Only a
    /// workload that consents is restarted: its own annotation
    /// `videosdk.live/restart-on-renewal` lists this token's name (comma-separated); any other
    /// gets a Warning Event and is left untouched. Pods that mount the Secret as a file need no
    /// restart: the kubelet updates the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub rollout_restart_targets: Vec<RolloutRestartTarget>,
}

/// A workload to restart after a re-sign.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RolloutRestartTarget {
    /// `Deployment`, `StatefulSet` or `DaemonSet`.
    pub(crate) kind: WorkloadKind,
    /// Name of the workload, in the token's namespace: a DNS-1123 subdomain (lowercase letters,
    /// digits, `-` and `.`, at most 253 characters), as every Deployment, StatefulSet and
    /// DaemonSet name is. The workload must consent with the annotation
    /// `videosdk.live/restart-on-renewal` naming this token.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(
        validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')")
            .message("must be a workload name: a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)")
    )]
    pub(crate) name: String,
}

/// The kinds of workload that can be restarted.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum WorkloadKind {
    /// An `apps/v1` Deployment.
    Deployment,
    /// An `apps/v1` StatefulSet.
    StatefulSet,
    /// An `apps/v1` DaemonSet.
    DaemonSet,
}

/// Which issuer signs a token.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Name of the issuer.
    #[schemars(length(min = 1, max = NAME_MAX_LENGTH))]
    pub name: String,
    /// Kind of the issuer: `VideoSdkIssuer` (same namespace, the default) or
    /// `ClusterVideoSdkIssuer`.
    #[serde(default)]
    pub kind: IssuerKind,
}

/// The two kinds of issuer.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash,
)]
pub enum IssuerKind {
    /// A `VideoSdkIssuer` in the token's namespace.
    #[default]
    VideoSdkIssuer,
    /// A cluster-scoped `ClusterVideoSdkIssuer`.
    ClusterVideoSdkIssuer,
}

impl IssuerKind {
    /// The kind's name, as in `issuerRef.kind` (and the `issuer_kind` metric label).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IssuerKind::VideoSdkIssuer => "VideoSdkIssuer",
            IssuerKind::ClusterVideoSdkIssuer => "ClusterVideoSdkIssuer",
        }
    }
}

/// Most labels, and most annotations, a `secretTemplate` may hold.
pub(crate) const SECRET_TEMPLATE_MAX_ENTRIES: u32 = 32;

/// The characters (keys and values together) a `secretTemplate`'s annotations may hold. A macro
/// for the CEL rule's `concat!`: 16 KiB of ASCII, at most 64 KiB in UTF-8, a quarter of
/// Kubernetes' 256 KiB for all of an object's annotations (`TotalAnnotationSizeLimitB`).
macro_rules! secret_template_max_annotations_size {
    () => {
        16384
    };
}

/// CEL on a key `k`: a Kubernetes qualified name (`IsQualifiedName`): an optional prefix, a
/// DNS-1123 subdomain of at most 253 characters, and `/`, then a name of at most 63 characters
/// of `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`. `[.]` rather than `\.`, which CEL string
/// literals do not allow.
macro_rules! qualified_name_rule {
    () => {
        "k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && k.matches('^[^/]{0,253}(/|$)')"
    };
}

/// What [`qualified_name_rule`] asks for, in words.
macro_rules! qualified_name_message {
    () => {
        "an optional prefix (a lowercase DNS subdomain of at most 253 characters) and '/', then a name of 1 to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
    };
}

/// CEL on a key `k`: under the operator's own prefix, whose annotations and labels it reads
/// back (`videosdk.live/renew-now-handled`, `videosdk.live/token-uid`, ...): a template must not
/// preset them.
macro_rules! reserved_key_rule {
    () => {
        "k.startsWith('videosdk.live/')"
    };
}

/// Metadata copied onto the Secret.
///
/// Bounded at admission so that a tenant cannot make the operator write (and re-write at every
/// re-sign) a Secret near etcd's object limit: at most [`SECRET_TEMPLATE_MAX_ENTRIES`] labels and
/// as many annotations, annotations of at most 16,384
/// characters in all (keys and values; Kubernetes allows 256 KiB, a token's Secret needs a few
/// hundred bytes). Keys and label values are checked as Kubernetes checks them on the Secret
/// (`IsQualifiedName`, `IsValidLabelValue` in k8s.io/apimachinery), so that a template the CRD
/// admits is one the API server accepts; keys under the operator's own prefix are refused.
/// The map keys' size is not bounded by the schema (OpenAPI has no `maxLength` for keys), and
/// kube-apiserver's CEL cost estimate gives them none either (`SchemaDeclType` in
/// k8s.io/apiserver/pkg/cel/common types them `StringType`, whose estimated size is 0): the
/// estimated cost of these rules is bounded by `maxProperties` and the label values' `maxLength`
/// (annotation values are only measured with `size()`, of constant cost).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplate {
    /// Labels added to the Secret: at most 32, keys and values as Kubernetes label keys and
    /// values; not `app.kubernetes.io/managed-by` nor keys under `videosdk.live/`, the
    /// operator's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = SECRET_TEMPLATE_MAX_ENTRIES,
        "additionalProperties" = {"type": "string", "maxLength": 63}
    ))]
    #[x_kube(
        validation = Rule::new(concat!("self.all(k, ", qualified_name_rule!(), ")"))
            .message(concat!("every key must be a label key: ", qualified_name_message!())),
        validation = Rule::new("self.all(k, self[k].matches('^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$'))")
            .message("every value must be a label value: empty, or at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"),
        validation = Rule::new(concat!("!self.exists(k, ", reserved_key_rule!(), " || k == 'app.kubernetes.io/managed-by')"))
            .message("keys under videosdk.live/ and the label app.kubernetes.io/managed-by are the operator's own: remove them")
            .reason(Reason::FieldValueForbidden),
    )]
    pub(crate) labels: BTreeMap<String, String>,
    /// Annotations added to the Secret: at most 32, of at most 16384 characters in all (keys
    /// and values), keys as Kubernetes annotation keys; not keys under `videosdk.live/`, the
    /// operator's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = SECRET_TEMPLATE_MAX_ENTRIES))]
    #[x_kube(
        validation = Rule::new(concat!("self.all(k, ", qualified_name_rule!(), ")"))
            .message(concat!("every key must be an annotation key: ", qualified_name_message!())),
        validation = Rule::new(concat!("self.map(k, size(k) + size(self[k])).sum() <= ", secret_template_max_annotations_size!()))
            .message(concat!("the annotations' keys and values must add up to at most ", secret_template_max_annotations_size!(), " characters")),
        validation = Rule::new(concat!("!self.exists(k, ", reserved_key_rule!(), ")"))
            .message("keys under videosdk.live/ are the operator's own: remove them")
            .reason(Reason::FieldValueForbidden),
    )]
    pub(crate) annotations: BTreeMap<String, String>,
}

/// Observed state of a token, written by the operator.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {}))]
pub struct VideoSdkTokenStatus {
    /// The `metadata.generation` this status describes. The API server shows 0 until the
    /// operator first writes the status (a schema default), so that a new token reads as not
    /// yet reconciled (kstatus: InProgress) rather than done.
    #[serde(default)]
    #[schemars(extend("default" = 0))]
    pub(crate) observed_generation: i64,
    /// `Ready` is True when the Secret holds a valid token signed for the current spec;
    /// otherwise its reason and message say what is wrong.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The `jti` claim of the token in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// When the token in the Secret was issued (`iat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// When the token in the Secret expires (`exp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
    /// When the operator will re-sign the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<Time>,
    /// The Secret that holds the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The value of the `videosdk.live/renew-now` annotation that the token in the Secret
    /// answered (the operator's record of it, beside the Secret's own annotation, so that a
    /// renewal request is answered once even if a tool strips the Secret's annotations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_now_handled: Option<String>,
    /// Consecutive failed attempts to issue the token; reset by a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<i32>,
    /// When the last attempt to issue the token failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Time>,
}
