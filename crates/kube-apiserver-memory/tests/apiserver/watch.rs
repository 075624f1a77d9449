//! Watches: event types, resuming, 410 Gone, bookmarks, timeouts, and kube's watcher.

use crate::*;
use e2e_support::release::{Feature, Release};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use kube_apiserver_memory::ApiServerOptions;

/// Streaming lists (a watch with `sendInitialEvents=true`, the `WatchList` feature gate): on by
/// default in kube-apiserver 1.32, off in 1.33 (kubernetes/kubernetes#131359: 1.33 rejects the
/// parameter), on again from 1.34, per the feature gate's stages at
/// <https://kubernetes.io/docs/reference/command-line-tools-reference/feature-gates/>.
const STREAMING_LISTS: Feature = Feature {
    what: "a streaming list (`sendInitialEvents`, the WatchList feature gate)",
    since: Release::new(1, 32),
    except: &[Release::new(1, 33)],
};

/// A Secret with the label `test=watch`, by which the watches below ignore Secrets a real
/// cluster's own controllers may add to a new namespace.
fn secret(name: &str) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"test": "watch"}}}))
        .unwrap()
}

/// The next watch event, failing the test after [`WAIT`].
async fn next<S: Stream<Item = Result<WatchEvent<Secret>, kube::Error>> + Unpin>(
    s: &mut S,
) -> WatchEvent<Secret> {
    tokio::time::timeout(WAIT, s.next())
        .await
        .expect("a watch event in time")
        .expect("the watch is open")
        .expect("a well-formed watch event")
}

fn describe(e: &WatchEvent<Secret>) -> String {
    match e {
        WatchEvent::Added(s) => format!("ADDED {}", s.metadata.name.as_deref().unwrap_or("")),
        WatchEvent::Modified(s) => format!("MODIFIED {}", s.metadata.name.as_deref().unwrap_or("")),
        WatchEvent::Deleted(s) => format!("DELETED {}", s.metadata.name.as_deref().unwrap_or("")),
        WatchEvent::Bookmark(_) => "BOOKMARK".into(),
        WatchEvent::Error(e) => format!("ERROR {}", e.code),
    }
}

/// The next event that is not a bookmark.
async fn next_change<S: Stream<Item = Result<WatchEvent<Secret>, kube::Error>> + Unpin>(
    s: &mut S,
) -> String {
    wait_for("a watch event other than a bookmark", async {
        loop {
            let e = next(s).await;
            if !matches!(e, WatchEvent::Bookmark(_)) {
                return describe(&e);
            }
        }
    })
    .await
}

#[tokio::test]
async fn watch_sends_added_modified_deleted_in_order() {
    let t = TestCluster::new("watch-events").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let list = api.list(&ListParams::default()).await.unwrap();
    let from = list.metadata.resource_version.unwrap();
    let mut w = api
        .watch(&WatchParams::default().labels("test=watch"), &from)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &secret("s"))
        .await
        .unwrap();
    api.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
    )
    .await
    .unwrap();
    api.delete("s", &Default::default()).await.unwrap();
    assert_eq!(next_change(&mut w).await, "ADDED s");
    assert_eq!(next_change(&mut w).await, "MODIFIED s");
    assert_eq!(next_change(&mut w).await, "DELETED s");
    t.cleanup().await;
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version() {
    let t = TestCluster::new("watch-resume").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let a = api
        .create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"x": "1"}}})),
    )
    .await
    .unwrap();
    api.create(&PostParams::default(), &secret("b"))
        .await
        .unwrap();
    let mut w = api
        .watch(
            &WatchParams::default().labels("test=watch"),
            a.metadata.resource_version.as_deref().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    assert_eq!(next_change(&mut w).await, "MODIFIED a");
    assert_eq!(next_change(&mut w).await, "ADDED b");
    t.cleanup().await;
}

/// Creates the Secret `s` and watches Secrets with `params` from its resourceVersion.
async fn create_then_watch(
    api: &Api<Secret>,
    params: &WatchParams,
) -> (
    Secret,
    BoxStream<'static, Result<WatchEvent<Secret>, kube::Error>>,
) {
    let s = api
        .create(&PostParams::default(), &secret("s"))
        .await
        .unwrap();
    let rv = s.metadata.resource_version.as_deref().unwrap();
    let w = api.watch(params, rv).await.unwrap().boxed();
    (s, w)
}

