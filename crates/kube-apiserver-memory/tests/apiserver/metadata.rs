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

/// A write that asks for `as=PartialObjectMetadata` (kube's `Api::patch_metadata`, and any
/// `Api<K>` whose `K::metadata_api()` is true) is answered with the written object's metadata
/// alone, as kube-apiserver transforms every verb's response: the operator writes its Secrets so
/// and reads only their resourceVersion back.
#[tokio::test]
async fn a_write_can_ask_for_its_answer_as_metadata_only() {
    let t = TestCluster::new("metadata-write").await;
    let url = format!("/api/v1/namespaces/{}/secrets/s", t.namespace);
    let request = http::Request::patch(format!("{url}?fieldManager=m"))
        .header(
            http::header::ACCEPT,
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        )
        .header(http::header::CONTENT_TYPE, "application/apply-patch+yaml")
        .body(
            serde_json::to_vec(
                &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                                       "stringData": {"token": "sensitive"}}),
            )
            .unwrap(),
        )
        .unwrap();
    let answer: Value =
        serde_json::from_str(&t.client.request_text(request).await.unwrap()).unwrap();
    assert_eq!(
        (answer["kind"].as_str(), answer["apiVersion"].as_str()),
        (Some("PartialObjectMetadata"), Some("meta.k8s.io/v1"))
    );
    assert_eq!(answer["metadata"]["name"], "s");
    assert!(answer["metadata"]["resourceVersion"].is_string());
    assert!(answer.get("data").is_none(), "{answer}");
    // Stored whole all the same.
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    assert_eq!(
        secrets.get("s").await.unwrap().data.unwrap()["token"].0,
        b"sensitive"
    );
    t.cleanup().await;
}
