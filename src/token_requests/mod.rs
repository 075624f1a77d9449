//! Token requests: per-participant VideoSDK tokens on demand for workloads in the cluster, as
//! VideoSDK's "app server" hands them out, authorized by Kubernetes RBAC.
//!
//! `POST /apis/videosdk.live/v1alpha1/namespaces/{namespace}/tokenrequests` with
//! `Authorization: Bearer <Kubernetes token>` and a JSON body (see [`body`]) answers with a
//! token signed by the named issuer. What happens, in order:
//!
//! 1. the namespace of the path must be a namespace's name (400), before any API call;
//! 2. the bearer token must be shaped as a ServiceAccount token for the configured audience
//!    ([`bearer`], 401), then is checked with a TokenReview (401), asked within the endpoint's
//!    budget of TokenReviews ([`budget`], 429 or 503 with `Retry-After`) unless cached;
//! 3. the caller (its username) gets a request out of its rate limit ([`rate`], 429,
//!    `Retry-After`);
//! 4. the body is read (413 past [`MAX_BODY`]) and parsed (400, 422 naming the field);
//! 5. a SubjectAccessReview asks whether the caller may [`review::VERB`] the issuer in the
//!    request's namespace (403, check `RBAC`), asked within the endpoint's budget of
//!    SubjectAccessReviews unless cached; before the issuer's existence is looked at, so
//!    that a caller without a grant cannot learn which issuers exist;
//! 6. the issuer is looked up in this process's caches (404), its namespaceSelector (403, check
//!    `NamespaceSelector`) and policy (403, check `Policy`) are applied, and its credentials
//!    Secret must hold usable credentials (503). The endpoint decides from what it checks
//!    itself, with the issuer controller's own rules, and never from the issuer's `status`:
//!    anyone who may write that status (another installation) could otherwise make it refuse;
//! 7. the token is signed and returned; an audit log line ([`audit`]) names the caller,
//!    namespace, issuer, claims asked and token id, never a token.
//!
//! Every replica serves it (not only the leader): it keeps its own caches of the issuers and
//! their credentials Secrets, and holds no other state than brief review caches.

mod audit;
pub(crate) mod bearer;
pub(crate) mod body;
pub mod budget;
mod cache;
pub(crate) mod metrics;
mod rate;
pub(crate) mod refusal;
pub(crate) mod review;
pub mod tls;

pub(crate) use metrics::Metrics;

use crate::api::{ClusterVideoSdkIssuer, IssuerKind, IssuerPolicy, VideoSdkIssuer};
use crate::controller::CredentialSecrets;
use crate::controller::scoped;
use crate::rules::{credentials, policy};
use crate::token;
use audit::{Audit, Sampler};
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use body::Granted;
use cache::AnswerCache;
use futures::StreamExt;
use governor::Quota;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use refusal::{Check, Refusal};
use review::{Reviewer, Target};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The path of the API, versioned with the operator's API group.
pub const PATH: &str = "/apis/videosdk.live/v1alpha1/namespaces/{namespace}/tokenrequests";

/// The largest request body read, in bytes: a request is a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// How the endpoint is configured (the `run` command's `--token-requests-*` flags).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The audience bearer tokens must be minted for.
    pub audience: String,
    /// How long TokenReview and SubjectAccessReview answers are reused.
    pub cache_lifetime: Duration,
    /// The most answers of each kind kept.
    pub cache_capacity: usize,
    /// Requests per second each caller may make, sustained.
    pub rate: NonZeroU32,
    /// Requests each caller may make at once above the sustained rate.
    pub burst: NonZeroU32,
    /// Where `ClusterVideoSdkIssuer` credentials Secrets are read from.
    pub cluster_resource_namespace: String,
    /// Serve only issuers of this namespace (the operator's `--namespace`); `None` for all.
    pub namespace: Option<String>,
    /// The TokenReviews the endpoint may ask, all callers together.
    pub review_budget: budget::Limits,
    /// The SubjectAccessReviews the endpoint may ask, all callers together.
    pub access_review_budget: budget::Limits,
    /// The longest ttl a request may ask for (the operator's `--max-ttl`), whatever the
    /// issuer's `maxTtl`.
    pub max_ttl: Duration,
}

