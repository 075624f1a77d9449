//! The test harness itself: a test that fails on a real cluster fails, rather than hanging, and
//! still deletes its namespace.

use crate::*;
use k8s_openapi::api::core::v1::Namespace;
use kube_apiserver_memory::{ApiServer, ApiServerOptions};
use std::time::Duration;

/// A server on a runtime of its own, as a real cluster is: blocking the test's runtime does not
/// stop it from answering. It reports Kubernetes `release`.
fn server_elsewhere(release: (u32, u32)) -> (String, std::sync::mpsc::Sender<()>) {
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let server = runtime
            .block_on(ApiServer::start(ApiServerOptions {
                kubernetes_version: release,
                ..ApiServerOptions::default()
            }))
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
    let (kubeconfig, stop) = server_elsewhere(ApiServerOptions::default().kubernetes_version);
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

/// A requirement the server meets keeps the test running, on the cluster it had.
#[tokio::test]
async fn a_requirement_the_server_meets_runs_the_test() {
    let t = TestCluster::in_memory("harness-new").await;
    let namespace = t.namespace.clone();
    let t = t
        .require(e2e_support::operator_crds::CRDS_NEED)
        .await
        .expect("the in-memory server's default release has what the tests require");
    assert_eq!(t.namespace, namespace);
    t.cleanup().await;
}

/// The server's release is read once, at construction; a test that requires more than an
/// in-memory server reports fails rather than being skipped where the suite always runs.
#[tokio::test]
#[should_panic(
    expected = "the in-memory server would skip this test, so it could never fail (skipped: installing the operator's CRDs"
)]
async fn a_requirement_the_in_memory_server_lacks_fails_the_test() {
    let options = ApiServerOptions {
        kubernetes_version: (1, 27),
        ..ApiServerOptions::default()
    };
    let t = TestCluster::in_memory_with(options, "harness-old").await;
    assert_eq!(t.release(), e2e_support::release::Release::new(1, 27));
    let _ = t.require(e2e_support::operator_crds::CRDS_NEED).await;
}

/// On a real cluster older than a test needs, the test is skipped (it gets `None`), and its
/// namespace is deleted. The "cluster" is an in-memory server reporting 1.27, reached through
/// a kubeconfig as a real one is.
#[test]
fn a_real_cluster_older_than_a_requirement_skips_the_test_and_deletes_its_namespace() {
    let (kubeconfig, stop) = server_elsewhere((1, 27));
    let path = std::env::temp_dir().join(format!(
        "videosdk-harness-{}.kubeconfig",
        uuid::Uuid::new_v4()
    ));
    std::fs::write(&path, kubeconfig).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let t = TestCluster::real(&path, "harness-skip").await;
        let (client, namespace) = (t.client.clone(), t.namespace.clone());
        assert!(
            t.require(e2e_support::operator_crds::CRDS_NEED)
                .await
                .is_none()
        );
        let left = Api::<Namespace>::all(client)
            .get_opt(&namespace)
            .await
            .unwrap();
        assert!(left.is_none(), "namespace {namespace} is still there");
    });
    let _ = stop.send(());
    let _ = std::fs::remove_file(&path);
}
