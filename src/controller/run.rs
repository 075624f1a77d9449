//! Runs the operator: the watches, the caches they feed, and the three controllers (issuers,
//! cluster issuers, tokens) with their triggers, until shutdown.

use super::cached::{CachedToken, WatchedSecret, slim};
use super::context::{Context, Listed, Settings};
use super::memory::TokenMemory;
use super::metrics::{self, Metrics};
use super::routine_events::RoutineEvents;
use super::watches::{CredentialSecrets, SecretKey};
use super::{events, issuers, tokens};
use crate::api::{ClusterVideoSdkIssuer, IssuerKind, VideoSdkIssuer};
use crate::rules::labels;
use futures::{FutureExt, StreamExt, stream};
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// How long the controllers may take to list their caches after a shutdown signal.
const LIST_BEFORE_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(5);
/// How long reconciles in flight may take to finish after a shutdown signal.
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// What a token's reconcile depends on beyond its generation: the renew-now annotation; and
/// which token it is, its UID. kube-runtime's predicate cache tells a token re-created under
/// the same name by the UID in its metadata, which [`CachedToken`] keeps elsewhere: without the
/// UID here, a token deleted and applied again (generation 1 again) would be filtered out as
/// unchanged and never issued.
fn token_trigger(token: &CachedToken) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    tokens::hash_request(token.uid(), token.meta(), &mut hasher);
    Some(hasher.finish())
}

/// What a cluster issuer's reconcile depends on beyond its generation: which installation wrote
/// its status (`status.clusterResourceNamespace`), so that a status another installation writes
/// is noticed at once and reported (`ConflictingInstallation`, see `issuers`). This
/// installation's own first write changes it too, which costs one reconcile that writes nothing.
fn cluster_issuer_trigger(issuer: &ClusterVideoSdkIssuer) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    issuer.meta().generation.hash(&mut hasher);
    issuer
        .status
        .as_ref()
        .and_then(|s| s.cluster_resource_namespace.as_deref())
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
/// A token whose spec does not parse names no issuer here; its own reconcile reports it.
fn tokens_of(
    tokens: &Store<CachedToken>,
    kind: IssuerKind,
    name: &str,
    namespace: Option<&str>,
) -> Vec<ObjectRef<CachedToken>> {
    tokens
        .state()
        .iter()
        .filter(|t| namespace.is_none() || t.namespace().as_deref() == namespace)
        .filter(|t| {
            t.issuer_ref()
                .is_ok_and(|issuer| issuer.kind == kind && issuer.name == name)
        })
        .map(|t| ObjectRef::from_obj(&**t))
        .collect()
}

/// Of what [`CachedToken`] parses of a token's metadata, the one field no reconcile, status
/// write or metric reads: its resourceVersion, which kube-runtime's watcher needs from each
/// event (to resume from) before it is cached. The reconciles key on UID and generation, and
/// kube-runtime copies a cached object's resourceVersion into every `ObjectRef` it keeps (the
/// store's key, the scheduler's entry, the predicate cache). The operator's Events then name the
/// token without a resourceVersion (`regarding` is found by UID).
fn slim_token(token: &mut CachedToken) {
    token.metadata.resource_version = None;
}

