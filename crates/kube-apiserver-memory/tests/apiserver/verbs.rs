//! get, create, update, list (selectors, paging) and patch.

use crate::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams, PostParams};

fn secret(name: &str, labels: Value) -> Secret {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "stringData": {"k": name}}),
    )
    .unwrap()
}

#[tokio::test]
async fn get_create_and_update_errors() {
    let t = TestCluster::new("verbs-errors").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let e = api_error(api.get("missing").await);
    assert_eq!(
        (e.code, e.reason.as_str(), e.message.as_str()),
        (404, "NotFound", "secrets \"missing\" not found")
    );
    let pp = PostParams::default();
    let s = api.create(&pp, &secret("s", json!({}))).await.unwrap();
    let e = api_error(api.create(&pp, &secret("s", json!({}))).await);
    assert_eq!(
        (e.code, e.reason.as_str(), e.message.as_str()),
        (409, "AlreadyExists", "secrets \"s\" already exists")
    );
    let nowhere: Api<Secret> =
        Api::namespaced(t.client.clone(), &format!("{}-missing", t.namespace));
    let e = api_error(nowhere.create(&pp, &secret("s", json!({}))).await);
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(
        e.message,
        format!("namespaces \"{}-missing\" not found", t.namespace)
    );
    // Update with the current resourceVersion succeeds, with a stale one conflicts.
    let mut fresh = s.clone();
    fresh.metadata.labels = Some([("v".to_owned(), "2".to_owned())].into());
    let updated = api.replace("s", &pp, &fresh).await.unwrap();
    assert!(rv(&updated.metadata) > rv(&s.metadata));
    let e = api_error(api.replace("s", &pp, &fresh).await);
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        e.message,
        "Operation cannot be fulfilled on secrets \"s\": the object has been modified; please apply your changes to the latest version and try again"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn list_with_label_and_field_selectors() {
    let t = TestCluster::new("verbs-selectors").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let pp = PostParams::default();
    // Every query also selects `test=selectors`: a real cluster's own controllers may add
    // Secrets to a new namespace (a ServiceAccount token Secret before Kubernetes 1.24).
    let ours = |labels: Value| {
        let mut labels = labels;
        labels["test"] = json!("selectors");
        labels
    };
    api.create(
        &pp,
        &secret("a", ours(json!({"app": "web", "tier": "front"}))),
    )
    .await
    .unwrap();
    api.create(&pp, &secret("b", ours(json!({"app": "api"}))))
        .await
        .unwrap();
    api.create(
        &pp,
        &secret("c", ours(json!({"app": "db", "tier": "back"}))),
    )
    .await
    .unwrap();
    let names = |selector: &'static str, fields: bool| {
        let api = api.clone();
        async move {
            let lp = if fields {
                ListParams::default()
                    .fields(selector)
                    .labels("test=selectors")
            } else {
                ListParams::default().labels(&format!("test=selectors,{selector}"))
            };
            let mut n: Vec<String> = api
                .list(&lp)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|s| s.metadata.name.unwrap())
                .collect();
            n.sort();
            n.join(",")
        }
    };
    assert_eq!(names("app=web", false).await, "a");
    assert_eq!(names("app==api", false).await, "b");
    assert_eq!(names("app!=web", false).await, "b,c");
    assert_eq!(names("app in (web,db)", false).await, "a,c");
    assert_eq!(names("app notin (web,db)", false).await, "b");
    assert_eq!(names("tier", false).await, "a,c");
    assert_eq!(names("!tier", false).await, "b");
    assert_eq!(names("app,tier=back", false).await, "c");
    assert_eq!(names("metadata.name=b", true).await, "b");
    assert_eq!(names("metadata.name!=b", true).await, "a,c");
    let all: Api<Secret> = Api::all(t.client.clone());
    let in_ns = all
        .list(
            &ListParams::default()
                .fields(&format!("metadata.namespace={}", t.namespace))
                .labels("test=selectors"),
        )
        .await
        .unwrap();
    assert_eq!(in_ns.items.len(), 3);
    let e = api_error(api.list(&ListParams::default().fields("data.k=x")).await);
    assert_eq!(e.code, 400);
    t.cleanup().await;
}

