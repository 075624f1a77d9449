//! CustomResourceDefinitions and custom resources.

use crate::*;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};

#[tokio::test]
async fn a_created_crd_is_established_and_served_and_a_deleted_one_is_not() {
    let t = TestCluster::new("crd-lifecycle").await;
    let plural = format!("things{}", &t.namespace[t.namespace.len() - 6..]);
    let crd = test_crd(&plural, "Thing", true, false);
    let crds: Api<CustomResourceDefinition> = Api::all(t.client.clone());
    let created = crds.create(&PostParams::default(), &crd).await.unwrap();
    let name = created.metadata.name.clone().unwrap();
    let established = wait_for(
        format_args!("CRD {name} to be established"),
        await_condition(crds.clone(), &name, conditions::is_crd_established()),
    )
    .await
    .unwrap()
    .unwrap();
    let status = established.status.unwrap();
    assert_eq!(status.accepted_names.unwrap().plural, plural);
    let things: Api<DynamicObject> =
        Api::namespaced_with(t.client.clone(), &t.namespace, &resource(&plural, "Thing"));
    let mut thing = widget("t1", json!({"a": 1}));
    thing.types.as_mut().unwrap().kind = "Thing".into();
    let thing = things.create(&PostParams::default(), &thing).await.unwrap();
    let uid = thing.metadata.uid.clone().unwrap();
    crds.delete(&name, &Default::default()).await.unwrap();
    wait_for(
        format_args!("CRD {name} to be deleted"),
        await_condition(
            crds.clone(),
            &name,
            conditions::is_deleted(&created.metadata.uid.unwrap()),
        ),
    )
    .await
    .unwrap();
    let e = api_error(things.get("t1").await);
    assert_eq!(e.code, 404);
    let _ = uid;
    t.cleanup().await;
}

#[tokio::test]
async fn status_subresource_splits_spec_and_status_writes() {
    let t = TestCluster::new("status-subresource").await;
    let api = widgets(&t).await;
    let mut w = widget("w", json!({"size": 1}));
    w.data["status"] = json!({"phase": "Ignored"});
    let w = api.create(&PostParams::default(), &w).await.unwrap();
    assert!(
        w.data.get("status").is_none(),
        "create ignores status when /status is a subresource"
    );
    let pp = PatchParams::default();
    let w = api
        .patch_status(
            "w",
            &pp,
            &Patch::Merge(json!({"spec": {"size": 9}, "status": {"phase": "Up"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        w.data["spec"]["size"], 1,
        "a status write leaves spec alone"
    );
    assert_eq!(w.data["status"]["phase"], "Up");
    let w = api
        .patch(
            "w",
            &pp,
            &Patch::Merge(json!({"spec": {"size": 2}, "status": {"phase": "Down"}})),
        )
        .await
        .unwrap();
    assert_eq!(w.data["spec"]["size"], 2);
    assert_eq!(
        w.data["status"]["phase"], "Up",
        "a main-resource write leaves status alone"
    );
    // PUT of /status with the object read back.
    let mut current = api.get_status("w").await.unwrap();
    current.data["status"]["phase"] = json!("Replaced");
    let replaced = api
        .replace_status("w", &PostParams::default(), &current)
        .await
        .unwrap();
    assert_eq!(replaced.data["status"]["phase"], "Replaced");
    t.cleanup().await;
}

#[tokio::test]
async fn cluster_scoped_custom_resources_without_status_subresource() {
    let t = TestCluster::new("cluster-scoped").await;
    let api = gadgets(&t).await;
    let name = format!("g-{}", t.namespace);
    let mut g = widget(&name, json!({"a": 1}));
    g.types.as_mut().unwrap().kind = "Gadget".into();
    g.data["status"] = json!({"kept": true});
    let g = api.create(&PostParams::default(), &g).await.unwrap();
    assert!(g.metadata.namespace.is_none());
    assert_eq!(
        g.data["status"]["kept"], true,
        "without a status subresource status is plain data"
    );
    let g = api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"kept": false}})),
        )
        .await
        .unwrap();
    assert_eq!(g.data["status"]["kept"], false);
    assert_eq!(
        g.metadata.generation,
        Some(2),
        "without a status subresource status counts as spec"
    );
    api.delete(&name, &Default::default()).await.unwrap();
    t.cleanup().await;
}

#[tokio::test]
async fn custom_resources_need_a_resource_version_to_be_replaced() {
    let t = TestCluster::new("cr-replace").await;
    let api = widgets(&t).await;
    api.create(&PostParams::default(), &widget("w", json!({"size": 1})))
        .await
        .unwrap();
    let e = api_error(
        api.replace(
            "w",
            &PostParams::default(),
            &widget("w", json!({"size": 2})),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(
        e.message.contains("metadata.resourceVersion"),
        "{}",
        e.message
    );
    t.cleanup().await;
}

/// A structural-schema `default` on `status` and inside it: a new object reads with the
/// defaulted status although create drops the status it was sent (kube-apiserver defaults what
/// it reads from etcd; apiextensions-apiserver `pkg/registry/customresource`,
/// `PrepareForCreate`, then the storage codec's defaulting), and a status write that leaves the
/// field out or removes the whole status reads the default again. The operator's kinds rely on
/// it so that kstatus reads a new object as InProgress (`observedGeneration: 0`).
#[tokio::test]
async fn a_status_default_fills_new_objects_and_status_writes() {
    let t = TestCluster::new("status-default").await;
    let mut crd = test_crd("statusdefaults", "StatusDefault", true, true);
    let mut crd_value = serde_json::to_value(&crd).unwrap();
    crd_value["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"] = json!({
        "type": "object", "default": {},
        "properties": {
            "observedGeneration": {"type": "integer", "format": "int64", "default": 0},
            "phase": {"type": "string"}
        }
    });
    crd = serde_json::from_value(crd_value).unwrap();
    t.apply_crds(&[crd]).await;
    let api: Api<DynamicObject> = Api::namespaced_with(
        t.client.clone(),
        &t.namespace,
        &resource("statusdefaults", "StatusDefault"),
    );
    let mut object = widget("d", json!({"size": 1}));
    object.types.as_mut().unwrap().kind = "StatusDefault".into();
    object.data["status"] = json!({"observedGeneration": 7});
    let created = api.create(&PostParams::default(), &object).await.unwrap();
    assert_eq!(created.data["status"], json!({"observedGeneration": 0}));
    assert_eq!(
        api.get("d").await.unwrap().data["status"],
        json!({"observedGeneration": 0})
    );
    let pp = PatchParams::default();
    let written = api
        .patch_status("d", &pp, &Patch::Merge(json!({"status": {"phase": "Up"}})))
        .await
        .unwrap();
    assert_eq!(
        written.data["status"],
        json!({"observedGeneration": 0, "phase": "Up"})
    );
    let written = api
        .patch_status(
            "d",
            &pp,
            &Patch::Merge(json!({"status": {"observedGeneration": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(written.data["status"]["observedGeneration"], 1);
    let removed = api
        .patch_status(
            "d",
            &pp,
            &Patch::<()>::Json(
                serde_json::from_value(json!([{"op": "remove", "path": "/status"}])).unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(removed.data["status"], json!({"observedGeneration": 0}));
    let updated = api
        .patch("d", &pp, &Patch::Merge(json!({"spec": {"size": 2}})))
        .await
        .unwrap();
    assert_eq!(updated.data["status"], json!({"observedGeneration": 0}));
    t.cleanup().await;
}