/// A watch of `api` feeding `writer`, each object passed through `slim` before it is cached,
/// filtered by `predicate`; `on_delete` sees deletions
/// (which reconciles never see) and `listed` turns true once the first list is in the store.
///
/// `listed` exists because `Store::wait_until_ready` wakes only one of several concurrent
/// waiters (its one-shot channel keeps one waker), and the controller's own runner already
/// waits on it.
fn filtered<K, P>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    slim: fn(&mut K),
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
    let (listed, [issuers_listed, cluster_listed, tokens_listed, warmed]) = Listed::new();
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
        routine_events: RoutineEvents::default(),
        memory: TokenMemory::default(),
        secrets: Arc::default(),
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
            slim,
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
            slim,
            cluster_issuer_trigger,
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
    // A relist of the managed Secrets (after the watch fell behind the API server's history)
    // brings no deletion events: when it forgot a Secret, every token is reconciled once (those
    // whose Secrets are unchanged make no request), so a Secret deleted meanwhile is restored.
    let (relisted, relists) = futures::channel::mpsc::unbounded::<()>();
    let relist_triggers = {
        let tokens = token_reader.clone();
        relists.flat_map(move |()| {
            let all: Vec<_> = tokens
                .state()
                .iter()
                .map(|t| ObjectRef::from_obj(&**t))
                .collect();
            stream::iter(all)
        })
    };
    let managed_secrets = ctx
        .secrets
        .clone()
        .watch(scoped::<WatchedSecret>(&client, ns), relisted);
    let warm_tokens = token_reader.clone();
    let (by_issuer, by_cluster_issuer) = (token_reader.clone(), token_reader.clone());
    ctx.metrics.read_caches_from(Some(metrics::Caches {
        tokens: token_reader.clone(),
        issuers: ctx.issuers.clone(),
        cluster_issuers: ctx.cluster_issuers.clone(),
    }));
    let tokens = Controller::for_stream(
        filtered(
            scoped::<CachedToken>(&client, ns),
            token_writer,
            slim_token,
            token_trigger,
            {
                let ctx = ctx.clone();
                move |token: &CachedToken| {
                    ctx.memory.forget(token);
                    ctx.secrets.forget(token);
                }
            },
            tokens_listed,
        ),
        token_reader,
    )
    .watches_stream(managed_secrets, {
        let ctx = ctx.clone();
        move |secret| ctx.secrets.token_to_reconcile(&secret.metadata)
    })
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
    .reconcile_on(relist_triggers)
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
                    ctx.listed.wait_warmed().await;
                    tokens::reconcile(token, ctx).await
                }
            }
        },
        tokens::error_policy,
        ctx.clone(),
    )
    .for_each(|_| async {});

    let warm_up = tokio::spawn({
        let (ctx, tokens) = (ctx.clone(), warm_tokens);
        async move {
            ctx.listed.wait_all().await;
            let secrets = scoped(&ctx.client, ctx.settings.namespace.as_deref());
            ctx.secrets
                .warm_up(secrets, |secret| {
                    tokens::check_listed(&ctx, &tokens, secret)
                })
                .await;
            warmed.send_replace(true);
        }
    });
    let routine_events = tokio::spawn({
        let ctx = ctx.clone();
        async move { ctx.routine_events.post(&ctx.events).await }
    });
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
    warm_up.abort();
    routine_events.abort();
    ctx.routine_events.flush(&ctx.events).await;
    ctx.metrics.set_caches_synced(false);
    ctx.metrics.read_caches_from(None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RENEW_NOW_ANNOTATION;

    #[test]
    fn cached_tokens_drop_their_resource_version_and_keep_the_rest() {
        let mut token: CachedToken = serde_json::from_str(&serde_json::json!({
            "apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
            "metadata": {"name": "t", "namespace": "ns", "uid": "u1", "generation": 3,
                         "resourceVersion": "42", "annotations": {RENEW_NOW_ANNOTATION: "1"}},
            "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": "2h"},
            "status": {"tokenId": "j1"},
        }).to_string())
        .expect("a token");
        let before = token.clone();
        slim_token(&mut token);
        assert_eq!(token.metadata.resource_version, None);
        let mut expected = before.metadata.clone();
        expected.resource_version = None;
        assert_eq!(token.metadata, expected);
        assert_eq!(token.token().unwrap().spec, before.token().unwrap().spec);
        assert_eq!(token_trigger(&token), token_trigger(&before));
    }

    #[test]
    fn a_token_recreated_under_the_same_name_triggers_anew() {
        let token = |uid: &str| -> CachedToken {
            serde_json::from_str(
                &serde_json::json!({
                    "metadata": {"name": "t", "namespace": "ns", "uid": uid, "generation": 1},
                    "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]},
                })
                .to_string(),
            )
            .expect("a token")
        };
        assert_eq!(token_trigger(&token("u1")), token_trigger(&token("u1")));
        assert_ne!(token_trigger(&token("u1")), token_trigger(&token("u2")));
    }
}