#[tokio::test]
async fn list_pages_with_limit_and_continue() {
    let t = TestCluster::new("verbs-paging").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    // A label of this test's own: a real cluster may add Secrets to a new namespace.
    for i in 0..5 {
        let labels = json!({"test": "paging"});
        api.create(&PostParams::default(), &secret(&format!("s{i}"), labels))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut lp = ListParams::default().labels("test=paging").limit(2);
    let mut pages = 0;
    loop {
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        seen.extend(page.items.into_iter().map(|s| s.metadata.name.unwrap()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => {
                // kube-apiserver does not count what is left of a list with a selector.
                assert_eq!(page.metadata.remaining_item_count, None);
                lp = lp.continue_token(&c);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["s0", "s1", "s2", "s3", "s4"]);
    // Without a selector it does: at least the three of this test's own after the first two.
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert!(
        first.metadata.remaining_item_count.is_some_and(|n| n >= 3),
        "{:?}",
        first.metadata
    );
    t.cleanup().await;
}

#[tokio::test]
async fn merge_json_and_strategic_patches() {
    let t = TestCluster::new("verbs-patch").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    api.create(
        &PostParams::default(),
        &secret("s", json!({"a": "1", "b": "2"})),
    )
    .await
    .unwrap();
    let pp = PatchParams::default();
    let s = api
        .patch(
            "s",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"a": null, "c": "3"}}})),
        )
        .await
        .unwrap();
    // Only this test's label keys: a cluster's admission may add labels of its own.
    let labels = s.metadata.labels.unwrap();
    let label = |key: &str| labels.get(key).map(String::as_str);
    assert_eq!(
        (label("a"), label("b"), label("c")),
        (None, Some("2"), Some("3"))
    );
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/labels/b", "value": "2"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["conformance.videosdk.live/hold"]}
    ]))
    .unwrap();
    let s = api.patch("s", &pp, &Patch::<()>::Json(ops)).await.unwrap();
    assert_eq!(
        s.metadata.finalizers.as_deref(),
        Some(&["conformance.videosdk.live/hold".to_owned()][..])
    );
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/metadata/labels/b", "value": "9"}]))
            .unwrap();
    let e = api_error(api.patch("s", &pp, &Patch::<()>::Json(failing)).await);
    assert_eq!(e.code, 422);
    let s = api
        .patch(
            "s",
            &pp,
            &Patch::Strategic(json!({"metadata": {"annotations": {"x": "y"}, "finalizers": null}})),
        )
        .await
        .unwrap();
    assert_eq!(s.metadata.annotations.unwrap()["x"], "y");
    assert!(s.metadata.finalizers.is_none());
    let e = api_error(api.patch("missing", &pp, &Patch::Merge(json!({}))).await);
    assert_eq!(e.code, 404);
    // A merge patch carrying a stale resourceVersion is a precondition.
    let e = api_error(
        api.patch(
            "s",
            &pp,
            &Patch::Merge(json!({"metadata": {"resourceVersion": "1"}})),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    t.cleanup().await;
}

#[tokio::test]
async fn invalid_labels_are_rejected() {
    let t = TestCluster::new("verbs-labels").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let long = "x".repeat(64);
    let e = api_error(
        api.create(&PostParams::default(), &secret("s", json!({"owner": long})))
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        e.message,
        format!(
            "Secret \"s\" is invalid: metadata.labels: Invalid value: \"{long}\": must be no more than 63 characters"
        )
    );
    t.cleanup().await;
}

#[tokio::test]
async fn dry_run_writes_answer_but_store_nothing() {
    let t = TestCluster::new("verbs-dry-run").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let would = api.create(&dry, &secret("ghost", json!({}))).await.unwrap();
    assert_eq!(would.metadata.name.as_deref(), Some("ghost"));
    assert_eq!(api_error(api.get("ghost").await).code, 404);
    let real = api
        .create(&PostParams::default(), &secret("s", json!({"a": "1"})))
        .await
        .unwrap();
    let patched = api
        .patch(
            "s",
            &PatchParams {
                dry_run: true,
                ..Default::default()
            },
            &Patch::Merge(json!({"metadata": {"labels": {"a": "2"}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["a"], "2");
    let stored = api.get("s").await.unwrap();
    assert_eq!(stored.metadata.labels.unwrap()["a"], "1");
    assert_eq!(
        stored.metadata.resource_version,
        real.metadata.resource_version
    );
    api.delete(
        "s",
        &kube::api::DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(api.get("s").await.is_ok());
    t.cleanup().await;
}
