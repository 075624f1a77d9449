//! The operator: reconciles issuers and tokens, keeps each token's Secret signed and fresh.
//!
//! Pure decisions (`decision`, `secret`, `stored`, `policy`, `credentials`, `backoff`,
//! `status`) are split from the code that talks to the API server (`tokens`, `issuers`,
//! `watches`), so that every rule has a unit test without a cluster.
//!
//! What is watched, and why:
//! - tokens, issuers and cluster issuers, filtered so that the operator's own status writes do
//!   not trigger another reconcile (tokens: generation and the renew-now annotation; issuers:
//!   generation);
//! - the Secrets the operator manages, selected by its label, metadata only, each mapped to its
//!   token by its controller ownerReference or, when a tool stripped that, its token-name label
//!   (a Secret whose labels were stripped leaves the selection, and the DELETED event still
//!   carries them);
//! - each credentials Secret that an issuer references, by name (see [`watches`]);
//!
//! and never any other Secret, so that memory does not grow with the cluster's other Secrets.

pub mod backoff;
pub mod credentials;
pub mod decision;
pub mod display;
mod error;
pub mod events;
mod issuers;
pub mod labels;
pub mod metrics;
pub mod policy;
pub mod problem;
pub mod rollout;
pub mod secret;
pub mod status;
pub mod stored;
mod tokens;
pub mod watches;

pub use error::Error;
pub use metrics::Metrics;

use crate::api::{
    ClusterVideoSdkIssuer, IssuerKind, RENEW_NOW_ANNOTATION, VideoSdkIssuer, VideoSdkToken,
};
use futures::{FutureExt, StreamExt, stream};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use watches::{CredentialSecrets, SecretKey};

/// How the operator is configured (the `run` command's flags).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where `ClusterVideoSdkIssuer` credentials Secrets are read from.
    pub cluster_resource_namespace: String,
    /// Watch only this namespace (tokens, issuers, Secrets); `None` for all.
    pub namespace: Option<String>,
    /// How many tokens are reconciled at once.
    pub concurrency: u16,
    /// Re-signs closer together than this restart a `rolloutRestartTargets` workload once.
    pub rollout_debounce: std::time::Duration,
}

impl Settings {
    /// Defaults for everything but the cluster resource namespace: all namespaces, 16 tokens at
    /// once, a 10 s restart debounce.
    pub fn new(cluster_resource_namespace: impl Into<String>) -> Self {
        Settings {
            cluster_resource_namespace: cluster_resource_namespace.into(),
            namespace: None,
            concurrency: 16,
            rollout_debounce: rollout::DEFAULT_DEBOUNCE,
        }
    }
}

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The configuration.
    pub settings: Settings,
    /// All namespaced issuers, as watched.
    pub issuers: Store<VideoSdkIssuer>,
    /// All cluster issuers, as watched.
    pub cluster_issuers: Store<ClusterVideoSdkIssuer>,
    /// The credentials Secrets, as watched.
    pub credentials: CredentialSecrets,
    /// Counters of what was done.
    pub metrics: Arc<Metrics>,
    /// Whether the caches have listed once.
    listed: Listed,
    events: events::Publisher,
    /// What reconciles remember per token, by [`token_key`].
    remembered: Mutex<HashMap<u64, Remembered>>,
}

/// What the operator remembers about a token between its reconciles.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Remembered {
    /// Consecutive API errors, for backoff.
    errors: u32,
    /// Fingerprint of the status last written.
    status: Option<u64>,
    /// When the token the operator last found or wrote in the Secret expires (Unix seconds).
    /// The retry backoff is capped by the time it has left; the cached status says the same
    /// but can lag: a status written just before the API server became unreachable may never
    /// reach the cache, and without this the retries would back off past the server's return.
    expires: Option<u64>,
}

/// When the token in `token`'s Secret expires: `remembered` when the operator knows, else what
/// the cached status says.
fn known_expiry(remembered: Option<u64>, token: &VideoSdkToken) -> Option<u64> {
    remembered.or_else(|| {
        let not_after = token.status.as_ref()?.not_after.as_ref()?;
        u64::try_from(not_after.0.as_second()).ok()
    })
}

