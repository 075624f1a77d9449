//! Where an end-to-end test runs: a fresh in-memory [`ApiServer`], or the real cluster that
//! the environment variable `VIDEOSDK_E2E_KUBECONFIG` names (a kubeconfig path), so that a
//! difference between this server and kube-apiserver shows up as a failing test wherever a
//! cluster is at hand.
//!
//! No real cluster exists on the machines this project is developed and tested on: there the
//! tests always run in memory. On a real cluster each test gets its own namespace, deleted
//! afterwards; cluster-scoped objects (CRDs) are applied, not deleted, as they are shared.
//!
//! A test that needs something newer than the oldest release it may meet requires it
//! ([`TestCluster::require`]), and is skipped, saying why, on a server that lacks it. A test
//! looks only at its own objects (by name, label or owner): a cluster's controllers put a
//! ServiceAccount `default` and a ConfigMap `kube-root-ca.crt` (and before 1.24 a ServiceAccount
//! token Secret) into every new namespace, as the in-memory server does too.

use crate::release::{Feature, Release};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube_apiserver_memory::{ApiServer, ApiServerOptions};
use std::future::Future;
use std::time::Duration;

/// The environment variable naming a real cluster's kubeconfig.
pub const E2E_KUBECONFIG: &str = "VIDEOSDK_E2E_KUBECONFIG";

/// How long a test waits for anything by default: generous for a real cluster's asynchronous
/// controllers (the in-memory server is immediate).
pub const WAIT: Duration = Duration::from_secs(60);

/// How long a panicking test's `Drop` waits for its namespace's deletion to be accepted.
const DROP_CLEANUP: Duration = Duration::from_secs(10);

/// Awaits `future` for at most `limit`, else panics with "timed out after {limit:?} waiting
/// for {what}", so that a test that waits on something that never happens fails and says what
/// it was waiting for instead of hanging.
pub async fn within<T>(
    limit: Duration,
    what: impl std::fmt::Display,
    future: impl Future<Output = T>,
) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// [`within`] the default [`WAIT`].
pub async fn wait_for<T>(what: impl std::fmt::Display, future: impl Future<Output = T>) -> T {
    within(WAIT, what, future).await
}

/// One test's cluster and namespace.
pub struct TestCluster {
    pub client: Client,
    /// A namespace of this test's own, already created.
    pub namespace: String,
    /// The server's release, read from `/version` once, at construction.
    release: Release,
    server: Option<ApiServer>,
    /// The real cluster's client configuration, from which `Drop` makes a client of its own.
    config: Option<kube::Config>,
    cleaned: bool,
}

impl TestCluster {
    /// A cluster for a test that also runs against a real cluster when one is given.
    pub async fn new(test: &str) -> TestCluster {
        match std::env::var_os(E2E_KUBECONFIG) {
            Some(path) => Self::real(std::path::Path::new(&path), test).await,
            None => Self::in_memory(test).await,
        }
    }

    /// A cluster reached through the kubeconfig at `path`, treated as a real cluster: the
    /// test's namespace is deleted by [`cleanup`](Self::cleanup), or by `Drop` when the test
    /// panics.
    pub async fn real(path: &std::path::Path, test: &str) -> TestCluster {
        let kubeconfig = kube::config::Kubeconfig::read_from(path)
            .unwrap_or_else(|e| panic!("reading the kubeconfig {path:?}: {e}"));
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("a usable kubeconfig");
        let client = Client::try_from(config.clone()).expect("a client");
        Self::with_client(client, None, Some(config), test).await
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
        Self::with_client(server.client(), Some(server), None, test).await
    }

