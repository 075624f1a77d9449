//! The operator's CRDs as the files users apply (`crds/` at the workspace root), for the tests of
//! the in-memory API server: real CRDs with CEL rules, defaults and printer columns, read as data
//! so that the API server's crate imports nothing from the operator's. The operator's own test
//! (`tests/crds.rs`) keeps these files equal to what its code generates.

use crate::release::{Feature, Release};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// What a test that installs these CRDs (or runs the operator) requires: their validation rules
/// set `reason` and `fieldPath`, which kube-apiserver accepts from 1.28 (KEP-2876,
/// <https://github.com/kubernetes/enhancements/issues/2876>, kubernetes/kubernetes#118041; the
/// the book's "Install" page). The operator's own oldest supported release
/// (`videosdk_token_operator::cli::server_version::OLDEST_SUPPORTED`) is the same; the
/// operator's `tests/crds.rs` checks that.
pub const CRDS_NEED: Feature = Feature {
    what: "installing the operator's CRDs (validation rules with `reason` and `fieldPath`)",
    since: Release::new(1, 28),
    except: &[],
};

/// The workspace's `crds/` directory, which users pass to `kubectl apply -f`.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crds");

/// `(file name, YAML)` of each file in `crds/`, in the order the operator lists them.
const FILES: [(&str, &str); 3] = [
    (
        "videosdktokens.yaml",
        include_str!("../../../crds/videosdktokens.yaml"),
    ),
    (
        "videosdkissuers.yaml",
        include_str!("../../../crds/videosdkissuers.yaml"),
    ),
    (
        "clustervideosdkissuers.yaml",
        include_str!("../../../crds/clustervideosdkissuers.yaml"),
    ),
];

/// The three CRDs with the file name each is kept under (VideoSdkToken first).
///
/// Panics if a file in `crds/` is not a CustomResourceDefinition (the operator's tests catch
/// that first).
pub fn crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    FILES
        .iter()
        .map(|(file, yaml)| {
            let crd = serde_yaml::from_str(yaml)
                .unwrap_or_else(|e| panic!("crds/{file} is not a CustomResourceDefinition: {e}"));
            (*file, crd)
        })
        .collect()
}

/// All CRDs as one multi-document YAML stream, as `kubectl apply -f` takes them.
pub fn crds_yaml() -> String {
    FILES
        .iter()
        .map(|(_, yaml)| format!("---\n{yaml}"))
        .collect()
}
