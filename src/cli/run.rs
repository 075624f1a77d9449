//! `run`: the operator, against the cluster of the usual kubeconfig or in-cluster configuration.

use super::listen;
use super::logging::{self, LogArgs};
use super::token_requests::{FlagError, TokenRequestArgs};
use crate::api::{ClusterVideoSdkIssuer, VideoSdkIssuer, VideoSdkToken};
use crate::controller::{Metrics, Settings, scoped};
use crate::endpoints;
use crate::listener::Limits;
use crate::listener::limits::{METRICS_MAX_CONNECTIONS, METRICS_MAX_CONNECTIONS_PER_IP};
use crate::operator::{self, Ended, Health, LeaderElection};
use crate::request_timeout;
use crate::token;
use crate::token_requests;
use clap::Args;
use kube::api::ListParams;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// Namespace of the service account token of a pod, where the operator runs.
const IN_CLUSTER_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// Cluster resource namespace when the operator runs outside a pod.
pub(crate) const DEFAULT_CLUSTER_RESOURCE_NAMESPACE: &str = "videosdk-system";

/// Run the operator: issue VideoSDK tokens into Secrets and keep them fresh.
///
/// Connects with $KUBECONFIG / ~/.kube/config, or the in-cluster service account. The CRDs must
/// be installed first (kubectl apply --server-side -f crds/).
///
/// Example:
///   videosdk-token-operator run --cluster-resource-namespace videosdk-system --log-format json
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// Namespace of the credentials Secrets of ClusterVideoSdkIssuers [default: the namespace
    /// the operator runs in ($POD_NAMESPACE or the service account's), else videosdk-system].
    #[arg(
        long,
        env = "VIDEOSDK_CLUSTER_RESOURCE_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    pub(crate) cluster_resource_namespace: Option<String>,
    /// Watch only this namespace (tokens, issuers, Secrets) [default: all namespaces].
    #[arg(long, env = "VIDEOSDK_NAMESPACE", value_name = "NAMESPACE")]
    pub(crate) namespace: Option<String>,
    /// How many tokens are reconciled at once.
    #[arg(long, env = "VIDEOSDK_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: u16,
    /// The longest ttl a VideoSdkToken or a token request may have, whatever its issuer's
    /// maxTtl (which can only lower it): a Go duration from 1m to 8760h. A token above it gets
    /// Ready=False (PolicyViolation), a token request a 403.
    #[arg(
        long,
        env = "VIDEOSDK_MAX_TTL",
        default_value = "720h",
        value_name = "DURATION",
        value_parser = parse_max_ttl
    )]
    pub(crate) max_ttl: Duration,
    /// The shortest renew window a VideoSdkToken may have (renewBefore, ttl x
    /// renewBeforePercentage / 100, or a third of ttl): a Go duration, at least the CRD's 2m,
    /// which covers the kubelet's default sync of a mounted Secret (up to 90s); raise it where
    /// kubelets sync more slowly (their syncFrequency x 1.5, plus margin). A token below it gets
    /// Ready=False (InvalidSpec) and keeps the token already in its Secret.
    #[arg(
        long,
        env = "VIDEOSDK_MIN_RENEW_BEFORE",
        default_value = "2m",
        value_name = "DURATION",
        value_parser = parse_min_renew_before
    )]
    pub(crate) min_renew_before: Duration,
    /// Address of the /metrics, /healthz and /readyz endpoints.
    #[arg(
        long,
        env = "VIDEOSDK_METRICS_ADDRESS",
        default_value = "0.0.0.0:8080",
        value_name = "ADDR"
    )]
    pub(crate) metrics_address: std::net::SocketAddr,
    /// Elect a leader among replicas on a Lease, so that only one reconciles (run 2 replicas
    /// for availability).
    #[arg(long, env = "VIDEOSDK_LEADER_ELECT")]
    pub(crate) leader_elect: bool,
    /// Namespace of the leader election Lease [default: the namespace the operator runs in
    /// ($POD_NAMESPACE or the service account's), else the cluster resource namespace].
    #[arg(
        long,
        env = "VIDEOSDK_LEADER_ELECTION_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    pub(crate) leader_election_namespace: Option<String>,
    /// Seconds a leader's Lease lasts without renewal: how long a standby waits for a leader
    /// that died without releasing it.
    #[arg(long, env = "VIDEOSDK_LEASE_DURATION", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..))]
    pub(crate) lease_duration: u64,
    /// The token request endpoint.
    #[command(flatten)]
    pub(crate) token_requests: TokenRequestArgs,
    /// Logging.
    #[command(flatten)]
    pub(crate) logging: LogArgs,
}