/// The endpoint's state: its caches, the reviewer, the rate limiter and the metrics.
pub struct Server {
    client: Client,
    settings: Settings,
    issuers: Store<VideoSdkIssuer>,
    cluster_issuers: Store<ClusterVideoSdkIssuer>,
    listed: [Arc<AtomicBool>; 2],
    credentials: CredentialSecrets,
    /// Namespaces' labels, and namespaces found not to exist, kept apart.
    namespaces: AnswerCache<String, BTreeMap<String, String>, ()>,
    reviewer: Reviewer,
    rates: rate::CallerRates,
    sampler: Sampler,
    metrics: Arc<Metrics>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A watch of `api` into a store, flagging `listed` once it has listed.
fn cache<K>(api: Api<K>, listed: Arc<AtomicBool>) -> (Store<K>, tokio::task::AbortHandle)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let task = tokio::spawn(
        watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .for_each(move |event| {
                match event {
                    Ok(watcher::Event::InitDone) => listed.store(true, Ordering::Relaxed),
                    Err(error) => {
                        tracing::warn!(%error, "token requests: issuer watch failed; retrying")
                    }
                    _ => {}
                }
                async {}
            }),
    );
    (reader, task.abort_handle())
}

/// What the request needs of its issuer.
struct Resolved {
    describe: String,
    policy: IssuerPolicy,
    namespace_selector: Option<LabelSelector>,
    secret_ref: crate::api::CredentialsSecretRef,
    secret_namespace: String,
}

impl Server {
    /// Starts the issuer caches; requests are answered 503 until they have listed.
    pub fn start(client: Client, settings: Settings, metrics: Arc<Metrics>) -> Arc<Server> {
        let listed = [Arc::default(), Arc::default()];
        let (issuers, a) = cache(
            scoped::<VideoSdkIssuer>(&client, settings.namespace.as_deref()),
            Arc::clone(&listed[0]),
        );
        let (cluster_issuers, b) = cache(
            Api::<ClusterVideoSdkIssuer>::all(client.clone()),
            Arc::clone(&listed[1]),
        );
        let quota = Quota::per_second(settings.rate).allow_burst(settings.burst);
        Arc::new(Server {
            reviewer: Reviewer::new(
                client.clone(),
                settings.audience.clone(),
                settings.cache_lifetime,
                settings.cache_capacity,
                budget::Budget::new(budget::Review::TokenReview, settings.review_budget),
                budget::Budget::new(
                    budget::Review::SubjectAccessReview,
                    settings.access_review_budget,
                ),
            ),
            namespaces: AnswerCache::new(settings.cache_lifetime, settings.cache_capacity),
            credentials: CredentialSecrets::new(client.clone()),
            client,
            settings,
            issuers,
            cluster_issuers,
            listed,
            rates: rate::CallerRates::new(quota),
            sampler: Sampler::default(),
            metrics,
            tasks: vec![a, b],
        })
    }

