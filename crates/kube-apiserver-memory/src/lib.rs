//! An in-memory Kubernetes API server on loopback HTTP, for the `dev` command, the tests and
//! the benchmarks: kube's `Client`, `watcher` and `Controller`, and kubectl, work against it
//! as against kube-apiserver, for the resources this project needs.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use kube_apiserver_memory::{ApiServer, ApiServerOptions};
//! let server = ApiServer::start(ApiServerOptions::default()).await?;
//! let client = server.client();
//! // ... run the operator with `client`, then:
//! println!("writes: {}", server.requests().writes());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! How it is put together: `store` keeps objects as serialised bytes with a small
//! summary, one global `resourceVersion`, and per resource a watch history and a broadcast
//! channel, all behind one lock; `verbs` (create, update, patch, apply) and `gc` (delete,
//! finalizers, propagation, garbage collection, namespaces, CRD removal) run the semantics on
//! it, and `namespace_defaults` puts into each new namespace what a cluster's controllers do
//! (the ServiceAccount `default`, the ConfigMap `kube-root-ca.crt`); `managed` is field ownership and server-side apply; `http` and `watch` are the REST
//! surface; `discovery`, `openapi`, `table` and `representation` answer what kubectl and kube
//! ask for besides objects; `faults` and `accounting` are for tests and benchmarks. The pieces
//! many modules share are leaves that import nothing of the crate's but `error`: `stored` (one
//! object's bytes and summary), `clock`, `identity` (who a request acts as), `request` and
//! `responses` (the HTTP helpers); the module graph has no cycle.
//!
//! Known differences from kube-apiserver: lists are atomic for server-side apply (no merging
//! of associative lists by key); strategic merge patches are applied as merge patches; CRD
//! versions are not converted (every served version returns the stored object); deleting a
//! CRD removes its objects without waiting for their finalizers; garbage collection and
//! namespace cleanup happen at once rather than a moment later; a request without credentials
//! is the administrator, and requests are not authorized against RBAC, but a bearer token issued
//! by its TokenRequest subresource authenticates as its ServiceAccount, impersonation headers
//! are checked against RBAC (`impersonation`), and the reviews (TokenReview, SubjectAccessReview,
//! SelfSubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview) are answered from those
//! tokens and the RBAC objects it stores (`authn`, `authz`, `reviews`); there are no admission
//! webhooks, and no pods or other resources this project does not use. Protobuf request bodies
//! are read for the kinds listed in `protobuf`. Structural-schema admission of custom resources goes through
//! `crd_schema`.

// The crate's MSRV is 1.88 (k8s-pb's), where clippy proposes let-chains for nested `if let`s;
// the code was written for 1.85, and rewriting it is left out of the change that moved it.
#![allow(clippy::collapsible_if)]

mod accounting;
mod authn;
mod authz;
mod builtin;
mod clock;
mod crd;
mod crd_schema;
mod discovery;
mod error;
mod events;
mod faults;
mod gc;
mod http;
mod identity;
mod impersonation;
pub mod kubeconfig;
mod managed;
mod namespace_defaults;
mod openapi;
mod openapi_protobuf;
mod patch;
mod protobuf;
mod representation;
mod request;
mod resources;
mod responses;
mod reviews;
pub mod schema;
mod selector;
mod store;
mod stored;
mod table;
mod validation;
mod value_equality;
mod verbs;
mod watch;

pub use accounting::{Access, RequestCounts, Verb};
pub use faults::FaultRule;
pub use value_equality::go_round_trip;

use accounting::Accounting;
use faults::Faults;
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::State;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ApiServerOptions {
    /// Where to listen; port 0 picks a free one.
    pub address: SocketAddr,
    /// Watch events kept per resource for resuming watches; older resumes get 410 Gone.
    pub watch_history: usize,
    /// How often a watch that asked for bookmarks gets one.
    pub bookmark_interval: Duration,
    /// The Kubernetes release `(major, minor)` that `/version` reports, so that a test can see
    /// how a client treats an older server. Nothing else changes with it.
    ///
    /// The default, 1.34, is a release whose defaults this server follows where they changed
    /// lately: it serves streaming lists (`sendInitialEvents`), which kube-apiserver has on by
    /// default in 1.32 and from 1.34 but off in 1.33 (the `WatchList` feature gate,
    /// <https://kubernetes.io/docs/reference/command-line-tools-reference/feature-gates/>;
    /// kubernetes/kubernetes#131359 turned it off for 1.33). The end-to-end tests skip what the
    /// server's release lacks, so a lower default would skip tests here.
    pub kubernetes_version: (u32, u32),
}

