//! Where an end-to-end test runs: a fresh in-memory [`ApiServer`], or the real cluster that
//! the environment variable `VIDEOSDK_E2E_KUBECONFIG` names (a kubeconfig path), so that a
//! difference between this server and kube-apiserver shows up as a failing test wherever a
//! cluster is at hand.
//!
//! No real cluster exists on the machines this project is developed and tested on: there the
//! tests always run in memory. On a real cluster each test gets its own namespace, deleted
//! afterwards; cluster-scoped objects (CRDs) are applied, not deleted, as they are shared.

use super::{ApiServer, ApiServerOptions};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use std::time::Duration;

/// The environment variable naming a real cluster's kubeconfig.
pub const E2E_KUBECONFIG: &str = "VIDEOSDK_E2E_KUBECONFIG";

/// One test's cluster and namespace.
pub struct TestCluster {
    pub client: Client,
    /// A namespace of this test's own, already created.
    pub namespace: String,
    server: Option<ApiServer>,
    cleaned: bool,
}

impl TestCluster {
    /// A cluster for a test that also runs against a real cluster when one is given.
    pub async fn new(test: &str) -> TestCluster {
        match std::env::var_os(E2E_KUBECONFIG) {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(&path)
                    .unwrap_or_else(|e| panic!("reading {E2E_KUBECONFIG}={path:?}: {e}"));
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                    .await
                    .expect("a usable kubeconfig");
                Self::with_client(Client::try_from(config).expect("a client"), None, test).await
            }
            None => Self::in_memory(test).await,
        }
    }

    /// A cluster for a test that needs this server (fault injection, request accounting).
    pub async fn in_memory(test: &str) -> TestCluster {
        Self::in_memory_with(ApiServerOptions::default(), test).await
    }

    /// An in-memory cluster with non-default options (e.g. a short watch history).
    pub async fn in_memory_with(options: ApiServerOptions, test: &str) -> TestCluster {
        let server = ApiServer::start(options)
            .await
            .expect("the in-memory API server starts");
        Self::with_client(server.client(), Some(server), test).await
    }

    async fn with_client(client: Client, server: Option<ApiServer>, test: &str) -> TestCluster {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let mut prefix: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(50)
            .collect();
        prefix = prefix.trim_matches('-').to_owned();
        let namespace = format!("{prefix}-{suffix}");
        let ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}}))
                .expect("a namespace");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("creating the test namespace");
        TestCluster {
            client,
            namespace,
            server,
            cleaned: false,
        }
    }

    /// The in-memory server, `None` on a real cluster.
    pub fn server(&self) -> Option<&ApiServer> {
        self.server.as_ref()
    }

    pub fn is_real(&self) -> bool {
        self.server.is_none()
    }

    /// Applies CRDs (server-side, field manager `e2e`) and waits until they are established.
    pub async fn apply_crds(&self, crds: &[CustomResourceDefinition]) {
        let api = Api::<CustomResourceDefinition>::all(self.client.clone());
        for crd in crds {
            let name = crd.metadata.name.clone().expect("CRDs are named");
            api.patch(
                &name,
                &PatchParams::apply("e2e").force(),
                &Patch::Apply(crd),
            )
            .await
            .expect("applying a CRD");
            tokio::time::timeout(
                Duration::from_secs(30),
                await_condition(api.clone(), &name, conditions::is_crd_established()),
            )
            .await
            .expect("the CRD is established in time")
            .expect("watching the CRD");
        }
    }

    /// Deletes the test namespace (real cluster) or stops the server.
    pub async fn cleanup(mut self) {
        self.cleaned = true;
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        } else {
            let _ = Api::<Namespace>::all(self.client.clone())
                .delete(&self.namespace, &DeleteParams::default())
                .await;
        }
    }
}

impl Drop for TestCluster {
    /// A test that panicked still removes its namespace from a real cluster.
    fn drop(&mut self) {
        if self.cleaned || self.server.is_some() {
            return;
        }
        let (client, namespace) = (self.client.clone(), self.namespace.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = runtime {
                rt.block_on(async {
                    let _ = Api::<Namespace>::all(client)
                        .delete(&namespace, &DeleteParams::default())
                        .await;
                });
            }
        })
        .join();
    }
}