#[tokio::test]
async fn a_selecting_watch_sees_objects_enter_and_leave_the_selection() {
    let t = TestCluster::new("watch-selector").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let (_, mut w) = create_then_watch(&api, &WatchParams::default().labels("app=x")).await;
    let pp = PatchParams::default();
    api.patch(
        "s",
        &pp,
        &Patch::Merge(json!({"metadata": {"labels": {"app": "x"}}})),
    )
    .await
    .unwrap();
    let left = api
        .patch(
            "s",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"app": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(next_change(&mut w).await, "ADDED s");
    // kube-apiserver's watch cache sends an object that left the selection with its content
    // before the change (what matched: a controller maps it by those labels) at the new
    // resourceVersion.
    let deleted = loop {
        match next(&mut w).await {
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Deleted(s) => break s,
            other => panic!("expected DELETED s, got {}", describe(&other)),
        }
    };
    assert_eq!(deleted.metadata.name.as_deref(), Some("s"));
    assert_eq!(
        deleted
            .metadata
            .labels
            .unwrap_or_default()
            .get("app")
            .map(String::as_str),
        Some("x"),
        "the DELETED event carries the object as it matched"
    );
    assert_eq!(
        deleted.metadata.resource_version,
        left.metadata.resource_version
    );
    t.cleanup().await;
}

#[tokio::test]
async fn watch_from_a_version_older_than_the_history_is_gone() {
    // Needs the server's history bound; a real cluster compacts on its own schedule.
    let options = ApiServerOptions {
        watch_history: 2,
        ..Default::default()
    };
    let t = TestCluster::in_memory_with(options, "watch-gone").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let first = api
        .create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    for n in ["b", "c", "d"] {
        api.create(&PostParams::default(), &secret(n))
            .await
            .unwrap();
    }
    let mut w = api
        .watch(
            &WatchParams::default(),
            first.metadata.resource_version.as_deref().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    match next(&mut w).await {
        WatchEvent::Error(e) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            assert!(
                e.message.starts_with("too old resource version"),
                "{}",
                e.message
            );
        }
        other => panic!("expected 410 Gone, got {}", describe(&other)),
    }
    t.cleanup().await;
}

#[tokio::test]
async fn watch_sends_bookmarks_when_asked() {
    let t = TestCluster::new("watch-bookmarks").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let (s, mut w) = create_then_watch(&api, &WatchParams::default().labels("test=watch")).await;
    // kube-apiserver sends bookmarks about once a minute; this server every second.
    let first = tokio::time::timeout(WAIT * 3, w.next())
        .await
        .expect("a bookmark in time");
    match first
        .expect("the watch is open")
        .expect("a well-formed event")
    {
        WatchEvent::Bookmark(b) => {
            let at: u64 = b.metadata.resource_version.parse().unwrap();
            assert!(at >= rv(&s.metadata));
        }
        other => panic!("expected a bookmark, got {}", describe(&other)),
    }
    t.cleanup().await;
}

#[tokio::test]
async fn watch_ends_at_timeout_seconds() {
    let t = TestCluster::new("watch-timeout").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let w = api
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap();
    let events: Vec<_> = tokio::time::timeout(WAIT, w.try_collect::<Vec<_>>())
        .await
        .expect("the watch ends by itself")
        .unwrap();
    assert!(events.iter().all(|e| !matches!(e, WatchEvent::Error(_))));
    t.cleanup().await;
}

async fn watcher_sees(t: &TestCluster, config: watcher::Config) {
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    api.create(&PostParams::default(), &secret("before"))
        .await
        .unwrap();
    let mut events = watcher(api.clone(), config).boxed();
    let mut saw_init_done = false;
    let mut created_after = false;
    wait_for(
        "the watcher to list Secret before and then see Secret after",
        async {
            loop {
                let e = events
                    .try_next()
                    .await
                    .unwrap()
                    .expect("the watcher goes on");
                match e {
                    // Objects that other actors create (a ServiceAccount token Secret on old
                    // clusters) are tolerated.
                    watcher::Event::InitApply(_) => {}
                    watcher::Event::InitDone => {
                        saw_init_done = true;
                        api.create(&PostParams::default(), &secret("after"))
                            .await
                            .unwrap();
                        created_after = true;
                    }
                    watcher::Event::Apply(s)
                        if created_after && s.metadata.name.as_deref() == Some("after") =>
                    {
                        break;
                    }
                    _ => {}
                }
            }
        },
    )
    .await;
    assert!(saw_init_done);
}

#[tokio::test]
async fn kube_watcher_lists_then_watches() {
    let t = TestCluster::new("watcher-list-watch").await;
    watcher_sees(&t, watcher::Config::default()).await;
    t.cleanup().await;
}

#[tokio::test]
async fn kube_watcher_with_streaming_lists() {
    let Some(t) = TestCluster::new("watcher-streaming")
        .await
        .require(STREAMING_LISTS)
        .await
    else {
        return;
    };
    watcher_sees(&t, watcher::Config::default().streaming_lists()).await;
    t.cleanup().await;
}

#[tokio::test]
async fn metadata_lists_and_watches_carry_only_metadata() {
    let t = TestCluster::new("watch-metadata").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let s: Secret = serde_json::from_value(
        json!({"metadata": {"name": "s", "labels": {"a": "b"}}, "stringData": {"k": "v"}}),
    )
    .unwrap();
    api.create(&PostParams::default(), &s).await.unwrap();
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    // The namespace may hold Secrets of other actors: this test's is found by name.
    let item = list
        .items
        .iter()
        .find(|i| i.metadata.name.as_deref() == Some("s"))
        .expect("the metadata list holds Secret s");
    let types = item.types.as_ref().expect("items are typed");
    assert_eq!(
        (types.api_version.as_str(), types.kind.as_str()),
        ("meta.k8s.io/v1", "PartialObjectMetadata")
    );
    assert_eq!(item.metadata.labels.as_ref().unwrap()["a"], "b");
    let one = api.get_metadata("s").await.unwrap();
    assert_eq!(one.types.unwrap().kind, "PartialObjectMetadata");
    let mut events = watcher(
        Api::<kube::core::PartialObjectMeta<Secret>>::namespaced(t.client.clone(), &t.namespace),
        watcher::Config::default(),
    )
    .boxed();
    wait_for("a metadata watcher to see Secret later", async {
        loop {
            let e = events
                .try_next()
                .await
                .unwrap()
                .expect("the watcher goes on");
            match e {
                watcher::Event::InitApply(m) => {
                    assert_eq!(m.types.unwrap().kind, "PartialObjectMetadata")
                }
                watcher::Event::InitDone => api
                    .create(&PostParams::default(), &secret("later"))
                    .await
                    .map(|_| ())
                    .unwrap(),
                watcher::Event::Apply(m) if m.metadata.name.as_deref() == Some("later") => {
                    assert_eq!(m.types.unwrap().kind, "PartialObjectMetadata");
                    break;
                }
                _ => {}
            }
        }
    })
    .await;
    t.cleanup().await;
}
