//! What a cluster's controllers put into every namespace as soon as it exists, created here
//! with the namespace so that a namespace of this server holds what a cluster's does: a test or
//! a tool that assumes a new namespace is empty fails here as it would on a cluster.
//!
//! Imitated, from kube-controller-manager (kubernetes/kubernetes):
//! - the ServiceAccount `default`, from the ServiceAccounts controller
//!   (`pkg/controller/serviceaccount/serviceaccounts_controller.go`,
//!   `DefaultServiceAccountsControllerOptions`): a name and nothing else, no labels or
//!   annotations;
//! - the ConfigMap `kube-root-ca.crt`, from the root CA certificate publisher
//!   (`pkg/controller/certificates/rootcacertpublisher/publisher.go`): `data."ca.crt"` holds the
//!   bundle that verifies kube-apiserver, and its one annotation, `kubernetes.io/description`,
//!   says so. This server serves plain HTTP and has no CA, so `ca.crt` holds [`NO_CA`] instead.
//!
//! Both are written by the field manager `kube-controller-manager` (an `Update`), as on a
//! cluster. There they appear a moment after the namespace; here in the same request
//! (`verbs::create` writes them). Not
//! imitated: the controllers also recreate either object when it is deleted, and the publisher
//! restores an edited `ca.crt`. No ServiceAccount token Secret is made: the token controller
//! stopped making them in 1.24 (`LegacyServiceAccountTokenNoAutoGeneration`), and this server
//! reports a later release.

use serde_json::{Value, json};

/// The field manager of both objects, as on a cluster.
pub(crate) const MANAGER: &str = "kube-controller-manager";

/// The root CA publisher's `ConfigMap` name.
const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";

/// The root CA publisher's `kubernetes.io/description` annotation, word for word.
const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// `ca.crt` of this server, which has no CA: text outside PEM blocks, which a PEM reader skips,
/// so a client that loads the bundle finds no certificate rather than a malformed one.
const NO_CA: &str =
    "# The in-memory API server serves plain HTTP and has no CA certificate to publish.\n";

/// The objects kube-controller-manager creates in a new namespace, as `(plural, object)`.
pub(crate) fn objects() -> [(&'static str, Value); 2] {
    [
        (
            "serviceaccounts",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
        ),
        (
            "configmaps",
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {
                    "name": ROOT_CA_CONFIG_MAP,
                    "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}
                },
                "data": {"ca.crt": NO_CA}
            }),
        ),
    ]
}
