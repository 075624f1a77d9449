//! Built-in resources: Secrets' own rules, and the types that are stored as given.

use crate::*;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::Resource;
use kube::api::{Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;

fn obj<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("a valid object")
}

/// Posts raw JSON (bypassing typed serialisation) and returns the answer.
async fn post_raw(t: &TestCluster, plural: &str, body: Value) -> Result<Secret, kube::Error> {
    let url = format!("/api/v1/namespaces/{}/{plural}", t.namespace);
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    t.client.request::<Secret>(req).await
}

#[tokio::test]
async fn secret_string_data_is_merged_into_data() {
    let t = TestCluster::new("secret-stringdata").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let s = api
        .create(&PostParams::default(), &obj(json!({"metadata": {"name": "s"}, "data": {"a": "YQ=="}, "stringData": {"b": "bee", "a": "override"}})))
        .await
        .unwrap();
    let data = s.data.unwrap();
    assert_eq!(data["a"].0, b"override");
    assert_eq!(data["b"].0, b"bee");
    assert!(s.string_data.is_none());
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    t.cleanup().await;
}

#[tokio::test]
async fn secret_data_must_be_base64() {
    let t = TestCluster::new("secret-base64").await;
    let e = api_error(post_raw(&t, "secrets", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "not base64!"}})).await);
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
    assert!(e.message.contains("illegal base64 data"), "{}", e.message);
    t.cleanup().await;
}

#[tokio::test]
async fn secret_type_is_immutable() {
    let t = TestCluster::new("secret-type").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    api.create(
        &PostParams::default(),
        &obj(json!({"metadata": {"name": "s"}, "type": "Opaque"})),
    )
    .await
    .unwrap();
    let e = api_error(
        api.patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"type": "kubernetes.io/tls"})),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        e.message,
        "Secret \"s\" is invalid: type: Invalid value: \"kubernetes.io/tls\": field is immutable"
    );
    t.cleanup().await;
}

async fn round_trip<K>(t: &TestCluster, object: K) -> K
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(t.client.clone(), &t.namespace);
    let created = api.create(&PostParams::default(), &object).await.unwrap();
    let name = created.meta().name.clone().unwrap();
    let got = api.get(&name).await.unwrap();
    assert_eq!(got.meta().uid, created.meta().uid);
    assert_eq!(api.list(&Default::default()).await.unwrap().items.len(), 1);
    got
}

#[tokio::test]
async fn events_leases_and_workloads_are_stored() {
    let t = TestCluster::new("builtins").await;
    let ns = t.namespace.clone();
    round_trip::<CoreEvent>(&t, obj(json!({
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Secret", "name": "s", "namespace": ns, "apiVersion": "v1"},
        "reason": "Tested", "message": "hello", "type": "Normal", "source": {"component": "conformance"}
    }))).await;
    let e = round_trip::<Event>(&t, obj(json!({
        "metadata": {"name": "e2"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "videosdk.live/conformance", "reportingInstance": "conformance-1",
        "action": "Testing", "reason": "Tested", "note": "hello", "type": "Normal",
        "regarding": {"kind": "Secret", "name": "s", "namespace": ns, "apiVersion": "v1"}
    }))).await;
    assert_eq!(e.note.as_deref(), Some("hello"));
    let lease = round_trip::<Lease>(
        &t,
        obj(json!({
            "metadata": {"name": "leader"},
            "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}
        })),
    )
    .await;
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("me"));
    let template = json!({
        "selector": {"matchLabels": {"app": "x"}},
        "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    });
    let d = round_trip::<Deployment>(
        &t,
        obj(json!({"metadata": {"name": "d"}, "spec": template})),
    )
    .await;
    assert_eq!(d.metadata.generation, Some(1));
    let mut sts = template.clone();
    sts["serviceName"] = json!("x");
    round_trip::<StatefulSet>(&t, obj(json!({"metadata": {"name": "s"}, "spec": sts}))).await;
    round_trip::<DaemonSet>(
        &t,
        obj(json!({"metadata": {"name": "d"}, "spec": template})),
    )
    .await;
    t.cleanup().await;
}