    async fn with_client(
        client: Client,
        server: Option<ApiServer>,
        config: Option<kube::Config>,
        test: &str,
    ) -> TestCluster {
        let info = wait_for(
            "the server's version (/version)",
            client.apiserver_version(),
        )
        .await
        .expect("reading the server's version");
        let release = crate::release::of(&info).unwrap_or_else(|| {
            panic!(
                "cannot tell the server's Kubernetes release from /version: major {:?}, minor {:?}, gitVersion {:?}",
                info.major, info.minor, info.git_version
            )
        });
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
        wait_for(
            format_args!("the creation of namespace {namespace}"),
            Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns),
        )
        .await
        .expect("creating the test namespace");
        TestCluster {
            client,
            namespace,
            release,
            server,
            config,
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

    /// A client of the same server that authenticates with the bearer `token` alone (such as a
    /// ServiceAccount token from a TokenRequest): on a real cluster the kubeconfig's own
    /// credentials (a client certificate, say) are left out, as kube-apiserver would let them
    /// win over the token.
    pub fn client_with_bearer(&self, token: &str) -> Client {
        let mut config = match (&self.server, &self.config) {
            (Some(server), _) => {
                kube::Config::new(server.url().parse().expect("the server's URL is a URI"))
            }
            (None, Some(config)) => config.clone(),
            (None, None) => unreachable!("a real cluster keeps its configuration"),
        };
        config.auth_info = kube::config::AuthInfo {
            token: Some(token.to_owned().into()),
            ..Default::default()
        };
        Client::try_from(config).expect("a client")
    }

    /// The server's Kubernetes release.
    pub fn release(&self) -> Release {
        self.release
    }

    /// This cluster, or `None` when its server lacks `feature`: then the test's namespace is
    /// deleted and `skipped: <what> needs Kubernetes 1.N or later; the server is 1.M` printed,
    /// and the test returns early:
    ///
    /// ```text
    /// let Some(t) = TestCluster::new("test").await.require(FEATURE).await else {
    ///     return;
    /// };
    /// ```
    ///
    /// Panics when the in-memory server lacks it: a test skipped there, where the suite always
    /// runs, could never fail. The server's default release has every feature the tests require
    /// ([`ApiServerOptions::kubernetes_version`]).
    pub async fn require(self, feature: Feature) -> Option<TestCluster> {
        let Some(skip) = feature.skip_message(self.release) else {
            return Some(self);
        };
        assert!(
            self.is_real(),
            "the in-memory server would skip this test, so it could never fail ({skip}): its release must have everything the tests require"
        );
        eprintln!("{skip}");
        self.cleanup().await;
        None
    }

    /// Applies CRDs (server-side, field manager `e2e`) and waits until they are established.
    pub async fn apply_crds(&self, crds: &[CustomResourceDefinition]) {
        let api = Api::<CustomResourceDefinition>::all(self.client.clone());
        for crd in crds {
            let name = crd.metadata.name.clone().expect("CRDs are named");
            wait_for(
                format_args!("the apply of CRD {name}"),
                api.patch(
                    &name,
                    &PatchParams::apply("e2e").force(),
                    &Patch::Apply(crd),
                ),
            )
            .await
            .expect("applying a CRD");
            wait_for(
                format_args!("CRD {name} to be established"),
                await_condition(api.clone(), &name, conditions::is_crd_established()),
            )
            .await
            .expect("watching the CRD");
        }
    }

    /// Deletes the test namespace (real cluster) or stops the server.
    pub async fn cleanup(mut self) {
        self.cleaned = true;
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        } else {
            let namespaces = Api::<Namespace>::all(self.client.clone());
            let params = DeleteParams::default();
            let deleting = namespaces.delete(&self.namespace, &params);
            let _ = tokio::time::timeout(DROP_CLEANUP, deleting).await;
        }
    }
}

impl Drop for TestCluster {
    /// A test that panicked still removes its namespace from a real cluster.
    ///
    /// The test's own client cannot be used here: its requests go through a buffer task on the
    /// test's runtime, which this `Drop` blocks, so a request made with it would wait for ever.
    /// A thread with a runtime and a client of its own asks for the deletion instead, for at
    /// most [`DROP_CLEANUP`].
    fn drop(&mut self) {
        let Some(config) = self.config.take().filter(|_| !self.cleaned) else {
            return;
        };
        let namespace = self.namespace.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = runtime {
                rt.block_on(async {
                    let Ok(client) = Client::try_from(config) else {
                        return;
                    };
                    let namespaces = Api::<Namespace>::all(client);
                    let params = DeleteParams::default();
                    let deleting = namespaces.delete(&namespace, &params);
                    let _ = tokio::time::timeout(DROP_CLEANUP, deleting).await;
                });
            }
        })
        .join();
    }
}
