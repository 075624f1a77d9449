//! What every new namespace holds before a test puts anything there: a cluster's controllers
//! add the ServiceAccount `default` and the ConfigMap `kube-root-ca.crt`, and so does this
//! server, so that a test assuming an empty namespace fails here as it would on a cluster.

use crate::*;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::runtime::wait::await_condition;

/// The root CA publisher's description of `kube-root-ca.crt`
/// (kubernetes/kubernetes `pkg/controller/certificates/rootcacertpublisher/publisher.go`).
const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

fn managers(meta: &kube::api::ObjectMeta) -> Vec<(String, String)> {
    meta.managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The object `name` of kind `K` in the test's namespace, once it exists.
async fn appears<K>(t: &TestCluster, name: &str) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let api: Api<K> = Api::namespaced(t.client.clone(), &t.namespace);
    wait_for(
        format_args!("{} {name} in the new namespace", K::kind(&())),
        await_condition(api, name, |o: Option<&K>| o.is_some()),
    )
    .await
    .expect("watching the namespace")
    .expect("the object exists")
}

#[tokio::test]
async fn a_new_namespace_holds_the_default_service_account_and_the_root_ca_config_map() {
    let t = TestCluster::new("namespace-defaults").await;
    // On a cluster kube-controller-manager writes them a moment after the namespace exists.
    let account: ServiceAccount = appears(&t, "default").await;
    // A name and nothing else: no labels, and no field for managedFields to record.
    assert_eq!(account.metadata.labels, None);
    assert_eq!(managers(&account.metadata), []);
    let root_ca: ConfigMap = appears(&t, "kube-root-ca.crt").await;
    let annotations = root_ca.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("kubernetes.io/description")
            .map(String::as_str),
        Some(ROOT_CA_DESCRIPTION)
    );
    let data = root_ca.data.clone().unwrap_or_default();
    let bundle = data.get("ca.crt").expect("kube-root-ca.crt has ca.crt");
    if t.is_real() {
        assert!(bundle.contains("-----BEGIN CERTIFICATE-----"), "{bundle}");
    } else {
        // A plain-HTTP server has no CA: the bundle holds no certificate, and says why.
        assert!(
            !bundle.contains("-----BEGIN") && bundle.contains("no CA"),
            "{bundle}"
        );
    }
    assert_eq!(
        managers(&root_ca.metadata),
        [("kube-controller-manager".to_owned(), "Update".to_owned())]
    );
    t.cleanup().await;
}
