//! What every reconcile shares: the API client, the settings, the caches of issuers and
//! credentials, the metrics, the Event publisher and the per-token memory.

use super::events;
use super::managed_secrets::ManagedSecrets;
use super::memory::TokenMemory;
use super::metrics::Metrics;
use super::routine_events::RoutineEvents;
use super::watches::CredentialSecrets;
use crate::api::{ClusterVideoSdkIssuer, VideoSdkIssuer};
use crate::rules::labels::FIELD_MANAGER;
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::{Client, Resource};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Re-signs closer together than this restart a `rolloutRestartTargets` workload once, by
/// default ([`Settings::rollout_debounce`]).
pub(crate) const DEFAULT_ROLLOUT_DEBOUNCE: Duration = Duration::from_secs(10);

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
    pub rollout_debounce: Duration,
    /// The longest ttl a token or a token request may have (`run --max-ttl`), whatever its
    /// issuer's `maxTtl`; between `token::MIN_TTL` and `token::TTL_LIMIT`.
    pub max_ttl: Duration,
    /// The shortest renew window a token may have (`run --min-renew-before`): at least
    /// `token::MIN_RENEW_BEFORE`, the CRD's floor. A token below it gets `Ready=False`
    /// (`InvalidSpec`) and keeps the token already in its Secret.
    pub min_renew_before: Duration,
}

impl Settings {
    /// Defaults for everything but the cluster resource namespace: all namespaces, 16 tokens at
    /// once, a 10 s restart debounce, tokens of at most `token::DEFAULT_MAX_TTL` (720h) with a
    /// renew window of at least `token::MIN_RENEW_BEFORE` (2m).
    pub fn new(cluster_resource_namespace: impl Into<String>) -> Self {
        Settings {
            cluster_resource_namespace: cluster_resource_namespace.into(),
            namespace: None,
            concurrency: 16,
            rollout_debounce: DEFAULT_ROLLOUT_DEBOUNCE,
            max_ttl: crate::token::DEFAULT_MAX_TTL,
            min_renew_before: crate::token::MIN_RENEW_BEFORE,
        }
    }
}

/// What every reconcile shares.
pub(crate) struct Context {
    /// The API client.
    pub(crate) client: Client,
    /// The configuration.
    pub(crate) settings: Settings,
    /// All namespaced issuers, as watched.
    pub(crate) issuers: Store<VideoSdkIssuer>,
    /// All cluster issuers, as watched.
    pub(crate) cluster_issuers: Store<ClusterVideoSdkIssuer>,
    /// The credentials Secrets, as watched.
    pub(crate) credentials: CredentialSecrets,
    /// Counters of what was done.
    pub(crate) metrics: Arc<Metrics>,
    /// Whether the caches have listed once.
    pub(crate) listed: Listed,
    pub(crate) events: events::Publisher,
    /// The Normal Events of issuances, posted off the path to Ready.
    pub(crate) routine_events: RoutineEvents,
    /// What reconciles remember per token.
    pub(crate) memory: TokenMemory,
    /// The managed Secrets: whether a token's Secret must be read, and its writes'
    /// precondition.
    pub(crate) secrets: Arc<ManagedSecrets>,
}

impl Context {
    /// What the reconciles of an operator with `settings` share, talking to the API through
    /// `client`, counting in `metrics`; `listed` tells when its caches have listed, `issuers`
    /// and `cluster_issuers` are the issuer controllers' caches.
    pub(crate) fn new(
        client: Client,
        settings: Settings,
        metrics: Arc<Metrics>,
        listed: Listed,
        issuers: Store<VideoSdkIssuer>,
        cluster_issuers: Store<ClusterVideoSdkIssuer>,
    ) -> Self {
        Context {
            credentials: CredentialSecrets::new(client.clone()),
            events: events::Publisher::new(
                client.clone(),
                FIELD_MANAGER,
                std::env::var("POD_NAME").ok(),
            ),
            client,
            settings,
            issuers,
            cluster_issuers,
            metrics,
            listed,
            routine_events: RoutineEvents::default(),
            memory: TokenMemory::default(),
            secrets: Arc::default(),
        }
    }

    /// Publishes an Event about `object`. A failure to publish is logged, never fatal: Events
    /// are for people, and a reconcile must not fail for want of one.
    pub(crate) async fn publish<K: Resource<DynamicType = ()>>(
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
}

/// Whether each cache has listed once, and whether the managed Secrets were checked at start.
///
/// Plain `watch` channels rather than `Store::wait_until_ready`, which wakes only one of several
/// concurrent waiters (its one-shot channel keeps one waker).
#[derive(Clone)]
pub(crate) struct Listed {
    /// The namespaced issuers' cache has listed.
    issuers: watch::Receiver<bool>,
    /// The cluster issuers' cache has listed.
    cluster_issuers: watch::Receiver<bool>,
    /// The tokens' cache has listed.
    tokens: watch::Receiver<bool>,
    /// The managed Secrets were listed and checked (`ManagedSecrets::warm_up`), or that gave
    /// up, so that tokens' first reconciles after a start read no Secret again.
    secrets_checked: watch::Receiver<bool>,
}

/// The senders of [`Listed`]'s signals, one for each.
pub(crate) struct ListedSenders {
    pub(crate) issuers: watch::Sender<bool>,
    pub(crate) cluster_issuers: watch::Sender<bool>,
    pub(crate) tokens: watch::Sender<bool>,
    pub(crate) secrets_checked: watch::Sender<bool>,
}

/// Until `signal` turns true (or its sender is gone).
async fn until(signal: &watch::Receiver<bool>) {
    let _ = signal.clone().wait_for(|done| *done).await;
}

impl Listed {
    /// The signals, all false, and their senders.
    pub(crate) fn new() -> (Self, ListedSenders) {
        let (issuers, issuers_rx) = watch::channel(false);
        let (cluster_issuers, cluster_issuers_rx) = watch::channel(false);
        let (tokens, tokens_rx) = watch::channel(false);
        let (secrets_checked, secrets_checked_rx) = watch::channel(false);
        let listed = Listed {
            issuers: issuers_rx,
            cluster_issuers: cluster_issuers_rx,
            tokens: tokens_rx,
            secrets_checked: secrets_checked_rx,
        };
        let senders = ListedSenders {
            issuers,
            cluster_issuers,
            tokens,
            secrets_checked,
        };
        (listed, senders)
    }

    /// Until the managed Secrets were listed and checked (or that gave up).
    pub(crate) async fn wait_warmed(&self) {
        until(&self.secrets_checked).await;
    }

    /// Until both issuer caches have listed: a token's issuer is known, or known not to exist.
    pub(crate) async fn wait_issuers(&self) {
        until(&self.issuers).await;
        until(&self.cluster_issuers).await;
    }

    /// Until every cache has listed.
    pub(crate) async fn wait_all(&self) {
        self.wait_issuers().await;
        until(&self.tokens).await;
    }
}
