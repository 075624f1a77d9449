//! What every reconcile shares: the API client, the settings, the caches of issuers and
//! credentials, the metrics, the Event publisher and the per-token memory.

use super::events;
use super::managed_secrets::ManagedSecrets;
use super::memory::TokenMemory;
use super::metrics::Metrics;
use super::routine_events::RoutineEvents;
use super::watches::CredentialSecrets;
use crate::api::{ClusterVideoSdkIssuer, VideoSdkIssuer};
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::{Client, Resource};
use std::sync::Arc;
use std::time::Duration;

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
}

/// Whether the issuer, cluster issuer and token caches have listed once.
#[derive(Clone)]
/// The fourth signal: the managed Secrets were listed and checked once (see
/// `tokens::warm_up`), so that tokens' first reconciles after a start read no Secret again.
pub(crate) struct Listed([tokio::sync::watch::Receiver<bool>; 4]);

impl Listed {
    /// The signals, and their senders: issuers, cluster issuers, tokens, Secrets checked.
    pub(crate) fn new() -> (Self, [tokio::sync::watch::Sender<bool>; 4]) {
        let channels = [(); 4].map(|()| tokio::sync::watch::channel(false));
        let receivers = [0, 1, 2, 3].map(|i| channels[i].1.clone());
        (Listed(receivers), channels.map(|(tx, _)| tx))
    }

    /// Until the managed Secrets were listed and checked (or that gave up).
    pub(crate) async fn wait_warmed(&self) {
        let _ = self.0[3].clone().wait_for(|done| *done).await;
    }

    /// Until both issuer caches have listed: a token's issuer is known, or known not to exist.
    pub(crate) async fn wait_issuers(&self) {
        for rx in &self.0[..2] {
            let _ = rx.clone().wait_for(|listed| *listed).await;
        }
    }

    /// Until every cache has listed.
    pub(crate) async fn wait_all(&self) {
        for rx in &self.0[..3] {
            let _ = rx.clone().wait_for(|listed| *listed).await;
        }
    }
}
