//! Server-set metadata: uid, creationTimestamp, resourceVersion, generation.

use crate::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Patch, PatchParams, PostParams};

#[tokio::test]
async fn create_sets_uid_timestamp_and_a_global_increasing_resource_version() {
    let t = TestCluster::new("metadata").await;
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let maps: Api<ConfigMap> = Api::namespaced(t.client.clone(), &t.namespace);
    let pp = PostParams::default();
    let a = secrets
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap(),
        )
        .await
        .unwrap();
    let b = maps
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "b"}})).unwrap(),
        )
        .await
        .unwrap();
    let c = secrets
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap(),
        )
        .await
        .unwrap();
    assert!(a.metadata.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert_ne!(a.metadata.uid, c.metadata.uid);
    assert!(a.metadata.creation_timestamp.is_some());
    assert!(rv(&a.metadata) < rv(&b.metadata) && rv(&b.metadata) < rv(&c.metadata));
    assert_eq!(a.metadata.generation, None, "Secrets have no generation");
    // generateName
    let g = secrets
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"generateName": "gen-"}})).unwrap(),
        )
        .await
        .unwrap();
    let name = g.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    t.cleanup().await;
}

#[tokio::test]
async fn generation_counts_spec_changes_only() {
    let t = TestCluster::new("generation").await;
    let api = widgets(&t).await;
    let w = api
        .create(&PostParams::default(), &widget("w", json!({"size": 1})))
        .await
        .unwrap();
    assert_eq!(w.metadata.generation, Some(1));
    let pp = PatchParams::default();
    let w = api
        .patch_status("w", &pp, &Patch::Merge(json!({"status": {"phase": "Up"}})))
        .await
        .unwrap();
    assert_eq!(
        w.metadata.generation,
        Some(1),
        "status changes do not bump generation"
    );
    let w = api
        .patch(
            "w",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        w.metadata.generation,
        Some(1),
        "metadata changes do not bump generation"
    );
    let w = api
        .patch("w", &pp, &Patch::Merge(json!({"spec": {"size": 2}})))
        .await
        .unwrap();
    assert_eq!(w.metadata.generation, Some(2));
    // A patch that changes nothing is a no-op: same resourceVersion.
    let again = api
        .patch("w", &pp, &Patch::Merge(json!({"spec": {"size": 2}})))
        .await
        .unwrap();
    assert_eq!(again.metadata.resource_version, w.metadata.resource_version);
    t.cleanup().await;
}
