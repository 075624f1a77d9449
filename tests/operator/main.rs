//! End-to-end tests of the operator: the real `kube::runtime` controllers, in-process, against
//! the in-memory API server — or against a real cluster when `VIDEOSDK_E2E_KUBECONFIG` names a
//! kubeconfig (each test in its own namespace, with an operator watching only that namespace).
//! No real cluster exists on the machines this project is built on, so there they run in memory.
//! `cargo test --test operator`.

// A test or benchmark binary exports nothing: its `pub` items are shared between its own
// modules, and are not the crate's public API that `missing_docs` is about.
#![allow(unreachable_pub, missing_docs)]

mod bad_input;
mod kstatus;
mod lifecycle;
mod listeners;
mod logs;
mod matrix;
mod objects;
mod production;
mod rbac;
mod requests;
mod restart;
mod secret_edits;
mod soak;
mod token_requests;

use e2e_support::cluster::TestCluster;
use e2e_support::operator_crds::CRDS_NEED;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use videosdk_token_operator::api::{VideoSdkToken, VideoSdkTokenStatus};
use videosdk_token_operator::controller::{self, Metrics, Settings};
use videosdk_token_operator::manifests;
use videosdk_token_operator::request_timeout;
use videosdk_token_operator::token::{self, Claims};

/// Whether the suite runs against a real cluster, where a test that needs what only the
/// in-memory API server has (request accounting, fault injection) cannot run: it then says so
/// on stderr, with `needs`, and the test returns.
pub fn skipped_on_a_real_cluster(needs: &str) -> bool {
    let real = std::env::var_os(e2e_support::cluster::E2E_KUBECONFIG).is_some();
    if real {
        eprintln!("SKIPPED on a real cluster: {needs}");
    }
    real
}

/// Held for their whole run by the test whose assertion has a time budget (the API outage soak:
/// every token re-signed within 3 s of recovery) and by the tests that load the CPU most (the
/// fault-injection soak with its 200 tokens, and token requests: certificates, TLS handshakes,
/// bursts of requests), so that on a 2-core machine one never eats the other's budget. The
/// assertions stay as they are; only their overlap goes.
pub static CPU_HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Long enough for a real cluster; the in-memory one answers in milliseconds.
pub const WAIT: Duration = Duration::from_secs(60);
/// The API key of every test's credentials.
pub const API_KEY: &str = "e2e-api-key";
/// Every API secret the tests use starts with this, so that the log test can look for it.
pub const SECRET_PREFIX: &str = "e2e-secret-";

/// Everything the operator logged in this test binary (all tests), for the log test.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.get_or_init(Default::default).lock().unwrap()).into_owned()
}

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct Capture(Arc<Mutex<Vec<u8>>>);
impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the operator's logs at debug level, once per test binary.
fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let buffer = LOGS.get_or_init(Default::default).clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(move || Capture(buffer.clone()))
            .try_init();
    });
}