impl RunArgs {
    /// The operator's settings from the flags and where it runs.
    pub(crate) fn settings(&self) -> Settings {
        Settings {
            namespace: self.namespace.clone(),
            concurrency: self.concurrency,
            max_ttl: self.max_ttl,
            min_renew_before: self.min_renew_before,
            ..Settings::new(
                self.cluster_resource_namespace
                    .clone()
                    .or_else(own_namespace)
                    .unwrap_or_else(|| DEFAULT_CLUSTER_RESOURCE_NAMESPACE.to_owned()),
            )
        }
    }
}

/// `--max-ttl`: a Go duration within the lifetimes a token may have (`token::MIN_TTL` to
/// `token::TTL_LIMIT`, the CRD's own bounds).
fn parse_max_ttl(value: &str) -> Result<Duration, String> {
    let ttl = token::parse_positive(value).map_err(|e| e.to_string())?;
    if !(token::MIN_TTL..=token::TTL_LIMIT).contains(&ttl) {
        return Err(format!(
            "{value} is outside 1m to 8760h, the ttls a VideoSdkToken may have"
        ));
    }
    Ok(ttl)
}

/// `--min-renew-before`: a Go duration that can only raise the CRD's floor
/// (`token::MIN_RENEW_BEFORE`), and below `token::TTL_LIMIT`, the longest ttl.
fn parse_min_renew_before(value: &str) -> Result<Duration, String> {
    let window = token::parse_positive(value).map_err(|e| e.to_string())?;
    if window < token::MIN_RENEW_BEFORE {
        return Err(format!(
            "{value} is below 2m, the CRD's floor (the kubelet updates a mounted Secret up to 90s after a re-sign): it may only be raised"
        ));
    }
    if window >= token::TTL_LIMIT {
        return Err(format!(
            "{value} is not shorter than 8760h, the longest ttl a VideoSdkToken may have"
        ));
    }
    Ok(window)
}