/// A token's key in [`Context`]'s memory: a hash of its UID, so that a token deleted and
/// created again starts afresh, and an entry costs about 50 bytes rather than the 170 of an
/// `ObjectRef` key with its four strings.
fn token_key(token: &VideoSdkToken) -> u64 {
    let mut hasher = DefaultHasher::new();
    token.meta().uid.hash(&mut hasher);
    hasher.finish()
}

impl Context {
    /// Publishes an Event about `object`. A failure to publish is logged, never fatal: Events
    /// are for people, and a reconcile must not fail for want of one.
    pub async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let occurrence = events::Occurrence {
            type_,
            reason,
            action,
        };
        if let Err(error) = self.events.publish(object, occurrence, &note).await {
            tracing::debug!(%error, "could not publish an Event");
        }
    }

    /// Changes what is remembered of `token` (an entry left empty is dropped); returns the
    /// result of `change`.
    fn remember<T>(&self, token: &VideoSdkToken, change: impl FnOnce(&mut Remembered) -> T) -> T {
        let key = token_key(token);
        let mut remembered = self.remembered.lock().expect("not poisoned");
        let entry = remembered.entry(key).or_default();
        let result = change(entry);
        if *entry == Remembered::default() {
            remembered.remove(&key);
        }
        result
    }

    /// What is remembered of `token` (nothing: the default).
    fn recall(&self, token: &VideoSdkToken) -> Remembered {
        let remembered = self.remembered.lock().expect("not poisoned");
        remembered
            .get(&token_key(token))
            .copied()
            .unwrap_or_default()
    }

    fn count_error(&self, token: &VideoSdkToken) -> u32 {
        self.remember(token, |r| {
            r.errors = r.errors.saturating_add(1);
            r.errors
        })
    }

    fn forget_errors(&self, token: &VideoSdkToken) {
        self.remember(token, |r| r.errors = 0);
    }

    fn last_status(&self, token: &VideoSdkToken) -> Option<u64> {
        self.recall(token).status
    }

    fn remember_status(&self, token: &VideoSdkToken, fingerprint: u64) {
        self.remember(token, |r| r.status = Some(fingerprint));
    }

    fn remember_expiry(&self, token: &VideoSdkToken, expires: u64) {
        self.remember(token, |r| r.expires = Some(expires));
    }

    /// When the token in `token`'s Secret expires, as last known: remembered from the last
    /// reconcile that read or wrote it, else from the cached status.
    fn expiry(&self, token: &VideoSdkToken) -> Option<u64> {
        known_expiry(self.recall(token).expires, token)
    }

    /// Forgets a deleted token.
    fn forget(&self, token: &VideoSdkToken) {
        self.remembered
            .lock()
            .expect("not poisoned")
            .remove(&token_key(token));
    }
}

/// Where client-side `kubectl apply` keeps the manifest it applied.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How long the controllers may take to list their caches after a shutdown signal.
const LIST_BEFORE_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(5);
/// How long reconciles in flight may take to finish after a shutdown signal.
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Whether the issuer, cluster issuer and token caches have listed once.
#[derive(Clone)]
struct Listed([tokio::sync::watch::Receiver<bool>; 3]);

impl Listed {
    fn new() -> (Self, [tokio::sync::watch::Sender<bool>; 3]) {
        let channels = [(); 3].map(|()| tokio::sync::watch::channel(false));
        let receivers = [0, 1, 2].map(|i| channels[i].1.clone());
        (Listed(receivers), channels.map(|(tx, _)| tx))
    }

    /// Until both issuer caches have listed: a token's issuer is known, or known not to exist.
    async fn wait_issuers(&self) {
        for rx in &self.0[..2] {
            let _ = rx.clone().wait_for(|listed| *listed).await;
        }
    }

