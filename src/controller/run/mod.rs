//! Runs the operator: the watches, the caches they feed, and the three controllers (issuers,
//! cluster issuers, tokens) with their triggers ([`triggers`]), until shutdown. [`run`]
//! assembles them and joins them; each controller is built by a function of its own.

mod triggers;

use super::cached::{CachedToken, WatchedSecret, slim};
use super::context::{Context, Listed, Settings};
use super::error::Error;
use super::metrics::{self, Metrics};
use super::{issuers, tokens};
use crate::api::{ClusterVideoSdkIssuer, VideoSdkIssuer};
use futures::{FutureExt, StreamExt, stream};
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{Controller, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long the controllers may take to list their caches after a shutdown signal.
const LIST_BEFORE_SHUTDOWN: Duration = Duration::from_secs(5);
/// How long reconciles in flight may take to finish after a shutdown signal.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

/// Runs the operator until `shutdown` completes; in-flight reconciles finish first (within
/// [`SHUTDOWN_DEADLINE`]). `metrics` counts what it does.
pub async fn run(
    client: Client,
    settings: Settings,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (issuer_reader, issuer_writer) = reflector::store();
    let (cluster_reader, cluster_writer) = reflector::store();
    let (token_reader, token_writer) = reflector::store();
    let (listed, signals) = Listed::new();
    let ctx = Arc::new(Context::new(
        client,
        settings,
        metrics,
        listed,
        issuer_reader.clone(),
        cluster_reader.clone(),
    ));
    ctx.metrics.read_caches_from(Some(metrics::Caches {
        tokens: token_reader.clone(),
        issuers: issuer_reader.clone(),
        cluster_issuers: cluster_reader.clone(),
    }));
    let shutdown = shutdown.shared();
    let stop_taking_work = once_listed(shutdown.clone(), ctx.listed.clone()).shared();
    let issuers = issuer_controller(
        &ctx,
        (issuer_reader, issuer_writer),
        signals.issuers,
        stop_taking_work.clone(),
    );
    let cluster_issuers = cluster_issuer_controller(
        &ctx,
        (cluster_reader, cluster_writer),
        signals.cluster_issuers,
        stop_taking_work.clone(),
    );
    let tokens = token_controller(
        &ctx,
        (token_reader.clone(), token_writer),
        signals.tokens,
        stop_taking_work,
    );
    let controllers = async { tokio::join!(issuers, cluster_issuers, tokens) };
    let warm_up = tokio::spawn(warm_up(ctx.clone(), token_reader, signals.secrets_checked));
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
    within_deadline(controllers, shutdown).await;
    synced.abort();
    warm_up.abort();
    routine_events.abort();
    ctx.routine_events.flush(&ctx.events).await;
    ctx.metrics.set_caches_synced(false);
    ctx.metrics.read_caches_from(None);
}

/// `shutdown`, and then every cache listed (or [`LIST_BEFORE_SHUTDOWN`] passed): the controllers
/// stop taking work only then, because kube-runtime's runner waits for its store before it
/// drains, and a store whose watch stopped before the first list would never become ready.
async fn once_listed(shutdown: impl Future<Output = ()>, listed: Listed) {
    shutdown.await;
    let _ = tokio::time::timeout(LIST_BEFORE_SHUTDOWN, listed.wait_all()).await;
}

/// Runs `controllers` to their end, or until [`SHUTDOWN_DEADLINE`] after `shutdown`: then the
/// operator stops anyway, inside the 30 s Kubernetes gives a pod to terminate.
async fn within_deadline(controllers: impl Future, shutdown: impl Future<Output = ()>) {
    let deadline = async {
        shutdown.await;
        tokio::time::sleep(SHUTDOWN_DEADLINE).await;
    };
    tokio::select! {
        _ = controllers => {}
        () = deadline => tracing::warn!("reconciles still in flight {SHUTDOWN_DEADLINE:?} after shutdown; stopping anyway"),
    }
}

/// The namespaced issuers' controller: reconciles an issuer when its generation changes or its
/// credentials Secret does.
fn issuer_controller(
    ctx: &Arc<Context>,
    (reader, writer): (
        Store<VideoSdkIssuer>,
        reflector::store::Writer<VideoSdkIssuer>,
    ),
    listed: watch::Sender<bool>,
    stop_taking_work: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let credential_triggers = {
        let ctx = ctx.clone();
        ctx.credentials
            .subscribe()
            .flat_map(move |key| stream::iter(triggers::issuers_using(&ctx.issuers, &key)))
    };
    let api = scoped(&ctx.client, ctx.settings.namespace.as_deref());
    let issuers = filtered(api, writer, slim, predicates::generation, |_| {}, listed);
    Controller::for_stream(issuers, reader)
        .reconcile_on(credential_triggers)
        .graceful_shutdown_on(stop_taking_work)
        .run(
            issuers::reconcile_namespaced,
            issuers::error_policy,
            ctx.clone(),
        )
        .for_each(|_| async {})
}

/// The cluster issuers' controller: reconciles a cluster issuer when its generation or its
/// status's installation changes, or its credentials Secret does.
fn cluster_issuer_controller(
    ctx: &Arc<Context>,
    (reader, writer): (
        Store<ClusterVideoSdkIssuer>,
        reflector::store::Writer<ClusterVideoSdkIssuer>,
    ),
    listed: watch::Sender<bool>,
    stop_taking_work: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let credential_triggers = {
        let ctx = ctx.clone();
        ctx.credentials.subscribe().flat_map(move |key| {
            stream::iter(triggers::cluster_issuers_using(
                &ctx.cluster_issuers,
                &ctx.settings.cluster_resource_namespace,
                &key,
            ))
        })
    };
    let api = Api::<ClusterVideoSdkIssuer>::all(ctx.client.clone());
    let cluster_issuers = filtered(
        api,
        writer,
        slim,
        triggers::cluster_issuer_trigger,
        |_| {},
        listed,
    );
    Controller::for_stream(cluster_issuers, reader)
        .reconcile_on(credential_triggers)
        .graceful_shutdown_on(stop_taking_work)
        .run(
            issuers::reconcile_cluster,
            issuers::error_policy,
            ctx.clone(),
        )
        .for_each(|_| async {})
}

/// The tokens' controller: reconciles a token when it changes ([`triggers::token_trigger`]),
/// when its managed Secret changes (`ManagedSecrets::token_to_reconcile`), when its issuer or
/// the issuer's credentials Secret does, and all tokens after a relist of the managed Secrets
/// that forgot some.
fn token_controller(
    ctx: &Arc<Context>,
    (reader, writer): (Store<CachedToken>, reflector::store::Writer<CachedToken>),
    listed: watch::Sender<bool>,
    stop_taking_work: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let namespace = ctx.settings.namespace.as_deref();
    let credential_triggers = {
        let (ctx, tokens) = (ctx.clone(), reader.clone());
        ctx.credentials.subscribe().flat_map(move |key| {
            stream::iter(triggers::tokens_using_credentials(
                &tokens,
                &ctx.issuers,
                &ctx.cluster_issuers,
                &ctx.settings.cluster_resource_namespace,
                &key,
            ))
        })
    };
    let (relisted, relists) = futures::channel::mpsc::unbounded::<()>();
    let relist_triggers = {
        let tokens = reader.clone();
        relists.flat_map(move |()| stream::iter(triggers::all_tokens(&tokens)))
    };
    let managed_secrets = ctx
        .secrets
        .clone()
        .watch(scoped::<WatchedSecret>(&ctx.client, namespace), relisted);
    let forget = {
        let ctx = ctx.clone();
        move |token: &CachedToken| {
            ctx.memory.forget(token);
            ctx.secrets.forget(token);
        }
    };
    let tokens = filtered(
        scoped::<CachedToken>(&ctx.client, namespace),
        writer,
        slim_token,
        triggers::token_trigger,
        forget,
        listed,
    );
    let (by_issuer, by_cluster_issuer) = (reader.clone(), reader.clone());
    Controller::for_stream(tokens, reader)
        .watches_stream(managed_secrets, {
            let ctx = ctx.clone();
            move |secret| ctx.secrets.token_to_reconcile(&secret.metadata)
        })
        .watches(
            scoped::<VideoSdkIssuer>(&ctx.client, namespace),
            watcher::Config::default(),
            move |issuer| triggers::tokens_of_issuer(&by_issuer, &issuer),
        )
        .watches(
            Api::<ClusterVideoSdkIssuer>::all(ctx.client.clone()),
            watcher::Config::default(),
            move |issuer| triggers::tokens_of_cluster_issuer(&by_cluster_issuer, &issuer),
        )
        .reconcile_on(credential_triggers)
        .reconcile_on(relist_triggers)
        .with_config(
            kube::runtime::controller::Config::default().concurrency(ctx.settings.concurrency),
        )
        .graceful_shutdown_on(stop_taking_work)
        .run(reconcile_token, tokens::error_policy, ctx.clone())
        .for_each(|_| async {})
}

/// One token's reconcile, once its issuer is known (or known not to exist: else a restart
/// would briefly report every token's issuer as missing) and the managed Secrets were checked
/// at start.
async fn reconcile_token(token: Arc<CachedToken>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.listed.wait_issuers().await;
    ctx.listed.wait_warmed().await;
    tokens::reconcile(token, ctx).await
}

/// Once every cache has listed: checks the managed Secrets (`ManagedSecrets::warm_up`, each as
/// its token in `tokens` would), then signals `checked`, which the token reconciles wait for.
async fn warm_up(ctx: Arc<Context>, tokens: Store<CachedToken>, checked: watch::Sender<bool>) {
    ctx.listed.wait_all().await;
    let secrets = scoped(&ctx.client, ctx.settings.namespace.as_deref());
    ctx.secrets
        .warm_up(secrets, |secret| {
            tokens::check_listed(&ctx, &tokens, secret)
        })
        .await;
    checked.send_replace(true);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RENEW_NOW_ANNOTATION;
    use triggers::token_trigger;

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
}