/// The namespace this process runs in: `$POD_NAMESPACE` (the downward API), else the service
/// account's namespace file; `None` outside a pod.
fn own_namespace() -> Option<String> {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| std::fs::read_to_string(IN_CLUSTER_NAMESPACE).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Why the operator did not start, or stopped with an error (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Neither a kubeconfig nor an in-cluster service account is usable.
    #[error("cannot connect to the Kubernetes API (kubeconfig or in-cluster configuration): {0}")]
    Connect(#[source] kube::Error),
    /// The CRDs are not installed, or whether they are could not be checked.
    #[error(transparent)]
    Crds(#[from] CrdsError),
    /// Leader election failed.
    #[error(transparent)]
    LeaderElection(#[from] operator::LeaderElectionError),
    /// Another replica took over the Lease, or it could not be renewed in time.
    #[error("lost leadership of the Lease; exiting so that this replica restarts as a standby")]
    LostLeadership,
    /// `--metrics-address` or `--token-requests-address` cannot be bound.
    #[error(transparent)]
    Listen(#[from] listen::Error),
    /// The token request flags are refused.
    #[error(transparent)]
    TokenRequests(#[from] FlagError),
    /// The log flags are refused, or the async runtime could not start.
    #[error(transparent)]
    Logging(#[from] logging::Error),
}

/// Why [`check_crds`] did not find the operator's CRDs served.
#[derive(Debug, thiserror::Error)]
pub enum CrdsError {
    /// These CRDs (by name) are not served: not installed, or not established yet.
    #[error(
        "the CRDs {} are not installed in this cluster: install them with `kubectl apply --server-side -f crds/` (or `videosdk-token-operator crd | kubectl apply --server-side -f -`) and start again",
        .missing.join(", ")
    )]
    NotInstalled {
        /// The names of the CRDs missing.
        missing: Vec<&'static str>,
    },
    /// Listing them failed for another reason than their absence (RBAC, an unreachable server).
    #[error("cannot check whether the CRDs are installed: {0}")]
    Check(#[source] kube::Error),
}

/// Runs the command until SIGTERM or Ctrl-C; an error (exit code 2) when leadership is lost, so
/// that Kubernetes restarts the pod as a standby.
pub fn run(args: &RunArgs) -> Result<(), Error> {
    logging::start(&args.logging)?.block_on(async {
        let metrics = Arc::new(Metrics::default());
        let health = Arc::new(Health::default());
        // Bad flags fail before anything starts.
        let token_requests = args
            .token_requests
            .address()?
            .map(|address| (address, Arc::new(token_requests::Metrics::default())));
        // The address actually bound, so that a port chosen by the system (`:0`) can be found.
        let (listener, address) = listen::bind("--metrics-address", args.metrics_address).await?;
        tracing::info!(%address, endpoints = "/metrics /healthz /readyz", "listening on {address}");
        let token_request_metrics = token_requests.as_ref().map(|(_, metrics)| metrics.clone());
        let limits = Limits::new(METRICS_MAX_CONNECTIONS, METRICS_MAX_CONNECTIONS_PER_IP);
        tokio::spawn(endpoints::serve_with(listener, metrics.clone(), health.clone(), token_request_metrics, limits));
        let client = Client::try_default()
            .await
            .map_err(Error::Connect)?;
        let client = request_timeout::bounded(client, request_timeout::REQUEST_TIMEOUT);
        super::server_version::warn_if_unsupported(&client).await;
        let settings = args.settings();
        check_crds(&client, settings.namespace.as_deref()).await?;
        // On every replica, leader or not: it only reads.
        // It serves until the process ends.
        if let Some((address, token_request_metrics)) = token_requests {
            args.token_requests
                .start(address, client.clone(), &settings, token_request_metrics, &health.listeners)
                .await?;
        }
        let election = args.leader_elect.then(|| LeaderElection {
            namespace: args
                .leader_election_namespace
                .clone()
                .or_else(own_namespace)
                .unwrap_or_else(|| settings.cluster_resource_namespace.clone()),
            identity: std::env::var("POD_NAME").unwrap_or_else(|_| format!("videosdk-token-operator-{}", uuid::Uuid::new_v4().simple())),
            lease_duration_seconds: args.lease_duration,
            renew_grace_seconds: (args.lease_duration / 3).max(1),
        });
        tracing::info!(cluster_resource_namespace = %settings.cluster_resource_namespace, namespace = ?settings.namespace, leader_election = election.is_some(), "operator starting");
        match operator::run(client, settings, election, metrics, health, logging::shutdown_signal()).await? {
            Ended::Shutdown => Ok(()),
            Ended::LostLeadership => Err(Error::LostLeadership),
        }
    })
}

/// Fails with a message naming `crds/` when any of the operator's CRDs is not served. Lists
/// the namespaced kinds in `namespace` only when the operator watches one (`--namespace`), so
/// that a scoped install needs no cluster-wide right on them.
pub async fn check_crds(client: &Client, namespace: Option<&str>) -> Result<(), CrdsError> {
    let mut missing = Vec::new();
    for (name, served) in [
        (
            "videosdktokens.videosdk.live",
            is_served(scoped::<VideoSdkToken>(client, namespace)).await?,
        ),
        (
            "videosdkissuers.videosdk.live",
            is_served(scoped::<VideoSdkIssuer>(client, namespace)).await?,
        ),
        (
            "clustervideosdkissuers.videosdk.live",
            is_served(Api::<ClusterVideoSdkIssuer>::all(client.clone())).await?,
        ),
    ] {
        if !served {
            missing.push(name);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(CrdsError::NotInstalled { missing })
}

async fn is_served<K>(api: Api<K>) -> Result<bool, CrdsError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(false),
        Err(e) => Err(CrdsError::Check(e)),
    }
}
