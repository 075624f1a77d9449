//! Built-in resources: Secrets' own rules, and the types that are stored as given.

use crate::*;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Secret, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
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
            &Patch::Merge(json!({"type": "example.com/custom"})),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        e.message,
        "Secret \"s\" is invalid: type: Invalid value: \"example.com/custom\": field is immutable"
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
    let listed = api.list(&Default::default()).await.unwrap();
    assert!(
        listed
            .items
            .iter()
            .any(|i| i.meta().name.as_deref() == Some(name.as_str()))
    );
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

/// What an operator's Helm chart or kustomize base holds besides RBAC and workloads: `helm
/// install` maps each rendered kind through discovery and refuses the release when one is not
/// served ("no matches for kind \"Service\" in version \"v1\"", tests/deploy/helm.rs).
#[tokio::test]
async fn services_disruption_budgets_and_network_policies_are_stored() {
    let t = TestCluster::new("chart-kinds").await;
    let selector = json!({"matchLabels": {"app": "x"}});
    let service = round_trip::<Service>(
        &t,
        obj(json!({"metadata": {"name": "metrics"}, "spec": {
            "selector": {"app": "x"},
            "ports": [{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]
        }})),
    )
    .await;
    assert_eq!(service.spec.unwrap().ports.unwrap()[0].port, 8080);
    let pdb = round_trip::<PodDisruptionBudget>(
        &t,
        obj(json!({"metadata": {"name": "pdb"}, "spec": {"maxUnavailable": 1, "selector": selector}})),
    )
    .await;
    assert_eq!(pdb.metadata.generation, Some(1));
    round_trip::<NetworkPolicy>(
        &t,
        obj(json!({"metadata": {"name": "np"}, "spec": {"podSelector": selector, "policyTypes": ["Ingress"]}})),
    )
    .await;
    t.cleanup().await;
}

#[tokio::test]
async fn events_are_one_set_under_both_apis() {
    let t = TestCluster::new("events-shared").await;
    let ns = t.namespace.clone();
    let v1: Api<Event> = Api::namespaced(t.client.clone(), &ns);
    let created = v1
        .create(&PostParams::default(), &obj(json!({
            "metadata": {"name": "recorded"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "videosdk.live/operator", "reportingInstance": "op-1",
            "action": "Sign", "reason": "Signed", "note": "token signed", "type": "Normal",
            "regarding": {"kind": "VideoSdkToken", "name": "t", "namespace": ns, "apiVersion": "videosdk.live/v1alpha1", "uid": "1234"}
        })))
        .await
        .unwrap();
    assert_eq!(created.note.as_deref(), Some("token signed"));
    // What kubectl describe asks for: core Events about one object.
    let core: Api<CoreEvent> = Api::namespaced(t.client.clone(), &ns);
    let about = core
        .list(
            &kube::api::ListParams::default()
                .fields("involvedObject.kind=VideoSdkToken,involvedObject.name=t"),
        )
        .await
        .unwrap();
    assert_eq!(about.items.len(), 1);
    let e = &about.items[0];
    assert_eq!(e.message.as_deref(), Some("token signed"));
    assert_eq!(e.reason.as_deref(), Some("Signed"));
    assert_eq!(e.involved_object.uid.as_deref(), Some("1234"));
    let none = core
        .list(&kube::api::ListParams::default().fields("involvedObject.name=other"))
        .await
        .unwrap();
    assert!(none.items.is_empty());
    // Through events.k8s.io an Event's note is immutable (kube-apiserver 1.32's answer, in
    // the core field's name).
    let e = api_error(
        v1.patch(
            "recorded",
            &PatchParams::default(),
            &Patch::Merge(json!({"note": "signed again"})),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        e.message,
        "Event \"recorded\" is invalid: message: Invalid value: \"signed again\": field is immutable"
    );
    let causes = serde_json::to_value(&e.details).unwrap()["causes"].clone();
    assert_eq!(
        causes,
        json!([{"reason": "FieldValueInvalid", "message": "Invalid value: \"signed again\": field is immutable", "field": "message"}])
    );
    // A series update through events.k8s.io shows through v1.
    v1.patch(
        "recorded",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000000Z"}}),
        ),
    )
    .await
    .unwrap();
    let again = core.get("recorded").await.unwrap();
    assert_eq!(again.message.as_deref(), Some("token signed"));
    assert_eq!(again.series.unwrap().count, Some(2));
    // The core API checks nothing of the kind: the message can change there.
    core.patch(
        "recorded",
        &PatchParams::default(),
        &Patch::Merge(json!({"message": "edited"})),
    )
    .await
    .unwrap();
    t.cleanup().await;
}

#[tokio::test]
async fn kube_recorder_events_and_their_series_show_through_v1() {
    use kube::runtime::events::{Event as Recorded, EventType, Recorder, Reporter};
    let t = TestCluster::new("events-recorder").await;
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let s = secrets
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "target"}})),
        )
        .await
        .unwrap();
    let recorder = Recorder::new(
        t.client.clone(),
        Reporter {
            controller: "videosdk-conformance".into(),
            instance: Some("i-1".into()),
        },
    );
    let event = Recorded {
        type_: EventType::Warning,
        reason: "SecretNotOwned".into(),
        note: Some("not ours".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = s.object_ref(&());
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();
    let core: Api<CoreEvent> = Api::namespaced(t.client.clone(), &t.namespace);
    let listed = core
        .list(
            &kube::api::ListParams::default()
                .fields("involvedObject.name=target,reason=SecretNotOwned"),
        )
        .await
        .unwrap();
    assert_eq!(
        listed.items.len(),
        1,
        "a repeated event is one Event with a series"
    );
    let e = &listed.items[0];
    assert_eq!(e.message.as_deref(), Some("not ours"));
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    assert_eq!(e.series.as_ref().and_then(|s| s.count), Some(2));
    assert_eq!(
        e.reporting_component.as_deref(),
        Some("videosdk-conformance")
    );
    t.cleanup().await;
}
