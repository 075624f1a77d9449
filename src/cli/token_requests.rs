//! The `--token-requests-*` flags of `run` (and `dev`): where and how the token request
//! endpoint is served (see [`crate::token_requests`]).

use super::listen;
use crate::controller;
use crate::controller::CredentialSecrets;
use crate::listener::limits::{
    TOKEN_REQUESTS_MAX_CONNECTIONS, TOKEN_REQUESTS_MAX_CONNECTIONS_PER_IP,
};
use crate::listener::{Limits, Listeners};
use crate::token_requests::{self, Server, Settings, budget, tls};
use clap::Args;
use kube::Client;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// The audience bearer tokens must be minted for, by default: the operator's name.
pub(crate) const DEFAULT_AUDIENCE: &str = "videosdk-token-operator";

/// Flags of the token request endpoint.
#[derive(Args, Debug, Clone)]
pub(crate) struct TokenRequestArgs {
    /// Serve token requests (per-participant tokens for workloads, authorized by RBAC) on this
    /// address [default: off]. Plain HTTP is served only on a loopback address unless
    /// --token-requests-insecure-http is given.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_ADDRESS", value_name = "ADDR")]
    pub(crate) token_requests_address: Option<SocketAddr>,
    /// The audience a caller's bearer token must be minted for (checked with a TokenReview).
    #[arg(
        long,
        env = "VIDEOSDK_TOKEN_REQUESTS_AUDIENCE",
        default_value = DEFAULT_AUDIENCE,
        value_name = "AUDIENCE"
    )]
    pub(crate) token_requests_audience: String,
    /// Seconds a TokenReview or SubjectAccessReview answer is reused: a revoked grant takes
    /// effect within this time.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_CACHE_TTL", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=300), value_name = "SECONDS")]
    pub(crate) token_requests_cache_ttl: u64,
    /// Token requests per second each caller may make, sustained.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_RATE", default_value_t = NonZeroU32::new(50).expect("not zero"), value_name = "PER_SECOND")]
    pub(crate) token_requests_rate: NonZeroU32,
    /// Token requests each caller may make at once, above the sustained rate.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_BURST", default_value_t = NonZeroU32::new(100).expect("not zero"), value_name = "REQUESTS")]
    pub(crate) token_requests_burst: NonZeroU32,
    /// TokenReviews per second the endpoint may ask of the API server, all callers together
    /// (a review answered from the cache needs none); beyond it the answer is 429 with
    /// Retry-After.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_REVIEW_RATE", default_value_t = budget::Limits::default().per_second, value_name = "PER_SECOND")]
    pub(crate) token_requests_review_rate: NonZeroU32,
    /// TokenReviews the endpoint may ask at once above --token-requests-review-rate.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_REVIEW_BURST", default_value_t = budget::Limits::default().burst, value_name = "REVIEWS")]
    pub(crate) token_requests_review_burst: NonZeroU32,
    /// TokenReviews the endpoint may have waiting on the API server at once; beyond it the
    /// answer is 503 with Retry-After.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_REVIEWS_IN_FLIGHT", default_value_t = budget::Limits::default().in_flight, value_name = "REVIEWS")]
    pub(crate) token_requests_reviews_in_flight: NonZeroU32,
    /// SubjectAccessReviews per second the endpoint may ask of the API server, all callers
    /// together (an answer from the cache needs none; each new issuer or namespace a caller
    /// asks on needs one); beyond it the answer is 429 with Retry-After.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_ACCESS_REVIEW_RATE", default_value_t = budget::Limits::default().per_second, value_name = "PER_SECOND")]
    pub(crate) token_requests_access_review_rate: NonZeroU32,
    /// SubjectAccessReviews the endpoint may ask at once above
    /// --token-requests-access-review-rate.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_ACCESS_REVIEW_BURST", default_value_t = budget::Limits::default().burst, value_name = "REVIEWS")]
    pub(crate) token_requests_access_review_burst: NonZeroU32,
    /// SubjectAccessReviews the endpoint may have waiting on the API server at once; beyond it
    /// the answer is 503 with Retry-After.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_ACCESS_REVIEWS_IN_FLIGHT", default_value_t = budget::Limits::default().in_flight, value_name = "REVIEWS")]
    pub(crate) token_requests_access_reviews_in_flight: NonZeroU32,
    /// Serve HTTPS with the certificate of this kubernetes.io/tls Secret (tls.crt, tls.key),
    /// e.g. one a cert-manager Certificate writes; reloaded when it changes. NAME alone is in
    /// the cluster resource namespace (the operator's own).
    #[arg(
        long,
        env = "VIDEOSDK_TOKEN_REQUESTS_TLS_SECRET",
        value_name = "[NAMESPACE/]NAME"
    )]
    pub(crate) token_requests_tls_secret: Option<String>,
    /// Serve plain HTTP on a non-loopback address (behind a TLS-terminating proxy or a service
    /// mesh): bearer tokens and VideoSDK tokens then cross the network unencrypted.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_INSECURE_HTTP")]
    pub(crate) token_requests_insecure_http: bool,
    /// Connections the endpoint keeps open at once; one more is closed at once. At most a
    /// quarter of the process's open-file limit is used, whatever is given.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_MAX_CONNECTIONS", default_value_t = TOKEN_REQUESTS_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=1_000_000), value_name = "CONNECTIONS")]
    pub(crate) token_requests_max_connections: u32,
    /// Connections the endpoint keeps open at once from one client IP address; one more from
    /// it is closed at once. Clients behind one NAT or proxy address share it.
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_MAX_CONNECTIONS_PER_IP", default_value_t = TOKEN_REQUESTS_MAX_CONNECTIONS_PER_IP, value_parser = clap::value_parser!(u32).range(1..=1_000_000), value_name = "CONNECTIONS")]
    pub(crate) token_requests_max_connections_per_ip: u32,
}

