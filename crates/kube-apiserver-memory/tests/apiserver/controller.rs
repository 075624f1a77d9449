//! kube's Controller end to end: a reconciler that applies an owned Secret and the status of
//! each Widget, as the operator does for its tokens.

use crate::*;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use std::sync::Arc;

async fn reconcile(
    w: Arc<DynamicObject>,
    client: Arc<kube::Client>,
) -> Result<Action, kube::Error> {
    let ns = w.namespace().unwrap();
    let name = w.name_any();
    let owner = w
        .controller_owner_ref(&resource("widgets", "Widget"))
        .unwrap();
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "ownerReferences": [owner], "labels": {"app.kubernetes.io/managed-by": "conformance"}},
        "stringData": {"size": w.data["spec"]["size"].to_string()}
    });
    let pp = PatchParams::apply("conformance-controller").force();
    Api::<Secret>::namespaced((*client).clone(), &ns)
        .patch(&name, &pp, &Patch::Apply(secret))
        .await?;
    let status = json!({
        "apiVersion": format!("{GROUP}/v1"), "kind": "Widget",
        "metadata": {"name": name},
        "status": {"observedGeneration": w.meta().generation, "ready": true}
    });
    Api::<DynamicObject>::namespaced_with((*client).clone(), &ns, &resource("widgets", "Widget"))
        .patch_status(&name, &pp, &Patch::Apply(status))
        .await?;
    Ok(Action::await_change())
}

#[tokio::test]
async fn a_controller_reconciles_through_the_server() {
    let t = TestCluster::new("controller").await;
    let widgets = widgets(&t).await;
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let controller = Controller::new_with(
        widgets.clone(),
        watcher::Config::default(),
        resource("widgets", "Widget"),
    )
    .owns_with(
        secrets.clone(),
        (),
        watcher::Config::default().labels("app.kubernetes.io/managed-by=conformance"),
    )
    .run(
        reconcile,
        |_, _: &kube::Error, _| Action::await_change(),
        Arc::new(t.client.clone()),
    );
    let running = tokio::spawn(controller.for_each(|_| async {}));
    widgets
        .create(&PostParams::default(), &widget("w1", json!({"size": 3})))
        .await
        .unwrap();
    let ready = tokio::time::timeout(
        WAIT,
        kube::runtime::wait::await_condition(widgets.clone(), "w1", |w: Option<&DynamicObject>| {
            w.is_some_and(|w| w.data["status"]["ready"] == true)
        }),
    )
    .await
    .expect("reconciled in time")
    .unwrap()
    .unwrap();
    assert_eq!(ready.data["status"]["observedGeneration"], 1);
    let s = secrets.get("w1").await.unwrap();
    assert_eq!(s.data.unwrap()["size"].0, b"3");
    assert_eq!(
        s.metadata.owner_references.unwrap()[0].uid,
        ready.uid().unwrap()
    );
    // Only the Secrets the controller owns: a real cluster may add others to a new namespace.
    let owned = secrets
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|s| {
            s.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| Some(&o.uid) == ready.uid().as_ref())
        })
        .count();
    assert_eq!(owned, 1);
    running.abort();
    t.cleanup().await;
}
