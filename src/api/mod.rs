//! The custom resources of `videosdk.live/v1alpha1`: the only place their schema is defined.
//!
//! `crds/` is generated from these types by the binary's `crd` command (see [`crds`]); a test
//! keeps the two equal. Doc comments on fields are what `kubectl explain` shows, so they are
//! written for the platform engineer reading them there.

// kube's `KubeSchema` derive copies each struct, `pub` and all, into a hidden scope to build its
// schema; rustc reports those copies as unreachable. The types themselves are re-exported below.
#![allow(unreachable_pub)]

mod issuer;
mod lifetime_rules;
mod shared;
mod token;

// What tests and benchmarks name; the rest is the crate's own.
pub use issuer::{ClusterVideoSdkIssuer, VideoSdkIssuer};
pub use shared::{Permission, Role};
pub use token::{
    IssuerKind, IssuerRef, RENEW_NOW_ANNOTATION, VideoSdkToken, VideoSdkTokenSpec,
    VideoSdkTokenStatus,
};

pub(crate) use issuer::{CredentialsSecretRef, IssuerPolicy, IssuerStatus};
pub(crate) use shared::{
    DURATION_MAX_LENGTH, ID_MAX_LENGTH, is_dns1123_label, is_dns1123_subdomain,
};
pub(crate) use token::WorkloadKind;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every resource of this operator.
pub(crate) const GROUP: &str = "videosdk.live";

/// The three CRDs, in the order `crds/` lists them, with the file name each is kept under.
pub fn crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("videosdktokens.yaml", VideoSdkToken::crd()),
        ("videosdkissuers.yaml", VideoSdkIssuer::crd()),
        ("clustervideosdkissuers.yaml", ClusterVideoSdkIssuer::crd()),
    ]
}

/// Renders one CRD as the YAML document `crds/` stores.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    serde_yaml::to_string(crd).expect("a CustomResourceDefinition always serialises to YAML")
}

/// All CRDs as one multi-document YAML stream, as `videosdk-token-operator crd` prints it.
pub(crate) fn crds_yaml() -> String {
    crds()
        .iter()
        .map(|(_, crd)| format!("---\n{}", crd_yaml(crd)))
        .collect()
}