impl Default for ApiServerOptions {
    fn default() -> Self {
        ApiServerOptions {
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(1),
            kubernetes_version: (1, 34),
        }
    }
}

/// What the HTTP handlers share.
pub(crate) struct Shared {
    state: Mutex<State>,
    faults: Faults,
    accounting: Accounting,
    /// Bumped to end every open watch.
    close_watches: tokio::sync::watch::Sender<u64>,
    /// `host:port`, for `/api`'s `serverAddressByClientCIDRs`.
    address: String,
    bookmark_interval: Duration,
    /// What `/version` reports.
    kubernetes_version: (u32, u32),
    /// ServiceAccount tokens issued through TokenRequests, for TokenReviews.
    tokens: authn::Tokens,
}

impl Shared {
    /// The store. A handler that panicked while holding it leaves it poisoned; the server goes
    /// on serving what is there (a test or a `dev` session then sees that one request fail)
    /// rather than failing every request from then on.
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running server. Dropping it stops serving; [`ApiServer::shutdown`] does so gracefully.
pub struct ApiServer {
    shared: Arc<Shared>,
    url: String,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<()>>,
    watch_closer: Mutex<Option<JoinHandle<()>>>,
}

/// Namespaces that exist in every cluster.
const INITIAL_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

impl ApiServer {
    /// Binds and starts serving; the server is ready when this returns.
    pub async fn start(options: ApiServerOptions) -> std::io::Result<ApiServer> {
        let listener = tokio::net::TcpListener::bind(options.address).await?;
        let address = listener.local_addr()?;
        let mut state = State::new(options.watch_history);
        let ns_def = state
            .registry
            .get("", "v1", "namespaces")
            .expect("namespaces are built in");
        let ctx = verbs::WriteCtx {
            manager: "kube-apiserver".into(),
            manager_given: true,
            force: false,
            now: clock::now(),
        };
        for ns in INITIAL_NAMESPACES {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            verbs::create(&mut state, &ns_def, "", obj, &ctx, verbs::Managed::Record)
                .expect("initial namespaces are valid");
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            faults: Faults::default(),
            accounting: Accounting::default(),
            close_watches: tokio::sync::watch::channel(0).0,
            address: address.to_string(),
            bookmark_interval: options.bookmark_interval,
            kubernetes_version: options.kubernetes_version,
            tokens: authn::Tokens::default(),
        });
        let app = axum::Router::new()
            .fallback(http::handle)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(ApiServer {
            shared,
            url: format!("http://{address}"),
            stop: Some(stop),
            serving: Some(serving),
            watch_closer: Mutex::new(None),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client for this server, default namespace `default`.
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url.parse().expect("the server URL is a valid URI"));
        kube::Client::try_from(config).expect("a plain-HTTP config always makes a client")
    }

    /// A kubeconfig pointing at this server.
    pub fn kubeconfig(&self) -> String {
        kubeconfig::render(&self.url)
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// Requests served so far, by verb and resource (`secrets`, `videosdktokens/status`).
    pub fn requests(&self) -> RequestCounts {
        self.shared.accounting.snapshot()
    }

    pub fn reset_requests(&self) {
        self.shared.accounting.reset()
    }

    /// Every distinct access (who, verb, group, resource, namespace) since the last reset: what
    /// a client would need RBAC for.
    pub fn accesses(&self) -> std::collections::BTreeSet<Access> {
        self.shared.accounting.accesses()
    }

    /// Adds a fault rule; rules add up (latencies sum, the first error drawn wins).
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.faults.add(rule)
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear()
    }

    /// Ends every open watch now (clients see the stream end and re-watch).
    pub fn close_watches(&self) {
        self.shared.close_watches.send_modify(|n| *n += 1);
    }

    /// Ends every open watch every `period`, or no more with `None`.
    pub fn close_watches_every(&self, period: Option<Duration>) {
        let mut closer = self.watch_closer.lock().expect("closer lock");
        if let Some(old) = closer.take() {
            old.abort();
        }
        if let Some(period) = period {
            let shared = self.shared.clone();
            *closer = Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    shared.close_watches.send_modify(|n| *n += 1);
                }
            }));
        }
    }

    /// Ends all watches, stops accepting connections and waits (at most 5 s) for open requests.
    pub async fn shutdown(mut self) {
        self.close_watches_every(None);
        self.close_watches();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            let abort = serving.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), serving)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(closer) = self.watch_closer.get_mut().ok().and_then(Option::take) {
            closer.abort();
        }
        if let Some(serving) = self.serving.take() {
            serving.abort();
        }
    }
}