/// Flags that contradict each other or do not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// A non-loopback address without TLS and without `--token-requests-insecure-http`: bearer
    /// and VideoSDK tokens would cross the network in plain text.
    #[error(
        "--token-requests-address {address} is not a loopback address, and without --token-requests-tls-secret the endpoint serves plain HTTP: give a TLS Secret, serve it on 127.0.0.1, or give --token-requests-insecure-http when a proxy or mesh encrypts the traffic"
    )]
    PlainHttp {
        /// The address given.
        address: SocketAddr,
    },
    /// `--token-requests-tls-secret` is neither `NAME` nor `NAMESPACE/NAME`.
    #[error("--token-requests-tls-secret {secret:?} is not NAME or NAMESPACE/NAME")]
    TlsSecretName {
        /// The value given.
        secret: String,
    },
}

/// How many TokenReview and SubjectAccessReview answers are kept, each.
const CACHE_CAPACITY: usize = 10_000;

impl TokenRequestArgs {
    /// Checks the flags; `Ok(None)` when the endpoint is off.
    pub(crate) fn address(&self) -> Result<Option<SocketAddr>, FlagError> {
        let Some(address) = self.token_requests_address else {
            return Ok(None);
        };
        if self.token_requests_tls_secret.is_none()
            && !address.ip().is_loopback()
            && !self.token_requests_insecure_http
        {
            return Err(FlagError::PlainHttp { address });
        }
        if let Some(secret) = &self.token_requests_tls_secret {
            let name = secret.rsplit('/').next().unwrap_or_default();
            if name.is_empty() || secret.matches('/').count() > 1 || secret.starts_with('/') {
                return Err(FlagError::TlsSecretName {
                    secret: secret.clone(),
                });
            }
        }
        Ok(Some(address))
    }