    /// Until every cache has listed.
    async fn wait_all(&self) {
        for rx in &self.0 {
            let _ = rx.clone().wait_for(|listed| *listed).await;
        }
    }
}

/// What a token's reconcile depends on beyond its generation: the renew-now annotation.
fn token_trigger(token: &VideoSdkToken) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    token.meta().generation.hash(&mut hasher);
    token
        .annotations()
        .get(RENEW_NOW_ANNOTATION)
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// An API for `K` in `namespace`, or in all namespaces (`None`). Also used by the token request
/// endpoint's caches.
pub(crate) fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The issuers whose credentials Secret is `key`.
fn issuers_using(
    ctx: &Context,
    key: &SecretKey,
) -> (
    Vec<ObjectRef<VideoSdkIssuer>>,
    Vec<ObjectRef<ClusterVideoSdkIssuer>>,
) {
    let (namespace, name) = key;
    let namespaced = ctx
        .issuers
        .state()
        .iter()
        .filter(|i| {
            i.namespace().as_ref() == Some(namespace) && &i.spec.credentials_secret_ref.name == name
        })
        .map(|i| ObjectRef::from_obj(&**i))
        .collect();
    let cluster = if namespace == &ctx.settings.cluster_resource_namespace {
        ctx.cluster_issuers
            .state()
            .iter()
            .filter(|i| &i.spec.credentials_secret_ref.name == name)
            .map(|i| ObjectRef::from_obj(&**i))
            .collect()
    } else {
        Vec::new()
    };
    (namespaced, cluster)
}

/// The tokens that use an issuer of `kind` named `name` (in `namespace` for namespaced ones).
fn tokens_of(
    tokens: &Store<VideoSdkToken>,
    kind: IssuerKind,
    name: &str,
    namespace: Option<&str>,
) -> Vec<ObjectRef<VideoSdkToken>> {
    tokens
        .state()
        .iter()
        .filter(|t| t.spec.issuer_ref.kind == kind && t.spec.issuer_ref.name == name)
        .filter(|t| namespace.is_none() || t.namespace().as_deref() == namespace)
        .map(|t| ObjectRef::from_obj(&**t))
        .collect()
}

/// Drops from a cached object the apply bookkeeping that no reconcile reads, server-side
/// (`managedFields`) and client-side (`kubectl apply`'s copy of the whole manifest in an
/// annotation): most of a small object's size, so memory per token stays low.
fn slim<K: Resource>(object: &mut K) {
    object.managed_fields_mut().clear();
    object.annotations_mut().remove(LAST_APPLIED_ANNOTATION);
}

/// A watch of `api` feeding `writer`, filtered by `predicate`; `on_delete` sees deletions
/// (which reconciles never see) and `listed` turns true once the first list is in the store.
///
/// `listed` exists because `Store::wait_until_ready` wakes only one of several concurrent
/// waiters (its one-shot channel keeps one waker), and the controller's own runner already
/// waits on it.
fn filtered<K, P>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    predicate: P,
    on_delete: impl Fn(&K) + Send + 'static,
    listed: tokio::sync::watch::Sender<bool>,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    P: kube::runtime::utils::Predicate<K> + Send + 'static,
{
    watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(slim)
        .reflect(writer)
        .inspect(move |event| match event {
            Ok(watcher::Event::Delete(object)) => on_delete(object),
            Ok(watcher::Event::InitDone) => {
                listed.send_replace(true);
            }
            _ => {}
        })
        .applied_objects()
        .predicate_filter(predicate, Default::default())
}

