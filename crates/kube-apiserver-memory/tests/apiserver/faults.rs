//! Fault injection and request accounting (in-memory only: they are this server's own knobs).

use crate::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube_apiserver_memory::{FaultRule, Verb};
use std::time::Instant;

fn secret(name: &str) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

#[tokio::test]
async fn injected_errors_carry_kube_apiserver_statuses() {
    let t = TestCluster::in_memory("faults-errors").await;
    let server = t.server().unwrap();
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    api.create(&PostParams::default(), &secret("s"))
        .await
        .unwrap();

    server.add_fault(
        FaultRule::any()
            .verb(Verb::Get)
            .resource("secrets")
            .internal_errors(1.0),
    );
    let e = api_error(api.get("s").await);
    assert_eq!((e.code, e.reason.as_str()), (500, "InternalError"));
    assert!(
        api.list(&Default::default()).await.is_ok(),
        "other verbs are untouched"
    );
    server.clear_faults();

    server.add_fault(
        FaultRule::any()
            .resource("secrets")
            .too_many_requests(1.0, 7),
    );
    // kube's default client retries 429s itself (honouring Retry-After); look at one answer.
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.default_retry = false;
    let once: Api<Secret> = Api::namespaced(kube::Client::try_from(config).unwrap(), &t.namespace);
    let e = api_error(once.get("s").await);
    assert_eq!((e.code, e.reason.as_str()), (429, "TooManyRequests"));
    let raw = reqwest_like_get(
        server.url(),
        &format!("/api/v1/namespaces/{}/secrets/s", t.namespace),
    )
    .await;
    assert!(
        raw.contains("Retry-After: 7") || raw.contains("retry-after: 7"),
        "{raw}"
    );
    server.clear_faults();

    server.add_fault(FaultRule::any().resource("secrets").conflicts(1.0));
    assert!(api.get("s").await.is_ok(), "reads never conflict");
    let e = api_error(
        api.patch("s", &PatchParams::default(), &Patch::Merge(json!({})))
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    server.clear_faults();

    server.add_fault(
        FaultRule::any()
            .verb(Verb::Get)
            .latency(std::time::Duration::from_millis(200)),
    );
    let start = Instant::now();
    api.get("s").await.unwrap();
    assert!(start.elapsed() >= std::time::Duration::from_millis(200));
    t.cleanup().await;
}

/// A raw HTTP/1.1 GET, to see response headers kube does not surface.
async fn reqwest_like_get(url: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn requests_are_counted_by_verb_and_resource() {
    let t = TestCluster::in_memory("faults-accounting").await;
    let server = t.server().unwrap();
    server.reset_requests();
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    api.create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::apply("op"),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}})),
    )
    .await
    .unwrap();
    api.get("a").await.unwrap();
    api.list(&Default::default()).await.unwrap();
    let counts = server.requests();
    assert_eq!(counts.get(Verb::Create, "secrets"), 1);
    assert_eq!(counts.get(Verb::Patch, "secrets"), 1);
    assert_eq!(counts.get(Verb::Get, "secrets"), 1);
    assert_eq!(counts.get(Verb::List, "secrets"), 1);
    assert_eq!(counts.writes_to("secrets"), 2);
    assert_eq!(counts.writes(), 2);
    t.cleanup().await;
}

#[tokio::test]
async fn closed_watches_are_resumed_by_kube_watcher() {
    let t = TestCluster::in_memory("faults-close-watches").await;
    let server = t.server().unwrap();
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    wait_for("the watcher's initial list", async {
        while !matches!(
            events
                .try_next()
                .await
                .unwrap()
                .expect("the watcher goes on"),
            watcher::Event::InitDone
        ) {}
    })
    .await;
    let watches_before = server.requests().get(Verb::Watch, "secrets");
    server.close_watches();
    api.create(&PostParams::default(), &secret("after-close"))
        .await
        .unwrap();
    wait_for("the resumed watcher to see Secret after-close", async {
        loop {
            let e = events
                .try_next()
                .await
                .unwrap()
                .expect("the watcher goes on");
            if let watcher::Event::Apply(s) = e {
                assert_eq!(s.metadata.name.as_deref(), Some("after-close"));
                break;
            }
        }
    })
    .await;
    assert!(
        server.requests().get(Verb::Watch, "secrets") > watches_before,
        "the watcher re-watched"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn watches_can_be_closed_periodically() {
    let t = TestCluster::in_memory("faults-close-every").await;
    let server = t.server().unwrap();
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    server.close_watches_every(Some(std::time::Duration::from_millis(50)));
    for _ in 0..2 {
        let w = api
            .watch(&kube::api::WatchParams::default(), "0")
            .await
            .unwrap();
        let ended = tokio::time::timeout(WAIT, w.try_collect::<Vec<_>>()).await;
        assert!(ended.expect("the server closes the watch").is_ok());
    }
    server.close_watches_every(None);
    t.cleanup().await;
}
