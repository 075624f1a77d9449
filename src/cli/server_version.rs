//! The oldest Kubernetes release this operator and its CRDs support, and the check `run` makes
//! against the API server's `/version`.
//!
//! Kubernetes 1.28 is the oldest: the CRDs' validation rules (`x-kubernetes-validations`) set
//! `reason` and `fieldPath`, which kube-apiserver accepts from 1.28 (KEP-2876,
//! kubernetes/kubernetes#118041). Everything else the operator uses is older: CEL validation
//! rules (beta, on by default, in 1.25), server-side apply (GA in 1.22), `events.k8s.io/v1`
//! (1.19) and `coordination.k8s.io/v1` Leases (1.14). On an older server `kubectl apply
//! --server-side -f crds/` refuses the CRDs (unknown fields) or, without validation, drops those
//! fields, and bad input is then reported less precisely. `run` warns rather than refuses: the
//! operator's own requests work there, and a version string it cannot read (a vendor's
//! `minor: "27+"` is read) must not stop it.

use k8s_openapi::apimachinery::pkg::version::Info;
use kube_release::Release;

/// The oldest supported release.
pub const OLDEST_SUPPORTED: Release = Release::new(1, 28);

/// The server's release from `/version` ([`Release::parse`]); `None` when it does not read.
fn release(info: &Info) -> Option<Release> {
    Release::parse(&info.major, &info.minor, &info.git_version)
}

/// The warning for a server older than [`OLDEST_SUPPORTED`], naming both releases and why;
/// `None` for a supported or unreadable version.
pub(crate) fn warning(info: &Info) -> Option<String> {
    let release = release(info)?;
    (release < OLDEST_SUPPORTED).then(|| {
        format!(
            "the Kubernetes API server is v{release} ({}), older than v{OLDEST_SUPPORTED}, the oldest release this operator supports: its CRDs' validation rules use `reason` and `fieldPath` (Kubernetes 1.28), which an older server refuses or drops; upgrade the cluster to v{OLDEST_SUPPORTED} or later",
            info.git_version
        )
    })
}

/// Logs [`warning`] for the server `client` talks to (or that its version could not be read).
pub(crate) async fn warn_if_unsupported(client: &kube::Client) {
    match client.apiserver_version().await {
        Ok(info) => {
            if let Some(warning) = warning(&info) {
                tracing::warn!(server_version = %info.git_version, "{warning}");
            }
        }
        Err(e) => tracing::warn!(
            "cannot read the API server's version (/version): {e}; this operator needs Kubernetes 1.28 or later"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(major: &str, minor: &str, git_version: &str) -> Info {
        Info {
            major: major.into(),
            minor: minor.into(),
            git_version: git_version.into(),
            ..Info::default()
        }
    }

    #[test]
    fn only_releases_before_1_28_are_warned_about() {
        let old = warning(&info("1", "27", "v1.27.0")).expect("1.27 is too old");
        assert!(
            old.starts_with("the Kubernetes API server is v1.27 (v1.27.0), older than v1.28"),
            "{old}"
        );
        assert!(old.contains("`reason` and `fieldPath`"), "{old}");
        assert_eq!(warning(&info("1", "28", "v1.28.0")), None);
        assert_eq!(warning(&info("1", "33", "v1.33.1")), None);
        assert_eq!(warning(&info("", "", "unknown")), None);
    }
}