    /// The endpoint's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    fn resolve(&self, namespace: &str, target: &Target) -> Result<Resolved, Refusal> {
        if !self.listed.iter().all(|l| l.load(Ordering::Relaxed)) {
            return Err(Refusal::unavailable(
                "the operator has not listed the issuers yet: try again in a moment".to_owned(),
            ));
        }
        match target.kind {
            IssuerKind::VideoSdkIssuer => {
                let key = ObjectRef::new(&target.name).within(namespace);
                let issuer = self.issuers.get(&key).ok_or_else(|| {
                    Refusal::not_found(format!(
                        "VideoSdkIssuer {namespace}/{} does not exist{}",
                        target.name,
                        if self
                            .settings
                            .namespace
                            .as_deref()
                            .is_some_and(|n| n != namespace)
                        {
                            " (this operator serves only the issuers of its --namespace)"
                        } else {
                            ""
                        }
                    ))
                })?;
                Ok(Resolved {
                    describe: format!("VideoSdkIssuer {namespace}/{}", target.name),
                    policy: issuer.spec.policy.clone(),
                    namespace_selector: None,
                    secret_ref: issuer.spec.credentials_secret_ref.clone(),
                    secret_namespace: namespace.to_owned(),
                })
            }
            IssuerKind::ClusterVideoSdkIssuer => {
                let issuer = self
                    .cluster_issuers
                    .get(&ObjectRef::new(&target.name))
                    .ok_or_else(|| {
                        Refusal::not_found(format!(
                            "ClusterVideoSdkIssuer {} does not exist",
                            target.name
                        ))
                    })?;
                Ok(Resolved {
                    describe: format!("ClusterVideoSdkIssuer {}", target.name),
                    policy: issuer.spec.policy.clone(),
                    namespace_selector: issuer.spec.namespace_selector.clone(),
                    secret_ref: issuer.spec.credentials_secret_ref.clone(),
                    secret_namespace: self.settings.cluster_resource_namespace.clone(),
                })
            }
        }
    }

    /// The labels of `namespace`, from a brief cache; that it does not exist (404) is cached
    /// too, apart, so that asking in made-up namespaces costs one read per name and cache
    /// lifetime and pushes out no namespace's labels.
    async fn namespace_labels(&self, namespace: &str) -> Result<BTreeMap<String, String>, Refusal> {
        let now = Instant::now();
        let not_found = || Refusal::not_found(format!("namespace {namespace} does not exist"));
        match self.namespaces.get(&namespace.to_owned(), now) {
            Some(Ok(labels)) => return Ok(labels),
            Some(Err(())) => return Err(not_found()),
            None => {}
        }
        let found = Api::<Namespace>::all(self.client.clone())
            .get_metadata_opt(namespace)
            .await
            .map_err(|error| {
                tracing::warn!(%error, namespace, "token requests: reading the namespace failed");
                Refusal::internal(format!(
                    "the operator could not read namespace {namespace}: try again; the operator's log has the detail"
                ))
            })?
            .map(|n| n.metadata.labels.unwrap_or_default())
            .ok_or(());
        self.namespaces
            .insert(namespace.to_owned(), found.clone(), now, None);
        found.map_err(|()| not_found())
    }

    /// Answers one request, or says why not; `audit` collects what the audit line shows.
    async fn answer(
        &self,
        namespace: &str,
        headers: &HeaderMap,
        body: Body,
        audit: &mut Audit,
    ) -> Result<Response, Refusal> {
        if !crate::api::is_dns1123_label(namespace) {
            return Err(Refusal::bad_request(
                "the namespace in the path is not a namespace's name: a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)".to_owned(),
            ));
        }
        let bearer = bearer::from_headers(headers)?;
        let exp = bearer::check(bearer, &self.settings.audience, SystemTime::now())?;
        let key = review::hash(bearer);
        let caller = self
            .reviewer
            .authenticate(bearer, &key, exp, &self.metrics)
            .await?;
        audit.caller = Some(caller.clone());
        self.rates.check(&caller.username, Instant::now())?;
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| Refusal::too_large(MAX_BODY))?;
        let parsed = body::parse(&body)?;
        let target = Target {
            namespace: namespace.to_owned(),
            kind: parsed.issuer.kind,
            name: parsed.issuer.name.clone(),
        };
        audit.target = Some(target.clone());
        audit.request = Some(parsed.request.clone());
        self.reviewer
            .authorize(&caller, &key, &target, &self.metrics)
            .await?;
        let resolved = self.resolve(namespace, &target)?;
        audit.found = true;
        if let Some(selector) = &resolved.namespace_selector {
            let labels = self.namespace_labels(namespace).await?;
            match policy::selector_matches(Some(selector), &labels) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Refusal::forbidden(
                        Check::NamespaceSelector,
                        format!(
                            "the namespaceSelector of {} does not admit namespace {namespace}",
                            resolved.describe
                        ),
                    ));
                }
                Err(e) => {
                    return Err(Refusal::unavailable(format!(
                        "{} has an invalid namespaceSelector: {e}",
                        resolved.describe
                    )));
                }
            }
        }
        if let Err(e) = policy::check_policy(&resolved.policy) {
            return Err(Refusal::unavailable(format!(
                "{} has an invalid policy: {e}",
                resolved.describe
            )));
        }
        if let Some(violation) = policy::violation(
            &parsed.request,
            &resolved.policy,
            &resolved.describe,
            self.settings.max_ttl,
        ) {
            return Err(Refusal::forbidden(
                Check::Policy,
                violation.to_string().replace("spec.", ""),
            ));
        }
        let secret = self
            .credentials
            .get(&resolved.secret_namespace, &resolved.secret_ref.name)
            .await;
        let credentials = credentials::read(
            secret.as_deref(),
            &resolved.secret_ref,
            &resolved.secret_namespace,
        )
        .map_err(|p| {
            Refusal::unavailable(format!(
                "{} is not Ready ({}): {}",
                resolved.describe, p.reason, p.message
            ))
        })?;
        let signed = token::sign(&parsed.request, &credentials, SystemTime::now())
            .map_err(|e| Refusal::internal(format!("signing failed: {e}")))?;
        let id = signed.id.hyphenated().to_string();
        audit.token_id = Some(id.clone());
        let granted = Granted {
            token: &signed.jwt,
            id: &id,
            iat: signed.claims.iat,
            exp: signed.claims.exp,
        };
        Ok(refusal::json(StatusCode::OK, &granted))
    }
}