    /// Binds the endpoint on `address` (what [`Self::address`] returned: the flags checked) and
    /// serves it in the background, counting into `metrics`, for the operator configured by
    /// `operator`, registered in `listeners` (for `/readyz`); returns the address bound.
    pub(crate) async fn start(
        &self,
        address: SocketAddr,
        client: Client,
        operator: &controller::Settings,
        metrics: Arc<token_requests::Metrics>,
        listeners: &Listeners,
    ) -> Result<Serving, listen::Error> {
        let (listener, bound) = listen::bind("--token-requests-address", address).await?;
        let status = listeners.register("token requests", bound);
        let wanted = self.token_requests_max_connections as usize;
        let limits = Limits::new(wanted, self.token_requests_max_connections_per_ip as usize);
        if limits.max_connections < wanted {
            tracing::warn!(
                "--token-requests-max-connections {} lowered to {}, a quarter of the open-file limit",
                self.token_requests_max_connections,
                limits.max_connections
            );
        }
        let settings = Settings {
            audience: self.token_requests_audience.clone(),
            cache_lifetime: Duration::from_secs(self.token_requests_cache_ttl),
            cache_capacity: CACHE_CAPACITY,
            rate: self.token_requests_rate,
            burst: self.token_requests_burst,
            cluster_resource_namespace: operator.cluster_resource_namespace.clone(),
            namespace: operator.namespace.clone(),
            review_budget: budget::Limits {
                per_second: self.token_requests_review_rate,
                burst: self.token_requests_review_burst,
                in_flight: self.token_requests_reviews_in_flight,
            },
            access_review_budget: budget::Limits {
                per_second: self.token_requests_access_review_rate,
                burst: self.token_requests_access_review_burst,
                in_flight: self.token_requests_access_reviews_in_flight,
            },
            max_ttl: operator.max_ttl,
        };
        let server = Server::start(client.clone(), settings, metrics);
        let tls = self
            .token_requests_tls_secret
            .as_ref()
            .map(|s| tls_secret(s, &operator.cluster_resource_namespace));
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %bound, path = token_requests::PATH, audience = %self.token_requests_audience, max_connections = limits.max_connections, "serving token requests on {scheme}://{bound}");
        let task = tokio::spawn(async move {
            let served = match tls {
                Some((namespace, name)) => {
                    let secrets = Arc::new(CredentialSecrets::new(client));
                    tls::serve(
                        listener,
                        token_requests::router(server),
                        secrets,
                        namespace,
                        name,
                        limits,
                        status,
                        std::future::pending(),
                    )
                    .await
                }
                None => {
                    token_requests::serve(listener, server, limits, status, std::future::pending())
                        .await
                }
            };
            if let Err(error) = served {
                tracing::error!(%error, "the token request endpoint stopped");
            }
        });
        Ok(Serving {
            address: bound,
            task,
        })
    }
}

/// The (namespace, name) of the TLS Secret `--token-requests-tls-secret` names: `NAMESPACE/NAME`,
/// or a bare `NAME` in the cluster resource namespace (where the CLI's check ensures one `/` at
/// most). The Helm chart always passes `NAMESPACE/NAME`, since its Secret is in the release
/// namespace.
pub fn tls_secret(flag: &str, cluster_resource_namespace: &str) -> (String, String) {
    match flag.split_once('/') {
        Some((namespace, name)) => (namespace.to_owned(), name.to_owned()),
        None => (cluster_resource_namespace.to_owned(), flag.to_owned()),
    }
}

/// The token request endpoint, served by a task of its own (with the issuer and Secret watches
/// it answers from) until [`stop`](Self::stop) or the end of the runtime. Only `dev` reads the
/// address and stops it; `run` serves until the process ends.
#[cfg_attr(not(feature = "dev"), allow(dead_code))]
pub(crate) struct Serving {
    /// The address it listens on (the port chosen when `:0` was asked for).
    pub(crate) address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Serving {
    /// Stops serving and ends its watches; `dev` does so before its API server stops, so that
    /// the watches do not log the server's disappearance as connection errors.
    #[cfg(feature = "dev")]
    pub(crate) async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TokenRequestArgs,
    }

    fn parse(args: &[&str]) -> TokenRequestArgs {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn plain_http_is_only_for_loopback_unless_asked() {
        for allowed in [
            "--token-requests-insecure-http",
            "--token-requests-tls-secret=tls",
        ] {
            assert!(
                parse(&["--token-requests-address", "0.0.0.0:8443", allowed])
                    .address()
                    .unwrap()
                    .is_some()
            );
        }
        let err = parse(&[
            "--token-requests-address",
            "0.0.0.0:1",
            "--token-requests-tls-secret=a/b/c",
        ])
        .address()
        .unwrap_err()
        .to_string();
        assert!(err.contains("NAMESPACE/NAME"), "{err}");
        assert_eq!(parse(&[]).address(), Ok(None));
        assert!(
            parse(&["--token-requests-address", "127.0.0.1:8443"])
                .address()
                .unwrap()
                .is_some()
        );
        let err = parse(&["--token-requests-address", "0.0.0.0:8443"])
            .address()
            .unwrap_err()
            .to_string();
        assert!(err.contains("--token-requests-insecure-http"), "{err}");
        assert!(
            parse(&[
                "--token-requests-address",
                "0.0.0.0:8443",
                "--token-requests-insecure-http"
            ])
            .address()
            .unwrap()
            .is_some()
        );
    }
}
