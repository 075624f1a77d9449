//! The test harness itself: a test that fails on a real cluster fails, rather than hanging, and
//! still deletes its namespace.

use crate::*;
use k8s_openapi::api::core::v1::Namespace;
use kube_apiserver_memory::{ApiServer, ApiServerOptions};
use std::time::Duration;

/// A server on a runtime of its own, as a real cluster is: blocking the test's runtime does not
/// stop it from answering.
fn server_elsewhere() -> (String, std::sync::mpsc::Sender<()>) {
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let server = runtime
            .block_on(ApiServer::start(ApiServerOptions::default()))
            .expect("the server starts");
        url_tx.send(server.kubeconfig()).expect("the test waits");
        let _ = stop_rx.recv();
        runtime.block_on(server.shutdown());
    });
    let kubeconfig = url_rx
        .recv_timeout(WAIT)
        .expect("the server starts in time");
    (kubeconfig, stop_tx)
}

/// What a panicking test does: its `TestCluster` is dropped on the test's own runtime without
/// `cleanup`. The drop ends within seconds (it used to wait for ever on a request that needed
/// the runtime it blocked) and the namespace is deleted.
#[test]
fn a_dropped_real_cluster_deletes_its_namespace_without_hanging() {
    let (kubeconfig, stop) = server_elsewhere();
    let path = std::env::temp_dir().join(format!(
        "videosdk-harness-{}.kubeconfig",
        uuid::Uuid::new_v4()
    ));
    std::fs::write(&path, kubeconfig).unwrap();
    let (named, namespace) = std::sync::mpsc::channel();
    let (dropped, has_dropped) = std::sync::mpsc::channel();
    let test_path = path.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let t = TestCluster::real(&test_path, "harness-drop").await;
            named.send(t.namespace.clone()).unwrap();
            // Inside the test's runtime, as unwinding from a failed assertion drops it.
            drop(t);
        });
        let _ = dropped.send(());
    });
    let namespace = namespace
        .recv_timeout(WAIT)
        .expect("the test namespace is created in time");
    has_dropped
        .recv_timeout(Duration::from_secs(15))
        .expect("the TestCluster's Drop returns within 15 s");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let left = runtime.block_on(async {
        let t = TestCluster::real(&path, "harness-check").await;
        let left = Api::<Namespace>::all(t.client.clone())
            .get_opt(&namespace)
            .await
            .unwrap();
        t.cleanup().await;
        left
    });
    assert!(
        left.is_none_or(|ns| ns.metadata.deletion_timestamp.is_some()),
        "namespace {namespace} is still there"
    );
    let _ = stop.send(());
    let _ = std::fs::remove_file(&path);
}

/// A wait that never ends fails, naming what it waited for.
#[tokio::test]
async fn a_wait_past_its_deadline_says_what_it_waited_for() {
    let waited = tokio::spawn(e2e_support::cluster::within(
        Duration::from_millis(50),
        "Godot",
        std::future::pending::<()>(),
    ))
    .await
    .expect_err("the wait panics");
    let message = waited.into_panic();
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert_eq!(message, "timed out after 50ms waiting for Godot");
}