async fn handle(
    State(server): State<Arc<Server>>,
    namespace: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A namespace that does not decode (`%FF`: not UTF-8) is no namespace's name: refused,
    // audited and counted as one that is not a DNS-1123 label, not with axum's plain text.
    let namespace = namespace.map(|Path(n)| n).unwrap_or_default();
    let started = Instant::now();
    let mut audit = Audit::default();
    let outcome = server.answer(&namespace, &headers, body, &mut audit).await;
    let (code, response) = match outcome {
        Ok(response) => {
            audit.log(&namespace, 200, None, &server.sampler);
            (200, response)
        }
        Err(refusal) => {
            let code = refusal.status.as_u16();
            audit.log(&namespace, code, Some(&refusal), &server.sampler);
            (code, refusal.into_response())
        }
    };
    let (kind, name) = match &audit.target {
        Some(t) if audit.found => (t.kind.as_str(), t.name.as_str()),
        _ => ("", ""),
    };
    server.metrics.observe(code, kind, name, started.elapsed());
    response
}

/// The routes: [`PATH`], and a JSON 404 for anything else.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route(PATH, post(handle))
        .fallback(|| async {
            Refusal::not_found(format!(
                "no such path: token requests are POSTed to {} (NAMESPACE a namespace's name)",
                PATH.replace("{namespace}", "NAMESPACE")
            ))
        })
        .with_state(server)
}

/// Serves plain HTTP on `listener` within `limits` (see [`crate::listener`]) until `shutdown`
/// completes (HTTPS: [`tls::serve`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<Server>,
    limits: crate::listener::Limits,
    status: Arc<crate::listener::ListenerStatus>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let service = crate::listener::Service {
        router: router(server),
        tls: None,
        timed_out,
    };
    crate::listener::serve(listener, service, limits, status, shutdown).await;
    Ok(())
}

/// The answer to a request not received and answered within `limit` (a body sent too slowly,
/// or the API server too slow to review the caller).
fn timed_out(limit: Duration) -> Response {
    Refusal::unavailable(format!(
        "the request was not received and answered within {} s: send the body at once, and try again",
        limit.as_secs()
    ))
    .into_response()
}
