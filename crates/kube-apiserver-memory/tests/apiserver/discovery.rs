//! Discovery of built-in types and established CRDs.

use crate::*;
use e2e_support::operator_crds::{CRDS_NEED, crds};
use kube::discovery::{Discovery, Scope};

#[tokio::test]
async fn built_ins_and_crds_are_discoverable() {
    let Some(t) = TestCluster::new("discovery").await.require(CRDS_NEED).await else {
        return;
    };
    let version = t.client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
    t.apply_crds(&crds().into_iter().map(|(_, c)| c).collect::<Vec<_>>())
        .await;
    let d = Discovery::new(t.client.clone()).run().await.unwrap();
    let find = |group: &str, kind: &str| {
        d.groups()
            .filter(|g| g.name() == group)
            .flat_map(|g| g.recommended_resources())
            .find(|(ar, _)| ar.kind == kind)
            .unwrap_or_else(|| panic!("{group} {kind} is discoverable"))
    };
    let (secret, caps) = find("", "Secret");
    assert_eq!(
        (secret.plural.as_str(), caps.scope.clone()),
        ("secrets", Scope::Namespaced)
    );
    assert!(caps.supports_operation(kube::discovery::verbs::WATCH));
    let (_, ns) = find("", "Namespace");
    assert_eq!(ns.scope, Scope::Cluster);
    find("coordination.k8s.io", "Lease");
    find("events.k8s.io", "Event");
    find("apps", "Deployment");
    find("apps", "StatefulSet");
    find("apps", "DaemonSet");
    find("apiextensions.k8s.io", "CustomResourceDefinition");
    let (token, caps) = find("videosdk.live", "VideoSdkToken");
    assert_eq!(token.plural, "videosdktokens");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"));
    let (_, cluster) = find("videosdk.live", "ClusterVideoSdkIssuer");
    assert_eq!(cluster.scope, Scope::Cluster);
    // Short names are served in the resource list.
    let list = t
        .client
        .list_api_group_resources("videosdk.live/v1alpha1")
        .await
        .unwrap();
    let vst = list
        .resources
        .iter()
        .find(|r| r.name == "videosdktokens")
        .unwrap();
    assert_eq!(vst.short_names.as_deref(), Some(&["vst".to_owned()][..]));
    // The access reviews kubectl auth can-i creates: create only, cluster-scoped.
    let reviews = t
        .client
        .list_api_group_resources("authorization.k8s.io/v1")
        .await
        .unwrap();
    for name in [
        "selfsubjectaccessreviews",
        "selfsubjectrulesreviews",
        "subjectaccessreviews",
    ] {
        let r = reviews
            .resources
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} is discoverable"));
        assert_eq!(
            (r.verbs.as_slice(), r.namespaced),
            (&["create".to_owned()][..], false)
        );
    }
    t.cleanup().await;
}