/// Runs the operator until `shutdown` completes; in-flight reconciles finish first. `metrics`
/// counts what it does.
pub async fn run(
    client: Client,
    settings: Settings,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let namespace = settings.namespace.clone();
    let ns = namespace.as_deref();
    let (issuer_reader, issuer_writer) = reflector::store();
    let (cluster_reader, cluster_writer) = reflector::store();
    let (token_reader, token_writer) = reflector::store();
    let (listed, [issuers_listed, cluster_listed, tokens_listed]) = Listed::new();
    let ctx = Arc::new(Context {
        listed,
        client: client.clone(),
        settings: settings.clone(),
        issuers: issuer_reader.clone(),
        cluster_issuers: cluster_reader.clone(),
        credentials: CredentialSecrets::new(client.clone()),
        metrics,
        events: events::Publisher::new(
            client.clone(),
            labels::FIELD_MANAGER,
            std::env::var("POD_NAME").ok(),
        ),
        remembered: Mutex::default(),
    });
    let shutdown = shutdown.shared();
    let shutdown_for_deadline = shutdown.clone();
    // The controllers stop taking work on shutdown only once their caches have listed (or after
    // a bound): kube-runtime's runner waits for its store before it drains, and a store whose
    // watch stopped before the first list would never become ready.
    let shutdown = {
        let listed = ctx.listed.clone();
        async move {
            shutdown.await;
            let _ = tokio::time::timeout(LIST_BEFORE_SHUTDOWN, listed.wait_all()).await;
        }
    }
    .shared();

    let issuer_triggers = {
        let ctx = ctx.clone();
        ctx.credentials
            .subscribe()
            .flat_map(move |key| stream::iter(issuers_using(&ctx, &key).0))
    };
    let issuers = Controller::for_stream(
        filtered(
            scoped::<VideoSdkIssuer>(&client, ns),
            issuer_writer,
            predicates::generation,
            |_| {},
            issuers_listed,
        ),
        issuer_reader,
    )
    .reconcile_on(issuer_triggers)
    .graceful_shutdown_on(shutdown.clone())
    .run(
        issuers::reconcile_namespaced,
        issuers::error_policy,
        ctx.clone(),
    )
    .for_each(|_| async {});

    let cluster_triggers = {
        let ctx = ctx.clone();
        ctx.credentials
            .subscribe()
            .flat_map(move |key| stream::iter(issuers_using(&ctx, &key).1))
    };
    let cluster_issuers = Controller::for_stream(
        filtered(
            Api::<ClusterVideoSdkIssuer>::all(client.clone()),
            cluster_writer,
            predicates::generation,
            |_| {},
            cluster_listed,
        ),
        cluster_reader,
    )
    .reconcile_on(cluster_triggers)
    .graceful_shutdown_on(shutdown.clone())
    .run(
        issuers::reconcile_cluster,
        issuers::error_policy,
        ctx.clone(),
    )
    .for_each(|_| async {});

    let credential_triggers = {
        let (ctx, tokens) = (ctx.clone(), token_reader.clone());
        ctx.credentials.subscribe().flat_map(move |key| {
            let (namespaced, cluster) = issuers_using(&ctx, &key);
            let mut refs: Vec<_> = namespaced
                .iter()
                .flat_map(|i| {
                    tokens_of(
                        &tokens,
                        IssuerKind::VideoSdkIssuer,
                        &i.name,
                        i.namespace.as_deref(),
                    )
                })
                .collect();
            refs.extend(cluster.iter().flat_map(|i| {
                tokens_of(&tokens, IssuerKind::ClusterVideoSdkIssuer, &i.name, None)
            }));
            stream::iter(refs)
        })
    };
    let managed_secrets = watcher(
        scoped::<PartialObjectMeta<Secret>>(&client, ns),
        watcher::Config::default().labels(labels::MANAGED_SELECTOR),
    )
    .default_backoff()
    .touched_objects();
    let (by_issuer, by_cluster_issuer) = (token_reader.clone(), token_reader.clone());
    ctx.metrics.read_caches_from(Some(metrics::Caches {
        tokens: token_reader.clone(),
        issuers: ctx.issuers.clone(),
        cluster_issuers: ctx.cluster_issuers.clone(),
    }));
    let tokens = Controller::for_stream(
        filtered(
            scoped::<VideoSdkToken>(&client, ns),
            token_writer,
            token_trigger,
            {
                let ctx = ctx.clone();
                move |token: &VideoSdkToken| ctx.forget(token)
            },
            tokens_listed,
        ),
        token_reader,
    )
    .watches_stream(managed_secrets, |secret| secret::token_of(&secret.metadata))
    .watches(
        scoped::<VideoSdkIssuer>(&client, ns),
        watcher::Config::default(),
        move |issuer| {
            tokens_of(
                &by_issuer,
                IssuerKind::VideoSdkIssuer,
                &issuer.name_any(),
                issuer.namespace().as_deref(),
            )
        },
    )
    .watches(
        Api::<ClusterVideoSdkIssuer>::all(client.clone()),
        watcher::Config::default(),
        move |issuer| {
            tokens_of(
                &by_cluster_issuer,
                IssuerKind::ClusterVideoSdkIssuer,
                &issuer.name_any(),
                None,
            )
        },
    )
    .reconcile_on(credential_triggers)
    .with_config(kube::runtime::controller::Config::default().concurrency(settings.concurrency))
    .graceful_shutdown_on(shutdown)
    .run(
        {
            let ctx = ctx.clone();
            move |token, _| {
                let ctx = ctx.clone();
                async move {
                    // A token's issuer must be known before the token is judged, or a restart
                    // would briefly report every token's issuer as missing.
                    ctx.listed.wait_issuers().await;
                    tokens::reconcile(token, ctx).await
                }
            }
        },
        tokens::error_policy,
        ctx.clone(),
    )
    .for_each(|_| async {});

    let synced = tokio::spawn({
        let ctx = ctx.clone();
        async move {
            ctx.listed.wait_all().await;
            ctx.metrics.set_caches_synced(true);
        }
    });
    let controllers = async { tokio::join!(issuers, cluster_issuers, tokens) };
    // Reconciles in flight get this long to finish after shutdown; then the operator stops
    // anyway, inside the 30 s Kubernetes gives a pod to terminate.
    let deadline = async {
        shutdown_for_deadline.await;
        tokio::time::sleep(SHUTDOWN_DEADLINE).await;
    };
    tokio::select! {
        _ = controllers => {}
        () = deadline => tracing::warn!("reconciles still in flight {SHUTDOWN_DEADLINE:?} after shutdown; stopping anyway"),
    }
    synced.abort();
    ctx.metrics.set_caches_synced(false);
    ctx.metrics.read_caches_from(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remembered_expiry_wins_over_a_lagging_cached_status() {
        let mut token: VideoSdkToken = serde_json::from_value(serde_json::json!({
            "apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
            "metadata": {"name": "t", "namespace": "ns"},
            "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]},
        }))
        .expect("a token");
        assert_eq!(known_expiry(None, &token), None, "nothing known");
        assert_eq!(
            known_expiry(Some(1_800_000_060), &token),
            Some(1_800_000_060)
        );
        token.status = Some(
            serde_json::from_value(serde_json::json!({"notAfter": "2027-01-15T08:00:00Z"}))
                .unwrap(),
        );
        assert_eq!(
            known_expiry(None, &token),
            Some(1_800_000_000),
            "the status"
        );
        assert_eq!(
            known_expiry(Some(1_800_000_060), &token),
            Some(1_800_000_060),
            "the Secret as the operator last saw it"
        );
    }

    #[test]
    fn cached_objects_drop_apply_bookkeeping_and_keep_the_rest() {
        let mut token: VideoSdkToken = serde_json::from_value(serde_json::json!({
            "apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
            "metadata": {"name": "t", "namespace": "ns", "uid": "u1",
                         "annotations": {LAST_APPLIED_ANNOTATION: "{\"spec\": {}}", RENEW_NOW_ANNOTATION: "1"},
                         "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {}}]},
            "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]},
        }))
        .expect("a token");
        slim(&mut token);
        assert!(token.managed_fields().is_empty());
        assert_eq!(
            token.annotations().keys().collect::<Vec<_>>(),
            [RENEW_NOW_ANNOTATION]
        );
        assert_eq!(token.meta().uid.as_deref(), Some("u1"));
        assert_eq!(token.spec.permissions.len(), 1);
    }
}