/// A test's cluster with the CRDs installed and the operator running against its namespace.
pub struct Env {
    pub t: TestCluster,
    pub metrics: Arc<Metrics>,
    operator: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Env {
    /// A test's cluster with the CRDs installed and the operator running, or `None` (and the
    /// test returns) on a server older than the CRDs need, after saying so.
    pub async fn start(test: &str) -> Option<Env> {
        Env::start_on(TestCluster::new(test).await).await
    }

    /// [`Env::start`] on the cluster `t` (an in-memory one with options of its own).
    pub async fn start_on(t: TestCluster) -> Option<Env> {
        capture_logs();
        let t = t.require(CRDS_NEED).await?;
        tokio::time::timeout(WAIT, manifests::install_crds(&t.client))
            .await
            .expect("CRDs established in time")
            .expect("CRDs installed");
        let mut env = Env {
            t,
            metrics: Default::default(),
            operator: None,
        };
        env.start_operator();
        Some(env)
    }

    pub fn namespace(&self) -> &str {
        &self.t.namespace
    }

    fn start_operator(&mut self) {
        self.start_operator_with(self.t.client.clone());
    }

    /// Starts the operator with a client of its own (e.g. one that reaches the API server
    /// through a proxy the test can cut).
    pub fn start_operator_with(&mut self, client: kube::Client) {
        self.start_operator_configured(client, |_| {});
    }

    /// Starts the operator with a client of its own and the tests' settings changed by
    /// `configure` (as a `run` flag would).
    pub fn start_operator_configured(
        &mut self,
        client: kube::Client,
        configure: impl FnOnce(&mut Settings),
    ) {
        let mut settings = Settings {
            namespace: Some(self.t.namespace.clone()),
            rollout_debounce: Duration::from_secs(1),
            ..Settings::new(self.t.namespace.clone())
        };
        configure(&mut settings);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(controller::run(
            // As `run` makes it: every request but a watch cut at its deadline.
            request_timeout::bounded(client, request_timeout::REQUEST_TIMEOUT),
            settings,
            self.metrics.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        self.operator = Some((stop, task));
    }

    /// Whether the operator task is still running (it did not panic or give up).
    pub fn operator_running(&self) -> bool {
        self.operator
            .as_ref()
            .is_some_and(|(_, task)| !task.is_finished())
    }

    /// Stops the operator (letting reconciles in flight finish).
    pub async fn stop_operator(&mut self) {
        if let Some((stop, task)) = self.operator.take() {
            let _ = stop.send(());
            tokio::time::timeout(WAIT, task)
                .await
                .expect("the operator stops in time")
                .expect("no panic");
        }
    }

    /// Kills the operator without letting anything finish, as `kill -9` would: reconciles in
    /// flight are dropped wherever they are.
    pub async fn crash_operator(&mut self) {
        if let Some((_stop, task)) = self.operator.take() {
            task.abort();
            let _ = tokio::time::timeout(WAIT, task)
                .await
                .expect("an aborted task ends in time");
        }
    }

    /// Starts a fresh operator process image: new caches, new counters.
    pub async fn restart_operator(&mut self) {
        self.stop_operator().await;
        self.metrics = Default::default();
        self.start_operator();
    }

    pub async fn cleanup(mut self) {
        self.stop_operator().await;
        self.t.cleanup().await;
    }

    /// Applies a manifest (YAML or JSON) into the test namespace. A cluster-scoped object is
    /// owned by the test's Namespace, so that the garbage collector removes it with the
    /// namespace: on a real cluster nothing of a test outlives it (a cluster issuer left behind
    /// is read by every later operator, which warns of it at each start).
    pub async fn apply(&self, mut manifest: Value) {
        if manifest["kind"] == "ClusterVideoSdkIssuer" {
            let namespace =
                Api::<k8s_openapi::api::core::v1::Namespace>::all(self.t.client.clone())
                    .get(self.namespace())
                    .await
                    .expect("the test namespace");
            manifest["metadata"]["ownerReferences"] = json!([{
                "apiVersion": "v1", "kind": "Namespace",
                "name": self.namespace(), "uid": namespace.metadata.uid,
            }]);
        }
        manifests::apply(
            &self.t.client,
            self.namespace(),
            "test",
            &serde_json::to_string(&manifest).unwrap(),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {manifest}: {e}"));
    }

    /// A credentials Secret with `secret` (which must start with [`SECRET_PREFIX`]).
    pub async fn credentials(&self, name: &str, secret: &str) {
        assert!(secret.starts_with(SECRET_PREFIX));
        self.apply(objects::credentials(name, secret)).await;
    }

    /// A VideoSdkIssuer reading Secret `credentials`, with the fields of `policy` in its spec.
    pub async fn issuer(&self, name: &str, credentials: &str, policy: Value) {
        let spec = objects::merged(objects::issuer_spec(credentials), policy);
        self.apply(objects::issuer(name, spec)).await;
    }

    pub async fn token(&self, name: &str, spec: Value) {
        self.apply(objects::token(name, spec)).await;
    }

    pub fn tokens(&self) -> Api<VideoSdkToken> {
        Api::namespaced(self.t.client.clone(), self.namespace())
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.t.client.clone(), self.namespace())
    }

    /// Waits until token `name` satisfies `condition`; returns it.
    pub async fn wait_token(
        &self,
        name: &str,
        what: &str,
        condition: impl Fn(&VideoSdkToken) -> bool,
    ) -> VideoSdkToken {
        let found = tokio::time::timeout(
            WAIT,
            await_condition(self.tokens(), name, move |t: Option<&VideoSdkToken>| {
                t.is_some_and(&condition)
            }),
        )
        .await
        .unwrap_or_else(|_| panic!("token {name} did not become {what} in time"))
        .expect("watching the token");
        found.expect("the condition holds on an existing token")
    }

    /// Waits until token `name` no longer exists.
    pub async fn wait_token_gone(&self, name: &str) {
        tokio::time::timeout(
            WAIT,
            await_condition(self.tokens(), name, |t: Option<&VideoSdkToken>| t.is_none()),
        )
        .await
        .unwrap_or_else(|_| panic!("token {name} was not deleted in time"))
        .expect("watching the token");
    }

    /// Waits until token `name` is Ready=True for its current generation.
    pub async fn wait_ready(&self, name: &str) -> VideoSdkToken {
        self.wait_token(name, "Ready", |t| {
            ready_reason(t).as_deref() == Some("True/Issued") && observed(t)
        })
        .await
    }

    /// Waits until token `name` is Ready=False with `reason` for its current generation.
    pub async fn wait_not_ready(&self, name: &str, reason: &str) -> VideoSdkToken {
        let want = format!("False/{reason}");
        self.wait_token(name, reason, move |t| {
            ready_reason(t).as_deref() == Some(want.as_str()) && observed(t)
        })
        .await
    }

    /// Waits until the Secret `name` satisfies `condition`.
    pub async fn wait_secret(
        &self,
        name: &str,
        what: &str,
        condition: impl Fn(Option<&Secret>) -> bool,
    ) -> Option<Secret> {
        tokio::time::timeout(WAIT, await_condition(self.secrets(), name, condition))
            .await
            .unwrap_or_else(|_| panic!("Secret {name} did not become {what} in time"))
            .expect("watching the Secret")
    }

    /// The JWT in Secret `name`.
    pub async fn jwt(&self, name: &str) -> String {
        jwt_of(&self.secrets().get(name).await.expect("the Secret exists"))
            .expect("the Secret holds a token")
    }

    /// Events about the object named `name` with `reason`.
    pub async fn events(&self, name: &str, reason: &str) -> Vec<Event> {
        let events: Api<Event> = Api::namespaced(self.t.client.clone(), self.namespace());
        events
            .list(&ListParams::default())
            .await
            .expect("listing events")
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && e.reason.as_deref() == Some(reason)
            })
            .collect()
    }

    /// Waits until there are `count` Events about `name` with `reason` (an issuance's Event
    /// follows its status), and returns them; fails if there are more.
    pub async fn wait_events(&self, name: &str, reason: &str, count: usize) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let events = self.events(name, reason).await;
            assert!(
                events.len() <= count,
                "{} {reason} Events about {name}, not {count}",
                events.len()
            );
            if events.len() == count {
                return events;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} {reason} Events about {name}, not {count}",
                events.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until there is an Event about `name` with `reason`.
    pub async fn wait_event(&self, name: &str, reason: &str) -> Event {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(event) = self.events(name, reason).await.pop() {
                return event;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {reason} Event about {name}"
            );
            // Events are written after the status; poll briefly rather than watch a second kind.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn delete_secret(&self, name: &str) {
        self.secrets()
            .delete(name, &DeleteParams::default())
            .await
            .expect("deleting the Secret");
    }

    pub async fn annotate_token(&self, name: &str, key: &str, value: &str) {
        let patch = json!({"metadata": {"annotations": {key: value}}});
        self.tokens()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("annotating the token");
    }
}

pub fn jwt_of(secret: &Secret) -> Option<String> {
    secret
        .data
        .as_ref()?
        .get("token")
        .map(|b| String::from_utf8(b.0.clone()).expect("UTF-8"))
}

/// `"<status>/<reason>"` of the Ready condition.
pub fn ready_reason(token: &VideoSdkToken) -> Option<String> {
    let status = token.status.as_ref()?;
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some(format!("{}/{}", ready.status, ready.reason))
}

fn observed(token: &VideoSdkToken) -> bool {
    let status: Option<&VideoSdkTokenStatus> = token.status.as_ref();
    status
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.observed_generation)
        == token.metadata.generation
}

/// Verifies `jwt` with `secret`; returns its claims.
pub fn verified(jwt: &str, secret: &str) -> Claims {
    token::verify(jwt, secret, SystemTime::now())
        .unwrap_or_else(|e| panic!("the token does not verify: {e}"))
}
