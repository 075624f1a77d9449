//! Deletion: finalizers, propagation policies, garbage collection, namespaces.

use crate::*;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions};

fn owned_secret(name: &str, owner: &DynamicObject) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": [{
        "apiVersion": format!("{GROUP}/v1"), "kind": "Widget",
        "name": owner.metadata.name, "uid": owner.metadata.uid
    }]}}))
    .unwrap()
}

/// The Widget `owner` and the Secret `dep` it owns, with the APIs of both kinds.
async fn owner_and_dependent(
    t: &TestCluster,
) -> (Api<DynamicObject>, Api<Secret>, DynamicObject, Secret) {
    let widgets = widgets(t).await;
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let owner = widgets
        .create(&PostParams::default(), &widget("owner", json!({})))
        .await
        .unwrap();
    let dep = secrets
        .create(&PostParams::default(), &owned_secret("dep", &owner))
        .await
        .unwrap();
    (widgets, secrets, owner, dep)
}

async fn gone(api: &Api<Secret>, s: &Secret) {
    let uid = s.metadata.uid.clone().unwrap();
    tokio::time::timeout(
        WAIT,
        await_condition(
            api.clone(),
            s.metadata.name.as_deref().unwrap(),
            conditions::is_deleted(&uid),
        ),
    )
    .await
    .expect("deleted in time")
    .unwrap();
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let t = TestCluster::new("delete-finalizers").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let s = api
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "s", "finalizers": ["conformance.videosdk.live/hold"]}})).unwrap())
        .await
        .unwrap();
    let pending = api.delete("s", &DeleteParams::default()).await.unwrap();
    let held = pending
        .left()
        .expect("a finalized object is returned, not a Status");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(
        api.get("s")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    api.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    gone(&api, &s).await;
    let e = api_error(api.get("s").await);
    assert_eq!(e.code, 404);
    t.cleanup().await;
}

#[tokio::test]
async fn deleting_an_owner_collects_its_dependents() {
    let t = TestCluster::new("delete-gc").await;
    let (widgets, secrets, _, dep) = owner_and_dependent(&t).await;
    let status = widgets
        .delete("owner", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        status.is_right(),
        "an object deleted at once is answered with a Status"
    );
    gone(&secrets, &dep).await;
    t.cleanup().await;
}

#[tokio::test]
async fn orphan_propagation_keeps_dependents() {
    let t = TestCluster::new("delete-orphan").await;
    let (widgets, secrets, _, _) = owner_and_dependent(&t).await;
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..Default::default()
    };
    widgets.delete("owner", &dp).await.unwrap();
    let orphaned = tokio::time::timeout(
        WAIT,
        await_condition(secrets.clone(), "dep", |s: Option<&Secret>| {
            s.is_some_and(|s| {
                s.metadata
                    .owner_references
                    .as_ref()
                    .is_none_or(Vec::is_empty)
            })
        }),
    )
    .await
    .expect("orphaned in time")
    .unwrap();
    assert!(orphaned.is_some());
    t.cleanup().await;
}

#[tokio::test]
async fn foreground_propagation_deletes_dependents_first() {
    let t = TestCluster::new("delete-foreground").await;
    let (widgets, secrets, owner, dep) = owner_and_dependent(&t).await;
    widgets
        .delete("owner", &DeleteParams::foreground())
        .await
        .unwrap();
    gone(&secrets, &dep).await;
    let uid = owner.metadata.uid.clone().unwrap();
    tokio::time::timeout(
        WAIT,
        await_condition(widgets.clone(), "owner", conditions::is_deleted(&uid)),
    )
    .await
    .expect("owner deleted in time")
    .unwrap();
    t.cleanup().await;
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_objects() {
    let t = TestCluster::new("delete-namespace").await;
    let ns_name = format!("{}-inner", t.namespace);
    let namespaces: Api<Namespace> = Api::all(t.client.clone());
    let ns = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns_name}})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &ns_name);
    let s = secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "s"}})).unwrap(),
        )
        .await
        .unwrap();
    namespaces
        .delete(&ns_name, &DeleteParams::default())
        .await
        .unwrap();
    gone(&secrets, &s).await;
    tokio::time::timeout(
        WAIT,
        await_condition(
            namespaces.clone(),
            &ns_name,
            conditions::is_deleted(ns.metadata.uid.as_deref().unwrap()),
        ),
    )
    .await
    .expect("namespace deleted in time")
    .unwrap();
    t.cleanup().await;
}

#[tokio::test]
async fn an_object_whose_owners_do_not_exist_is_collected() {
    let t = TestCluster::new("delete-dangling").await;
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let ghost: DynamicObject = serde_json::from_value(json!({
        "apiVersion": format!("{GROUP}/v1"), "kind": "Widget",
        "metadata": {"name": "ghost", "uid": "00000000-0000-4000-8000-000000000000"}
    }))
    .unwrap();
    widgets(&t).await;
    let s = secrets
        .create(&PostParams::default(), &owned_secret("orphan", &ghost))
        .await
        .unwrap();
    gone(&secrets, &s).await;
    t.cleanup().await;
}
